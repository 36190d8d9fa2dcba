// Options shared by plan, upgrade, watch and rollback.
import type { ClusterOrder, FailurePolicy, UpgradeMode } from '../protocol';
import type { UpgradeOptions } from '../protocol';
import { NODE_OPTIONS, UsageError, positiveInt } from './args';

export const UPGRADE_OPTIONS = {
  ...NODE_OPTIONS,
  project: { type: 'string' },
  mode: { type: 'string' },
  'on-failure': { type: 'string' },
  parallel: { type: 'boolean' },
  'suspend-timeout': { type: 'string' },
  'code-change-timeout': { type: 'string' },
  'restore-snapshot': { type: 'boolean' },
  force: { type: 'boolean' },
  cluster: { type: 'boolean' },
  nodes: { type: 'string' },
  'cluster-order': { type: 'string' },
  'allow-skew': { type: 'boolean' },
} as const;

export function upgradeOptions(v: Record<string, unknown>): UpgradeOptions {
  const mode = (v.mode ?? 'release') as string;
  if (mode !== 'release' && mode !== 'all') throw new UsageError(`--mode must be release or all, not ${mode}`);
  const onFailure = (v['on-failure'] ?? 'rollback') as string;
  if (onFailure !== 'rollback' && onFailure !== 'resume') throw new UsageError(`--on-failure must be rollback or resume, not ${onFailure}`);
  const order = (v['cluster-order'] ?? 'parallel') as string;
  if (order !== 'parallel' && order !== 'serial') throw new UsageError(`--cluster-order must be parallel or serial, not ${order}`);
  const nodes = typeof v.nodes === 'string' ? v.nodes.split(',').map((n) => n.trim()).filter(Boolean) : undefined;
  return {
    mode: mode as UpgradeMode,
    scope: v.cluster === true || nodes?.length ? 'cluster' : 'node',
    ...(nodes?.length ? { nodes } : {}),
    clusterOrder: order as ClusterOrder,
    allowSkew: v['allow-skew'] === true,
    pauseBeforeCommitMs: positiveInt(process.env.BEAM_LIVE_TEST_PAUSE_BEFORE_COMMIT_MS, 'BEAM_LIVE_TEST_PAUSE_BEFORE_COMMIT_MS'),
    onFailure: onFailure as FailurePolicy,
    parallel: v.parallel === true,
    suspendTimeoutMs: positiveInt(v['suspend-timeout'], '--suspend-timeout'),
    codeChangeTimeoutMs: positiveInt(v['code-change-timeout'], '--code-change-timeout'),
    // A risky upgrade (its checks predict a failure or lost state) is pushed only with --force.
    holdRisky: v.force !== true,
    pauseAfterSuspendMs: positiveInt(process.env.BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS, 'BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS'),
    pauseAfterLoadMs: positiveInt(process.env.BEAM_LIVE_TEST_PAUSE_AFTER_LOAD_MS, 'BEAM_LIVE_TEST_PAUSE_AFTER_LOAD_MS'),
    pauseMidCodeChangeMs: positiveInt(process.env.BEAM_LIVE_TEST_PAUSE_MID_CODE_CHANGE_MS, 'BEAM_LIVE_TEST_PAUSE_MID_CODE_CHANGE_MS'),
  };
}

export function projectDir(v: Record<string, unknown>): string {
  return typeof v.project === 'string' ? v.project : process.cwd();
}
