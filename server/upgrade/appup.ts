// A project's own .appup wins over the default instructions (docs/otp-rules.md). The terms
// come from file:consult on the bridge; this file finds, reads, writes and places them.
import { Atom, Charlist, Term, Tuple, isAtom, text } from '../beam/term';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatAtom, formatTerm } from '../beam/format';
import type { Project } from '../compile/project';
import type { GeneratedAppup, Instruction } from '../protocol';
import type { PlannedModule } from './plan';

/** A folder's names; none where it cannot be listed (missing, or a file: the compile says why). */
export function listing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The .app file in a beam folder, if any. */
export function appFileIn(dir: string): string | undefined {
  return listing(dir).find((f) => f.endsWith('.app'));
}

/** file:consult on the bridge. */
export type Consult = (file: string) => Promise<Term[]>;

export interface AppupEntry {
  instruction: Instruction;
  /** Extra for code_change: [] by default, {M, F, A} for an Agent, anything the appup says. */
  extra: Term;
  /** DepMods, where the instruction gives them. */
  depMods?: string[];
}

const atomNames = (t: Term | undefined): string[] | undefined =>
  Array.isArray(t) && t.every((x) => x instanceof Atom) ? (t as Atom[]).map((x) => x.name) : undefined;

/**
 * The up-instructions for the running application vsn (or, when none names it, the first
 * up-entry: in development the app vsn rarely changes), by module.
 */
export function appupInstructions(terms: Term[], runningAppVsn: string | null): Map<string, AppupEntry> {
  const out = new Map<string, AppupEntry>();
  const top = terms[0];
  if (!(top instanceof Tuple) || top.elements.length !== 3 || !Array.isArray(top.elements[1])) return out;
  const ups = (top.elements[1] as Term[]).filter((u): u is Tuple => u instanceof Tuple && u.elements.length === 2);
  const chosen = ups.find((u) => runningAppVsn !== null && text(u.elements[0]) === runningAppVsn) ?? ups[0];
  if (!chosen || !Array.isArray(chosen.elements[1])) return out;
  for (const i of chosen.elements[1] as Term[]) {
    if (!(i instanceof Tuple) || !(i.elements[0] instanceof Atom) || !(i.elements[1] instanceof Atom)) continue;
    const [tag, mod, ...rest] = i.elements as [Atom, Atom, ...Term[]];
    const m = mod.name;
    switch (tag.name) {
      case 'update': {
        // {update, M}, {update, M, supervisor}, {update, M, Change | DepMods},
        // {update, M, Change, DepMods}, {update, M, ModType, Change, PrePurge, PostPurge, DepMods}
        if (rest.length >= 1 && isAtom(rest[0], 'supervisor')) {
          out.set(m, { instruction: 'supervisor', extra: [] });
          break;
        }
        const change = rest.length >= 5 ? rest[1] : rest[0];
        const extra = change instanceof Tuple && isAtom(change.elements[0], 'advanced') ? change.elements[1]! : [];
        const depMods = atomNames(rest.length >= 5 ? rest[4] : rest.length === 2 ? rest[1] : rest[0]);
        out.set(m, { instruction: 'update', extra, ...(depMods?.length ? { depMods } : {}) });
        break;
      }
      case 'load_module': {
        // {load_module, M}, {load_module, M, DepMods}, {load_module, M, PrePurge, PostPurge, DepMods}
        const depMods = atomNames(rest[rest.length - 1]);
        out.set(m, { instruction: 'load_module', extra: [], ...(depMods?.length ? { depMods } : {}) });
        break;
      }
      case 'add_module':
        out.set(m, { instruction: 'add_module', extra: [] });
        break;
      case 'delete_module':
        out.set(m, { instruction: 'delete_module', extra: [] });
        break;
    }
  }
  return out;
}

