// The low-level script a release runs for a plan, as systools_rc builds it
// (translate_dependent_instrs/4, get_dependent_instructions/3, translate_dep_to_low/3): the
// instructions are grouped by the weakly connected components of the DepMods graph, and each
// group is one block: suspend, load, code_change, resume. A module with no DepMods (the default
// appup) is a block of its own, in the appup's order. Pure logic; the agent runs the blocks.
import { formatAtom, formatTerm } from '../beam/format';
import { Charlist } from '../beam/term';
import type { PlannedModule } from './plan';

const suspends = (m: PlannedModule) => m.instruction === 'update' || m.instruction === 'supervisor';

/** The blocks, each in dependency order (a module before the modules it depends on). */
export function scriptBlocks(mods: PlannedModule[]): PlannedModule[][] {
  const index = new Map(mods.map((m, i) => [m.module, i]));
  // Edges to modules outside the plan are dropped: they do not change, so nothing to order.
  const deps = new Map(mods.map((m) => [m.module, (m.depMods ?? []).filter((d) => index.has(d) && d !== m.module)]));
  const neighbours = new Map(mods.map((m) => [m.module, new Set<string>()]));
  for (const [m, ds] of deps) {
    for (const d of ds) {
      neighbours.get(m)!.add(d);
      neighbours.get(d)!.add(m);
    }
  }
  const done = new Set<string>();
  const blocks: PlannedModule[][] = [];
  for (const m of mods) {
    if (done.has(m.module)) continue;
    const component = weakComponent(m.module, neighbours);
    const order = dependencyOrder(component, deps, index);
    for (const x of order) done.add(x);
    blocks.push(order.map((x) => mods[index.get(x)!]!));
  }
  return blocks;
}

function weakComponent(start: string, neighbours: Map<string, Set<string>>): string[] {
  const seen = new Set([start]);
  const todo = [start];
  while (todo.length) {
    for (const n of neighbours.get(todo.pop()!)!) {
      if (!seen.has(n)) {
        seen.add(n);
        todo.push(n);
      }
    }
  }
  return [...seen];
}

/**
 * The strong components of the component's DepMods graph, topologically sorted (a module
 * before its dependencies), each component's modules in the appup's order: as systools_rc
 * does with digraph_utils:condensation and topsort. Ties go to the earlier instruction.
 */
function dependencyOrder(component: string[], deps: Map<string, string[]>, index: Map<string, number>): string[] {
  const sccs = strongComponents(component, deps);
  const sccOf = new Map<string, number>();
  sccs.forEach((c, i) => c.forEach((m) => sccOf.set(m, i)));
  const indegree = sccs.map(() => 0);
  const edges = sccs.map(() => new Set<number>());
  for (const m of component) {
    for (const d of deps.get(m)!) {
      const [a, b] = [sccOf.get(m)!, sccOf.get(d)!];
      if (a !== b && !edges[a]!.has(b)) {
        edges[a]!.add(b);
        indegree[b]!++;
      }
    }
  }
  const first = (c: string[]) => Math.min(...c.map((m) => index.get(m)!));
  const out: string[] = [];
  const ready = sccs.map((_, i) => i).filter((i) => indegree[i] === 0);
  while (ready.length) {
    ready.sort((a, b) => first(sccs[a]!) - first(sccs[b]!));
    const i = ready.shift()!;
    out.push(...[...sccs[i]!].sort((a, b) => index.get(a)! - index.get(b)!));
    for (const j of edges[i]!) if (--indegree[j]! === 0) ready.push(j);
  }
  return out;
}

function strongComponents(nodes: string[], deps: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative enough for appup-sized graphs.
  let next = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of deps.get(v)!) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      out.push(c);
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

/** The application and its vsn a module's object code is loaded from, when known. */
export type LibOf = (module: string) => { app: string; vsn: string } | undefined;

/** The up script as the relup holds it: load_object_code, point_of_no_return, then each block. */
export function expandScript(mods: PlannedModule[], libOf: LibOf = () => undefined): string[] {
  if (mods.length === 0) return [];
  const a = (m: string) => formatAtom(m);
  const list = (ms: string[]) => `[${ms.map(a).join(',')}]`;
  const blocks = scriptBlocks(mods);
  const after: string[] = [];
  const loadObject: Array<{ lib: string; mods: string[] }> = [];
  for (const block of blocks) {
    const updates = block.filter(suspends).map((m) => m.module);
    const loadRemove = block.map((m) =>
      m.instruction === 'delete_module' ? [`{remove,{${a(m.module)},brutal_purge,brutal_purge}}`, `{purge,${list([m.module])}}`] : [`{load,{${a(m.module)},brutal_purge,brutal_purge}}`],
    );
    for (const m of block) {
      if (m.instruction === 'delete_module') continue;
      const lib = libOf(m.module);
      const key = lib ? `{${a(lib.app)},${formatTerm(new Charlist(lib.vsn))},` : '';
      const entry = loadObject.find((l) => l.lib === key);
      if (entry) entry.mods.push(m.module);
      else loadObject.push({ lib: key, mods: [m.module] });
    }
    if (updates.length) after.push(`{suspend,${list(updates)}}`);
    after.push(...loadRemove.reverse().flat());
    if (updates.length) after.push(`{code_change,up,[${block.filter(suspends).map((m) => `{${a(m.module)},${formatTerm(m.extra ?? [])}}`).join(',')}]}`);
    if (updates.length) after.push(`{resume,${list([...updates].reverse())}}`);
  }
  const before = loadObject.map((l) => (l.lib ? `{load_object_code,${l.lib}${list(l.mods)}}}` : `{load_object_code,${list(l.mods)}}`));
  return [...before, 'point_of_no_return', ...after];
}
