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
  /** proc_lib: a special process (gen_server & co); spawn: a plain process. */
  startedBy: 'proc_lib' | 'spawn';
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
