// The upgrade report's frame, and the one line that sums it up.
import type { CompileResult } from '../compile/compile';
import type { KilledProcess, RollbackReport, UpgradeReport } from '../protocol';
import { killText, moduleName, vsnText } from '../text/names';
import type { UpgradeOptions } from './engine';

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
  return r;
}

export function rollbackSummary(r: RollbackReport): string {
  if (r.refused.length) return `Rollback refused, nothing changed: ${r.error}`;
  if (r.needsConfirmation) return `Rollback not done: it would kill ${(r.kills ?? []).map(killText).join('; ')}`;
  if (!r.ok) return `Rollback failed: ${r.error ?? 'unknown error'}`;
  return `Rolled back ${count(r.modules.length, 'module', 'modules')}, ${count(r.processes.length, 'process', 'processes')} in ${r.totalMs} ms${kills(r.killed)}`;
}
