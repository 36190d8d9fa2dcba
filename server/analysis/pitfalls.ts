// The upgrade pitfalls (docs/otp-rules.md), from both sides: the code just compiled (its
// beam and debug info, and the parsed source for positions) and the node that runs the old one.
// Pure: every fact comes in as data, so each rule is said once and tested alone.
import type { NodeModule, NodeSupervisor, OldCodeUser } from '../runtime/replies';
export type { NodeModule, NodeSupervisor };
import type { BeamInfo } from '../beam/beamFile';
import { formatVsn } from '../beam/beamFile';
import { moduleName, processName, restartText, vsnText } from '../text/names';
import type { ChildFacts, DebugFacts, FunctionFacts } from '../beam/debugInfo';

export type PitfallCode =
  | 'code-change-without-vsn'
  | 'vsn-not-bumped'
  | 'code-change-no-matching-clause'
  | 'code-change-not-called'
  | 'module-renamed'
  | 'children-changed'
  | 'config-not-reloaded'
  | 'old-code-in-use'
  | 'code-change-failed'
  | 'state-out-of-date';

export interface Pitfall {
  code: PitfallCode;
  /** The module it is about, in atom form. */
  module?: string;
  /**
   * What it predicts, where it predicts harm: the upgrade fails, or state is lost or crashes,
   * or callers of a module break. A save with such a finding is held (beamLive.holdRiskyUpgrades).
   */
  risk?: 'fails' | 'state' | 'callers';
  file: string;
  /** 1-based. */
  line: number;
  column?: number;
  length?: number;
  severity: 'error' | 'warning';
  message: string;
}

export interface Lens {
  file: string;
  line: number;
  title: string;
  /** Whose lens: the module line's, or its code_change's (the editor adds "last time" beside it). */
  module?: string;
  kind?: 'module' | 'code_change';
}

export interface ModuleCode {
  module: string;
  file: string;
  beam: BeamInfo;
  debug: DebugFacts | null;
  /** Elixir positions from the parsed source. */
  source?: { line: number; vsnLine: number | null; children: ChildFacts[] };
  /** The running version's facts, from the binary kept before the compile. */
  running?: DebugFacts | null;
}

export interface PitfallInput {
  code: ModuleCode[];
  node: { modules: Map<string, NodeModule>; supervisors: NodeSupervisor[] } | null;
  oldCode: OldCodeUser[];
  /** live: processes run the old module, or a running child spec names it. */
  renamed: Array<{ from: string; to: string; live?: boolean }>;
}

const SPECIAL = new Set(['gen_server', 'gen_statem', 'gen_event', 'gen_fsm', 'supervisor', 'supervisor_bridge', 'Elixir.GenServer', 'Elixir.Supervisor', 'Elixir.DynamicSupervisor', 'Elixir.GenEvent']);

