// The two sides of a release upgrade as beams on disk: the project built at an older git ref
// (or the lib/ of an older release), and the project as it is now. Nothing here needs a node.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { compileProject } from '../compile/compile';
import { CompileError, compileFailure } from '../compile/buildFaults';
import { detectProject, Project } from '../compile/project';
import { appFileIn, readAppVsn } from '../upgrade/appup';
import { BeamOnDisk, readBeamDirs } from '../upgrade/beams';
import { ReleaseError } from './releaseError';
import { isTarball, withReleases } from './tarball';

/** One application as built: its vsn (from its .app) and its modules' beams. */
export interface AppBuild {
  app: string;
  vsn: string;
  ebin: string;
  beams: Map<string, BeamOnDisk>;
}

/** The applications in these ebin folders (each with its .app); consolidated protocols are not an application. */
export function appsIn(ebins: string[]): Map<string, AppBuild> {
  const out = new Map<string, AppBuild>();
  for (const ebin of ebins) {
    const appFile = appFileIn(ebin);
    if (!appFile) continue;
    const app = appFile.slice(0, -'.app'.length);
    out.set(app, { app, vsn: readAppVsn(join(ebin, appFile)) ?? '0', ebin, beams: readBeamDirs([ebin]).modules });
  }
  return out;
}

/** The project's own applications as built now (compiled first, as its tools do). */
export async function currentBuild(project: Project): Promise<Map<string, AppBuild>> {
  const c = await compileProject(project);
  if (!c.ok) throw new CompileError(`${compileFailure(c)}. Fix it and try again.`);
  return ownApps(appsIn(c.beamDirs), c.apps);
}

/**
 * The older side: the lib/APP-VSN/ebin folders of a release (a folder or tarball built by mix
 * release or relx), or the project built at a git ref in a temporary folder (the ref's files, the
 * project's deps and _build copied in so that only the project's own code compiles).
 */
export async function olderBuild(project: Project, from: string): Promise<{ apps: Map<string, AppBuild>; what: string }> {
  // The beams are read into memory: a tarball's temporary folder can go at once.
  if (isTarball(from)) return withReleases([from], async ([r]) => ({ apps: releaseApps(r!.root), what: `the release ${from}` }));
  if (existsSync(join(from, 'lib'))) return { apps: releaseApps(from), what: `the release in ${from}` };
  const top = git(project.dir, ['rev-parse', '--show-toplevel']);
  if (top === undefined) throw new ReleaseError(`${from} is neither a release folder (with lib/) nor usable as a git ref: ${project.dir} is not in a git repository.`);
  if (git(project.dir, ['rev-parse', '--verify', '--quiet', `${from}^{commit}`]) === undefined) {
    throw new ReleaseError(`${from} is not a commit, tag or branch of the repository at ${top}, nor a release folder. Give a tag (git tag), a commit, or the path of an older release.`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'beam-live-from-'));
  try {
    await extract(top, from, tmp);
    const dir = join(tmp, relative(top, project.dir));
    for (const keep of ['deps', '_build']) {
      const src = join(project.dir, keep);
      if (!existsSync(src)) continue;
      if (keep === 'deps') symlinkSync(src, join(dir, keep));
      else cpSync(src, join(dir, keep), { recursive: true });
    }
    const old = detectProject(dir, project.mixEnv);
    const c = await compileProject(old);
    if (!c.ok) throw new ReleaseError(`The project at ${from} does not compile: ${compileFailure(c)}`);
    return { apps: ownApps(appsIn(c.beamDirs), c.apps), what: `the build at ${from}` };
  } finally {
    // The beams are read into memory above: the folder can go.
    rmSync(tmp, { recursive: true, force: true });
  }
}

function releaseApps(root: string): Map<string, AppBuild> {
  return appsIn(readdirSync(join(root, 'lib')).map((d) => join(root, 'lib', d, 'ebin')));
}

/** Only the project's applications: a dependency that changed is its own release's concern. */
function ownApps(apps: Map<string, AppBuild>, own: string[]): Map<string, AppBuild> {
  return own.length ? new Map([...apps].filter(([a]) => own.includes(a))) : apps;
}

function git(cwd: string, args: string[]): string | undefined {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** `git archive REF | tar -x`: the ref's files, the repository untouched. */
function extract(top: string, ref: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['archive', '--format=tar', ref], { cwd: top, stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', into], { stdio: ['pipe', 'ignore', 'pipe'] });
    archive.stdout.pipe(tar.stdin);
    let err = '';
    archive.stderr.on('data', (d: Buffer) => (err += d));
    tar.stderr.on('data', (d: Buffer) => (err += d));
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new ReleaseError(`Could not extract ${ref}: ${err.trim()}`))));
  });
}
