// The one description of what crosses between the engine and its users: the CLI's --json
// output and the custom beamLive/* LSP messages. Both the extension and the server import this
// file; it imports neither vscode nor any Node module, only the LSP protocol types.
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';

/** `beam-live status --json`. */
export interface NodeStatus {
  node: string;
  otpRelease: string;
  applications: Array<{ name: string; description: string; vsn: string }>;
  processCount: number;
  elixir: boolean;
}

/** One process in a supervision tree, as the agent reports it. */
/** A name given through Elixir's Registry: `{:via, Registry, {registry, key}}`. */
export interface ViaName {
  registry: string;
  /** As Elixir inspects it. */
  key: string;
}

export interface ProcessInfo {
  /** `<0.123.0>`, as the node prints it; null for a child that is restarting or not started. */
  pid: string | null;
  name: string | null;
  via?: ViaName | null;
  /** The callback module, in atom form. */
  module: string | null;
  /** The loaded module's vsn as Erlang's ~p prints it. */
  vsn: string | null;
  status: string;
  messageQueueLen?: number;
}

export interface TreeNode extends ProcessInfo {
  /** The child id, as ~p prints it. */
  id: string | null;
  type: 'worker' | 'supervisor';
  /** The child spec's modules, or "dynamic". */
  modules: string[] | 'dynamic';
  children: TreeNode[];
}

export interface ApplicationTree {
  application: string;
  vsn: string | null;
  supervisor: TreeNode | null;
}

export interface UnsupervisedProcess extends ProcessInfo {
  application: string;
  /** proc_lib: a special process (gen_server & co); fun_server: one running a fun (Agent, Task); spawn: a plain process. */
  startedBy: 'proc_lib' | 'fun_server' | 'spawn';
  /** The registered name or pid of the process that started it. */
  parent: string | null;
}

/** `beam-live processes --json`. */
export interface ProcessesReport {
  node: string;
  applications: ApplicationTree[];
  projectApplications: string[];
  unsupervised: UnsupervisedProcess[];
  truncated: boolean;
}

/** `beam-live beam --json`, one per file. */
export type BeamReport =
  | { file: string; module: string; md5: string; vsn: string | null; exports: string[]; behaviours: string[] }
  | { file: string; error: string };

// ---- upgrades ------------------------------------------------------------------------------

/** The default appup instruction a module gets (docs/otp-rules.md). */
export type Instruction = 'update' | 'supervisor' | 'load_module' | 'add_module' | 'delete_module';
export type UpgradeMode = 'release' | 'all';
export type FailurePolicy = 'rollback' | 'resume';

export interface CompileDiagnostic {
  file: string;
  line: number;
  column?: number;
  severity: 'error' | 'warning';
  message: string;
}

export interface ModuleChange {
  module: string;
  instruction: Instruction;
  /** As Erlang's ~p prints the unwrapped vsn; oldVsn is the loaded module's. */
  oldVsn: string | null;
  newVsn: string | null;
  oldMd5: string | null;
  newMd5: string | null;
}

export interface ProcessRef {
  pid: string;
  name: string | null;
  via?: ViaName | null;
  module: string;
}

export interface MissedProcess extends ProcessRef {
  why: string;
}

export interface PlanWarning {
  module: string;
  code: 'no-code-change' | 'agent-extra' | 'supervisor-init' | 'nif' | 'badfun' | 'no-old-binary' | 'role-changed' | 'not-in-app' | 'project-not-loaded';
  message: string;
}

/** `beam-live plan --json`. */
export interface UpgradePlan {
  node: string;
  mode: UpgradeMode;
  modules: ModuleChange[];
  unchanged: string[];
  notLoaded: string[];
  added: string[];
  deleted: string[];
  /** The low-level script a release would run, as systools_rc expands the instructions. */
  script: string[];
  /** The script's blocks (suspend, load, code_change, resume each), in the order they run. */
  blocks: string[][];
  /** The processes the load will kill (they run old code), and whether they come back. */
  kills: KilledProcess[];
  /** The pitfall checks on this plan, against the node as it runs. */
  pitfalls: UpgradePitfall[];
  reach: Array<ProcessRef & { devOnly: boolean }>;
  missed: MissedProcess[];
  warnings: PlanWarning[];
  diagnostics: CompileDiagnostic[];
}

