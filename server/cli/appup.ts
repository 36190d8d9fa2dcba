// beam-live appup: the .appup a release needs, from the running code (--node) or from an older
// build (--from a git ref or a release folder) to this build; printed, or written where
// BEAM Live (and rebar3 for src/) reads it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { appupsSince } from '../release/since';
import { UpgradeEngine } from '../upgrade/engine';
import { parse, UsageError } from './args';
import { withSession } from './attach';
import { UPGRADE_OPTIONS, projectDir } from './upgradeArgs';

export async function appupCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...UPGRADE_OPTIONS, write: { type: 'boolean' }, force: { type: 'boolean' }, from: { type: 'string' } });
  const dir = projectDir(values);
  const from = typeof values.from === 'string' ? values.from : undefined;
  if (from && values.node) throw new UsageError('give --from (an older build) or --node (the running code), not both');
  const appups = from ? await appupsSince(dir, from) : await withSession(values, (s) => new UpgradeEngine(s, dir).generateAppups());
  if (values.json) {
    console.log(JSON.stringify(appups, null, 2));
  } else if (appups.length === 0) {
    console.log(`No module changed ${from ? `since ${from}` : `against ${values.node}`}: there is no .appup to generate.`);
  }
  if (!values.write) {
    if (!values.json) for (const a of appups) console.log(`%% ${relative(dir, a.path)}\n${a.text}`);
    return 0;
  }
  const taken = appups.filter((a) => existsSync(a.path));
  if (taken.length && !values.force) {
    throw new UsageError(`${taken.map((a) => relative(dir, a.path)).join(', ')} already exists; add --force to overwrite it, or leave out --write to print instead`);
  }
  for (const a of appups) {
    mkdirSync(dirname(a.path), { recursive: true });
    writeFileSync(a.path, a.text);
    if (!values.json) console.log(`Wrote ${relative(dir, a.path)}: ${a.app} ${a.fromVsn} -> ${a.toVsn}, ${a.modules.length} module(s).`);
  }
  return 0;
}

