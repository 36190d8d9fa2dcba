// The project's configuration as a release reads it: config/config.exs through Config.Reader
// with the project's env and target :host, merged with config/runtime.exs where that reads
// without the production environment (otherwise it is named and left); an Erlang project's
// config/sys.config as it is. The terms stay terms: they go to the node as they are.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../beam/etf';
import { Atom, Term, Tuple, text } from '../beam/term';
import { consultFile } from '../release/consult';
import { installHint, ToolchainError, which } from '../runtime/erlangBuild';
import { CompileError } from './buildFaults';
import type { Project } from './project';

export interface ProjectConfig {
  /** [{App, [{Key, Value}]}], as the node's application env takes it. */
  apps: Term[];
  /** What was read, and what was left (runtime.exs that needs production). */
  read: string[];
  skipped: Array<{ file: string; why: string }>;
}

const READ = `
env = String.to_atom(System.get_env("BEAM_LIVE_ENV") || "dev")
read = fn f -> Config.Reader.read!(f, env: env, target: :host) end
base = if File.exists?("config/config.exs"), do: read.("config/config.exs"), else: []
{runtime, skipped} =
  if File.exists?("config/runtime.exs") do
    try do
      {read.("config/runtime.exs"), nil}
    rescue
      e -> {[], Exception.message(e)}
    end
  else
    {[], nil}
  end
IO.write(Base.encode64(:erlang.term_to_binary({Config.Reader.merge(base, runtime), skipped})))
`;

export function readProjectConfig(p: Project): ProjectConfig {
  if (p.kind !== 'mix') {
    const file = join(p.dir, 'config', 'sys.config');
    if (!existsSync(file)) return { apps: [], read: [], skipped: [] };
    const [apps] = consultFile(file);
    return { apps: Array.isArray(apps) ? apps : [], read: ['config/sys.config'], skipped: [] };
  }
  const elixir = which('elixir');
  if (!elixir) throw new ToolchainError(installHint('elixir was not found on PATH'));
  const r = spawnSync(elixir, ['-e', READ], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, BEAM_LIVE_ENV: p.mixEnv } });
  if (r.status !== 0) throw new CompileError(`config/config.exs does not read: ${r.stderr.trim().split('\n').slice(-6).join('\n')}`);
  const t = decode(Buffer.from(r.stdout, 'base64'));
  const [apps, skipped] = t instanceof Tuple ? t.elements : [[], undefined];
  const why = text(skipped);
  return {
    apps: Array.isArray(apps) ? apps : [],
    read: ['config/config.exs', ...(existsSync(join(p.dir, 'config', 'runtime.exs')) && !why ? ['config/runtime.exs'] : [])],
    skipped: why ? [{ file: 'config/runtime.exs', why: `it does not read with env ${p.mixEnv} here (${why}); a release reads it at boot` }] : [],
  };
}

/** The application names of a configuration, for messages. */
export function configApps(apps: Term[]): string[] {
  return apps.flatMap((a) => (a instanceof Tuple && a.elements[0] instanceof Atom ? [a.elements[0].name] : []));
}