/** A process a load kills: it still ran the old code that the load purges. */
export interface KilledProcess extends ProcessRef {
  reason?: string;
  /** The child spec's restart type; none when no supervisor started it. */
  restart: 'permanent' | 'transient' | 'temporary' | 'none' | 'unknown';
  supervisor: string | null;
  /** The child its supervisor started in its place (after the load, on the new code). */
  restarted?: string | null;
}

export interface ProcessResult extends ProcessRef {
  codeChange: 'ok' | 'error' | 'not_called';
  reason: string | null;
  suspendedMs: number;
  codeChangeMs: number;
  /** Reached only because of --mode all: a real release would not have touched it. */
  devOnly: boolean;
}

export interface UpgradeTimings {
  compileMs: number;
  planMs: number;
  suspendMs: number;
  loadMs: number;
  codeChangeMs: number;
  resumeMs: number;
  totalMs: number;
  purgeMs: number;
  softPurgeMs: number;
  maxSuspendedMs: number;
}

/** A pitfall the checks found on the plan against the node, before anything was loaded. */
export interface UpgradePitfall {
  code: string;
  module: string | null;
  /** Relative to the project. */
  file: string;
  line: number;
  message: string;
  severity: 'error' | 'warning';
  /** Set where it predicts harm (the upgrade fails, state is lost, callers break): such a save is held. */
  risk?: 'fails' | 'state' | 'callers';
}

/** `beam-live upgrade --json`, and the params of beamLive/upgradeFinished. */
export interface UpgradeReport {
  ok: boolean;
  node: string;
  mode: UpgradeMode;
  /** Set in every report of --mode all. */
  devOnly: boolean;
  parallel: boolean;
  onFailure: FailurePolicy;
  /** The upgrade reached a load: the node's code changed (even if it was put back since). */
  pushed: boolean;
  rolledBack: boolean;
  /** One line: what failed, where, and the exception's banner as the module's language prints it. */
  error: string | null;
  /** The first failure in full, once (Elixir's or Erlang's exception text with its stacktrace). */
  errorDetail?: string | null;
  /** The process whose code_change failed first, and the frames of its stacktrace. */
  errorProcess?: ProcessRef | null;
  errorFrames?: Array<{ module: string; file: string; line: number }>;
  /** Over LSP: where the failure shows in the project (the frame the error diagnostic is on), relative to it. */
  errorSite?: { file: string; line: number } | null;
  /** What OTP's install_release would have done with this failure. */
  release: string | null;
  modules: ModuleChange[];
  /** The blocks as they ran (a failure stops at its block). */
  blocks: string[][];
  /** What the undo after a failure put back. */
  undo: { blocks: number; states: number; resumed: number; loads: Array<{ module: string; result: string }> } | null;
  unchanged: string[];
  notLoaded: string[];
  added: string[];
  deleted: string[];
  /** Modules whose @vsn/-vsn alone changed: not part of the MD5, so nothing was loaded. */
  vsnOnly?: Array<{ module: string; oldVsn: string | null; newVsn: string | null }>;
  processes: ProcessResult[];
  missed: MissedProcess[];
  killed: KilledProcess[];
  /** Who still runs old code after the soft purge that follows the upgrade, and the modules it could not purge. */
  oldCode: Array<ProcessRef & { reason: string }>;
  unpurged: string[];
  /**
   * The soft purge is still running on the node (it follows the reply: on a large node it is
   * the slowest step, and the upgrade is complete without it). oldCode and unpurged come with
   * beamLive/upgradePurged; the CLI waits for them.
   */
  purging?: boolean;
  warnings: PlanWarning[];
  /** The pitfall checks on this upgrade, run before anything was loaded. */
  pitfalls: UpgradePitfall[];
  /** The risky findings that held this upgrade back: nothing was pushed. */
  held?: UpgradePitfall[];
  diagnostics: CompileDiagnostic[];
  /** What compiled the save: the warm build VM's mix or its Elixir compiler alone, mix, the bridge's warm Erlang compiler, rebar3, erlc. */
  compiler?: string;
  timings: UpgradeTimings;
  /** One line for a status bar or a terminal. */
  summary: string;
  /** Over LSP: which upgrade this is (as in its beamLive/upgradeStarted) and what started it. */
  id?: number;
  trigger?: 'save' | 'command';
  /** A cluster-scoped upgrade: each node's part (the attached node's is also the report itself). */
  cluster?: ClusterReport;
}

