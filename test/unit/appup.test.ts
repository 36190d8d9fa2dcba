import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appModules, appupInstructions } from '../../server/upgrade/appup';
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

test("an .app file's modules list is read; an .app without one gives undefined", () => {
  const app = (props: Tuple[]) => [tuple(atom('application'), atom('erl_app'), props)];
  assert.deepEqual(appModules(app([tuple(atom('vsn'), new Charlist('1.0')), tuple(atom('modules'), [atom('a'), atom('b')])])), ['a', 'b']);
  assert.equal(appModules(app([tuple(atom('vsn'), new Charlist('1.0'))])), undefined);
  assert.equal(appModules([atom('garbage')]), undefined);
});
