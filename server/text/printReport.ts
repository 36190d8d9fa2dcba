// Upgrade, plan and rollback reports for a terminal and the editor's text documents: module
// names and vsns as the module's language writes them (server/text/names.ts).
import type { RollbackReport, UpgradePitfall, UpgradePlan, UpgradeReport } from '../protocol';
import { moduleName, processLabel, restartText, vsnText } from './names';
import { formatDiagnostic } from '../compile/diagnostics';

type Out = (line: string) => void;

const who = processLabel;

export function printPlan(p: UpgradePlan, out: Out = console.log): void {
  for (const d of p.diagnostics) out(formatDiagnostic(d));
  if (p.modules.length === 0) out(`No module changed on ${p.node}.`);
  for (const m of p.modules) out(`${m.instruction.padEnd(13)} ${moduleName(m.module)}  vsn ${vsnText(m.oldVsn, m.module)} -> ${vsnText(m.newVsn, m.module)}`);
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
    for (const r of p.reach) out(`  ${who(r)}  ${moduleName(r.module)}${r.devOnly ? '  (mode all, dev only)' : ''}`);
  }
  printMissed(p.missed, out);
  printPitfalls(p.pitfalls, out);
  for (const k of p.kills) out(`  this load kills ${who(k)} (it runs old code of ${moduleName(k.module)}); ${restartText(k)}`);
  for (const w of p.warnings) out(`warning: ${w.message}`);
}



/** A process an upgrade left in old code; `module` writes the module (the language's form by default). */
export function oldCodeLine(o: UpgradeReport['oldCode'][number], module: (m: string) => string = moduleName): string {
  return `still in old code: ${who(o)} (${module(o.module)}) — the next load of it kills this process`;
}

function printPitfalls(pitfalls: UpgradePitfall[], out: Out): void {
  for (const x of pitfalls) out(`${x.severity === 'error' ? 'error' : 'warning'} ${x.code}${x.risk ? ' (held)' : ''}: ${x.file}:${x.line}: ${x.message}`);
}

function printMissed(missed: UpgradePlan['missed'], out: Out): void {
  if (!missed.length) return;
  out('a real release upgrade would miss:');
  for (const m of missed) out(`  ${who(m)}  ${moduleName(m.module)}: ${m.why}`);
}

export function printUpgrade(r: UpgradeReport, out: Out = console.log, err: Out = console.error): void {
  (r.ok ? out : err)(r.summary);
  for (const d of r.diagnostics) (d.severity === 'error' ? err : out)(formatDiagnostic(d));
  for (const m of r.modules) out(`  ${m.instruction.padEnd(13)} ${moduleName(m.module)}  vsn ${vsnText(m.oldVsn, m.module)} -> ${vsnText(m.newVsn, m.module)}`);
  for (const p of r.processes) {
    const res = p.codeChange === 'ok' ? 'code_change ok' : p.codeChange === 'error' ? `code_change ERROR: ${p.reason}` : `not called: ${p.reason}`;
    out(`    ${who(p)}  ${moduleName(p.module)}  ${res}  suspended ${p.suspendedMs.toFixed(2)} ms${p.devOnly ? '  (mode all, dev only)' : ''}`);
  }
  printMissed(r.missed, out);
  printPitfalls(r.pitfalls, out);
  if (r.held?.length) err('Held: nothing was pushed. Fix it, or push it anyway with --force (Upgrade Anyway in VS Code).');
  for (const k of r.killed) err(`  killed by the load: ${who(k)} (it ran old code of ${moduleName(k.module)}); ${restartText(k)}`);
  if (r.undo) out(`  undone: ${r.undo.blocks} block(s) in reverse order, ${r.undo.states} state(s) put back, ${r.undo.resumed} process(es) resumed`);
  for (const o of r.oldCode) out(`  ${oldCodeLine(o)}`);
  for (const w of r.warnings) out(`warning: ${w.message}`);
  if (r.errorDetail) err(r.errorDetail);
  if (r.release) err(r.release);
  for (const n of r.cluster?.nodes ?? []) {
    const own = n.report ?? (n.node === r.node ? r : null);
    const changed = own ? own.processes.filter((p) => p.codeChange === 'ok').length : 0;
    (n.outcome === 'upgraded' ? out : err)(`  node ${n.node}: ${n.outcome.replace('_', ' ')}${own?.pushed ? `, ${changed} code_change(s) ok` : ''}${n.kills.length ? `, ${n.kills.length} kill(s) estimated` : ''}${n.error ? ` (${n.error})` : ''}`);
  }
  for (const u of r.cluster?.unreachable ?? []) err(`  node ${u.node}: not reachable (${u.error})`);
  if (r.modules.length) {
    const t = r.timings;
    out(`timings: compile ${t.compileMs} ms, plan ${t.planMs} ms, suspend ${t.suspendMs} ms, load ${t.loadMs} ms, code_change ${t.codeChangeMs} ms, resume ${t.resumeMs} ms, total ${t.totalMs} ms`);
  }
}

export function printRollback(r: RollbackReport, out: Out = console.log, err: Out = console.error): void {
  (r.ok ? out : err)(r.summary);
  for (const m of r.modules) out(`  ${moduleName(m.module)}  vsn ${vsnText(m.oldVsn, m.module)} -> ${vsnText(m.newVsn, m.module)}`);
  const how = { code_change_down: 'code_change {down, Vsn}', kept: 'no down clause; state kept (the upgrade had not changed it)', snapshot: 'snapshot from the upgrade put back' };
  for (const p of r.processes) out(`    ${who(p)}  ${moduleName(p.module)}  ${how[p.how]}`);
  for (const p of r.refused) err(`    ${who(p)}  ${moduleName(p.module)}  no {down, Vsn} clause: ${p.reason}`);
  for (const k of r.killed) err(`  killed by the load: ${who(k)} (it ran old code of ${moduleName(k.module)}); ${restartText(k)}`);
}
