// Rolling back the last upgrade, as a downgrade: the node keeps what it needs (old binaries,
// the vsns, the snapshot taken at the upgrade) in beam_live_keeper, so no project or earlier
// session is needed here.
import { atom } from '../beam/term';
import { termToJson } from '../beam/json';
import type { RollbackReport } from '../protocol';
import { NodeSession } from '../runtime/session';
import type { UpgradeOptions } from './engine';
import { rollbackSummary } from './report';

/** beam_live_upgrade:Fn(Req) on the node; upgrade and rollback are watched by its watchdog. */
export function upgradeCall(session: NodeSession, fn: 'plan' | 'upgrade' | 'rollback', req: Record<string, unknown>, timeoutMs: number) {
  return session.bridge.call(atom('beam_live_upgrade'), atom(fn), [req as never], timeoutMs, `the ${fn}`, fn !== 'plan');
}

/**
 * The agent watchdog's deadline: every block's budget (its suspends share the suspend timeout,
 * its code_changes the code_change timeout) twice, for the upgrade and its undo, and a margin.
 * Sized by blocks, not processes; the one source of it (the agent only falls back on its own).
 */
export function deadlineMs(opts: UpgradeOptions, blocks: number): number {
  const hooks = (opts.pauseAfterSuspendMs ?? 0) + (opts.pauseAfterLoadMs ?? 0) + (opts.pauseMidCodeChangeMs ?? 0);
  return 15_000 + 2 * Math.max(1, blocks) * ((opts.suspendTimeoutMs ?? 5000) + (opts.codeChangeTimeoutMs ?? 5000)) + hooks;
}

/** Longer than the deadline and the watchdog's undo after it, so that the agent's answer, not our timeout, ends the wait. */
export function agentTimeout(opts: UpgradeOptions, blocks = 1): number {
  return 2 * deadlineMs(opts, blocks) + 10_000;
}

export async function rollbackLast(session: NodeSession, opts: UpgradeOptions = {}): Promise<RollbackReport> {
  const req = {
    suspend_timeout: opts.suspendTimeoutMs ?? 5000,
    code_change_timeout: opts.codeChangeTimeoutMs ?? 5000,
    restore_snapshot: opts.restoreSnapshot ?? false,
    confirm_kills: opts.confirmKills ?? true,
    deadline: deadlineMs(opts, 1),
  };
  const r = termToJson(await upgradeCall(session, 'rollback', req, agentTimeout(opts))) as Record<string, unknown>;
  const report: RollbackReport = {
    ok: r.ok === true,
    node: session.node,
    error: (r.error as string | null) ?? null,
    modules: (r.modules as RollbackReport['modules']) ?? [],
    processes: (r.processes as RollbackReport['processes']) ?? [],
    refused: (r.refused as RollbackReport['refused']) ?? [],
    snapshotAgeMs: (r.snapshotAgeMs as number | undefined) ?? null,
    needsConfirmation: r.needsConfirmation === true,
    kills: (r.kills as RollbackReport['kills']) ?? [],
    killed: (r.killed as RollbackReport['killed']) ?? [],
    notSuspended: (r.notSuspended as string[]) ?? [],
    oldCode: (r.oldCode as RollbackReport['oldCode']) ?? [],
    totalMs: (r.timings as { totalMs?: number } | undefined)?.totalMs ?? 0,
    summary: '',
  };
  if (report.error === 'no_upgrade_to_roll_back') report.error = `${session.node} has no upgrade to roll back (none since it started, or it was already rolled back).`;
  report.summary = rollbackSummary(report);
  return report;
}
