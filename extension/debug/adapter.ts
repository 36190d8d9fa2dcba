// The beam-live debug type: an inline debug adapter whose "debugging" is attaching. Launch
// starts the project in the integrated terminal and attaches; stopping detaches, and stops the
// node when it was launched. Upgrade reports are written to the Debug Console.
import * as vscode from 'vscode';
import type { UpgradeReport } from '../../server/protocol';
import { LaunchConfig, launchInTerminal } from './launch';

export interface DebugHost {
  attach(node: string, nameType?: 'sname' | 'name', cookieFile?: string): Promise<void>;
  detach(): Promise<void>;
  onUpgrade(listener: (r: UpgradeReport) => void): vscode.Disposable;
  folder(): string;
}

type Message = { seq: number; type: string; command?: string; arguments?: Record<string, unknown> };

export class BeamLiveAdapter implements vscode.DebugAdapter {
  private readonly emitter = new vscode.EventEmitter<vscode.DebugProtocolMessage>();
  readonly onDidSendMessage = this.emitter.event;
  private seq = 1;
  private terminal: vscode.Terminal | undefined;
  private reports: vscode.Disposable | undefined;

  constructor(
    private readonly host: DebugHost,
    private readonly session: vscode.DebugSession,
  ) {}

  private send(m: Record<string, unknown>): void {
    this.emitter.fire({ seq: this.seq++, ...m } as vscode.DebugProtocolMessage);
  }
  private respond(req: Message, body: unknown = {}, error?: string): void {
    this.send({ type: 'response', request_seq: req.seq, command: req.command, success: !error, message: error, body });
  }
  private output(text: string, category = 'console'): void {
    this.send({ type: 'event', event: 'output', body: { category, output: `${text}\n` } });
  }

  handleMessage(message: vscode.DebugProtocolMessage): void {
    void this.handle(message as Message);
  }

  private async handle(req: Message): Promise<void> {
    switch (req.command) {
      case 'initialize':
        this.respond(req, { supportsConfigurationDoneRequest: true, supportsTerminateRequest: true });
        this.send({ type: 'event', event: 'initialized' });
        return;
      case 'launch':
      case 'attach':
        try {
          const cfg = this.session.configuration;
          // What a beam-live configuration may say (package.json's configurationAttributes).
          const c: LaunchConfig & { cookieFile?: string } = { node: cfg.node, command: cfg.command, runMode: cfg.runMode, cwd: cfg.cwd, nameType: cfg.nameType, cookieFile: cfg.cookieFile };
          if (!c.node) throw new Error('The beam-live configuration needs "node", e.g. "app@localhost".');
          if (req.command === 'launch') {
            this.output(`Launching ${c.node}…`);
            this.terminal = await launchInTerminal(c, this.host.folder());
          }
          await this.host.attach(c.node, c.nameType, c.cookieFile);
          this.reports = this.host.onUpgrade((r) => this.output(`[upgrade] ${r.summary}${r.ok ? '' : `\n${r.error ?? ''}`}`, r.ok ? 'console' : 'stderr'));
          this.output(`Attached to ${c.node}. Save a module to upgrade it.`);
          this.respond(req);
        } catch (e) {
          this.respond(req, {}, (e as Error).message);
          this.terminal?.dispose();
          this.terminal = undefined;
        }
        return;
      case 'configurationDone':
        this.respond(req);
        return;
      case 'threads':
        this.respond(req, { threads: [] });
        return;
      case 'disconnect':
      case 'terminate':
        await this.stop();
        this.respond(req);
        if (req.command === 'terminate') this.send({ type: 'event', event: 'terminated' });
        return;
      default:
        this.respond(req);
    }
  }

  private async stop(): Promise<void> {
    this.reports?.dispose();
    this.reports = undefined;
    await this.host.detach().catch(() => undefined);
    // Disposing the terminal hangs up its shell, and the node launched in it with it.
    this.terminal?.dispose();
    this.terminal = undefined;
  }

  dispose(): void {
    void this.stop();
    this.emitter.dispose();
  }
}

export class BeamLiveConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [
      { type: 'beam-live', request: 'launch', name: 'BEAM Live: launch and attach', node: 'app@localhost', runMode: 'iex' },
      { type: 'beam-live', request: 'attach', name: 'BEAM Live: attach', node: 'app@localhost' },
    ];
  }

  resolveDebugConfiguration(_f: vscode.WorkspaceFolder | undefined, c: vscode.DebugConfiguration): vscode.DebugConfiguration {
    // F5 with no launch.json: launch the project as app@localhost.
    if (!c.type && !c.request) return { type: 'beam-live', request: 'launch', name: 'BEAM Live: launch and attach', node: 'app@localhost' };
    return c;
  }
}
