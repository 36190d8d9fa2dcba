// What kind of project a folder holds, and where its compiled beams live.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from '../runtime/erlangBuild';

export type ProjectKind = 'mix' | 'rebar3' | 'erlc';

export interface Project {
  dir: string;
  kind: ProjectKind;
  mixEnv: string;
}

export class ProjectError extends Error {
  override name = 'ProjectError';
}

export function detectProject(dir: string, mixEnv = process.env.MIX_ENV ?? 'dev'): Project {
  if (!existsSync(dir)) throw new ProjectError(`Project folder ${dir} does not exist.`);
  if (existsSync(join(dir, 'mix.exs'))) return { dir, kind: 'mix', mixEnv };
  if (existsSync(join(dir, 'rebar.config')) && which('rebar3')) return { dir, kind: 'rebar3', mixEnv };
  const hasErl = ['src', '.'].some((d) => existsSync(join(dir, d)) && readdirSync(join(dir, d)).some((f) => f.endsWith('.erl')));
  if (hasErl || existsSync(join(dir, 'rebar.config'))) return { dir, kind: 'erlc', mixEnv };
  throw new ProjectError(`${dir} holds no mix.exs, rebar.config or .erl sources. Point --project at your Elixir or Erlang project.`);
}

/** Where the beams are before we have compiled anything ourselves (the first snapshot). */
export function guessBeamDirs(p: Project): string[] {
  const dirs: string[] = [];
  const libs = (root: string) =>
    existsSync(root)
      ? readdirSync(root)
          .map((a) => join(root, a, 'ebin'))
          .filter((d) => existsSync(d))
      : [];
  if (p.kind === 'mix') {
    const lib = join(p.dir, '_build', p.mixEnv, 'lib');
    if (existsSync(lib)) for (const a of readdirSync(lib)) {
      const cons = join(lib, a, 'consolidated');
      if (existsSync(cons)) dirs.push(cons);
    }
    dirs.push(...libs(lib));
  } else if (p.kind === 'rebar3') {
    dirs.push(...libs(join(p.dir, '_build', 'default', 'lib')));
  } else {
    dirs.push(join(p.dir, 'ebin'));
  }
  return dirs.filter((d) => existsSync(d));
}

/** Sources whose save should trigger an upgrade (the editor and `watch` share this rule). */
export function isUpgradeSource(relPath: string): boolean {
  const p = relPath.replace(/\\/g, '/');
  if (p.startsWith('_build/') || p.startsWith('deps/') || p.includes('/_build/') || p.includes('/deps/')) return false;
  if (p.endsWith('.erl') || p.endsWith('.hrl')) return true;
  if (p.endsWith('.ex')) return true;
  if (p.endsWith('.exs')) return p.startsWith('lib/') || /^apps\/[^/]+\/lib\//.test(p);
  return false;
}
