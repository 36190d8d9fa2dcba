import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BeamOnDisk } from '../../server/upgrade/beams';
import { instructionFor, planWarnings } from '../../server/upgrade/plan';
import { expandScript, scriptBlocks } from '../../server/upgrade/script';
import { diffBuild } from '../../server/upgrade/diff';

function beam(module: string, behaviours: string[], exports: Array<[string, number]> = [], attributes: Array<[string, never]> = []): BeamOnDisk {
  return {
    module,
    file: `/b/${module}.beam`,
    binary: Buffer.alloc(0),
    info: { module, md5: `md5-${module}`, vsn: undefined, exports, imports: [], attributes, behaviours, compileInfo: [], chunkIds: [], dbgi: undefined },
  };
}

test('the default appup instruction follows the new module role: supervisor, gen_* update, else load_module', () => {
  assert.equal(instructionFor(beam('Elixir.A.Sup', ['Elixir.Supervisor'])), 'supervisor');
  assert.equal(instructionFor(beam('a_sup', ['supervisor'])), 'supervisor');
  assert.equal(instructionFor(beam('Elixir.A.Server', ['Elixir.GenServer'])), 'update');
  assert.equal(instructionFor(beam('a_statem', ['gen_statem'])), 'update');
  assert.equal(instructionFor(beam('a_event', ['gen_event'])), 'update');
  assert.equal(instructionFor(beam('Elixir.A.Helper', [])), 'load_module');
});

test('without DepMods each instruction is a block of its own, in the appup order, as systools_rc expands it', () => {
  const script = expandScript([
    { module: 'a', instruction: 'update' },
    { module: 'b', instruction: 'load_module' },
    { module: 'c', instruction: 'supervisor' },
    { module: 'd', instruction: 'delete_module' },
  ]);
  assert.deepEqual(script, [
    '{load_object_code,[a,b,c]}',
    'point_of_no_return',
    '{suspend,[a]}',
    '{load,{a,brutal_purge,brutal_purge}}',
    '{code_change,up,[{a,[]}]}',
    '{resume,[a]}',
    '{load,{b,brutal_purge,brutal_purge}}',
    '{suspend,[c]}',
    '{load,{c,brutal_purge,brutal_purge}}',
    '{code_change,up,[{c,[]}]}',
    '{resume,[c]}',
    '{remove,{d,brutal_purge,brutal_purge}}',
    '{purge,[d]}',
  ]);
  assert.deepEqual(expandScript([]), []);
});

test('DepMods tie modules into one block: suspend in dependency order, load the dependencies first, resume in reverse', () => {
  const mods = [
    { module: 'x', instruction: 'load_module' as const },
    { module: 'srv', instruction: 'update' as const, depMods: ['lib'] },
    { module: 'other', instruction: 'update' as const },
    { module: 'lib', instruction: 'update' as const },
  ];
  assert.deepEqual(scriptBlocks(mods).map((b) => b.map((m) => m.module)), [['x'], ['srv', 'lib'], ['other']]);
  assert.deepEqual(expandScript(mods, () => ({ app: 'app', vsn: '2' })), [
    '{load_object_code,{app,"2",[x,srv,lib,other]}}',
    'point_of_no_return',
    '{load,{x,brutal_purge,brutal_purge}}',
    '{suspend,[srv,lib]}',
    '{load,{lib,brutal_purge,brutal_purge}}',
    '{load,{srv,brutal_purge,brutal_purge}}',
    '{code_change,up,[{srv,[]},{lib,[]}]}',
    '{resume,[lib,srv]}',
    '{suspend,[other]}',
    '{load,{other,brutal_purge,brutal_purge}}',
    '{code_change,up,[{other,[]}]}',
    '{resume,[other]}',
  ]);
});

test('warnings: no code_change exported, an Agent, a supervisor init re-run, on_load, and a missing old binary', () => {
  const w = planWarnings({
    modules: [
      { module: 'Elixir.NoCC', instruction: 'update', beam: beam('Elixir.NoCC', ['Elixir.GenServer'], [['init', 1]]) },
      { module: 'Elixir.WithCC', instruction: 'update', beam: beam('Elixir.WithCC', ['Elixir.GenServer'], [['code_change', 3]]) },
      { module: 'Elixir.Sup', instruction: 'supervisor', beam: beam('Elixir.Sup', ['Elixir.Supervisor']) },
      { module: 'Elixir.Store', instruction: 'load_module', beam: beam('Elixir.Store', []) },
      { module: 'nif_mod', instruction: 'load_module', beam: beam('nif_mod', [], [], [['on_load', [] as never]]) },
    ],
    users: [{ pid: '<0.1.0>', name: 'Elixir.Store', module: 'Elixir.Store', callback: 'Elixir.Agent.Server' }],
    noOldBinary: ['Elixir.WithCC'],
  });
  const codes = w.map((x) => `${x.module}:${x.code}`).sort();
  assert.deepEqual(codes, ['Elixir.NoCC:no-code-change', 'Elixir.Store:agent-extra', 'Elixir.Sup:supervisor-init', 'Elixir.WithCC:no-old-binary', 'nif_mod:nif']);
});

