// What changed between the node and the build (docs/otp-rules.md): a module changed iff its MD5
// differs from the loaded one. Pure: the node's answers come in as data.
import { basename, dirname } from 'node:path';
import { BeamOnDisk, BeamSet } from './beams';
import { formatVsn } from '../beam/beamFile';
import type { LoadedInfo } from '../runtime/replies';

export type { LoadedInfo };

export interface BuildDiff {
  changed: Array<{ beam: BeamOnDisk; loaded: LoadedInfo }>;
  unchanged: string[];
  /** On disk before this compile, never loaded: interactive mode will load the new code itself. */
  notLoaded: string[];
  /** New in this build and not loaded. */
  added: BeamOnDisk[];
  /** Loaded from the project's folders, gone from the build. */
  deleted: string[];
  /** Unchanged modules whose vsn alone changed: the vsn is not part of the MD5, so nothing loads. */
  vsnOnly: Array<{ module: string; oldVsn: string | null; newVsn: string | null }>;
}

/**
 * `known`: by build folder, the modules the node's application had when it was loaded (its
 * `.app` then). A module of the build that the node has not loaded is added iff that list lacks
 * it: the node and the build decide, not whether a compile already wrote the beam. Folders whose
 * application the node never loaded fall back on `before`, the build as it was before this
 * compile.
 */
export function diffBuild(
  before: Set<string>,
  after: BeamSet,
  loaded: Map<string, LoadedInfo>,
  loadedUnderBuild: string[],
  known: Map<string, Set<string>> = new Map(),
): BuildDiff {
  const d: BuildDiff = { changed: [], unchanged: [], notLoaded: [], added: [], deleted: [], vsnOnly: [] };
  for (const beam of [...after.modules.values()].sort((a, b) => a.module.localeCompare(b.module))) {
    const l = loaded.get(beam.module);
    const dir = dirname(beam.file);
    const app = known.get(dir);
    // Protocols consolidated for the project (IEx's and Elixir's own among them) belong to the
    // plan only where the node runs them: a node never loads most, and they are nobody's news.
    if (basename(dir) === 'consolidated' && !l?.loaded) continue;
    if (l?.loaded) {
      if (l.md5 === beam.info.md5) {
        d.unchanged.push(beam.module);
        const v = formatVsn(beam.info.vsn) ?? null;
        if (l.vsn !== undefined && v !== (l.vsn ?? null)) d.vsnOnly.push({ module: beam.module, oldVsn: l.vsn ?? null, newVsn: v });
      }
      else d.changed.push({ beam, loaded: l });
    } else if (app ? app.has(beam.module) : before.has(beam.module)) {
      d.notLoaded.push(beam.module);
    } else {
      d.added.push(beam);
    }
  }
  d.deleted = loadedUnderBuild.filter((m) => !after.modules.has(m)).sort();
  return d;
}
