// The .appup of each application between two builds, as a release needs it: by MD5, each
// changed module's default instruction, added and deleted modules, in an order systools can
// load (a module after the modules it calls), and the project's own .appup where it names a
// module. Pure: the builds and the project's appup terms come in as data.
import type { GeneratedAppup } from '../protocol';
import { AppupEntry, appupHomes, AppupModule, formatAppup } from '../upgrade/appup';
import type { Project } from '../compile/project';
import { instructionFor } from '../upgrade/plan';
import type { AppBuild } from './builds';
import { ReleaseError } from './releaseError';
import { join } from 'node:path';
import { moduleName } from '../text/names';

/** What an application's own .appup says for its modules, from a given vsn (appupInstructions). */
export type OwnAppup = (app: string, fromVsn: string) => Promise<Map<string, AppupEntry>>;

/** `project`: where the appup goes in it (else beside the new beams, as in a release's ebin). */
export async function appupsBetween(o: { project?: Project; from: string; older: Map<string, AppBuild>; newer: Map<string, AppBuild>; own: OwnAppup }): Promise<GeneratedAppup[]> {
  const out: GeneratedAppup[] = [];
  const sameVsn: string[] = [];
  for (const now of o.newer.values()) {
    const before = o.older.get(now.app);
    if (!before) continue; // a new application: a release adds it whole, no appup
    const changed = [...now.beams.values()].filter((b) => before.beams.get(b.module)?.info.md5 !== undefined && before.beams.get(b.module)!.info.md5 !== b.info.md5);
    const added = [...now.beams.values()].filter((b) => !before.beams.has(b.module));
    const deleted = [...before.beams.keys()].filter((m) => !now.beams.has(m)).sort();
    const moved = changed.length + added.length + deleted.length > 0;
    if (before.vsn === now.vsn) {
      if (moved) sameVsn.push(now.app);
      continue;
    }
    // A bumped vsn with no module changed (config, a dependency) still needs its appup: an empty one.
    const own = await o.own(now.app, before.vsn);
    const moving = new Set([...changed, ...added].map((b) => b.module));
    const modules: AppupModule[] = [
      ...loadOrder([...changed, ...added]).map((b): AppupModule => {
        const mine = own.get(b.module);
        if (mine) return { module: b.module, instruction: mine.instruction, extra: mine.extra, depMods: mine.depMods };
        const instruction = before.beams.has(b.module) ? instructionFor(b) : 'add_module';
        // Where order matters: the changed modules it calls, so that systools loads them first.
        const deps = instruction === 'add_module' ? [] : b.info.imports.filter((m) => m !== b.module && moving.has(m));
        return { module: b.module, instruction, ...(deps.length ? { depMods: deps } : {}) };
      }),
      ...deleted.map((m): AppupModule => own.get(m) ? { module: m, ...own.get(m)! } : { module: m, instruction: 'delete_module' }),
    ];
    out.push({
      app: now.app,
      path: join(o.project ? appupHomes(o.project, now.app)[0]! : now.ebin, `${now.app}.appup`),
      fromVsn: before.vsn,
      toVsn: now.vsn,
      modules: modules.map((m) => m.module),
      instructions: modules.map((m) => ({ module: m.module, instruction: m.instruction, ...(m.depMods ? { depMods: m.depMods } : {}) })),
      text: formatAppup({ app: now.app, from: o.from, fromVsn: before.vsn, toVsn: now.vsn, modules }),
    });
  }
  if (sameVsn.length) {
    const how = !o.project ? '`version:` in mix.exs or the vsn in its .app.src' : o.project.kind === 'mix' ? '`version:` in mix.exs' : 'the vsn in its .app.src';
    throw new ReleaseError(
      `${sameVsn.join(', ')} changed since ${o.from} but ${sameVsn.length === 1 ? 'its' : 'their'} application vsn did not (${sameVsn.map((a) => `${a} ${o.older.get(a)!.vsn}`).join(', ')}): a release cannot upgrade an application to the same vsn. Bump ${how}, then generate again.`,
    );
  }
  return out;
}

/** A module after the modules it calls, among those loaded together; name order otherwise (and in a cycle). */
function loadOrder<T extends { module: string; info: { imports: string[] } }>(beams: T[]): T[] {
  const byName = new Map(beams.map((b) => [b.module, b]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (b: T) => {
    if (done.has(b.module) || visiting.has(b.module)) return;
    visiting.add(b.module);
    for (const m of [...b.info.imports].sort()) {
      const dep = byName.get(m);
      if (dep && m !== b.module) visit(dep);
    }
    visiting.delete(b.module);
    done.add(b.module);
    out.push(b);
  };
  [...beams].sort((a, b) => a.module.localeCompare(b.module)).forEach(visit);
  return out;
}

/** One line per application for a person: `sample_app 0.1.0 → 0.2.0: SampleApp.Counter (update), …`. */
export function appupSummary(a: GeneratedAppup): string {
  return `${a.app} ${a.fromVsn} → ${a.toVsn}: ${a.modules.map((m) => moduleName(m)).join(', ')}`;
}