const who = processName;
const list = (xs: string[], max = 3) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`);

/** The code_change the developer wrote (not the default `use GenServer` injects). */
export function userCodeChange(d: DebugFacts | null): FunctionFacts | undefined {
  return d?.functions.find((f) => f.name === 'code_change' && (f.arity === 3 || f.arity === 4) && !f.injected);
}

function vsnLine(m: ModuleCode): number {
  return m.source?.vsnLine ?? m.debug?.vsnLine ?? moduleLine(m);
}

function moduleLine(m: ModuleCode): number {
  return m.source?.line ?? m.debug?.line ?? 1;
}

export function analyze(input: PitfallInput): { pitfalls: Pitfall[]; lenses: Lens[] } {
  const pitfalls: Pitfall[] = [];
  const lenses: Lens[] = [];
  const byModule = new Map(input.code.map((m) => [m.module, m]));
  for (const m of input.code) {
    const cc = userCodeChange(m.debug);
    const node = input.node?.modules.get(m.module);
    const special = m.beam.behaviours.some((b) => SPECIAL.has(b));
    const liveSpecial = node?.processes.filter((p) => p.special) ?? [];
    const savedVsn = formatVsn(m.beam.vsn) ?? null;
    const pending = !!node?.loaded && node.md5 !== m.beam.md5;

    if (cc && !m.debug?.explicitVsn) {
      pitfalls.push({
        module: m.module,
        code: 'code-change-without-vsn',
        file: m.file,
        line: cc.line,
        severity: 'warning',
        message: `${moduleName(m.module)} defines code_change but sets no ${m.debug?.language === 'erlang' ? '-vsn' : '@vsn'}: its vsn is the module's MD5, so code_change receives an integer such as ${vsnText(node?.vsn ?? savedVsn, m.module)} that it cannot match. Set ${m.debug?.language === 'erlang' ? '-vsn("1").' : '@vsn "1"'} and match on it.`,
      });
    }

    if (node?.loaded && m.running && m.debug?.explicitVsn && savedVsn !== null && savedVsn === node.vsn && pending) {
      const fieldsChanged = !sameList(m.debug.structFields, m.running.structFields) || !sameRecords(m.debug.records, m.running.records);
      const clausesAdded = (cc?.clauses.length ?? 0) > (userCodeChange(m.running)?.clauses.length ?? 0);
      if (fieldsChanged || clausesAdded) {
        pitfalls.push({
          code: 'vsn-not-bumped',
          module: m.module,
          ...(fieldsChanged && liveSpecial.length ? { risk: 'state' as const } : {}),
          file: m.file,
          line: vsnLine(m),
          severity: 'warning',
          message: `${fieldsChanged ? `The state's ${m.debug.language === 'erlang' ? 'record' : 'struct'} fields changed` : 'code_change gained a clause'} but the vsn is still ${vsnText(savedVsn, m.module)}, the vsn the node runs: code_change cannot tell old state from new. Bump the vsn.`,
        });
      }
    }

    if (cc && pending && node?.vsn && liveSpecial.length && !cc.clauses.some((c) => matches(c.first, node.vsn!))) {
      pitfalls.push({
        code: 'code-change-no-matching-clause',
        module: m.module,
        risk: 'fails',
        file: m.file,
        line: cc.line,
        severity: 'error',
        message: `No code_change clause matches the running vsn ${vsnText(node.vsn, m.module)}: the upgrade will fail with a FunctionClauseError in ${list(liveSpecial.map(who))}. Add a clause for ${vsnText(node.vsn, m.module)}.`,
      });
    }

    if (cc && !special && liveSpecial.length === 0) {
      pitfalls.push({
        module: m.module,
        code: 'code-change-not-called',
        file: m.file,
        line: cc.line,
        severity: 'warning',
        message: `${moduleName(m.module)} is not a gen_server, gen_statem, gen_event or supervisor callback, so no upgrade will ever call its code_change (a cowboy handler or a plain process keeps its state as it is).`,
      });
    } else if (cc) {
      const unsupervised = liveSpecial.filter((p) => !p.supervised);
      if (unsupervised.length) {
        const parents = [...new Set(unsupervised.map((p) => p.parent ? moduleName(p.parent) : 'an unknown process'))];
        pitfalls.push({
          module: m.module,
          code: 'code-change-not-called',
          file: m.file,
          line: cc.line,
          severity: 'warning',
          message: `${list(unsupervised.map(who))} ${unsupervised.length === 1 ? 'runs' : 'run'} ${moduleName(m.module)} outside any supervision tree (started by ${list(parents)}): a release upgrade will not call this code_change for ${unsupervised.length === 1 ? 'it' : 'them'}. Start ${unsupervised.length === 1 ? 'it' : 'them'} from a supervisor.`,
        });
      }
    }

    pitfalls.push(...childrenChanged(m, input.node?.supervisors ?? []));

    if (node?.loaded) {
      lenses.push({
        file: m.file,
        line: moduleLine(m),
        module: m.module,
        kind: 'module',
        title: `${node.processes.length} live process${node.processes.length === 1 ? '' : 'es'} · running vsn ${vsnText(node.vsn, m.module)} · saved vsn ${vsnText(savedVsn, m.module)}`,
      });
      if (cc) {
        const supervised = liveSpecial.filter((p) => p.supervised);
        // A prediction, and it says so: what the last upgrade did is another lens.
        lenses.push({
          file: m.file,
          line: cc.line,
          module: m.module,
          kind: 'code_change',
          title: supervised.length
            ? `next upgrade: called with old vsn ${vsnText(node.vsn, m.module)} for ${supervised.length} process${supervised.length === 1 ? '' : 'es'}`
            : `next upgrade: not called: ${liveSpecial.length ? 'its processes are outside supervision trees' : special ? 'no live process runs this module' : 'not a special process'}`,
        });
      }
    }
  }

  for (const r of input.renamed) {
    const to = byModule.get(r.to);
    if (!to) continue;
    pitfalls.push({
      code: 'module-renamed',
      module: r.from,
      ...(r.live ? { risk: 'callers' as const } : {}),
      file: to.file,
      line: moduleLine(to),
      severity: 'warning',
      message: `${moduleName(r.from)} (loaded in the node) is gone from the build and ${moduleName(r.to)} appeared in the same file: a hot upgrade treats this as a delete plus an add, so processes running ${moduleName(r.from)} crash at the purge and a supervisor child renamed to ${moduleName(r.to)} is not started. Restart the application.`,
    });
  }

  for (const o of groupOldCode(input.oldCode)) {
    const m = byModule.get(o.module);
    if (!m) continue;
    const fn = o.function ? m.debug?.functions.find((f) => `${m.module}:${f.name}/${f.arity}` === o.function) : undefined;
    const loop = fn ? `${fn.name}/${fn.arity}` : 'loop/1';
    const call = m.debug?.language === 'erlang' ? `?MODULE:${loop}` : `__MODULE__.${loop}`;
    pitfalls.push({
      module: m.module,
      code: 'old-code-in-use',
      file: m.file,
      line: fn?.line ?? moduleLine(m),
      severity: 'warning',
      message: `${list(o.procs)} still ${o.procs.length === 1 ? 'runs' : 'run'} the old code of ${moduleName(m.module)}${fn ? ` in ${loop}` : ''}: the next load of this module kills ${o.procs.length === 1 ? 'it' : 'them'}. Make the loop call itself fully qualified (${call}) so that it moves to new code.`,
    });
  }
  return { pitfalls, lenses };
}

