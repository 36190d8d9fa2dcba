// Upgrade, plan and rollback reports for a terminal. Module names in atom form, vsns as terms.
import type { KilledProcess, RollbackReport, UpgradePlan, UpgradeReport } from '../protocol';
import { formatDiagnostic } from '../compile/diagnostics';

type Out = (line: string) => void;

const who = (p: { pid: string; name: string | null }) => (p.name ? `${p.name} ${p.pid}` : p.pid);

export function printPlan(p: UpgradePlan, out: Out = console.log): void {
  for (const d of p.diagnostics) out(formatDiagnostic(d));
  if (p.modules.length === 0) out(`No module changed on ${p.node}.`);
  for (const m of p.modules) out(`${m.instruction.padEnd(13)} ${m.module}  vsn ${m.oldVsn ?? '-'} -> ${m.newVsn ?? '-'}`);
  if (p.unchanged.length) out(`unchanged: ${p.unchanged.length} module(s)`);
  if (p.notLoaded.length) out(`not loaded (left to the code server): ${p.notLoaded.join(' ')}`);
  if (p.added.length) out(`added: ${p.added.join(' ')}`);
  if (p.deleted.length) out(`deleted: ${p.deleted.join(' ')}`);
  if (p.script.length) {
    out(`script (as systools_rc expands it: ${p.blocks.length} block${p.blocks.length === 1 ? '' : 's'}, one after the other):`);
    for (const s of p.script) out(`  ${s}`);
  }
  if (p.reach.length) {
    out('suspends will reach:');
    for (const r of p.reach) out(`  ${who(r)}  ${r.module}${r.devOnly ? '  (mode all, dev only)' : ''}`);
  }
  printMissed(p.missed, out);
  for (const k of p.kills) out(`  this load kills ${who(k)} (${k.module}: it runs old code); ${restartText(k)}`);
  for (const w of p.warnings) out(`warning: ${w.message}`);
}

function restartText(k: KilledProcess): string {
  switch (k.restart) {
    case 'permanent':
    case 'transient':
      return `${k.restart}: its supervisor restarts it${k.restarted ? ` as ${k.restarted}` : ''}, on the new code`;
    case 'temporary':
      return 'temporary: not restarted';
    case 'none':
      return 'no supervisor: not restarted';
    default:
      return 'restart unknown';
  }
}

function printMissed(missed: UpgradePlan['missed'], out: Out): void {
  if (!missed.length) return;
  out('a real release upgrade would miss:');
  for (const m of missed) out(`  ${who(m)}  ${m.module}: ${m.why}`);
}

export function printUpgrade(r: UpgradeReport, out: Out = console.log, err: Out = console.error): void {
  (r.ok ? out : err)(r.summary);
  for (const d of r.diagnostics) (d.severity === 'error' ? err : out)(formatDiagnostic(d));
  for (const m of r.modules) out(`  ${m.instruction.padEnd(13)} ${m.module}  vsn ${m.oldVsn ?? '-'} -> ${m.newVsn ?? '-'}`);
  for (const p of r.processes) {
    const res = p.codeChange === 'ok' ? 'code_change ok' : p.codeChange === 'error' ? `code_change ERROR: ${p.reason}` : `not called: ${p.reason}`;
    out(`    ${who(p)}  ${p.module}  ${res}  suspended ${p.suspendedMs.toFixed(2)} ms${p.devOnly ? '  (mode all, dev only)' : ''}`);
  }
  printMissed(r.missed, out);
  for (const k of r.killed) err(`  killed by the load: ${who(k)} (${k.module}: it ran old code); ${restartText(k)}`);
  if (r.undo) out(`  undone: ${r.undo.blocks} block(s) in reverse order, ${r.undo.states} state(s) put back, ${r.undo.resumed} process(es) resumed`);
  for (const o of r.oldCode) out(`  still in old code: ${who(o)} (${o.module}) — the next load of it kills this process`);
  for (const w of r.warnings) out(`warning: ${w.message}`);
  if (r.release) err(r.release);
  if (r.modules.length) {
    const t = r.timings;
    out(`timings: compile ${t.compileMs} ms, plan ${t.planMs} ms, suspend ${t.suspendMs} ms, load ${t.loadMs} ms, code_change ${t.codeChangeMs} ms, resume ${t.resumeMs} ms, total ${t.totalMs} ms`);
  }
}

export function printRollback(r: RollbackReport, out: Out = console.log, err: Out = console.error): void {
  (r.ok ? out : err)(r.summary);
  for (const m of r.modules) out(`  ${m.module}  vsn ${m.oldVsn ?? '-'} -> ${m.newVsn ?? '-'}`);
  const how = { code_change_down: 'code_change {down, Vsn}', kept: 'no down clause; state kept (the upgrade had not changed it)', snapshot: 'snapshot from the upgrade put back' };
  for (const p of r.processes) out(`    ${who(p)}  ${p.module}  ${how[p.how]}`);
  for (const p of r.refused) err(`    ${who(p)}  ${p.module}  no {down, Vsn} clause: ${p.reason}`);
  for (const k of r.killed) err(`  killed by the load: ${who(k)} (${k.module}: it ran old code); ${restartText(k)}`);
}
