import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appupHomes, appupInstructions, formatAppup, readAppFile } from '../../server/upgrade/appup';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Charlist, Tuple, atom, tuple } from '../../server/beam/term';

test('an .appup gives each module its instruction and Extra, for the running app vsn or else the first entry', () => {
  const up = (from: string, instrs: Tuple[]) => tuple(new Charlist(from), instrs);
  const appup = [
    tuple(new Charlist('2.0'), [
      up('1.0', [tuple(atom('load_module'), atom('a'))]),
      up('1.5', [
        tuple(atom('update'), atom('srv'), tuple(atom('advanced'), tuple(atom('m'), atom('f'), []))),
        tuple(atom('update'), atom('sup'), atom('supervisor')),
        tuple(atom('update'), atom('plain')),
        tuple(atom('update'), atom('long'), atom('dynamic'), tuple(atom('advanced'), 7), atom('brutal_purge'), atom('brutal_purge'), []),
        tuple(atom('add_module'), atom('new')),
        tuple(atom('delete_module'), atom('old')),
      ]),
    ], []),
  ];
  const m = appupInstructions(appup, '1.5');
  assert.equal(m.get('srv')?.instruction, 'update');
  assert.ok(m.get('srv')?.extra instanceof Tuple);
  assert.equal(m.get('sup')?.instruction, 'supervisor');
  assert.deepEqual(m.get('plain'), { instruction: 'update', extra: [] });
  assert.equal(m.get('long')?.extra, 7);
  assert.equal(m.get('new')?.instruction, 'add_module');
  assert.equal(m.get('old')?.instruction, 'delete_module');
  assert.equal(m.has('a'), false);
  assert.deepEqual([...appupInstructions(appup, 'unknown').keys()], ['a']);
  assert.equal(appupInstructions([atom('garbage')], '1.0').size, 0);
});

test("an .app file's vsn and modules list are read; what it lacks stays undefined", () => {
  const app = (props: Tuple[]) => [tuple(atom('application'), atom('erl_app'), props)];
  assert.deepEqual(readAppFile(app([tuple(atom('vsn'), new Charlist('1.0')), tuple(atom('modules'), [atom('a'), atom('b')])])), { vsn: '1.0', modules: ['a', 'b'] });
  assert.deepEqual(readAppFile(app([tuple(atom('vsn'), new Charlist('1.0'))])), { vsn: '1.0' });
  assert.deepEqual(readAppFile([atom('garbage')]), {});
});

test('a generated .appup goes up in plan order and down in reverse, with add and delete swapped', () => {
  const text = formatAppup({
    app: 'my_app',
    from: 'what app@localhost runs',
    fromVsn: '1.0',
    toVsn: '1.1',
    modules: [
      { module: 'Elixir.My.Server', instruction: 'update' },
      { module: 'my_sup', instruction: 'supervisor' },
      { module: 'new_mod', instruction: 'add_module' },
      { module: 'old_mod', instruction: 'delete_module' },
      { module: 'helper', instruction: 'load_module' },
    ],
  });
  const body = text.split('\n').filter((l) => !l.startsWith('%%')).join('\n');
  assert.equal(
    body,
    `{"1.1",
 [{"1.0",
   [{update,'Elixir.My.Server',{advanced,[]}},
    {update,my_sup,supervisor},
    {add_module,new_mod},
    {delete_module,old_mod},
    {load_module,helper}]}],
 [{"1.0",
   [{load_module,helper},
    {add_module,old_mod},
    {delete_module,new_mod},
    {update,my_sup,supervisor},
    {update,'Elixir.My.Server',{advanced,[]}}]}]}.
`,
  );
  assert.doesNotMatch(text, /vsn is bumped/);
  assert.match(formatAppup({ app: 'a', from: 'what n@h runs', fromVsn: '1.0', toVsn: '1.0', modules: [] }), /uses it only once a's vsn is bumped/);
});

test("an application's .appup is looked for in its umbrella folder first, priv/ before src/ for mix and the other way for Erlang", () => {
  const dir = mkdtempSync(join(tmpdir(), 'beam-live-appup-'));
  try {
    mkdirSync(join(dir, 'apps', 'web'), { recursive: true });
    const rel = (ds: string[]) => ds.map((d) => d.slice(dir.length + 1));
    assert.deepEqual(rel(appupHomes({ dir, kind: 'mix', mixEnv: 'dev' }, 'web')), ['apps/web/priv', 'apps/web/src', 'priv', 'src']);
    assert.deepEqual(rel(appupHomes({ dir, kind: 'erlc', mixEnv: 'dev' }, 'solo')), ['src', 'priv']);
    assert.deepEqual(rel(appupHomes({ dir, kind: 'rebar3', mixEnv: 'dev' })), ['apps/web/src', 'apps/web/priv', 'src', 'priv']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
