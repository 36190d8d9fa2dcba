// Compiles a project the way its own tools do, into its own build folders, and says where the
// beams are. Nothing here touches the node.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import type { WarmMixVm } from './warmVm';
import { installHint, which } from '../runtime/erlangBuild';
import { CompileDiagnostic, parseErlcOutput } from './diagnostics';
import { CompileError } from './buildFaults';
import { mixHelper, parseMixResult, RESULT, SourceModule } from './mixHelper';
import { Project } from './project';

export type { SourceModule };
export { CompileError };

export interface CompileResult {
  ok: boolean;
  sources?: SourceModule[];
  diagnostics: CompileDiagnostic[];
  /** Folders of beams to diff, consolidated protocols first so that they win. */
  beamDirs: string[];
  apps: string[];
  ms: number;
  /**
   * What compiled: the warm build VM's mix, or its Elixir compiler alone on the changed sources;
   * mix; the bridge's warm Erlang compiler; rebar3; erlc.
   */
  tool?: 'mix (warm)' | 'elixir (warm)' | 'mix' | 'erlang (warm)' | 'rebar3' | 'erlc';
}

function runTool(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.on('error', (e) => resolve({ code: -1, out: `${out}${e.message}` }));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** What the bridge's warm compiler (beam_live_erlc) takes and answers. */
export interface ErlangCompileRequest {
  files: string[];
  outdir: string;
  appDir: string;
  root: string;
  libDirs: string[];
}
export type ErlangCompiler = (req: ErlangCompileRequest) => Promise<{ ok: boolean; diagnostics: CompileDiagnostic[] }>;

export interface CompileOptions {
  /** A warm build VM for mix projects (the language server's and watch's). */
  warm?: WarmMixVm;
  /** The saved files: Erlang projects compile only these (a saved .hrl compiles them all). */
  files?: string[];
  /** A warm Erlang compiler (the bridge's), for the saved modules of a rebar3 project. */
  erlang?: ErlangCompiler;
}

export async function compileProject(p: Project, opts: CompileOptions = {}): Promise<CompileResult> {
  const started = Date.now();
  const r = p.kind === 'mix' ? await compileMix(p, opts.warm) : p.kind === 'rebar3' ? await compileRebar3(p, opts) : await compileErlc(p, opts.files);
  return { ...r, ms: Date.now() - started };
}

/**
 * Mix finds stale sources by mtime in whole seconds: a file saved in the same second as the
 * last compile looks no newer than what was built from it, and is silently skipped. For such
 * files the build's records (the manifests; for Erlang, the beam) are moved one second back,
 * so that mix looks at them again; a needless recompile yields the same beam.
 */
export function freshenSameSecondSources(p: Project): void {
  const lib = join(p.dir, '_build', p.mixEnv, 'lib');
  if (!existsSync(lib)) return;
  const second = (f: string) => Math.floor(statSync(f).mtimeMs / 1000);
  const back = (f: string) => {
    const t = second(f) - 1;
    utimesSync(f, t, t);
  };
  const manifests = readdirSync(lib).flatMap((app) =>
    ['compile.elixir', 'compile.erlang'].map((m) => join(lib, app, '.mix', m)).filter((m) => existsSync(m)),
  );
  const beams = new Map(
    readdirSync(lib).flatMap((app) => {
      const ebin = join(lib, app, 'ebin');
      return existsSync(ebin) ? readdirSync(ebin).map((f) => [f, join(ebin, f)] as const) : [];
    }),
  );
  if (!manifests.length) return;
  const newest = Math.max(...manifests.map(second));
  let sameSecond = false;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const f = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== '_build' && e.name !== 'deps' && !e.name.startsWith('.')) walk(f);
        continue;
      }
      if (!/\.(ex|erl|hrl)$/.test(e.name)) continue;
      const t = second(f);
      if (t >= newest) sameSecond = true;
      const beam = e.name.endsWith('.erl') ? beams.get(e.name.replace(/\.erl$/, '.beam')) : undefined;
      if (beam && t >= second(beam)) back(beam);
    }
  };
  ['lib', 'src', 'apps'].map((d) => join(p.dir, d)).filter((d) => existsSync(d)).forEach(walk);
  if (sameSecond) manifests.forEach(back);
}

async function compileMix(p: Project, warm?: WarmMixVm): Promise<Omit<CompileResult, 'ms'>> {
  if (!which('elixir')) throw new CompileError(installHint('elixir was not found on PATH'));
  try {
    freshenSameSecondSources(p);
  } catch {
    // A build folder we cannot read: the compile that follows reports it as the user's error.
  }
  if (warm) {
    const line = await warm.compile().catch(() => undefined);
    if (line) return fromHelper(line, p, true);
    // The warm VM could not answer: a fresh mix compile still can.
  }
  const { code, out } = await runTool('elixir', [mixHelper()], p.dir);
  const line = out.split('\n').find((l) => l.startsWith(RESULT));
  if (!line) {
    throw new CompileError(`mix compile in ${p.dir} failed before it could report (exit ${code}):\n${out.trim().slice(-2000)}`);
  }
  return fromHelper(line, p, false);
}

