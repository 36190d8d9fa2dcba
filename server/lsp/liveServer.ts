// The language server's domain: one attached node, one project, and what a save does to them.
// The LSP wiring is in server/main.ts; everything here is reachable without it.
import { Connection, LSPErrorCodes, ResponseError } from 'vscode-languageserver/node';
import {
  ClusterStatus,
  AttachParams,
  AttachResult,
  NEEDS_CONFIRMATION,
  ConfigReport,
  ConfigSavedNotification,
  GeneratedAppup,
  GenerateAppupParams,
  LiveApplication,
  LiveItem,
  ModuleRow,
  ProcessState,
  ProcessStateParams,
  ProcessesPage,
  ProcessesParams,
  RollbackParams,
  RollbackReport,
  UpgradeOptions,
  StatusNotification,
  StatusParams,
  UpgradeFinishedNotification,
  UpgradePurgedNotification,
  UpgradePlan,
  UpgradeReport,
  UpgradeStartedNotification,
} from '../protocol';
import { NodeError } from '../runtime/errors';
import { NodeGateway } from '../runtime/gateway';
import type { ServerLog } from './log';
import { clusterStatus } from '../runtime/cluster';
import { readBeamDirs } from '../upgrade/beams';
import { SaveHandler } from '../save/saveHandler';
import { appupsSince } from '../release/since';
import { configChange } from '../upgrade/configChange';
import { UpgradeEngine } from '../upgrade/engine';
import { DiagnosticsPublisher } from './diagnostics';
import { analyze, Lens } from '../analysis/pitfalls';
import { gatherPitfallInput, sourceFileOf } from '../analysis/collect';
import { Settings } from './settings';
import { Locate, Outcomes } from './outcomes';
import { Hazards } from '../analysis/hazards';
import { oldCodeLine } from '../text/printReport';
import { readDebugInfo } from '../beam/debugInfo';
import { relative } from 'node:path';

/** How often the node's pitfall fingerprint is read while attached. */
const PITFALL_POLL_MS = 2000;

export class NotAttachedError extends Error {
  constructor() {
    super('Not attached to a node. Run "BEAM Live: Attach to Node…" (or start a beam-live debug session) first.');
  }
}

export class LiveServer {
  private session: NodeGateway | undefined;
  private engine: UpgradeEngine | undefined;
  private status: StatusParams = { attached: false, node: null, otpRelease: null, state: 'detached', message: null };
  readonly diagnostics: DiagnosticsPublisher;
  /** Code lenses per file URI, from the last pitfall analysis. */
  lenses = new Map<string, Lens[]>();
  private pitfallGeneration = 0;
  onLensesChanged: () => void = () => undefined;
  readonly saves: SaveHandler;
  private lastAttach: AttachParams | undefined;
  private reattachTimer: NodeJS.Timeout | undefined;
  /** What the last pitfall checks saw of the node, and the poll that notices when it changes. */
  private pitfallSeen: { modules: string[]; stamp: number } | undefined;
  private stampTimer: NodeJS.Timeout | undefined;
  private stampBusy = false;
  /** What the last upgrades and rollbacks did, module by module (failure diagnostics, lenses). */
  private readonly outcomes: Outcomes;
  private readonly hazards = new Hazards();
  private everAttached = false;
  private upgradeIds = 0;

  constructor(
    private readonly conn: Connection,
    readonly root: string,
    readonly settings: Settings,
    private readonly log: ServerLog,
  ) {
    this.diagnostics = new DiagnosticsPublisher(conn, root);
    this.outcomes = new Outcomes(root, (module) => this.locate(module));
    this.saves = new SaveHandler({
      root,
      upgradeOnSave: () => this.settings.value.upgradeOnSave,
      attached: () => !!this.engine,
      note: (files) => this.engine?.noteSaved(files),
      uncompiled: () => !!this.engine?.uncompiledSaves.length,
      run: () => this.upgrade('save').then(() => undefined),
    });
  }

  get attached(): boolean {
    return !!this.session;
  }

