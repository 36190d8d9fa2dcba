// Save-to-upgrade from a terminal: watch the sources, fold a burst of saves ("Save All") into
// one upgrade, print one line per upgrade and failures in full.
import { UpgradeEngine } from '../upgrade/engine';
import { Debouncer } from '../save/debounce';
import { SourceWatcher } from '../save/sourceWatcher';
import { parse, positiveInt } from './args';
import { attachFromArgs } from './attach';
import { printUpgrade } from '../text/printReport';
import { UPGRADE_OPTIONS, projectDir, upgradeOptions } from './upgradeArgs';

export async function watchCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...UPGRADE_OPTIONS, debounce: { type: 'string' } });
  const opts = upgradeOptions(values);
  const dir = projectDir(values);
  const session = await attachFromArgs(values);
  const engine = new UpgradeEngine(session, dir, { warm: true });
  await engine.keepOldBinaries();
  await engine.warmUp();
  const run = async () => {
    try {
      const r = await engine.upgrade(opts);
      await engine.purged(r);
      if (values.json) console.log(JSON.stringify(r));
      else if (r.ok) console.log(r.summary);
      else printUpgrade(r);
    } catch (e) {
      console.error(`Upgrade failed: ${(e as Error).message}`);
    }
  };
  const debouncer = new Debouncer(positiveInt(values.debounce, '--debounce') ?? 200, run);
  const watcher = new SourceWatcher(dir, (rel) => {
    engine.noteSaved([rel]);
    debouncer.trigger();
  });

  return new Promise<number>((resolve) => {
    const stop = (code: number) => {
      watcher.close();
      debouncer.cancel();
      engine.dispose();
      session.close();
      resolve(code);
    };
    process.once('SIGINT', () => stop(0));
    process.once('SIGTERM', () => stop(0));
    session.onGone((why) => {
      console.error(why === 'exit' ? `Lost the bridge to ${session.node}; stopping.` : `${session.node} went down; stopping. Start it again and rerun beam-live watch.`);
      stop(2);
    });
    // Printed once every watch and handler is in place: a save or Ctrl-C after it is heard.
    console.log(`Watching ${dir} for saves; upgrading ${session.node}. Ctrl-C to stop.`);
  });
}
