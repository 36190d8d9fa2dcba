// The beams of a build: every module in a set of ebin folders, read once.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BeamError, BeamInfo, readBeam } from '../beam/beamFile';

export interface BeamOnDisk {
  module: string;
  file: string;
  binary: Buffer;
  info: BeamInfo;
}

export interface BeamSet {
  modules: Map<string, BeamOnDisk>;
  /** Files that could not be read as beams, with the reason. */
  errors: Array<{ file: string; error: string }>;
  /** The same modules found in later folders (an unconsolidated protocol behind its consolidated twin). */
  shadowed: BeamOnDisk[];
  /** When the folders were read (ms since the epoch). */
  readAt?: number;
}

/**
 * Every save reads the build twice (before and after its compile), and a compile rewrites a few
 * beams of many: a beam is parsed again only when its file changed. Mix sets a beam's mtime to
 * whole seconds and a rewrite may reuse the inode, so the change time (which no tool sets) is
 * part of the stamp.
 */
const parsed = new Map<string, { stamp: string; beam: BeamOnDisk }>();

function readOne(file: string): BeamOnDisk {
  const st = statSync(file, { bigint: true });
  const stamp = `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
  const hit = parsed.get(file);
  if (hit?.stamp === stamp) return hit.beam;
  const binary = readFileSync(file);
  const info = readBeam(binary, file);
  const beam = { module: info.module, file, binary, info };
  // Bounded: folders read once (an older release's, a rehearsal's copy) must not pile up.
  if (parsed.size >= 20_000) parsed.clear();
  parsed.set(file, { stamp, beam });
  return beam;
}

/** Earlier folders win: consolidated protocols shadow the unconsolidated ones, as on the code path. */
export function readBeamDirs(dirs: string[]): BeamSet {
  const readAt = Date.now();
  const modules = new Map<string, BeamOnDisk>();
  const errors: BeamSet['errors'] = [];
  const shadowed: BeamOnDisk[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      // A file where the folder should be, or no permission: the compile says what to do.
      errors.push({ file: dir, error: `cannot list it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    for (const f of names) {
      if (!f.endsWith('.beam')) continue;
      const file = join(dir, f);
      try {
        const beam = readOne(file);
        if (!modules.has(beam.module)) modules.set(beam.module, beam);
        else shadowed.push(beam);
      } catch (e) {
        errors.push({ file, error: e instanceof BeamError ? e.reason : `cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      }
    }
  }
  return { modules, errors, shadowed, readAt };
}

/** Whether a beam was written, added or removed in these folders since the set was read: a stat each, no read (the change time: mix sets mtimes to whole seconds). */
export function writtenSince(set: BeamSet, dirs: string[]): boolean {
  const at = set.readAt ?? 0;
  const newer = (f: string) => {
    try {
      return statSync(f).ctimeMs >= at;
    } catch {
      return true;
    }
  };
  return dirs.some((d) => {
    try {
      return existsSync(d) && (newer(d) || readdirSync(d).some((f) => f.endsWith('.beam') && newer(join(d, f))));
    } catch {
      return true;
    }
  });
}