/** `beam-live rollback --json`. */
export interface RollbackReport {
  ok: boolean;
  node: string;
  error: string | null;
  modules: Array<{ module: string; oldVsn: string | null; newVsn: string | null }>;
  /**
   * code_change_down: its {down, Vsn} clause ran, and the state is what it returned; kept: no
   * down clause, and the upgrade had left the state as it was, so it stays; snapshot: the state
   * saved at the upgrade was put back (asked for with --restore-snapshot).
   */
  processes: Array<ProcessRef & { how: 'code_change_down' | 'kept' | 'snapshot' }>;
  /** Processes with no down clause whose state the upgrade changed: the rollback did nothing. */
  refused: Array<ProcessRef & { reason: string }>;
  /** How old the snapshot taken at the upgrade is. */
  snapshotAgeMs: number | null;
  /** Asked with confirmKills false: the processes the rollback would kill; nothing was changed. */
  needsConfirmation?: boolean;
  kills?: KilledProcess[];
  /** The source files of the modules rolled back, relative to the project: they still hold the new code. */
  files?: string[];
  killed: KilledProcess[];
  notSuspended: string[];
  oldCode: Array<ProcessRef & { reason: string }>;
  totalMs: number;
  summary: string;
}

/** `beam-live state --json`, and the answer to beamLive/processState. */
export type ProcessState =
  | { ok: true; pid: string; name: string | null; syntax: 'elixir' | 'erlang'; text: string; truncated: boolean; bytes: number }
  | { ok: false; error: string };

// ---- the beamLive/* messages ----------------------------------------------------------------

export type NameTypeParam = 'sname' | 'name';

export interface AttachParams {
  node: string;
  nameType?: NameTypeParam;
  cookieFile?: string;
  /** Attach even though the node does not look like a development node. */
  confirmed?: boolean;
}

/** The error data of a beamLive/attach that needs the user's confirmation first. */
export const NEEDS_CONFIRMATION = 'needs-confirmation';

export interface AttachResult {
  node: string;
  otpRelease: string;
}

/** client → server: attach to a node (detaching from any other first). */
export namespace AttachRequest {
  export const method = 'beamLive/attach';
  export const type = new RequestType<AttachParams, AttachResult, void>(method);
}

/** client → server: detach; the node keeps running. */
export namespace DetachRequest {
  export const method = 'beamLive/detach';
  export const type = new RequestType0<void, void>(method);
}

/** client → server: compile, diff, plan and upgrade now, whatever beamLive.upgradeOnSave says. */
export namespace UpgradeNowRequest {
  export const method = 'beamLive/upgradeNow';
  export const type = new RequestType0<UpgradeReport, void>(method);
}

/** Answers once no upgrade started by a save runs or waits (scripts, other editors' tests). */
export namespace IdleRequest {
  export const method = 'beamLive/idle';
  export const type = new RequestType0<null, void>(method);
}

/** client → server: compile, diff and plan, changing nothing on the node. */
export namespace PlanRequest {
  export const method = 'beamLive/plan';
  export const type = new RequestType0<UpgradePlan, void>(method);
}

/** An .appup for one application: from the vsn the node runs to the one just built. */
export interface GeneratedAppup {
  app: string;
  /** Where BEAM Live suggests it lives (priv/ for mix, src/ for Erlang, under apps/APP/ in an umbrella): it reads it from there. */
  path: string;
  fromVsn: string;
  toVsn: string;
  modules: string[];
  /** Each module's up instruction, in the appup's order. */
  instructions?: Array<{ module: string; instruction: Instruction; depMods?: string[] }>;
  text: string;
}

/** client → server: the .appup of each application the changed modules belong to; nothing is written. */
/** `from`: a git ref or an older release's folder; without it, from what the attached node runs. */
export interface GenerateAppupParams {
  from?: string;
}

export namespace GenerateAppupRequest {
  export const method = 'beamLive/generateAppup';
  export const type = new RequestType<GenerateAppupParams | null, GeneratedAppup[], void>(method);
}

/** One row of the Live view. Pids, names and modules as the node prints them. */
export interface LiveItem {
  pid: string | null;
  name: string | null;
  via?: ViaName | null;
  module: string | null;
  vsn: string | null;
  status: string;
  id?: string | null;
  type?: 'worker' | 'supervisor';
  modules?: string[] | 'dynamic';
  application?: string;
  parent?: string | null;
  startedBy?: string;
  /** A supervisor's active children (an empty one is not drawn as expandable). */
  children?: number;
}

