// How long the node may take, decided here only: the agent's watchdog gets the deadline in
// the request and does not size one of its own.
import { DEFAULT_SETTINGS, type UpgradeOptions } from '../protocol';

export const suspendTimeout = (opts: UpgradeOptions): number => opts.suspendTimeoutMs ?? DEFAULT_SETTINGS.upgrade.suspendTimeoutMs;
export const codeChangeTimeout = (opts: UpgradeOptions): number => opts.codeChangeTimeoutMs ?? DEFAULT_SETTINGS.upgrade.codeChangeTimeoutMs;

/**
 * The agent watchdog's deadline: every block's budget (its suspends share the suspend timeout,
 * its code_changes the code_change timeout) twice, for the upgrade and its undo, and a margin.
 * Sized by blocks, not processes.
 */
export function deadlineMs(opts: UpgradeOptions, blocks: number): number {
  const hooks = (opts.pauseAfterSuspendMs ?? 0) + (opts.pauseAfterLoadMs ?? 0) + (opts.pauseMidCodeChangeMs ?? 0);
  return 15_000 + 2 * Math.max(1, blocks) * (suspendTimeout(opts) + codeChangeTimeout(opts)) + hooks;
}

/** Longer than the deadline and the watchdog's undo after it, so that the agent's answer, not our timeout, ends the wait. */
export function replyTimeout(deadline: number): number {
  return 2 * deadline + 10_000;
}
