// state-out-of-date: the live states of a module's processes against the state shape its code
// now defines (an Elixir struct's fields, an Erlang record's size), sampled on the node. A
// process holding the old shape crashes at the next callback that touches a missing field.
import { readFileSync } from 'node:fs';
import { atom } from '../beam/term';
import type { NodeGateway } from '../runtime/gateway';
import { moduleName, processName } from '../text/names';
import type { ModuleCode, Pitfall } from './pitfalls';

/** At most this many processes per module, all within BUDGET_MS on the node. */
export const SAMPLE_LIMIT = 1000;
export const BUDGET_MS = 500;

export async function sampleStates(gateway: NodeGateway, code: ModuleCode[], only?: Set<string>): Promise<Pitfall[]> {
  const shaped = code.filter((m) => (!only || only.has(m.module)) && (m.debug?.structFields?.length || Object.keys(m.debug?.records ?? {}).length));
  if (!shaped.length) return [];
  const shapes = shaped.map((m) => ({
    module: atom(m.module),
    struct: m.debug!.structFields ? m.debug!.structFields.map(atom) : atom('undefined'),
    records: Object.fromEntries(Object.entries(m.debug!.records).map(([n, f]) => [n, f.length])),
  }));
  const req = { shapes, limit: SAMPLE_LIMIT, budget_ms: BUDGET_MS };
  const samples = await gateway.stateShapes(req);
  const out: Pitfall[] = [];
  for (const s of samples) {
    if (!s.outOfDate.length) continue;
    const m = shaped.find((c) => c.module === s.module)!;
    const who = s.outOfDate.slice(0, 3).map(processName).join(', ') + (s.outOfDate.length > 3 ? ` and ${s.outOfDate.length - 3} more` : '');
    const first = s.outOfDate[0]!;
    const elixir = m.debug!.language === 'elixir';
    const shape = first.record
      ? `a #${first.record}{} of ${first.size} fields where the code now defines ${first.want}`
      : `a %${moduleName(m.module)}{}${first.missing?.length ? ` without ${first.missing.map((f) => `:${f}`).join(', ')}` : ''}${first.extra?.length ? `${first.missing?.length ? ' and' : ''} with ${first.extra.map((f) => `:${f}`).join(', ')} it no longer has` : ''}`;
    const sampled = s.sampled < s.total ? ` (${s.sampled} of ${s.total} processes sampled)` : '';
    out.push({
      code: 'state-out-of-date',
      module: m.module,
      file: m.file,
      line: shapeLine(m, first.record),
      severity: 'warning',
      message:
        `${who} ${s.outOfDate.length === 1 ? 'holds' : 'hold'} ${shape}${sampled}: the next callback that touches a missing field crashes. ` +
        (elixir ? 'Bump @vsn and migrate the state in code_change, or restart the process.' : 'Bump -vsn and migrate the state in code_change, or restart the process.'),
    });
  }
  return out;
}

/** The defstruct line (from the source: Elixir's debug info has none), or the -record's. */
function shapeLine(m: ModuleCode, record?: string): number {
  if (record && m.debug?.recordLines?.[record]) return m.debug.recordLines[record]!;
  try {
    const i = readFileSync(m.file, 'utf8').split('\n').findIndex((l) => /^\s*defstruct\b/.test(l));
    if (i >= 0) return i + 1;
  } catch {
    // the module line will do
  }
  return m.source?.line ?? m.debug?.line ?? 1;
}