export interface LiveApplication {
  application: string;
  vsn: string | null;
  description: string;
  supervisor: string | null;
  supervisorName: string | null;
  module: string | null;
}

/** `node`: another node of the attached node's cluster (beamLive/cluster lists them); the attached node by default. */
export type ProcessesParams = (
  | { kind: 'applications' }
  | { kind: 'children'; supervisor: string; offset?: number; limit?: number }
  | { kind: 'unsupervised'; offset?: number; limit?: number }
) & { node?: string };

export interface ProcessesPage<T> {
  items: T[];
  total: number;
  offset: number;
}

/** client → server: one page of the Live view, collected and sorted on the node. */
export namespace ProcessesRequest {
  export const method = 'beamLive/processes';
  export const type = new RequestType<ProcessesParams, ProcessesPage<LiveItem | LiveApplication>, void>(method);
}

export interface ProcessStateParams {
  /** A pid (<0.1.0>) or a registered name in atom form. */
  process: string;
  /** Another node of the cluster; the attached node by default. */
  node?: string;
  syntax?: 'elixir' | 'erlang';
}

/** client → server: one process's state, printed and size-limited on the node. */
export namespace ProcessStateRequest {
  export const method = 'beamLive/processState';
  export const type = new RequestType<ProcessStateParams, ProcessState, void>(method);
}

export interface RollbackParams {
  /** Where no down clause matches a changed state, put back the snapshot taken at the upgrade. */
  restoreSnapshot?: boolean;
  /** false: a rollback that would kill processes changes nothing and names them (the editor asks first). Default true. */
  confirmKills?: boolean;
}

/** client → server: undo the last upgrade, as a downgrade. The params may be left out. */
export namespace RollbackRequest {
  export const method = 'beamLive/rollback';
  export const type = new RequestType<RollbackParams | null, RollbackReport, void>(method);
}

export interface ModuleRow {
  module: string;
  loadedVsn: string | null;
  diskVsn: string | null;
  loadedMd5: string | null;
  diskMd5: string | null;
  /** Processes still running the module's old code. */
  oldCode: ProcessRef[];
  state: 'changed' | 'unchanged' | 'not_loaded';
}

/** client → server: the project's modules, loaded vs on disk (the Modules view). */
export namespace ModulesRequest {
  export const method = 'beamLive/modules';
  export const type = new RequestType0<ModuleRow[], void>(method);
}

export interface StatusParams {
  attached: boolean;
  node: string | null;
  otpRelease: string | null;
  /** Set when the server launched or was told the node was launched by the editor. */
  state: 'detached' | 'idle' | 'compiling' | 'upgrading' | 'upgraded' | 'failed' | 'skipped' | 'rolled-back';
  /** One line: the last result, or why the last save was skipped. */
  message: string | null;
}

/** server → client: attachment and the last result, for the status bar and the views. */
export namespace StatusNotification {
  export const method = 'beamLive/status';
  export const type = new NotificationType<StatusParams>(method);
}

export interface UpgradeStartedParams {
  /** Assigned when the upgrade's turn comes; its report carries the same. */
  id: number;
  trigger: 'save' | 'command';
  files: string[];
}

/** server → client: an upgrade began. */
export namespace UpgradeStartedNotification {
  export const method = 'beamLive/upgradeStarted';
  export const type = new NotificationType<UpgradeStartedParams>(method);
}

/** server → client: an upgrade ended; the same report as `beam-live upgrade --json`. */
export namespace UpgradeFinishedNotification {
  export const method = 'beamLive/upgradeFinished';
  export const type = new NotificationType<UpgradeReport>(method);
}

/** What the soft purge after an upgrade found, once it ended. */
export interface UpgradePurgedParams {
  /** The report's id. */
  id: number;
  oldCode: UpgradeReport['oldCode'];
  unpurged: string[];
  softPurgeMs: number;
  /** One line per process left in old code, as a person reads it (for editors that only echo); null when none. */
  message: string | null;
}

/** What the soft purge that followed the upgrade found, into its report (nothing known when the node forgot it). */
export function applyPurge(report: UpgradeReport, p: Omit<UpgradePurgedParams, 'id' | 'message'> | undefined): UpgradeReport {
  report.oldCode = p?.oldCode ?? [];
  report.unpurged = p?.unpurged ?? [];
  report.timings.softPurgeMs = p?.softPurgeMs ?? 0;
  delete report.purging;
  return report;
}

