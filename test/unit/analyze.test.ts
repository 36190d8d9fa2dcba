// analyze() as a table: hand-built facts in (a module's code and what the node runs), the
// findings out. Each row is one rule firing, or one case where it must stay quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze, type ModuleCode, type PitfallInput } from '../../server/analysis/pitfalls';
import type { BeamInfo } from '../../server/beam/beamFile';
import type { ArgPattern, DebugFacts } from '../../server/beam/debugInfo';
import type { NodeModule, NodeProc } from '../../server/runtime/replies';
import { Charlist } from '../../server/beam/term';

const M = 'Elixir.App.Counter';

function code(o: { vsn?: string; md5?: string; behaviours?: string[]; clauses?: ArgPattern[]; fields?: string[]; running?: { fields?: string[]; clauses?: ArgPattern[] } | null }): ModuleCode {
  const facts = (fields: string[] | undefined, clauses: ArgPattern[] | undefined, explicitVsn: boolean): DebugFacts => ({
    language: 'elixir',
    module: M,
    file: '/p/lib/counter.ex',
    line: 1,
    vsnLine: null,
    explicitVsn,
    onLoad: false,
    structFields: fields ?? null,
    records: {},
    functions: clauses ? [{ name: 'code_change', arity: 3, line: 20, injected: false, clauses: clauses.map((first, i) => ({ line: 21 + i, first })) }] : [],
    children: [],
  });
  const beam: BeamInfo = {
    module: M,
    md5: o.md5 ?? 'new',
    vsn: o.vsn === undefined ? undefined : new Charlist(o.vsn),
    exports: [],
    imports: [],
    attributes: [],
    behaviours: o.behaviours ?? ['Elixir.GenServer'],
    compileInfo: [],
    chunkIds: [],
    dbgi: undefined,
  };
  return {
    module: M,
    file: '/p/lib/counter.ex',
    beam,
    debug: facts(o.fields, o.clauses, o.vsn !== undefined),
    running: o.running === null ? null : o.running ? facts(o.running.fields, o.running.clauses, true) : undefined,
  };
}

const proc = (p: Partial<NodeProc> = {}): NodeProc => ({ pid: '<0.90.0>', name: 'Elixir.App.Counter', supervised: true, special: true, parent: null, ...p });

/** `node`: what the node runs of the module (null: not loaded). */
function input(c: ModuleCode, node: Partial<NodeModule> | null = {}, extra: Partial<PitfallInput> = {}): PitfallInput {
  const n: NodeModule | undefined = node ? { module: M, loaded: true, vsn: '"1"', md5: 'old', source: null, processes: [proc()], ...node } : undefined;
  return { code: [c], node: { modules: new Map(n ? [[M, n]] : []), supervisors: [] }, oldCode: [], renamed: [], ...extra };
}

const literal = (text: string): ArgPattern => ({ kind: 'literal', text });

const rows: Array<{ name: string; in: PitfallInput; want: Array<[string, string?]> }> = [
  {
    name: 'code_change without @vsn',
    in: input(code({ clauses: [{ kind: 'any' }] })),
    want: [['code-change-without-vsn']],
  },
  {
    name: 'no clause for the running vsn fails the upgrade',
    in: input(code({ vsn: '2', clauses: [literal('"5"')] })),
    want: [['code-change-no-matching-clause', 'fails']],
  },
  {
    name: 'a clause for the running vsn: quiet',
    in: input(code({ vsn: '2', clauses: [literal('"1"')] })),
    want: [],
  },
  {
    name: 'the same code as the node runs: nothing pending, quiet',
    in: input(code({ vsn: '2', md5: 'old', clauses: [literal('"5"')] })),
    want: [],
  },
  {
    name: 'fields changed, vsn not bumped, live processes: the state is at risk',
    in: input(code({ vsn: '1', fields: ['count', 'label'], clauses: [literal('"0"'), { kind: 'any' }], running: { fields: ['count'] } })),
    want: [['vsn-not-bumped', 'state']],
  },
  {
    name: 'fields changed and the vsn bumped: quiet',
    in: input(code({ vsn: '2', fields: ['count', 'label'], clauses: [literal('"1"')], running: { fields: ['count'] } })),
    want: [],
  },
  {
    name: 'code_change in a module no special process runs as its callback',
    in: input(code({ vsn: '1', behaviours: [], clauses: [{ kind: 'any' }] }), { processes: [] }),
    want: [['code-change-not-called']],
  },
  {
    name: 'its process outside any supervision tree',
    in: input(code({ vsn: '2', clauses: [{ kind: 'any' }] }), { processes: [proc({ supervised: false, parent: 'Elixir.App.Starter' })] }),
    want: [['code-change-not-called']],
  },
  {
    name: 'a process still in old code',
    in: input(code({ vsn: '2', clauses: [{ kind: 'any' }] }), {}, { oldCode: [{ pid: '<0.91.0>', name: null, module: M, function: null, restart: 'permanent' }] }),
    want: [['old-code-in-use']],
  },
  {
    name: 'a renamed module with live users',
    in: input(code({ vsn: '1' }), null, { renamed: [{ from: 'Elixir.App.OldCounter', to: M, live: true }] }),
    want: [['module-renamed', 'callers']],
  },
];

for (const row of rows) {
  test(`analyze: ${row.name}`, () => {
    const got = analyze(row.in).pitfalls.map((p) => (p.risk ? [p.code, p.risk] : [p.code]));
    assert.deepEqual(got, row.want.map((w) => (w[1] ? w : [w[0]])));
  });
}

test('analyze: the code_change lens predicts the call with the running vsn and the number of supervised processes', () => {
  const { lenses } = analyze(input(code({ vsn: '2', clauses: [literal('"1"')] }), { processes: [proc(), proc({ pid: '<0.91.0>' })] }));
  assert.deepEqual(
    lenses.map((l) => [l.kind, l.title]),
    [
      ['module', '2 live processes · running vsn "1" · saved vsn "2"'],
      ['code_change', 'next upgrade: called with old vsn "1" for 2 processes'],
    ],
  );
});
