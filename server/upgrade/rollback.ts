// Rolling back the last upgrade: the node keeps what it needs (old binaries, saved states) in
// beam_live_upgrade's keeper, so no project or earlier session is needed here.
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

/** Longer than the agent's own deadline, so that its answer, not our timeout, ends the wait. */
export function agentTimeout(opts: UpgradeOptions): number {
  return 70_000 + 4 * ((opts.suspendTimeoutMs ?? 5000) + (opts.codeChangeTimeoutMs ?? 5000)) + (opts.pauseAfterSuspendMs ?? 0);
}

export async function rollbackLast(session: NodeSession, opts: UpgradeOptions = {}): Promise<RollbackReport> {
  const req = { suspend_timeout: opts.suspendTimeoutMs ?? 5000, code_change_timeout: opts.codeChangeTimeoutMs ?? 5000 };
  const r = termToJson(await upgradeCall(session, 'rollback', req, agentTimeout(opts))) as Record<string, unknown>;
  const report: RollbackReport = {
    ok: r.ok === true,
    node: session.node,
    error: (r.error as string | null) ?? null,
    modules: (r.modules as RollbackReport['modules']) ?? [],
    processes: (r.processes as RollbackReport['processes']) ?? [],
    notSuspended: (r.notSuspended as string[]) ?? [],
    oldCode: (r.oldCode as RollbackReport['oldCode']) ?? [],
    totalMs: (r.timings as { totalMs?: number } | undefined)?.totalMs ?? 0,
    summary: '',
  };
  if (report.error === 'no_upgrade_to_roll_back') report.error = `${session.node} has no upgrade to roll back (none since it started, or it was already rolled back).`;
  report.summary = rollbackSummary(report);
  return report;
}