/** server → client: the soft purge that followed a report's upgrade ended. */
export namespace UpgradePurgedNotification {
  export const method = 'beamLive/upgradePurged';
  export const type = new NotificationType<UpgradePurgedParams>(method);
}

// ---- config changes (beam-live config, beamLive/applyConfig) --------------------------------

/** One application's env against the project's configuration, and what applying it did. */
export interface ConfigChange {
  app: string;
  changed: Array<{ key: string; value: string }>;
  new: Array<{ key: string; value: string }>;
  removed: string[];
  /** After applying: its config_change/3 returned ok, there is none, or how it failed (its env was put back). */
  callback?: 'ok' | 'no_callback' | string;
  restored?: boolean;
}

export interface ConfigReport {
  ok: boolean;
  node: string;
  applied: boolean;
  changes: ConfigChange[];
  read: string[];
  skipped: Array<{ file: string; why: string }>;
  summary: string;
}

/** server → client: a config file was saved while attached; the node will not read it by itself. */
export namespace ConfigSavedNotification {
  export const method = 'beamLive/configSaved';
  export const type = new NotificationType<{ file: string }>(method);
}

export namespace ApplyConfigRequest {
  export const method = 'beamLive/applyConfig';
  export const type = new RequestType<{ apply: boolean }, ConfigReport, void>(method);
}

// ---- release rehearsal (beam-live rehearse, beamLive/rehearse) ----------------------------------

export interface RehearsedCall {
  pid: string;
  module: string;
  oldVsn: string;
  result: string;
}

export interface RehearsedProcessState {
  pid: string;
  module: string;
  alive: boolean;
  suspended: boolean;
  oldCode: boolean;
  md5: string | null;
  state: string | null;
}

/** One install_release, as release_handler answered it, and the code_changes it ran. */
export interface RehearsalStep {
  ok: boolean;
  result: string | null;
  error?: string | null;
  calls: RehearsedCall[];
}

export interface RehearsedProcess extends ProcessRef {
  /** BEAM Live's plan reaches it (its code_change is predicted). */
  predicted: boolean;
  up: { codeChange: RehearsedCall | null; after: RehearsedProcessState };
  down: { codeChange: RehearsedCall | null; after: RehearsedProcessState };
}

export interface RehearsalReport {
  ok: boolean;
  name: string;
  from: string;
  to: string;
  error: string | null;
  warnings: string[];
  up: RehearsalStep | null;
  down: RehearsalStep | null;
  processes: RehearsedProcess[];
  /** Where the outcome and the plan disagree, or where the upgrade lost something. */
  differences: string[];
  summary: string;
}

export interface RehearseParams {
  /** The old and the new release folders (built by mix release). */
  from: string;
  to: string;
  /** Elixir code, or an .exs file, run on the old release before the upgrade. */
  warmup?: string;
}

/** client → server: the real release upgrade and downgrade on a throw-away node; no attached node needed. */
export namespace RehearseRequest {
  export const method = 'beamLive/rehearse';
  export const type = new RequestType<RehearseParams, RehearsalReport, void>(method);
}

/** How an upgrade or rollback runs: the settings' upgrade section, and the CLI's flags. */
export interface UpgradeOptions {
  mode?: UpgradeMode;
  onFailure?: FailurePolicy;
  parallel?: boolean;
  suspendTimeoutMs?: number;
  codeChangeTimeoutMs?: number;
  /** Fault injection for the tests: pause between suspend and load. */
  pauseAfterSuspendMs?: number;
  /** Fault injection: pause after the first block's load. */
  pauseAfterLoadMs?: number;
  /** Fault injection: pause after the first block's first code_change. */
  pauseMidCodeChangeMs?: number;
  /** Rollback: put back the snapshot taken at the upgrade where no down clause matches. */
  restoreSnapshot?: boolean;
  /** Rollback: false to have one that would kill processes change nothing and name them. */
  confirmKills?: boolean;
  /** Hold the upgrade (push nothing) when the checks predict harm. */
  holdRisky?: boolean;
  /** `cluster`: every node the attached one sees, in two phases, all or nothing. */
  scope?: UpgradeScope;
  /** These nodes of the cluster only (the attached node always takes part); implies cluster scope. */
  nodes?: string[];
  clusterOrder?: ClusterOrder;
  /** Upgrade each node from the old code it runs, where the nodes run different ones. */
  allowSkew?: boolean;
  /** Fault injection: pause between a cluster's prepare and its commit. */
  pauseBeforeCommitMs?: number;
}