  private setStatus(patch: Partial<StatusParams>): void {
    this.status = { ...this.status, ...patch };
    void this.conn.sendNotification(StatusNotification.type, this.status);
  }

  private upgradeOptions(): UpgradeOptions {
    const u = this.settings.value.upgrade;
    return {
      mode: u.mode,
      onFailure: u.onFailure,
      parallel: u.parallel,
      suspendTimeoutMs: u.suspendTimeoutMs,
      codeChangeTimeoutMs: u.codeChangeTimeoutMs,
      scope: u.scope,
      clusterOrder: u.clusterOrder,
      allowSkew: u.allowSkew,
    };
  }

  /** A failed attach leaves the current session as it was; the new one replaces it only once it works. */
  async attach(params: AttachParams): Promise<AttachResult> {
    const s = this.settings.value;
    const opts = {
      node: params.node || s.node,
      nameType: params.nameType || s.nameType || undefined,
      cookieFile: params.cookieFile || s.cookieFile || undefined,
      confirmed: params.confirmed,
    };
    let session: NodeGateway;
    try {
      session = await NodeGateway.attach({ ...opts, log: this.log.debug, trace: this.log.enabled('trace') ? this.log.trace : undefined });
    } catch (e) {
      this.log.warn(`attach to ${opts.node} failed: ${(e as Error).message}`);
      // The client asks the user, then attaches again with confirmed: true.
      if (e instanceof NodeError && e.code === 'needs-confirmation') throw new ResponseError(LSPErrorCodes.RequestFailed, e.message, { code: NEEDS_CONFIRMATION });
      // The code tells the client what to offer: the real name, or the cookie.
      if (e instanceof NodeError) throw new ResponseError(LSPErrorCodes.RequestFailed, e.message, { code: e.code, realName: e.realName });
      throw e;
    }
    await this.detach(false);
    this.everAttached = true;
    this.lastAttach = opts;
    this.session = session;
    try {
      this.engine = new UpgradeEngine(session, this.root, { warm: this.settings.value.compile.warm, log: this.log.debug });
      await this.engine.keepOldBinaries();
      void this.engine.warmUp();
    } catch (e) {
      // No project here (another editor's folder): attach still works for the views.
      this.engine = undefined;
      this.log.warn(`no upgrades from ${this.root}: ${(e as Error).message}`);
    }
    const onGone = () => {
      if (this.session !== session) return;
      this.session = undefined;
      this.engine?.dispose();
      this.engine = undefined;
      this.stopWatchingNode();
      this.setStatus({ attached: false, state: 'detached', message: `${session.node} went away; reattaching when it is back` });
      this.scheduleReattach();
    };
    session.onGone(onGone);
    this.setStatus({ attached: true, node: session.node, otpRelease: session.attached.otpRelease, state: 'idle', message: null });
    this.log.info(`attached to ${session.node} (OTP ${session.attached.otpRelease})`);
    void this.refreshPitfalls();
    this.watchNode();
    return { node: session.node, otpRelease: session.attached.otpRelease };
  }

  /** Node-down is a normal event: try again every 2 s until the node is back or we detach. */
  private scheduleReattach(): void {
    if (this.reattachTimer || !this.lastAttach) return;
    this.reattachTimer = setInterval(() => {
      if (this.session || !this.lastAttach) return this.stopReattach();
      this.attach(this.lastAttach).then(
        () => this.stopReattach(),
        () => undefined,
      );
    }, 2000);
  }

  private stopReattach(): void {
    if (this.reattachTimer) clearInterval(this.reattachTimer);
    this.reattachTimer = undefined;
  }

  async detach(forget = true): Promise<void> {
    if (forget) {
      this.lastAttach = undefined;
      this.stopReattach();
    }
    const s = this.session;
    this.session = undefined;
    this.engine?.dispose();
    this.engine = undefined;
    this.stopWatchingNode();
    if (s) {
      s.close();
      this.log.info(`detached from ${s.node}`);
      this.diagnostics.clear('pitfalls');
      this.diagnostics.clear('config');
      this.diagnostics.clear('upgrade');
      this.lenses = new Map();
      this.onLensesChanged();
    }
    this.setStatus({ attached: false, node: forget ? null : this.status.node, otpRelease: null, state: 'detached', message: null });
  }

