// Options shared by plan, upgrade, watch and rollback.
import type { FailurePolicy, UpgradeMode } from '../protocol';
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
} as const;

export function upgradeOptions(v: Record<string, unknown>): UpgradeOptions {
  const mode = (v.mode ?? 'release') as string;
  if (mode !== 'release' && mode !== 'all') throw new UsageError(`--mode must be release or all, not ${mode}`);
  const onFailure = (v['on-failure'] ?? 'rollback') as string;
  if (onFailure !== 'rollback' && onFailure !== 'resume') throw new UsageError(`--on-failure must be rollback or resume, not ${onFailure}`);
  return {
    mode: mode as UpgradeMode,
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