export type UpgradeScope = 'node' | 'cluster';
export type ClusterOrder = 'parallel' | 'serial';

/**
 * How far each node of a cluster upgrade got: refused in prepare; prepared but not committed
 * (another node stopped the upgrade); upgraded; failed in its own commit (and undone there);
 * rolled back after another node failed; or gone during its commit, what it runs unknown.
 */
export type ClusterOutcome = 'refused' | 'not_committed' | 'upgraded' | 'failed' | 'rolled_back' | 'unknown';

export interface ClusterNodeResult {
  node: string;
  outcome: ClusterOutcome;
  error: string | null;
  /** Its project modules that run another MD5 than the attached node's. */
  skew: VersionSkew[];
  /** The new binaries its loader refused in prepare. */
  invalid: Array<{ module: string; reason: string }>;
  /** What its prepare found: the processes its upgrade suspends, and those its load would kill. */
  reach: number;
  kills: KilledProcess[];
  pitfalls: UpgradePitfall[];
  /** Its own upgrade, as one node's report (modules, processes, code_change results, timings). */
  report: UpgradeReport | null;
  /** Its downgrade when another node failed. */
  rollback: RollbackReport | null;
  /** The MD5s it runs of the changed modules after all (null: it could not be asked). */
  runs: Array<{ module: string; md5: string | null }> | null;
}

export interface VersionSkew {
  module: string;
  node: string;
  md5: string | null;
  /** What the attached node runs. */
  expected: string | null;
}

/** The attached node and the nodes it sees (beamLive/cluster, `status --cluster`). */
export interface ClusterStatus {
  /** The attached node first. A node that could not be asked has a null status and an error. */
  nodes: Array<{ node: string; status: NodeStatus | null; error: string | null }>;
  /** Project modules another node runs in another version than the attached node. */
  skew: VersionSkew[];
}

export namespace ClusterRequest {
  export const method = 'beamLive/cluster';
  export const type = new RequestType0<ClusterStatus, void>(method);
}

/** Levels of the server's log, lowest first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A line of the server's log with its level: sent instead of window/logMessage to a client that asks (initializationOptions.log: "levelled"). */
export namespace LogNotification {
  export const method = 'beamLive/log';
  export const type = new NotificationType<{ level: LogLevel; message: string }>(method);
}

/** The client's log level changed: lines under it are not sent. */
export namespace LogLevelNotification {
  export const method = 'beamLive/logLevel';
  export const type = new NotificationType<{ level: LogLevel }>(method);
}

export interface ClusterReport {
  order: ClusterOrder;
  /** The phase the upgrade stopped in, or done. */
  phase: 'prepare' | 'commit' | 'done';
  nodes: ClusterNodeResult[];
  /** Nodes the attached one sees that could not be connected (they take no part: the upgrade stops). */
  unreachable: Array<{ node: string; error: string }>;
  timings: { prepareMs: number; commitMs: number; abortMs: number };
}

/** The beamLive.* settings the server reads (workspace/configuration, section "beamLive"). */
export interface ServerSettings {
  node: string;
  nameType: NameTypeParam | '';
  cookieFile: string;
  upgradeOnSave: 'never' | 'manual' | 'always';
  /** In always mode, hold a save whose checks predict a failure or lost state instead of pushing it. */
  holdRiskyUpgrades: boolean;
  upgrade: {
    mode: UpgradeMode;
    onFailure: FailurePolicy;
    parallel: boolean;
    suspendTimeoutMs: number;
    codeChangeTimeoutMs: number;
    scope: UpgradeScope;
    clusterOrder: ClusterOrder;
    allowSkew: boolean;
  };
  compile: { warm: boolean };
  processes: { refreshSeconds: number; pageSize: number };
  state: { maxBytes: number };
}

export const DEFAULT_SETTINGS: ServerSettings = {
  node: '',
  nameType: '',
  cookieFile: '',
  upgradeOnSave: 'always',
  holdRiskyUpgrades: true,
  upgrade: { mode: 'release', onFailure: 'rollback', parallel: false, suspendTimeoutMs: 5000, codeChangeTimeoutMs: 5000, scope: 'node', clusterOrder: 'parallel', allowSkew: false },
  compile: { warm: true },
  processes: { refreshSeconds: 5, pageSize: 200 },
  state: { maxBytes: 65536 },
};