  private need(): { session: NodeGateway; engine: UpgradeEngine | undefined } {
    if (!this.session) throw new NotAttachedError();
    return { session: this.session, engine: this.engine };
  }

  private needEngine(): UpgradeEngine {
    const { engine } = this.need();
    if (!engine) throw new Error(`${this.root} holds no mix.exs, rebar.config or .erl sources: nothing to upgrade from this folder.`);
    return engine;
  }

  /** A save's upgrade compiles the files the save handler noted; Upgrade Now, whatever changed. */
  async upgrade(trigger: 'save' | 'command'): Promise<UpgradeReport> {
    const engine = this.needEngine();
    let id = 0;
    let report: UpgradeReport;
    let scan: number | undefined;
    try {
      // A save whose checks predict harm is held; Upgrade Now (and Upgrade Anyway) pushes. The
      // start is announced when the queue takes the job: one upgrade runs at a time.
      report = await engine.upgrade(
        { ...this.upgradeOptions(), holdRisky: trigger === 'save' && this.settings.value.holdRiskyUpgrades },
        {
          onTurn: () => {
            const files = engine.uncompiledSaves;
            id = ++this.upgradeIds;
            void this.conn.sendNotification(UpgradeStartedNotification.type, { id, trigger, files });
            this.setStatus({ state: 'upgrading', message: files.length ? `compiling ${files.join(', ')}` : 'compiling' });
          },
          scanned: (s) => (scan = s),
        },
      );
      report.id = id;
      report.trigger = trigger;
    } catch (e) {
      const message = e instanceof NodeError ? e.message : `upgrade could not run: ${(e as Error).message}`;
      this.setStatus({ state: 'failed', message });
      throw e;
    }
    // Status, diagnostics, then the report: whoever reacts to the report sees the rest settled.
    const compileError = report.diagnostics.find((d) => d.severity === 'error');
    if (!report.ok && compileError) {
      this.setStatus({ state: 'skipped', message: `upgrade skipped: compile error in ${compileError.file}:${compileError.line}` });
    } else if (report.held?.length) {
      const h = report.held[0]!;
      this.setStatus({ state: 'skipped', message: `upgrade held: ${h.code} in ${h.file}:${h.line}` });
    } else {
      this.setStatus({ state: report.ok ? 'upgraded' : 'failed', message: report.summary });
    }
    this.diagnostics.setCompile(report.diagnostics);
    // The notification points where the diagnostic is: one reading of the stacktrace.
    report.errorSite = this.outcomes.noteUpgrade(report) ?? null;
    this.diagnostics.setPitfalls(this.outcomes.diagnostics(), 'upgrade');
    if (report.ok && report.pushed) this.hazards.noteUpgrade(report);
    void this.conn.sendNotification(UpgradeFinishedNotification.type, report);
    this.log.info(report.summary);
    await this.refreshPitfalls(scan);
    if (await engine.purged(report)) {
      const message = report.oldCode.length ? report.oldCode.map((o) => oldCodeLine(o)).join('\n') : null;
      void this.conn.sendNotification(UpgradePurgedNotification.type, { id, oldCode: report.oldCode, unpurged: report.unpurged, softPurgeMs: report.timings.softPurgeMs, message });
      // Atom form, as everything the log says of modules.
      for (const o of report.oldCode) this.log.info(oldCodeLine(o, (m) => m));
    }
    return report;
  }

  /**
   * A save the handler did not turn into an upgrade still gets a word in the status, once the
   * workspace has been attached: one never attached is not nagged on every save.
   */
  noteSkippedSave(why: 'not-attached'): void {
    if (why === 'not-attached' && this.everAttached) this.setStatus({ state: 'skipped', message: 'upgrade skipped: not attached to a node' });
  }

