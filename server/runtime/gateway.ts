// The one way to the attached node: every call into beam_live_agent and beam_live_upgrade is a
// typed method here, and every reply is decoded here (replies.ts). The engine, the language
// server and the pitfall checks ask this class; only it talks to the bridge.
import type { Encodable } from '../beam/etf';
import { Atom, Charlist, Term, atom } from '../beam/term';
import type { CompileDiagnostic, ConfigChange, NodeStatus, ProcessState, ProcessesPage, ProcessesReport, LiveApplication, LiveItem } from '../protocol';
import type { ErlangCompileRequest } from '../compile/compile';
import { AttachOptions, Attached, Bridge } from './bridge';
import { replyTimeout } from './budget';
import {
  BuildFacts,
  decodeReply,
  encodeRequest,
  ErlcReply,
  LoadedInfo,
  NodeFacts,
  OldCodeUser,
  PlanReply,
  PurgeReply,
  RollbackReply,
  ShapeSample,
  UpgradeReply,
} from './replies';

/** The request beam_live_upgrade's plan/1 and upgrade/1 take (beam_live_upgrade:specs/1). */
export interface UpgradeRequest {
  modules: Array<{ module: Atom; instruction: Atom; binary?: Buffer; file?: Charlist; old_binary?: Buffer; old_file?: Charlist; extra: Encodable }>;
  blocks: Atom[][];
  mode: Atom;
  on_failure: Atom;
  parallel: boolean;
  suspend_timeout: number;
  code_change_timeout: number;
  deadline: number;
  hooks: { pause_after_suspend: number; pause_after_load: number; pause_mid_code_change: number };
  /** The plan whose scan of the node's processes this upgrade reuses. */
  scan?: number;
  /** The plan asks the node's loader about each new binary (erlang:prepare_loading/2). */
  validate?: boolean;
  /** The plan of an upgrade soft-purges the planned modules' old code that nobody runs. */
  purge?: boolean;
}

export interface RollbackRequest {
  suspend_timeout: number;
  code_change_timeout: number;
  restore_snapshot: boolean;
  confirm_kills: boolean;
  deadline: number;
}

export interface ShapesRequest {
  shapes: Array<{ module: Atom; struct: Atom[] | Atom; records: Record<string, number> }>;
  limit: number;
  budget_ms: number;
}

const UPGRADE = atom('beam_live_upgrade');

export class NodeGateway {
  private constructor(
    private readonly bridge: Bridge,
    readonly attached: Attached,
    /** False for a peer's gateway: it shares the attached node's bridge, which it must not close. */
    private readonly owns = true,
  ) {}

  static async attach(opts: AttachOptions): Promise<NodeGateway> {
    const { bridge, attached } = await Bridge.attach(opts);
    return new NodeGateway(bridge, attached);
  }

  get node(): string {
    return this.attached.node;
  }

  /**
   * The other nodes of this node's cluster (those it sees, or these), connected through the
   * same bridge with the same cookie: a gateway for each one connected, and why for the rest.
   */
  async peers(nodes: string[] | 'all' = 'all'): Promise<{ peers: NodeGateway[]; failed: Array<{ node: string; error: string }> }> {
    const r = await this.bridge.connectPeers(nodes);
    return {
      peers: r.filter((p) => !p.error).map((p) => new NodeGateway(this.bridge, { node: p.node, otpRelease: this.attached.otpRelease }, false)),
      failed: r.flatMap((p) => (p.error ? [{ node: p.node, error: p.error }] : [])),
    };
  }

  /** False once the node's connection went down (the bridge heard its nodedown); no round trip. */
  get connected(): boolean {
    return !this.bridge.down.has(this.node);
  }

  /** Whether the node still answers (a node killed a moment ago may not have been noticed yet). */
  async alive(timeoutMs = 2000): Promise<boolean> {
    return this.call(atom('erlang'), atom('node'), [], timeoutMs).then(
      () => true,
      () => false,
    );
  }

