// A release given as the tarball mix release (steps: [:assemble, :tar]) or rebar3 tar makes:
// unpacked into a temporary folder to be read like a release folder, and packed again when
// the relup and the .appups were written into it, so that the tarball carries them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReleaseError } from './releaseError';

export interface ReleaseFolder {
  /** The folder with bin/, lib/ and releases/. */
  root: string;
  /** The tarball it came from, or null for a folder given as such. */
  tarball: string | null;
  /** Writes the folder back into its tarball (nothing for a folder). */
  repack(): void;
  close(): void;
}

export function isTarball(path: string): boolean {
  return /\.(tar\.gz|tgz)$/.test(path) && existsSync(path) && statSync(path).isFile();
}

export function openRelease(path: string): ReleaseFolder {
  if (!isTarball(path)) return { root: path, tarball: null, repack: () => undefined, close: () => undefined };
  const root = mkdtempSync(join(tmpdir(), 'beam-live-tar-'));
  tar(['-xzf', path, '-C', root], `Cannot unpack ${path}`, root);
  return {
    root,
    tarball: path,
    repack: () => tar(['-czf', path, '-C', root, ...readdirSync(root)], `Cannot write ${path}`),
    close: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Opens each path, runs `f` on the folders, and removes what was unpacked whatever happens. */
export async function withReleases<T>(paths: string[], f: (folders: ReleaseFolder[]) => Promise<T>): Promise<T> {
  const folders: ReleaseFolder[] = [];
  try {
    for (const p of paths) folders.push(openRelease(p));
    return await f(folders);
  } finally {
    for (const r of folders) r.close();
  }
}

function tar(args: string[], what: string, cleanup?: string): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status === 0) return;
  if (cleanup) rmSync(cleanup, { recursive: true, force: true });
  throw new ReleaseError(`${what}: ${r.stderr.trim() || `tar exited ${r.status}`}`);
}