  /** With upgrade on save off, a save still compiles and checks, pushing nothing. */
  async checkWithoutUpgrade(): Promise<void> {
    if (!this.engine) return;
    const plan = await this.plan();
    this.diagnostics.setCompile(plan.diagnostics);
    this.outcomes.settled(plan.unchanged);
    this.diagnostics.setPitfalls(this.outcomes.diagnostics(), 'upgrade');
  }

  /** A config file saved while attached: the running node will not read it again (§16). */
  noteConfigSaved(file: string): void {
    if (!this.session) return;
    this.diagnostics.setPitfalls(
      [
        {
          code: 'config-not-reloaded',
          file,
          line: 1,
          severity: 'warning',
          message: `${this.session.node} will not see this change: a hot upgrade does not re-read config/*.exs. Apply Config Change sets the env and calls config_change/3, as a release does.`,
        },
      ],
      'config',
    );
    void this.conn.sendNotification(ConfigSavedNotification.type, { file });
  }

  /** The project's configuration against the node's env; applied, it clears config-not-reloaded where it worked. */
  async applyConfig(apply: boolean): Promise<ConfigReport> {
    const r = await configChange(this.need().session, this.root, apply);
    if (apply && r.ok) this.diagnostics.setPitfalls([], 'config');
    if (apply) this.log.info(r.summary);
    return r;
  }

  /**
   * The pitfall diagnostics and code lenses, from the build and the node as they are now.
   * `scan`: the last plan's scan of the node's processes, kept on the node, read instead of another.
   */
  async refreshPitfalls(scan?: number): Promise<void> {
    const engine = this.engine;
    if (!engine || !this.session) return;
    // A refresh the poller started before an upgrade may finish after the upgrade's own: its
    // older view of the node must not replace the newer one (a lens stuck on the old vsn).
    const generation = ++this.pitfallGeneration;
    try {
      const input = await gatherPitfallInput(engine.pitfallSource({ scan }));
      const modules = input.code.map((c) => c.module);
      const stamp = await this.pitfallStamp(modules);
      if (generation !== this.pitfallGeneration) return;
      this.pitfallSeen = { modules, stamp };
      const { pitfalls: found, lenses: predicted } = analyze(input);
      // What an upgrade left behind and is still true on the node: states of the old shape, a
      // renamed module still in use.
      const pitfalls = [...found, ...(await this.hazards.check(engine.session, input))];
      if (generation !== this.pitfallGeneration) return;
      // Beside each prediction, what the last upgrade or rollback did there.
      const lenses = predicted.flatMap((l) => {
        const last = l.kind === 'code_change' && l.module ? this.outcomes.last.get(l.module) : undefined;
        return last ? [{ ...l, title: last }, l] : [l];
      });
      this.diagnostics.setPitfalls(pitfalls);
      const byUri = new Map<string, Lens[]>();
      for (const l of lenses) {
        const uri = this.diagnostics.uriOf(l.file);
        byUri.set(uri, [...(byUri.get(uri) ?? []), l]);
      }
      this.lenses = byUri;
      this.onLensesChanged();
    } catch (e) {
      this.log.warn(`pitfall checks failed: ${(e as Error).message}`);
    }
  }

  /** Where a module of the last build is defined, and its code_change. */
  private locate(module: string): ReturnType<Locate> {
    const b = this.engine?.lastBuild?.modules.get(module);
    const debug = b && readDebugInfo(b.info.dbgi, module);
    if (!b || !debug) return undefined;
    const source = this.engine?.lastCompile?.sources?.find((s) => s.module === module);
    return {
      file: relative(this.root, sourceFileOf(b, debug, source, this.root)),
      line: debug.line,
      codeChangeLine: debug.functions.find((f) => f.name === 'code_change')?.line ?? null,
    };
  }

  private async pitfallStamp(modules: string[]): Promise<number> {
    return this.need().session.pitfallStamp(modules);
  }

