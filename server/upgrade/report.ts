// The upgrade report's frame, and the one line that sums it up.
import type { CompileResult } from '../compile/compile';
import type { ClusterNodeResult, ClusterReport, KilledProcess, RollbackReport, UpgradeOptions, UpgradeReport } from '../protocol';
import type { RollbackReply, UpgradeReply } from '../runtime/replies';
import { killText, moduleName, vsnText } from '../text/names';

export function emptyReport(node: string, opts: UpgradeOptions, compile: CompileResult): UpgradeReport {
  const mode = opts.mode ?? 'release';
  return {
    ok: false,
    node,
    mode,
    devOnly: mode === 'all',
    parallel: opts.parallel ?? false,
    onFailure: opts.onFailure ?? 'rollback',
    pushed: false,
    rolledBack: false,
    error: null,
    release: null,
    modules: [],
    blocks: [],
    undo: null,
    unchanged: [],
    notLoaded: [],
    added: [],
    deleted: [],
    processes: [],
    missed: [],
    killed: [],
    oldCode: [],
    unpurged: [],
    warnings: [],
    pitfalls: [],
    diagnostics: compile.diagnostics,
    compiler: compile.tool,
    timings: {
      compileMs: compile.ms,
      planMs: 0,
      suspendMs: 0,
      loadMs: 0,
      codeChangeMs: 0,
      resumeMs: 0,
      totalMs: 0,
      purgeMs: 0,
      softPurgeMs: 0,
      maxSuspendedMs: 0,
    },
    summary: '',
  };
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `; killed 1 (Todo.Metrics, temporary: not restarted)`: kills are never only a detail line. */
function kills(killed: KilledProcess[]): string {
  return killed.length ? `; killed ${killed.length} (${killed.map(killText).join('; ')})` : '';
}

export function summarize(r: UpgradeReport, totalMs: number): UpgradeReport {
  r.timings.totalMs = totalMs;
  const labels = [r.mode === 'all' ? 'mode all (dev only)' : '', r.parallel ? 'parallel' : ''].filter(Boolean);
  const tag = labels.length ? ` [${labels.join(', ')}]` : '';
  if (r.held?.length) {
    const h = r.held[0]!;
    r.summary = `Held, nothing pushed: ${h.message}${r.held.length > 1 ? ` (and ${r.held.length - 1} more)` : ''}`;
  } else if (r.ok && r.modules.length === 0 && r.vsnOnly?.length) {
    // Say what happened: a vsn bump alone changes no MD5, so nothing is loaded.
    const v = r.vsnOnly[0]!;
    r.summary = `Nothing loaded: only the vsn of ${moduleName(v.module)} changed (${vsnText(v.oldVsn, v.module)} → ${vsnText(v.newVsn, v.module)}), and the vsn is not part of the MD5. Change the code with it, and the next save upgrades${r.vsnOnly.length > 1 ? ` (and ${r.vsnOnly.length - 1} more like it)` : ''}${tag}`;
  } else if (r.ok && r.modules.length === 0) {
    r.summary = `No module changed (${count(r.unchanged.length, 'unchanged', 'unchanged')})${r.notLoaded.length ? `, ${count(r.notLoaded.length, 'module', 'modules')} not loaded` : ''}${tag}`;
  } else if (r.ok) {
    const changed = r.processes.filter((p) => p.codeChange === 'ok').length;
    r.summary = `Upgraded ${count(r.modules.length, 'module', 'modules')}, ${count(changed, 'process', 'processes')} in ${totalMs} ms${kills(r.killed)}${tag}`;
  } else if (!r.pushed && r.error) {
    r.summary = `Upgrade skipped: ${r.error}`;
  } else {
    r.summary = `Upgrade failed${r.rolledBack ? ' and was rolled back' : ', new code kept'}: ${r.error ?? 'unknown error'}${tag}`;
  }
  if (r.cluster) r.summary = `${clusterSummary(r.cluster)}. ${r.summary}`;
  return r;
}

export function rollbackSummary(r: RollbackReport): string {
  if (r.refused.length) return `Rollback refused, nothing changed: ${r.error}`;
  if (r.needsConfirmation) return `Rollback not done: it would kill ${(r.kills ?? []).map(killText).join('; ')}`;
  if (!r.ok) return `Rollback failed: ${r.error ?? 'unknown error'}`;
  return `Rolled back ${count(r.modules.length, 'module', 'modules')}, ${count(r.processes.length, 'process', 'processes')} in ${r.totalMs} ms${kills(r.killed)}`;
}

/** The runner's reply into the report; a runner that died reports no modules of its own, so the ones asked for stay. */
export function mergeUpgradeReply(report: UpgradeReport, r: UpgradeReply): UpgradeReport {
  const t = r.timings ?? {};
  Object.assign(report, {
    ok: r.ok === true,
    pushed: r.pushed === true,
    rolledBack: r.rolledBack === true,
    error: r.error ?? null,
    errorDetail: r.errorDetail ?? null,
    errorProcess: r.errorProcess ?? null,
    errorFrames: r.errorFrames ?? [],
    modules: r.modules ?? report.modules,
    blocks: r.blocks ?? [],
    undo: r.undo ?? null,
    processes: r.processes ?? [],
    missed: r.missed ?? [],
    killed: r.killed ?? [],
    oldCode: r.oldCode ?? [],
    unpurged: r.unpurged ?? [],
  });
  if (r.purges?.length) report.purging = true;
  Object.assign(report.timings, {
    suspendMs: t.suspendMs ?? 0,
    loadMs: t.loadMs ?? 0,
    codeChangeMs: t.codeChangeMs ?? 0,
    resumeMs: t.resumeMs ?? 0,
    purgeMs: t.purgeMs ?? 0,
    softPurgeMs: t.softPurgeMs ?? 0,
    maxSuspendedMs: t.maxSuspendedMs ?? 0,
  });
  if (!report.ok && report.processes.some((p) => p.codeChange === 'error')) {
    report.release =
      'A real install_release would have stopped at this code_change failure ({code_change_failed, Pid, Mod, Vsn, Reason}), ' +
      'left the processes suspended, and restarted the node onto the old release.';
  }
  return report;
}

export function rollbackReport(node: string, r: RollbackReply): RollbackReport {
  const report: RollbackReport = {
    ok: r.ok === true,
    node,
    error: r.error ?? null,
    modules: r.modules ?? [],
    processes: r.processes ?? [],
    refused: r.refused ?? [],
    snapshotAgeMs: r.snapshotAgeMs ?? null,
    needsConfirmation: r.needsConfirmation === true,
    kills: r.kills ?? [],
    killed: r.killed ?? [],
    notSuspended: r.notSuspended ?? [],
    oldCode: r.oldCode ?? [],
    totalMs: r.timings?.totalMs ?? 0,
    summary: '',
  };
  if (report.error === 'no_upgrade_to_roll_back') report.error = `${node} has no upgrade to roll back (none since it started, or it was already rolled back).`;
  report.summary = rollbackSummary(report);
  return report;
}

/** One line for the cluster, before the attached node's own summary. */
export function clusterSummary(c: ClusterReport): string {
  const n = c.nodes.length;
  const by = (o: ClusterNodeResult['outcome']) => c.nodes.filter((x) => x.outcome === o).map((x) => x.node);
  if (c.nodes.every((x) => x.outcome === 'upgraded') && !c.unreachable.length) return `Cluster of ${n}: upgraded on every node (${c.order})`;
  if (c.phase === 'prepare') {
    const refused = [...by('refused'), ...c.unreachable.map((u) => u.node)];
    return `Cluster of ${n}: nothing changed on any node; ${refused.join(', ')} stopped it in prepare`;
  }
  const parts = [['failed', by('failed')], ['rolled back', by('rolled_back')], ['unknown', by('unknown')], ['not committed', by('not_committed')]] as const;
  return `Cluster of ${n}: ${parts.filter(([, l]) => l.length).map(([w, l]) => `${w}: ${l.join(', ')}`).join('; ')}`;
}
