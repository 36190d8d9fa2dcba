// beam-live appup: the .appup a release needs, from the running code (--node) or from an older
// build (--from a git ref or a release folder) to this build; printed, or written where
// BEAM Live (and rebar3 for src/) reads it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { detectProject } from '../compile/project';
import type { GeneratedAppup } from '../protocol';
import { appupsBetween } from '../release/appupFrom';
import { currentBuild, olderBuild } from '../release/builds';
import { consultFile } from '../release/consult';
import { appupHomes, appupInstructions } from '../upgrade/appup';
import { UpgradeEngine } from '../upgrade/engine';
import { parse, UsageError } from './args';
import { withSession } from './attach';
import { UPGRADE_OPTIONS, projectDir } from './upgradeArgs';

export async function appupCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...UPGRADE_OPTIONS, write: { type: 'boolean' }, force: { type: 'boolean' }, from: { type: 'string' } });
  const dir = projectDir(values);
  const from = typeof values.from === 'string' ? values.from : undefined;
  if (from && values.node) throw new UsageError('give --from (an older build) or --node (the running code), not both');
  const appups = from ? await appupsFrom(dir, from) : await withSession(values, (s) => new UpgradeEngine(s, dir).generateAppups());
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

/** Between the project built at `from` (a git ref, or a release folder) and the project now; no node. */
async function appupsFrom(dir: string, from: string): Promise<GeneratedAppup[]> {
  const project = detectProject(dir);
  const older = await olderBuild(project, from);
  const newer = await currentBuild(project);
  return appupsBetween({
    project,
    from: older.what,
    older: older.apps,
    newer,
    own: async (app, fromVsn) => {
      const file = appupHomes(project, app).map((d) => join(d, `${app}.appup`)).find((f) => existsSync(f));
      return file ? appupInstructions(consultFile(file), fromVsn) : new Map();
    },
  });
}