function groupOldCode(oldCode: PitfallInput['oldCode']): Array<{ module: string; function: string | null; procs: string[] }> {
  const g = new Map<string, { module: string; function: string | null; procs: string[] }>();
  for (const o of oldCode) {
    const k = `${o.module}|${o.function ?? ''}`;
    const e = g.get(k) ?? { module: o.module, function: o.function ?? null, procs: [] };
    e.procs.push(`${who(o)} (${restartText(o)})`);
    g.set(k, e);
  }
  return [...g.values()];
}

/** A clause's first argument against the running vsn as ~p prints it. */
export function matches(p: FunctionFacts['clauses'][number]['first'], vsn: string): boolean {
  if (p.kind === 'any' || p.kind === 'other') return true;
  if (p.kind === 'down') return false;
  return p.text === vsn;
}

function sameList(a: string[] | null, b: string[] | null): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function sameRecords(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => sameList(a[k] ?? null, b[k] ?? null));
}

/** The source's child list against what the running supervisor has, by child-spec module. */
function childrenChanged(m: ModuleCode, supervisors: NodeSupervisor[]): Pitfall[] {
  const items = m.source?.children.length ? m.source.children : (m.debug?.children ?? []);
  const running = supervisors.find((s) => s.module === m.module);
  if (!items.length || !running || items.some((i) => i.module === null) || running.children.some((c) => c === null)) return [];
  const have = [...running.children] as string[];
  const added: ChildFacts[] = [];
  for (const item of items) {
    const i = have.indexOf(item.module!);
    if (i >= 0) have.splice(i, 1);
    else added.push(item);
  }
  const out: Pitfall[] = added.map((item) => ({
    code: 'children-changed' as const,
    file: m.file,
    line: item.line,
    column: item.column,
    length: item.text ? item.text.length : undefined,
    severity: 'warning' as const,
    message: `${item.text || moduleName(item.module ?? '?')} is not among the children the running supervisor ${running.pid} has: a hot upgrade does not start it. Restart the application (or start the child explicitly).`,
  }));
  if (have.length) {
    out.push({
      code: 'children-changed',
      file: m.file,
      line: items[0]!.line,
      column: items[0]!.column,
      severity: 'warning',
      message: `The running supervisor ${running.pid} still has ${list(have)}, which this child list no longer names: a hot upgrade does not stop ${have.length === 1 ? 'it' : 'them'}. Restart the application (or stop the child explicitly).`,
    });
  }
  return out;
}