test('warnings: a module whose role changed against the running code, and a module missing from its .app modules list', () => {
  const w = planWarnings({
    modules: [
      { module: 'Elixir.WasServer', instruction: 'load_module', beam: beam('Elixir.WasServer', []) },
      { module: 'Elixir.NowServer', instruction: 'update', beam: beam('Elixir.NowServer', ['Elixir.GenServer'], [['code_change', 3]]) },
      { module: 'Elixir.Same', instruction: 'update', beam: beam('Elixir.Same', ['gen_server'], [['code_change', 3]]) },
      { module: 'listed', instruction: 'load_module', beam: beam('listed', []) },
    ],
    users: [],
    noOldBinary: [],
    loadedBehaviours: new Map([
      ['Elixir.WasServer', ['Elixir.GenServer']],
      ['Elixir.NowServer', []],
      ['Elixir.Same', ['Elixir.GenServer']],
      ['listed', []],
    ]),
    appFiles: new Map([['/b', { app: 'my_app', modules: ['listed', 'Elixir.Same', 'Elixir.NowServer'] }]]),
  });
  const codes = w.map((x) => `${x.module}:${x.code}`).sort();
  assert.deepEqual(codes, ['Elixir.NowServer:role-changed', 'Elixir.WasServer:not-in-app', 'Elixir.WasServer:role-changed']);
  assert.match(w.find((x) => x.module === 'Elixir.WasServer' && x.code === 'role-changed')!.message, /was a special process .* no code_change runs/);
  assert.match(w.find((x) => x.code === 'not-in-app')!.message, /modules list of my_app\.app/);
});

test('diff: changed iff the MD5 differs; not loaded, added and deleted apart', () => {
  const a = beam('a', []);
  const b = beam('b', []);
  const c = beam('c', []);
  const n = beam('new', []);
  const d = diffBuild(
    new Set(['a', 'b', 'c', 'gone']),
    { modules: new Map([['a', a], ['b', b], ['c', c], ['new', n]]), errors: [], shadowed: [] },
    new Map([
      ['a', { module: 'a', loaded: true, md5: 'md5-a' }],
      ['b', { module: 'b', loaded: true, md5: 'older' }],
      ['c', { module: 'c', loaded: false }],
      ['new', { module: 'new', loaded: false }],
    ]),
    ['a', 'b', 'gone'],
  );
  assert.deepEqual(d.unchanged, ['a']);
  assert.deepEqual(d.changed.map((x) => x.beam.module), ['b']);
  assert.deepEqual(d.notLoaded, ['c']);
  assert.deepEqual(d.added.map((x) => x.module), ['new']);
  assert.deepEqual(d.deleted, ['gone']);
});

test("diff: the node's application module list decides added vs not loaded, whatever the build held before", () => {
  const at = (module: string, dir: string) => ({ ...beam(module, []), file: `${dir}/${module}.beam` });
  const sack = at('Elixir.Sack', '/b/app/ebin');
  const idle = at('Elixir.Idle', '/b/app/ebin');
  const coll = at('Elixir.Collectable', '/b/app/consolidated');
  const enumr = at('Elixir.Enumerable', '/b/app/consolidated');
  const after = { modules: new Map([['Elixir.Sack', sack], ['Elixir.Idle', idle], ['Elixir.Collectable', coll], ['Elixir.Enumerable', enumr]]), errors: [], shadowed: [] };
  const loaded = new Map([['Elixir.Enumerable', { module: 'Elixir.Enumerable', loaded: true, md5: 'other' }]]);
  const known = new Map([['/b/app/ebin', new Set(['Elixir.Idle', 'Elixir.Bag'])]]);
  // A compile already wrote Sack's beam (it is in `before`): still added, since the node's app lacks it.
  const d = diffBuild(new Set(['Elixir.Sack', 'Elixir.Idle', 'Elixir.Collectable']), after, loaded, ['Elixir.Bag'], known);
  assert.deepEqual(d.added.map((x) => x.module), ['Elixir.Sack']);
  assert.deepEqual(d.notLoaded, ['Elixir.Idle']);
  assert.deepEqual(d.deleted, ['Elixir.Bag']);
  // Consolidated protocols: only those the node runs take part.
  assert.deepEqual(d.changed.map((x) => x.beam.module), ['Elixir.Enumerable']);
});
