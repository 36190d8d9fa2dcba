// The one description of what crosses between the engine and its users: the CLI's --json
// output, and (from the editor issue on) the custom beamLive/* LSP messages. Both the
// extension and the server import this file; it must not import vscode or node modules.

/** `beam-live status --json`. */
export interface NodeStatus {
  node: string;
  otpRelease: string;
  applications: Array<{ name: string; description: string; vsn: string }>;
  processCount: number;
  elixir: boolean;
}

/** One process in a supervision tree, as the agent reports it. */
export interface ProcessInfo {
  /** `<0.123.0>`, as the node prints it; null for a child that is restarting or not started. */
  pid: string | null;
  name: string | null;
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

/** The default appup instruction a module gets (OTP_SEMANTICS §2). */
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
  module: string;
}

export interface MissedProcess extends ProcessRef {
  why: string;
}

export interface PlanWarning {
  module: string;
  code: 'no-code-change' | 'agent-extra' | 'supervisor-init' | 'nif' | 'badfun' | 'no-old-binary' | 'role-changed';
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
  reach: Array<ProcessRef & { devOnly: boolean }>;
  missed: MissedProcess[];
  warnings: PlanWarning[];
  diagnostics: CompileDiagnostic[];
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

/** `beam-live upgrade --json`, and the params of beamLive/upgradeFinished. */
export interface UpgradeReport {
  ok: boolean;
  node: string;
  mode: UpgradeMode;
  /** Set in every report of --mode all. */
  devOnly: boolean;
  parallel: boolean;
  onFailure: FailurePolicy;
  rolledBack: boolean;
  error: string | null;
  /** What OTP's install_release would have done with this failure. */
  release: string | null;
  modules: ModuleChange[];
  unchanged: string[];
  notLoaded: string[];
  added: string[];
  deleted: string[];
  processes: ProcessResult[];
  missed: MissedProcess[];
  killed: Array<ProcessRef & { reason: string }>;
  oldCode: Array<ProcessRef & { reason: string }>;
  unpurged: string[];
  warnings: PlanWarning[];
  diagnostics: CompileDiagnostic[];
  timings: UpgradeTimings;
  /** One line for a status bar or a terminal. */
  summary: string;
}

/** `beam-live rollback --json`. */
export interface RollbackReport {
  ok: boolean;
  node: string;
  error: string | null;
  modules: Array<{ module: string; oldVsn: string | null; newVsn: string | null }>;
  processes: Array<ProcessRef & { how: 'code_change_down' | 'saved_state' }>;
  notSuspended: string[];
  oldCode: Array<ProcessRef & { reason: string }>;
  totalMs: number;
  summary: string;
}

/** `beam-live state --json`, and the answer to beamLive/processState. */
export type ProcessState =
  | { ok: true; pid: string; name: string | null; syntax: 'elixir' | 'erlang'; text: string; truncated: boolean; bytes: number }
  | { ok: false; error: string };