  /**
   * The node changes without us too (an IEx recompile, another tool's load, a restarted
   * application): a cheap fingerprint is polled, and the checks run again when it moves.
   */
  private watchNode(): void {
    this.stopWatchingNode();
    this.stampTimer = setInterval(() => {
      const seen = this.pitfallSeen;
      if (!seen || !this.session || this.stampBusy || this.status.state === 'upgrading') return;
      this.stampBusy = true;
      this.pitfallStamp(seen.modules)
        .then((stamp) => (stamp !== seen.stamp && seen === this.pitfallSeen ? this.refreshPitfalls() : undefined))
        .catch(() => undefined)
        .finally(() => (this.stampBusy = false));
    }, PITFALL_POLL_MS);
  }

  private stopWatchingNode(): void {
    if (this.stampTimer) clearInterval(this.stampTimer);
    this.stampTimer = undefined;
    this.pitfallSeen = undefined;
  }

  async plan(): Promise<UpgradePlan> {
    const plan = await this.needEngine().plan(this.upgradeOptions());
    await this.refreshPitfalls();
    return plan;
  }

  async rollback(params: RollbackParams = {}): Promise<RollbackReport> {
    const r = await this.needEngine().rollback({ ...this.upgradeOptions(), restoreSnapshot: params.restoreSnapshot ?? false, confirmKills: params.confirmKills ?? true });
    this.outcomes.noteRollback(r);
    if (r.ok) {
      r.files = [...new Set(r.modules.flatMap((m) => this.locate(m.module)?.file ?? []))];
      this.setStatus({ state: 'rolled-back', message: r.summary });
    }
    this.diagnostics.setPitfalls(this.outcomes.diagnostics(), 'upgrade');
    await this.refreshPitfalls();
    return r;
  }

  modules(): Promise<ModuleRow[]> {
    return this.needEngine().modules();
  }

  /** From an older build (a git ref, a release folder: no node needed), or from what the node runs. */
  generateAppups(p: GenerateAppupParams = {}): Promise<GeneratedAppup[]> {
    if (p.from) return appupsSince(this.root, p.from);
    return this.needEngine().generateAppups();
  }

  /** The attached node and the nodes it sees. */
  async cluster(): Promise<ClusterStatus> {
    const { session } = this.need();
    const modules = () => [...(this.engine?.lastBuild?.modules.keys() ?? readBeamDirs(this.engine?.beamDirs ?? []).modules.keys())];
    return clusterStatus(session, modules);
  }

  /** The attached node's gateway, or a cluster peer's (the bridge answers for a peer it already connected, without asking the node). */
  private async on(node: string | undefined): Promise<NodeGateway> {
    const { session } = this.need();
    if (!node || node === session.node) return session;
    const { peers, failed } = await session.peers([node]);
    if (!peers[0]) throw new Error(`${node} is not reachable from ${session.node}: ${failed[0]?.error ?? 'not connected'}`);
    return peers[0];
  }

  async processes(p: ProcessesParams): Promise<ProcessesPage<LiveItem | LiveApplication>> {
    const session = await this.on(p.node);
    const limit = Math.min(p.kind === 'applications' ? 0 : (p.limit ?? this.settings.value.processes.pageSize), this.settings.value.processes.pageSize);
    if (p.kind === 'applications') return session.page({ kind: 'applications' });
    const page = { offset: p.offset ?? 0, limit };
    return session.page(p.kind === 'children' ? { kind: 'children', supervisor: p.supervisor, ...page } : { kind: 'unsupervised', ...page });
  }

  async processState(p: ProcessStateParams): Promise<ProcessState> {
    const session = await this.on(p.node);
    return session.processState(p.process, { syntax: p.syntax, maxBytes: this.settings.value.state.maxBytes, timeoutMs: 2000 });
  }

  dispose(): void {
    this.saves.dispose();
    this.stopReattach();
    this.stopWatchingNode();
    this.engine?.dispose();
    this.session?.close();
  }
}
