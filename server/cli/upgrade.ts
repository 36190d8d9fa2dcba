// plan, upgrade and rollback: one shot each, through the same engine as the editor.
import { UpgradeEngine } from '../upgrade/engine';
import { rollbackLast } from '../upgrade/rollback';
import { parse } from './args';
import { withSession } from './attach';
import { printPlan, printRollback, printUpgrade } from '../text/printReport';
import { UPGRADE_OPTIONS, projectDir, upgradeOptions } from './upgradeArgs';

export async function planCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, UPGRADE_OPTIONS);
  const opts = upgradeOptions(values);
  const plan = await withSession(values, (s) => new UpgradeEngine(s, projectDir(values)).plan(opts));
  if (values.json) console.log(JSON.stringify(plan, null, 2));
  else printPlan(plan);
  return plan.diagnostics.some((d) => d.severity === 'error') ? 2 : 0;
}

export async function upgradeCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, UPGRADE_OPTIONS);
  const opts = upgradeOptions(values);
  // A terminal prints the report once: with who still runs old code after the soft purge.
  const report = await withSession(values, async (s) => {
    const engine = new UpgradeEngine(s, projectDir(values));
    const r = await engine.upgrade(opts);
    await engine.purged(r);
    return r;
  });
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printUpgrade(report);
  if (report.ok) return 0;
  // 1 too for a held upgrade: its checks said no, and --force would push it.
  if (report.held?.length) return 1;
  // 2: nothing on the node changed (compile error, unreadable beam, aborted before the load);
  // 1: the upgrade reached a load and failed (rolled back, or the new code kept).
  return report.pushed ? 1 : 2;
}

export async function rollbackCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, UPGRADE_OPTIONS);
  const opts = upgradeOptions(values);
  const report = await withSession(values, (s) => rollbackLast(s, { ...opts, restoreSnapshot: values['restore-snapshot'] === true }));
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printRollback(report);
  return report.ok ? 0 : 1;
}
