// Ctx owns everything mutable: the language client, the output channel, the views, the status
// item. Two scopes (as in rust-analyzer): what lives as long as the extension, and what lives
// as long as the client (its notification handlers).
import { join } from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, RequestType, RequestType0, State } from 'vscode-languageclient/node';
import {
  AttachRequest,
  ConfigSavedNotification,
  DetachRequest,
  NEEDS_CONFIRMATION,
  LiveApplication,
  LiveItem,
  ModulesRequest,
  ProcessStateRequest,
  LogNotification,
  LogLevelNotification,
  ClusterRequest,
  ProcessesPage,
  ProcessesParams,
  ProcessesRequest,
  RollbackReport,
  StatusNotification,
  StatusParams,
  UpgradeFinishedNotification,
  UpgradePurgedNotification,
  UpgradeReport,
  UpgradeStartedNotification,
} from '../server/protocol';
import { createClient, ServerStoppedError } from './client';
import { config } from './config';
import { logLevelName } from './logLevel';
import { CookieStore } from './cookies';
import { BeamLiveAdapter, BeamLiveConfigurationProvider, DebugHost } from './debug/adapter';
import { StateDocuments, STATE_SCHEME } from './stateDocument';
import { ReadOnlyText, TEXT_SCHEME } from './readOnlyText';
import { StatusItem } from './status';
import { LiveTree } from './views/liveTree';
import { ModulesTree } from './views/modulesTree';
import { UpgradesTree } from './views/upgradesTree';

