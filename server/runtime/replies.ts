// What the node answers, declared once. beam_live_agent and beam_live_upgrade build these maps;
// termToJson turns them into plain values, and decodeReply is the one place that says which
// shape a reply has.
import type { Term } from '../beam/term';
import type { Encodable } from '../beam/etf';
import { termToJson } from '../beam/json';
import type {
  KilledProcess,
  MissedProcess,
  ModuleChange,
  ProcessRef,
  ProcessResult,
  RollbackReport,
  UpgradePlan,
  UpgradePurgedParams,
  UpgradeReport,
} from '../protocol';

export function decodeReply<T>(t: Term): T {
  return termToJson(t) as unknown as T;
}

/** A typed request as the term it is sent as (atom keys; Atom, Charlist and Buffer values as they are). */
export function encodeRequest(req: object): Encodable {
  return req as Encodable;
}

/** beam_live_agent:module_infos/1, one per module asked for. */
export interface LoadedInfo {
  module: string;
  loaded: boolean;
  md5?: string;
  vsn?: string | null;
  file?: string;
  oldCode?: boolean;
  /** Of the running code: its role before this upgrade. */
  behaviours?: string[];
}

/** beam_live_agent:build_facts/1: what the node runs of a build, in one round trip. */
export interface BuildFacts {
  infos: LoadedInfo[];
  /** The modules loaded from the build's folders. */
  under: string[];
  /** Each application's module list as the node knows it (null: not loaded). */
  apps: Array<{ app: string; modules: string[] | null }>;
}

export interface NodeProc {
  pid: string;
  name: string | null;
  supervised: boolean;
  special: boolean;
  parent: string | null;
}

export interface NodeModule {
  module: string;
  loaded: boolean;
  vsn: string | null;
  md5: string | null;
  source: string | null;
  processes: NodeProc[];
}

export interface NodeSupervisor {
  module: string;
  pid: string;
  children: Array<string | null>;
}

/** beam_live_agent:pitfall_facts/1. */
export interface NodeFacts {
  modules: NodeModule[];
  supervisors: NodeSupervisor[];
}

/** beam_live_agent:old_code_users/1: processes that still run a module's old code. */
export type OldCodeUser = ProcessRef & { function?: string | null; restart?: string };

/** beam_live_agent:state_shapes/1, one per module asked for. */
export interface ShapeSample {
  module: string;
  total: number;
  sampled: number;
  outOfDate: Array<{ pid: string; name: string | null; via?: { registry: string; key: string } | null; missing?: string[]; extra?: string[]; record?: string; size?: number; want?: number }>;
}

/** beam_live_upgrade:plan/1: one scan of the node's processes serves all of it. */
export interface PlanReply {
  reach: UpgradePlan['reach'];
  missed: MissedProcess[];
  kills: KilledProcess[];
  users: Array<{ pid: string; name: string | null; module: string; callback: string | null }>;
  versions: ModuleChange[];
  facts: NodeFacts;
  /** Processes running the old code of the planned modules. */
  oldCode: OldCodeUser[];
  /** The scan, kept on the node for the upgrade of this plan (beam_live_keeper:stash/1). */
  scan: number;
  /** With `validate`: the new binaries this node's loader refuses (erlang:prepare_loading/2). */
  invalid: Array<{ module: string; reason: string }>;
}

/** beam_live_upgrade:upgrade/1; a runner that died leaves some of it out. */
export interface UpgradeReply {
  ok: boolean;
  pushed?: boolean;
  rolledBack?: boolean;
  error?: string | null;
  errorDetail?: string | null;
  errorProcess?: ProcessRef | null;
  errorFrames?: UpgradeReport['errorFrames'];
  modules?: ModuleChange[];
  blocks?: string[][];
  undo?: UpgradeReport['undo'];
  processes?: ProcessResult[];
  missed?: MissedProcess[];
  killed?: KilledProcess[];
  oldCode?: UpgradeReport['oldCode'];
  unpurged?: string[];
  /** The soft purges of the old code, started as the upgrade replied (beam_live_purge:start/1). */
  purges?: Array<{ id: number }>;
  storedFuns?: Array<{ pid: string; name: string | null; module: string }>;
  timings?: Partial<Record<'suspendMs' | 'loadMs' | 'codeChangeMs' | 'resumeMs' | 'purgeMs' | 'softPurgeMs' | 'maxSuspendedMs' | 'totalMs', number>>;
}

/** beam_live_purge:result/2, once the purge ended; `endedUs` on the node's monotonic clock. */
export type PurgeReply = Omit<UpgradePurgedParams, 'id'> & { endedUs: number };

/** beam_live_upgrade:rollback/1. */
export type RollbackReply = Partial<Omit<RollbackReport, 'node' | 'summary' | 'totalMs'>> & {
  ok: boolean;
  timings?: { totalMs?: number };
};

/** The warm Erlang compile on the bridge (beam_live_erlc). */
export interface ErlcReply {
  ok: boolean;
  diagnostics: Array<{ file: string; line: number; column: number | null; severity: 'error' | 'warning'; message: string }>;
}
