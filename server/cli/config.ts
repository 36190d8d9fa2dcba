// beam-live config: the project's configuration against the node's application env; --apply
// sets it and calls each application's config_change/3, as a release does.
import { configChange } from '../upgrade/configChange';
import { NODE_OPTIONS, parse } from './args';
import { withSession } from './attach';
import { projectDir } from './upgradeArgs';

export async function configCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...NODE_OPTIONS, project: { type: 'string' }, apply: { type: 'boolean' } });
  const r = await withSession(values, (s) => configChange(s, projectDir(values), values.apply === true));
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(r.summary);
    for (const c of r.changes) {
      for (const x of c.changed) console.log(`  ${c.app}.${x.key} = ${x.value} (changed)`);
      for (const x of c.new) console.log(`  ${c.app}.${x.key} = ${x.value} (new)`);
      for (const k of c.removed) console.log(`  ${c.app}.${k} removed`);
    }
    for (const s of r.skipped) console.log(`  ${s.file} left: ${s.why}`);
  }
  return r.ok ? 0 : 1;
}
