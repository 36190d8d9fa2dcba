// Rolling back the last upgrade, as a downgrade: the node keeps what it needs (old binaries,
// the vsns, the snapshot taken at the upgrade) in beam_live_keeper, so no project or earlier
// session is needed here.
import type { RollbackReport, UpgradeOptions } from '../protocol';
import { codeChangeTimeout, deadlineMs, suspendTimeout } from '../runtime/budget';
import { NodeGateway } from '../runtime/gateway';
import { rollbackReport } from './report';

export async function rollbackLast(session: NodeGateway, opts: UpgradeOptions = {}): Promise<RollbackReport> {
  const r = await session.rollback({
    suspend_timeout: suspendTimeout(opts),
    code_change_timeout: codeChangeTimeout(opts),
    restore_snapshot: opts.restoreSnapshot ?? false,
    confirm_kills: opts.confirmKills ?? true,
    deadline: deadlineMs(opts, 1),
  });
  return rollbackReport(session.node, r);
}