function fromHelper(line: string, p: Project, warm: boolean): Omit<CompileResult, 'ms'> {
  const { alone, ...r } = parseMixResult(line, p);
  return { ...r, tool: !warm ? 'mix' : alone ? 'elixir (warm)' : 'mix (warm)' };
}

async function compileRebar3(p: Project, opts: CompileOptions): Promise<Omit<CompileResult, 'ms'>> {
  const lib = join(p.dir, '_build', 'default', 'lib');
  const apps = () => (existsSync(lib) ? readdirSync(lib) : []);
  const beamDirs = () => apps().map((a) => join(lib, a, 'ebin')).filter((d) => existsSync(d));
  const fast = opts.erlang && opts.files?.length ? rebar3Targets(p, opts.files) : undefined;
  if (fast && opts.erlang) {
    const diagnostics: CompileDiagnostic[] = [];
    let ok = true;
    for (const t of fast) {
      const r = await opts.erlang({ ...t, root: p.dir, libDirs: beamDirs() });
      ok &&= r.ok;
      diagnostics.push(...r.diagnostics.map((d) => ({ ...d, file: relative(p.dir, d.file) || d.file })));
    }
    return { ok, diagnostics, beamDirs: beamDirs(), apps: apps(), tool: 'erlang (warm)' };
  }
  // Without colour: rebar3's escapes would end up in the file names of the diagnostics.
  const { code, out } = await runTool('rebar3', ['compile'], p.dir, { REBAR_COLOR: 'none', TERM: 'dumb' });
  return { ok: code === 0, diagnostics: parseErlcOutput(out), beamDirs: beamDirs(), apps: apps(), tool: 'rebar3' };
}

/**
 * The saved modules the warm compiler may take alone, grouped by application: every file an
 * .erl of a project app (src/ or apps/APP/src/) whose beam is already built, with the app's
 * .app newer than its .app.src and rebar.config. Anything else (a new module, a changed
 * .app.src, a header, a first build) goes through rebar3 compile, which keeps the .app right.
 */
export function rebar3Targets(p: Project, files: string[]): Array<Omit<ErlangCompileRequest, 'root' | 'libDirs'>> | undefined {
  const byApp = new Map<string, Omit<ErlangCompileRequest, 'root' | 'libDirs'>>();
  const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : Infinity);
  for (const f of files) {
    if (!f.endsWith('.erl')) return undefined;
    const rel = relative(p.dir, f).split(sep);
    const appDir = rel[0] === 'src' ? p.dir : rel[0] === 'apps' && rel[2] === 'src' ? join(p.dir, 'apps', rel[1]!) : undefined;
    if (!appDir) return undefined;
    const appSrc = existsSync(join(appDir, 'src')) ? readdirSync(join(appDir, 'src')).find((x) => x.endsWith('.app.src')) : undefined;
    if (!appSrc) return undefined;
    const app = appSrc.slice(0, -'.app.src'.length);
    const outdir = join(p.dir, '_build', 'default', 'lib', app, 'ebin');
    const dotApp = join(outdir, `${app}.app`);
    if (!existsSync(join(outdir, basename(f).replace(/\.erl$/, '.beam')))) return undefined;
    const built = mtime(dotApp);
    if (!(built >= mtime(join(appDir, 'src', appSrc)) && built >= Math.max(statOr0(join(p.dir, 'rebar.config')), statOr0(join(appDir, 'rebar.config'))))) return undefined;
    const t = byApp.get(app) ?? { files: [], outdir, appDir };
    t.files.push(f);
    byApp.set(app, t);
  }
  return [...byApp.values()];
}

function statOr0(f: string): number {
  return existsSync(f) ? statSync(f).mtimeMs : 0;
}

async function compileErlc(p: Project, files?: string[]): Promise<Omit<CompileResult, 'ms'>> {
  const erlc = which('erlc');
  if (!erlc) throw new CompileError(installHint('erlc was not found on PATH'));
  const srcDir = existsSync(join(p.dir, 'src')) ? join(p.dir, 'src') : p.dir;
  const all = readdirSync(srcDir).filter((f) => f.endsWith('.erl'));
  const only = files && files.length && files.every((f) => f.endsWith('.erl')) ? new Set(files.map((f) => basename(f))) : undefined;
  const sources = only ? all.filter((f) => only.has(f)) : all;
  const ebin = join(p.dir, 'ebin');
  mkdirSync(ebin, { recursive: true });
  const includes = ['include', 'src'].filter((d) => existsSync(join(p.dir, d))).flatMap((d) => ['-I', join(p.dir, d)]);
  const { code, out } = await runTool(erlc, ['+debug_info', '-o', ebin, ...includes, ...sources.map((f) => relative(p.dir, join(srcDir, f)))], p.dir);
  return { ok: code === 0, diagnostics: parseErlcOutput(out), beamDirs: [ebin], apps: [], tool: 'erlc' };
}