  /** Bytes received from the node so far, for the benchmarks. */
  get bytesIn(): number {
    return this.bridge.bytesIn;
  }

  /** Round trips to the node so far, for the benchmarks. */
  get roundTrips(): number {
    return this.bridge.nodeCalls;
  }

  /** Calls back once when the node goes down or the bridge exits; returns the way to stop listening. */
  onGone(fn: (why: 'nodedown' | 'exit') => void): () => void {
    const down = (node: unknown) => {
      if (node instanceof Atom && node.name !== this.node) return;
      done('nodedown');
    };
    const exit = () => done('exit');
    const done = (why: 'nodedown' | 'exit') => {
      off();
      fn(why);
    };
    const off = () => {
      this.bridge.off('nodedown', down);
      this.bridge.off('exit', exit);
    };
    this.bridge.on('nodedown', down);
    this.bridge.once('exit', exit);
    return off;
  }

  async status(): Promise<NodeStatus> {
    return decodeReply(await this.agent('status', []));
  }

  async processes(opts: { limit?: number; apps?: string[] } = {}): Promise<ProcessesReport> {
    const req: Record<string, Encodable> = {};
    if (opts.limit !== undefined) req.limit = opts.limit;
    if (opts.apps) req.apps = opts.apps.map(atom);
    return decodeReply(await this.agent('processes', [req], 60_000));
  }

  /** One page of the Live tree: the applications, a supervisor's children, or the unsupervised. */
  async page(p: { kind: 'applications' } | { kind: 'children'; supervisor: string; offset: number; limit: number } | { kind: 'unsupervised'; offset: number; limit: number }): Promise<ProcessesPage<LiveItem | LiveApplication>> {
    const req: Record<string, Encodable> = { kind: atom(p.kind) };
    if (p.kind === 'children') req.supervisor = Buffer.from(p.supervisor);
    if (p.kind !== 'applications') Object.assign(req, { offset: p.offset, limit: p.limit });
    return decodeReply(await this.agent('page', [req], 30_000));
  }

  /** One process's state, printed and size-limited on the node; never fetched in bulk. */
  async processState(process: string, opts: { syntax?: 'elixir' | 'erlang'; maxBytes?: number; timeoutMs?: number } = {}): Promise<ProcessState> {
    const req = {
      process: Buffer.from(process),
      syntax: atom(opts.syntax ?? 'elixir'),
      max_bytes: opts.maxBytes ?? 65536,
      timeout: opts.timeoutMs ?? 2000,
    };
    return decodeReply(await this.agent('state', [req], (opts.timeoutMs ?? 2000) + 3000));
  }

  async moduleInfos(modules: string[]): Promise<Map<string, LoadedInfo>> {
    if (modules.length === 0) return new Map();
    const infos = decodeReply<LoadedInfo[]>(await this.agent('module_infos', [modules.map(atom)], 30_000));
    return new Map(infos.map((i) => [i.module, i]));
  }

  /** What the node runs of a build: its modules' infos, what it loaded from the build's folders, its apps' module lists. */
  async buildFacts(modules: string[], dirs: string[], apps: string[]): Promise<BuildFacts> {
    const req = { modules: modules.map(atom), dirs: dirs.map((d) => Buffer.from(d)), apps: apps.map(atom) };
    return decodeReply(await this.agent('build_facts', [req], 30_000));
  }

  async oldCodeUsers(modules: string[]): Promise<OldCodeUser[]> {
    if (modules.length === 0) return [];
    return decodeReply(await this.agent('old_code_users', [modules.map(atom)], 30_000));
  }

  /** `scan`: a plan's scan of the node's processes, kept on the node, read instead of another. */
  async pitfallFacts(modules: string[], scan?: number): Promise<NodeFacts> {
    return decodeReply(await this.agent('pitfall_facts', [{ modules: modules.map(atom), ...(scan ? { scan_id: scan } : {}) }], 30_000));
  }

  /** The modules loaded from files under these folders. */
  async loadedUnder(dirs: string[]): Promise<string[]> {
    return decodeReply<string[] | null>(await this.agent('loaded_under', [dirs.map((d) => Buffer.from(d))])) ?? [];
  }