/** The vsn an `.app` file gives, read without a bridge (mix and rebar3 write `{vsn,"X"}`). */
export function readAppVsn(file: string): string | undefined {
  try {
    return /\{\s*vsn\s*,\s*"([^"]*)"/.exec(readFileSync(file, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** What an `.app` file's `{application, App, Props}` says of the vsn and the modules. */
export function readAppFile(terms: Term[]): { vsn?: string; modules?: string[] } {
  const top = terms[0];
  if (!(top instanceof Tuple) || top.elements.length !== 3 || !Array.isArray(top.elements[2])) return {};
  const out: { vsn?: string; modules?: string[] } = {};
  for (const prop of top.elements[2] as Term[]) {
    if (!(prop instanceof Tuple) || prop.elements.length !== 2) continue;
    const [k, v] = prop.elements as [Term, Term];
    if (isAtom(k, 'modules') && Array.isArray(v)) out.modules = v.flatMap((m) => (m instanceof Atom ? [m.name] : []));
    if (isAtom(k, 'vsn')) out.vsn = text(v) ?? undefined;
  }
  return out;
}

export interface AppupModule {
  module: string;
  instruction: Instruction;
  extra?: Term;
  depMods?: string[];
}

function instructionTerm(m: AppupModule, dir: 'up' | 'down'): string {
  const a = formatAtom(m.module);
  const deps = m.depMods?.length ? `,[${m.depMods.map(formatAtom).join(',')}]` : '';
  switch (m.instruction) {
    case 'update':
      return `{update,${a},{advanced,${formatTerm(m.extra ?? [])}}${deps}}`;
    case 'supervisor':
      return `{update,${a},supervisor}`;
    case 'add_module':
      return dir === 'up' ? `{add_module,${a}}` : `{delete_module,${a}}`;
    case 'delete_module':
      return dir === 'up' ? `{delete_module,${a}}` : `{add_module,${a}}`;
    default:
      return `{load_module,${a}${deps}}`;
  }
}

/**
 * An .appup for one application, from the running vsn to the built one: the plan's instructions
 * up, and their inverses in reverse order down (code_change gets {down, Vsn}).
 */
/** `from`: what the old side is, for the header (`what app@host runs`, `the build at v0.1.0`). */
export function formatAppup(o: { app: string; from: string; fromVsn: string; toVsn: string; modules: AppupModule[] }): string {
  const str = (s: string) => formatTerm(new Charlist(s));
  const block = (instrs: string[]) => `[${instrs.join(',\n    ')}]`;
  const up = block(o.modules.map((m) => instructionTerm(m, 'up')));
  const down = block([...o.modules].reverse().map((m) => instructionTerm(m, 'down')));
  const same = o.fromVsn === o.toVsn;
  return [
    `%% ${o.app}.appup, generated by BEAM Live from ${o.from} (${o.app} ${o.fromVsn}) and the build (${o.toVsn}).`,
    '%% Edit it as you need: BEAM Live follows it for the modules it names (an Agent wants',
    '%% {update, M, {advanced, {Module, Function, Args}}}).',
    ...(same ? [`%% A real release uses it only once ${o.app}'s vsn is bumped (mix.exs or .app.src) past ${o.fromVsn}.`] : []),
    `{${str(o.toVsn)},`,
    ` [{${str(o.fromVsn)},`,
    `   ${up}}],`,
    ` [{${str(o.fromVsn)},`,
    `   ${down}}]}.`,
    '',
  ].join('\n');
}

/**
 * Where an application's .appup lives, in the order it is looked for: an umbrella's or a
 * rebar3 release's apps/APP first, then the project itself; priv/ for mix (which has no src/),
 * src/ for Erlang (rebar3 copies it into ebin). Without an app, every app's and the project's.
 */
export function appupHomes(p: Project, app?: string): string[] {
  const sub = p.kind === 'mix' ? ['priv', 'src'] : ['src', 'priv'];
  const appsDir = join(p.dir, 'apps');
  const apps = app ? [app] : existsSync(appsDir) ? readdirSync(appsDir) : [];
  const roots = [...apps.map((a) => join(appsDir, a)).filter((d) => existsSync(d)), p.dir];
  return roots.flatMap((r) => sub.map((d) => join(r, d)));
}


/**
 * The project's .appup files, one per application (its folder under apps/, then the project's
 * own src/ and priv/, then the build's ebin folders; the first found for an app wins), as
 * instructions by module for the app vsn the node runs; empty without any.
 */
export async function projectAppups(project: Project, beamDirs: string[], consult: Consult, running: () => Promise<Map<string, string>>): Promise<Map<string, AppupEntry>> {
  const found = new Map<string, string>();
  for (const dir of [...appupHomes(project), ...beamDirs]) {
    for (const f of listing(dir)) {
      const app = f.endsWith('.appup') ? f.slice(0, -'.appup'.length) : undefined;
      if (app && !found.has(app)) found.set(app, join(dir, f));
    }
  }
  const out = new Map<string, AppupEntry>();
  if (found.size === 0) return out;
  const vsns = await running();
  for (const [app, file] of found) {
    for (const [m, e] of appupInstructions(await consult(file), vsns.get(app) ?? null)) out.set(m, e);
  }
  return out;
}

export interface AppFile {
  app: string;
  vsn?: string;
  modules?: string[];
}

/** The `.app` beside each planned beam (mix, rebar3 and an erlc ebin/ with one), by folder. */
export async function appFilesOf(planned: PlannedModule[], consult: Consult): Promise<Map<string, AppFile>> {
  const out = new Map<string, AppFile>();
  for (const dir of new Set(planned.flatMap((m) => (m.beam ? [dirname(m.beam.file)] : [])))) {
    const file = appFileIn(dir);
    if (!file) continue;
    try {
      out.set(dir, { app: file.replace(/\.app$/, ''), ...readAppFile(await consult(join(dir, file))) });
    } catch {
      // An unreadable .app is the build's to report; what we use it for are hints.
    }
  }
  return out;
}

/**
 * The .appup each application with planned modules needs, from the vsn the node runs to the
 * built one, with the plan's instructions. Nothing is written.
 */
export function generatedAppups(o: { project: Project; node: string; planned: PlannedModule[]; apps: Map<string, AppFile>; running: Map<string, string> }): GeneratedAppup[] {
  const byApp = new Map<string, { file: AppFile; modules: PlannedModule[] }>();
  for (const m of o.planned) {
    // A deleted module has no beam left: it belongs to the project's only application, if one.
    const file = m.beam ? o.apps.get(dirname(m.beam.file)) : o.apps.size === 1 ? [...o.apps.values()][0] : undefined;
    if (!file) continue;
    const entry = byApp.get(file.app) ?? { file, modules: [] };
    entry.modules.push(m);
    byApp.set(file.app, entry);
  }
  return [...byApp.values()].map(({ file, modules }) => {
    const toVsn = file.vsn ?? '0';
    const fromVsn = o.running.get(file.app) ?? toVsn;
    return {
      app: file.app,
      path: join(appupHomes(o.project, file.app)[0]!, `${file.app}.appup`),
      fromVsn,
      toVsn,
      modules: modules.map((m) => m.module),
      text: formatAppup({ app: file.app, from: `what ${o.node} runs`, fromVsn, toVsn, modules }),
    };
  });
}
