// Gathers what the pitfall checks need: the build's beams and debug info, the running
// versions' debug info (from the binaries kept before the compile), the parsed-source
// positions of the last compile, and the node's facts, in as few round trips as possible.
import { basename, dirname, isAbsolute, join } from 'node:path';
import { readBeam } from '../beam/beamFile';
import { readDebugInfo } from '../beam/debugInfo';
import { termToJson } from '../beam/json';
import { atom, text } from '../beam/term';
import type { UpgradeEngine } from '../upgrade/engine';
import { BeamOnDisk, BeamSet, readBeamDirs } from '../upgrade/beams';
import type { ModuleCode, NodeModule, NodeSupervisor, PitfallInput } from './pitfalls';

/**
 * `only`: the modules to check (an upgrade's plan), so that the node's facts are gathered for
 * those alone: a module run by 100,000 processes that the plan does not touch costs nothing.
 */
/** What beam_live_agent:pitfall_facts/1 answers. */
export interface NodeFacts {
  modules: NodeModule[];
  supervisors: NodeSupervisor[];
}

export async function gatherPitfallInput(engine: UpgradeEngine, only?: Set<string>, given?: NodeFacts): Promise<PitfallInput> {
  // Consolidated protocols are not the project's code.
  const dirs = engine.beamDirs.filter((d) => basename(d) !== 'consolidated');
  const all = projectBeams(engine, dirs);
  const beams = only ? { ...all, modules: new Map([...all.modules].filter(([m]) => only.has(m))) } : all;
  const sources = new Map((engine.lastCompile?.sources ?? []).map((s) => [s.module, s]));
  const modules = [...beams.modules.keys()];
  const bridge = engine.session.bridge;
  // The upgrade's plan call gathers them in its own scan of the node: no second one.
  const facts = given ?? (termToJson(await bridge.agent('pitfall_facts', [{ modules: modules.map(atom) }], 30_000)) as unknown as NodeFacts);
  const nodeModules = new Map(facts.modules.map((m) => [m.module, m]));
  const code: ModuleCode[] = [];
  for (const b of beams.modules.values()) {
    const debug = readDebugInfo(b.info.dbgi, b.module);
    const src = sources.get(b.module);
    const cinfSource = text(b.info.compileInfo.find(([k]) => k === 'source')?.[1]);
    const node = nodeModules.get(b.module);
    let running: ModuleCode['running'];
    if (node?.md5 && node.md5 !== b.info.md5) {
      const old = engine.store.get(node.md5);
      if (old) {
        try {
          running = readDebugInfo(readBeam(old).dbgi, b.module);
        } catch {
          running = null;
        }
      }
    }
    const file = src?.file ?? debug?.file ?? cinfSource ?? b.file;
    code.push({
      module: b.module,
      file: isAbsolute(file) ? file : join(engine.project.dir, file),
      beam: b.info,
      debug,
      source: src ? { line: src.line, vsnLine: src.vsnLine, children: src.children } : undefined,
      running,
    });
  }
  const oldCode = termToJson(await bridge.agent('old_code_users', [modules.map(atom)], 30_000)) as unknown as PitfallInput['oldCode'];
  // A module loaded from the build's folders, gone from the build, whose source now defines another.
  const loadedUnder = (termToJson(await bridge.agent('loaded_under', [dirs.map((d) => Buffer.from(d))])) as string[]) ?? [];
  const gone = loadedUnder.filter((m) => !all.modules.has(m));
  const renamed: PitfallInput['renamed'] = [];
  if (gone.length) {
    const goneFacts = termToJson(await bridge.agent('pitfall_facts', [{ modules: gone.map(atom) }], 30_000)) as unknown as { modules: NodeModule[] };
    for (const g of goneFacts.modules) {
      const to = code.find((c) => g.source && c.file === g.source && !nodeModules.get(c.module)?.loaded);
      const named = facts.supervisors.some((s) => s.children.includes(g.module));
      if (to) renamed.push({ from: g.module, to: to.module, live: g.processes.length > 0 || named });
    }
  }
  return { code, node: { modules: nodeModules, supervisors: facts.supervisors }, oldCode, renamed };
}

/** The last compile's beams when there is one (the checks run right after it), else a read. */
function projectBeams(engine: UpgradeEngine, dirs: string[]): BeamSet {
  const build = engine.lastBuild;
  if (!build) return readBeamDirs(dirs);
  const modules = new Map<string, BeamOnDisk>();
  for (const b of [...build.modules.values(), ...build.shadowed]) {
    if (dirs.includes(dirname(b.file)) && !modules.has(b.module)) modules.set(b.module, b);
  }
  return { modules, errors: build.errors, shadowed: [] };
}
