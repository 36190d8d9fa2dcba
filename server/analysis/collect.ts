// Gathers what the pitfall checks need: the build's beams and debug info, the running
// versions' debug info (from the binaries kept before the compile), the parsed-source
// positions of the last compile, and the node's facts, in as few round trips as possible.
import { basename, dirname, isAbsolute, join } from 'node:path';
import { readBeam } from '../beam/beamFile';
import { DebugFacts, readDebugInfo } from '../beam/debugInfo';
import { text } from '../beam/term';
import type { CompileResult } from '../compile/compile';
import type { NodeGateway } from '../runtime/gateway';
import type { NodeFacts, OldCodeUser } from '../runtime/replies';
import type { BinaryStore } from '../upgrade/binaries';
import { BeamOnDisk, BeamSet, readBeamDirs } from '../upgrade/beams';
import type { ModuleCode, PitfallInput } from './pitfalls';

/**
 * What the checks read: the build (the last compile's beams when there is one, else a read of
 * the folders), the kept old binaries, and the node. What a caller already asked the node (the
 * plan's facts and old-code users, the compile's loaded-under) is not asked again.
 */
export interface PitfallSource {
  gateway: NodeGateway;
  projectDir: string;
  beamDirs: string[];
  store: BinaryStore;
  compile?: CompileResult;
  build?: BeamSet;
  /** The modules to check (an upgrade's plan): a module the plan does not touch costs nothing. */
  only?: Set<string>;
  facts?: NodeFacts;
  oldCode?: OldCodeUser[];
  loadedUnder?: string[];
  /** The plan's scan of the node's processes (kept on the node), to read the facts from. */
  scan?: number;
}

export async function gatherPitfallInput(src: PitfallSource): Promise<PitfallInput> {
  // Consolidated protocols are not the project's code.
  const dirs = src.beamDirs.filter((d) => basename(d) !== 'consolidated');
  const all = projectBeams(src.build, dirs);
  const only = src.only;
  const beams = only ? { ...all, modules: new Map([...all.modules].filter(([m]) => only.has(m))) } : all;
  const sources = new Map((src.compile?.sources ?? []).map((s) => [s.module, s]));
  const modules = [...beams.modules.keys()];
  const gateway = src.gateway;
  const facts = src.facts ?? (await gateway.pitfallFacts(modules, src.scan));
  const nodeModules = new Map(facts.modules.map((m) => [m.module, m]));
  const code: ModuleCode[] = [];
  for (const b of beams.modules.values()) {
    const debug = readDebugInfo(b.info.dbgi, b.module);
    const source = sources.get(b.module);
    const node = nodeModules.get(b.module);
    let running: ModuleCode['running'];
    if (node?.md5 && node.md5 !== b.info.md5) {
      running = runningFacts(src.store, node.md5, b.module);
    }
    code.push({
      module: b.module,
      file: sourceFileOf(b, debug, source, src.projectDir),
      beam: b.info,
      debug,
      source: source ? { line: source.line, vsnLine: source.vsnLine, children: source.children } : undefined,
      running,
    });
  }
  const oldCode = src.oldCode ?? (await gateway.oldCodeUsers(modules));
  // A module loaded from the build's folders, gone from the build, whose source now defines another.
  const loadedUnder = src.loadedUnder ?? (await gateway.loadedUnder(dirs));
  // (A caller's loaded-under may cover the consolidated protocols too: they are in the build.)
  const gone = loadedUnder.filter((m) => !all.modules.has(m) && !src.build?.modules.has(m));
  const renamed: PitfallInput['renamed'] = [];
  if (gone.length) {
    const goneFacts = await gateway.pitfallFacts(gone);
    for (const g of goneFacts.modules) {
      const to = code.find((c) => g.source && c.file === g.source && !nodeModules.get(c.module)?.loaded);
      const named = facts.supervisors.some((s) => s.children.includes(g.module));
      if (to) renamed.push({ from: g.module, to: to.module, live: g.processes.length > 0 || named });
    }
  }
  return { code, node: { modules: nodeModules, supervisors: facts.supervisors }, oldCode, renamed };
}

/** A module's source file, absolute: the compiler's parsed source, else its debug info, else the beam's compile info. */
export function sourceFileOf(b: BeamOnDisk, debug: DebugFacts | null, source: { file: string } | undefined, projectDir: string): string {
  const file = source?.file ?? debug?.file ?? text(b.info.compileInfo.find(([k]) => k === 'source')?.[1]) ?? b.file;
  return isAbsolute(file) ? file : join(projectDir, file);
}

/** The running version's debug info, from the binary kept before the compile; by MD5, since it does not change. */
const runningByMd5 = new Map<string, DebugFacts | null>();

function runningFacts(store: BinaryStore, md5: string, module: string): DebugFacts | null | undefined {
  if (runningByMd5.has(md5)) return runningByMd5.get(md5);
  const old = store.get(md5);
  if (!old) return undefined;
  let facts: DebugFacts | null;
  try {
    facts = readDebugInfo(readBeam(old).dbgi, module);
  } catch {
    facts = null;
  }
  // Bounded: the versions a session upgrades from.
  if (runningByMd5.size >= 256) runningByMd5.delete(runningByMd5.keys().next().value!);
  runningByMd5.set(md5, facts);
  return facts;
}

/** The last compile's beams when there is one (the checks run right after it), else a read. */
function projectBeams(build: BeamSet | undefined, dirs: string[]): BeamSet {
  if (!build) return readBeamDirs(dirs);
  const modules = new Map<string, BeamOnDisk>();
  for (const b of [...build.modules.values(), ...build.shadowed]) {
    if (dirs.includes(dirname(b.file)) && !modules.has(b.module)) modules.set(b.module, b);
  }
  return { modules, errors: build.errors, shadowed: [] };
}