  /** A number that changes when what the pitfall checks read of these modules changes on the node. */
  async pitfallStamp(modules: string[]): Promise<number> {
    return Number(await this.agent('pitfall_stamp', [modules.map(atom)], 10_000));
  }

  async stateShapes(req: ShapesRequest): Promise<ShapeSample[]> {
    return decodeReply(await this.agent('state_shapes', [encodeRequest(req)], req.budget_ms + 15_000));
  }

  /** Each application's env against this configuration ([{App, [{Key, Value}]}]); `apply` sets it and calls config_change/3. */
  async config(apps: Term[], apply: boolean): Promise<ConfigChange[]> {
    return decodeReply(await this.call(atom('beam_live_config'), atom(apply ? 'apply_changes' : 'changes'), [apps], 60_000));
  }

  /**
   * What the upgrade would reach, miss and kill; nothing on the node changes. Its one scan of
   * the node's processes covers the project's modules too: kept on the node, it serves this
   * plan's upgrade and the checks after it.
   */
  async plan(req: UpgradeRequest, projectModules: string[]): Promise<PlanReply> {
    const asked = { ...req, project_modules: projectModules.map(atom) };
    return decodeReply(await this.call(UPGRADE, atom('plan'), [encodeRequest(asked)], 60_000, 'the plan'));
  }

  /** The transactional upgrade; watched by the agent's watchdog for as long as its deadline. */
  async upgrade(req: UpgradeRequest): Promise<UpgradeReply> {
    return decodeReply(await this.call(UPGRADE, atom('upgrade'), [encodeRequest(req)], replyTimeout(req.deadline), 'the upgrade', true));
  }

  /**
   * What the soft purges an upgrade started as it replied found (who still runs old code), once
   * they ended; undefined when the node no longer knows one or they took longer than the timeout.
   */
  async purged(purges: Array<{ id: number }>, timeoutMs = 60_000): Promise<PurgeReply | undefined> {
    const ids = purges.map((p) => p.id);
    const r = decodeReply<PurgeReply | string>(await this.call(atom('beam_live_purge'), atom('result'), [ids, timeoutMs], timeoutMs + 5000));
    return typeof r === 'string' ? undefined : r;
  }

  /** The downgrade of the last upgrade the node remembers (beam_live_keeper). */
  async rollback(req: RollbackRequest): Promise<RollbackReply> {
    return decodeReply(await this.call(UPGRADE, atom('rollback'), [encodeRequest(req)], replyTimeout(req.deadline), 'the rollback', true));
  }

  /** Saved Erlang modules compiled in the bridge's VM, on this machine (beam_live_erlc). */
  async compileErl(req: ErlangCompileRequest): Promise<{ ok: boolean; diagnostics: CompileDiagnostic[] }> {
    const out = decodeReply<ErlcReply>(await this.bridge.compileErl(req));
    return { ok: out.ok, diagnostics: out.diagnostics.map((d) => ({ ...d, column: d.column ?? undefined })) };
  }

  /** Erlang terms from a local file (file:consult on the bridge), e.g. an .appup. */
  consult(path: string): Promise<Term[]> {
    return this.bridge.consult(path);
  }

  /** Any function on the node: for the tests and the benchmarks, which drive the node itself. */
  rpc(mod: string, fn: string, args: Encodable[], timeoutMs = 15_000): Promise<Term> {
    return this.call(atom(mod), atom(fn), args, timeoutMs);
  }

  close(): void {
    if (this.owns) this.bridge.close();
  }

  private agent(fn: string, args: Encodable[], timeoutMs = 15_000): Promise<Term> {
    return this.bridge.agent(fn, args, timeoutMs, this.node);
  }

  private call(mod: Atom, fn: Atom, args: Encodable[], timeoutMs: number, what?: string, watched = false): Promise<Term> {
    return this.bridge.call(mod, fn, args, timeoutMs, what, watched, this.node);
  }
}
