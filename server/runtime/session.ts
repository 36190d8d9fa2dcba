// A node the engine is attached to: the bridge plus the typed questions we ask its agent.
import { termToJson } from '../beam/json';
import { atom } from '../beam/term';
import type { NodeStatus, ProcessState, ProcessesReport } from '../protocol';
import { AttachOptions, Attached, Bridge } from './bridge';

export class NodeSession {
  private constructor(
    readonly bridge: Bridge,
    readonly attached: Attached,
  ) {}

  static async attach(opts: AttachOptions): Promise<NodeSession> {
    const { bridge, attached } = await Bridge.attach(opts);
    return new NodeSession(bridge, attached);
  }

  get node(): string {
    return this.attached.node;
  }

  async status(): Promise<NodeStatus> {
    return termToJson(await this.bridge.agent('status', [])) as unknown as NodeStatus;
  }

  async processes(opts: { limit?: number; apps?: string[] } = {}): Promise<ProcessesReport> {
    const req: Record<string, unknown> = {};
    if (opts.limit !== undefined) req.limit = opts.limit;
    if (opts.apps) req.apps = opts.apps.map(atom);
    return termToJson(await this.bridge.agent('processes', [req as never], 60_000)) as unknown as ProcessesReport;
  }

  /** One process's state, printed and size-limited on the node; never fetched in bulk. */
  async processState(process: string, opts: { syntax?: 'elixir' | 'erlang'; maxBytes?: number; timeoutMs?: number } = {}): Promise<ProcessState> {
    const req = {
      process: Buffer.from(process),
      syntax: atom(opts.syntax ?? 'elixir'),
      max_bytes: opts.maxBytes ?? 65536,
      timeout: opts.timeoutMs ?? 2000,
    };
    return termToJson(await this.bridge.agent('state', [req], (opts.timeoutMs ?? 2000) + 3000)) as unknown as ProcessState;
  }

  close(): void {
    this.bridge.close();
  }
}