export class Ctx implements DebugHost {
  /** Levels as VS Code's own logs have them (Developer: Set Log Level…); the server's lines arrive with theirs. */
  readonly output = vscode.window.createOutputChannel('BEAM Live', { log: true });
  client: LanguageClient | undefined;
  status: StatusParams = { attached: false, node: null, otpRelease: null, state: 'detached', message: null };
  readonly live: LiveTree;
  readonly modules: ModulesTree;
  readonly upgrades = new UpgradesTree();
  readonly states: StateDocuments;
  readonly texts = new ReadOnlyText();
  readonly liveView: vscode.TreeView<unknown>;
  readonly cookies: CookieStore;
  private readonly statusItem = new StatusItem(() => config.upgradeOnSave());
  private readonly clientScope: vscode.Disposable[] = [];
  private readonly reportListeners = new Set<(r: UpgradeReport) => void>();
  private annotations = { oldCode: new Map<string, string>(), missed: new Map<string, string>() };
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.cookies = new CookieStore(extension.secrets, join(extension.globalStorageUri.fsPath, 'cookies'));
    this.live = new LiveTree({
      status: () => this.status,
      page: (p) => this.page(p),
      cluster: () => this.request(ClusterRequest.type),
      pageSize: () => config.pageSize(),
      annotations: () => this.annotations,
    });
    this.modules = new ModulesTree(() => this.request(ModulesRequest.type), () => this.status.attached);
    this.states = new StateDocuments((process, syntax, node) => this.request(ProcessStateRequest.type, { process, syntax, ...(node ? { node } : {}) }));
    this.liveView = vscode.window.createTreeView('beamLive.live', { treeDataProvider: this.live, showCollapseAll: true });
    const upgradesView = vscode.window.createTreeView('beamLive.upgrades', { treeDataProvider: this.upgrades });
    this.upgrades.attachView(upgradesView);
    const modulesView = vscode.window.createTreeView('beamLive.modules', { treeDataProvider: this.modules });
    extension.subscriptions.push(
      this.output,
      this.statusItem,
      this.liveView,
      upgradesView,
      modulesView,
      vscode.workspace.registerTextDocumentContentProvider(STATE_SCHEME, this.states),
      vscode.workspace.registerTextDocumentContentProvider(TEXT_SCHEME, this.texts),
      vscode.debug.registerDebugConfigurationProvider('beam-live', new BeamLiveConfigurationProvider()),
      vscode.debug.registerDebugConfigurationProvider('beam-live', new BeamLiveConfigurationProvider(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
      vscode.debug.registerDebugAdapterDescriptorFactory('beam-live', {
        createDebugAdapterDescriptor: (session) => new vscode.DebugAdapterInlineImplementation(new BeamLiveAdapter(this, session)),
      }),
      // The Live view asks the node only while someone looks at it.
      this.liveView.onDidChangeVisibility(() => this.scheduleRefresh()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('beamLive.processes.refreshSeconds') && this.scheduleRefresh()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('beamLive.upgradeOnSave') && this.statusItem.update()),
      { dispose: () => this.stopClient() },
      { dispose: () => this.cookies.removeFiles() },
    );
    void vscode.commands.executeCommand('setContext', 'beamLive.attached', false);
  }

  async start(): Promise<void> {
    const client = createClient(this.extension, this.output, (why) => this.statusItem.serverStopped(why));
    this.clientScope.push(
      // Stopped for good (it crashed too often, or failed to start): say so where the user looks.
      client.onDidChangeState((e) => {
        if (e.newState === State.Stopped) {
          this.status = { attached: false, node: null, otpRelease: null, state: 'detached', message: null };
          void vscode.commands.executeCommand('setContext', 'beamLive.attached', false);
          this.statusItem.serverStopped();
          this.live.refresh();
          this.modules.refresh();
        } else if (e.newState === State.Running) {
          this.statusItem.update(this.status);
        }
      }),
      client.onNotification(StatusNotification.type, (s) => this.onStatus(s)),
      client.onNotification(LogNotification.type, (l) => this.output[l.level](l.message)),
      // Lines under the channel's level are not even sent.
      this.output.onDidChangeLogLevel((l) => void client.sendNotification(LogLevelNotification.type, { level: logLevelName(l) })),
      client.onNotification(UpgradeStartedNotification.type, (p) => {
        this.output.debug(`upgrade started (${p.trigger}${p.files.length ? `: ${p.files.join(', ')}` : ''})`);
      }),
      // A config file saved while attached: the node will not read it by itself.
      client.onNotification(ConfigSavedNotification.type, (p) => {
        void vscode.window.showInformationMessage(`BEAM Live: ${vscode.workspace.asRelativePath(p.file)} changed; ${this.status.node} does not re-read it.`, 'Apply Config Change').then((pick) => {
          if (pick) void vscode.commands.executeCommand('beamLive.applyConfig');
        });
      }),
      // The report says what started it: a save landing while Upgrade Now runs cannot relabel it.
      client.onNotification(UpgradeFinishedNotification.type, (r) => this.onReport(r, r.trigger ?? 'save')),
      // Who still runs old code is known once the soft purge after the upgrade ended.
      client.onNotification(UpgradePurgedNotification.type, (p) => {
        const r = this.upgrades.purged(p);
        if (r) this.annotations = { ...this.annotations, oldCode: oldCodeOf(r) };
        this.live.refresh();
      }),
    );
    this.client = client;
    await client.start();
  }

  private async stopClient(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.clientScope.splice(0).forEach((d) => d.dispose());
    await this.client?.stop().catch(() => undefined);
    this.client = undefined;
  }

  /** Sends a request to the server; "not running" is said plainly (with the way to restart it), not as a stack trace. */
  request<R>(type: RequestType0<R, void>): Promise<R>;
  request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R>;
  async request<P, R>(type: RequestType0<R, void> | RequestType<P, R, void>, params?: P): Promise<R> {
    if (!this.client?.isRunning()) throw new ServerStoppedError();
    return type instanceof RequestType0 ? this.client.sendRequest(type) : this.client.sendRequest(type, params as P);
  }

  /** Stops the language server if it runs, and starts it again (the Restart action). */
  async restart(): Promise<void> {
    await this.stopClient();
    this.onStatus({ attached: false, node: null, otpRelease: null, state: 'detached', message: null });
    await this.start();
  }

  private page(p: ProcessesParams): Promise<ProcessesPage<LiveItem | LiveApplication>> {
    return this.request(ProcessesRequest.type, p);
  }

  private onStatus(s: StatusParams): void {
    const wasAttached = this.status.attached;
    this.status = s;
    this.statusItem.update(s);
    void vscode.commands.executeCommand('setContext', 'beamLive.attached', s.attached);
    if (s.attached !== wasAttached) {
      this.live.refresh();
      this.modules.refresh();
      this.scheduleRefresh();
    }
  }

  onReport(r: UpgradeReport, trigger: string): void {
    // The walkthrough's "save a module" step is done once a save upgraded something.
    if (r.ok && r.modules.length) void vscode.commands.executeCommand('setContext', 'beamLive.upgraded', true);
    this.upgrades.add(r, trigger);
    // The summary is in the log already (the server's line); a failure is said where the user is.
    if (!r.ok && r.pushed) void this.failed(r);
    if (r.held?.length) void this.held(r);
    this.annotations = {
      oldCode: oldCodeOf(r),
      missed: new Map(r.missed.map((m) => [m.pid, m.why])),
    };
    for (const l of this.reportListeners) l(r);
    this.live.refresh();
    this.modules.refresh();
  }

  /** A failed upgrade, on save as on command: one line, the details and the Upgrades view a click away. */
  private async failed(r: UpgradeReport): Promise<void> {
    const at = r.errorSite ? ` (at ${r.errorSite.file}:${r.errorSite.line})` : '';
    const pick = await vscode.window.showErrorMessage(`BEAM Live: ${r.summary}${at}`, 'Show Details', 'Show Upgrades');
    if (pick === 'Show Details') {
      this.output.error(`${r.summary}\n${r.errorDetail ?? r.error ?? ''}`);
      this.output.show(true);
    }
    if (pick === 'Show Upgrades') void vscode.commands.executeCommand('beamLive.upgrades.focus');
  }

  /** A save held back by its checks: push it anyway, look at the plan, or leave it. */
  private async held(r: UpgradeReport): Promise<void> {
    const pick = await vscode.window.showWarningMessage(`BEAM Live: ${r.summary}`, 'Upgrade Anyway', 'Show Plan', 'Skip');
    if (pick === 'Upgrade Anyway') void vscode.commands.executeCommand('beamLive.upgradeNow');
    if (pick === 'Show Plan') void vscode.commands.executeCommand('beamLive.showPlan');
  }

  /** A rollback is an entry of its own, and everything that showed the upgraded node follows. */
  onRollback(r: RollbackReport): void {
    this.upgrades.addRollback(r);
    this.live.refresh();
    this.modules.refresh();
    for (const d of vscode.workspace.textDocuments) if (d.uri.scheme === STATE_SCHEME) this.states.refresh(d.uri);
  }

  private scheduleRefresh(): void {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    if (!this.liveView.visible || !this.status.attached) return;
    this.refreshTimer = setInterval(() => {
      if (this.liveView.visible && this.status.attached) this.live.refresh();
    }, config.refreshSeconds() * 1000);
  }

  // ---- DebugHost ----
  /** The cookie: the file given, else the one stored for this node, else beamLive.cookieFile, else ~/.erlang.cookie. */
  async attach(node: string, nameType?: 'sname' | 'name', cookieFile?: string): Promise<void> {
    cookieFile ||= (await this.cookies.fileFor(node)) || config.cookieFile() || undefined;
    try {
      await this.request(AttachRequest.type, { node, nameType, cookieFile });
    } catch (e) {
      if ((e as { data?: { code?: string } }).data?.code !== NEEDS_CONFIRMATION) {
        this.cookies.removeFile(node);
        throw e;
      }
      const yes = 'Attach Anyway';
      const pick = await vscode.window.showWarningMessage((e as Error).message, { modal: true }, yes);
      if (pick !== yes) {
        this.cookies.removeFile(node);
        throw new Error(`Not attached to ${node}.`);
      }
      await this.request(AttachRequest.type, { node, nameType, cookieFile, confirmed: true });
    }
  }
  async detach(): Promise<void> {
    await this.request(DetachRequest.type);
    this.cookies.removeFiles();
  }
  onUpgrade(listener: (r: UpgradeReport) => void): vscode.Disposable {
    this.reportListeners.add(listener);
    return { dispose: () => this.reportListeners.delete(listener) };
  }
  folder(): string {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
  }
}

/** Who still runs old code, by pid: the Live view's annotation. */
function oldCodeOf(r: UpgradeReport): Map<string, string> {
  return new Map(r.oldCode.map((p) => [p.pid, p.module]));
}
