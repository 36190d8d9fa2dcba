// appupsBetween as pure logic: hand-built builds, the project's own .appup kept where it names a module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appupsBetween } from '../../server/release/appupFrom';
import type { AppBuild } from '../../server/release/builds';
import { atom, tuple } from '../../server/beam/term';
import type { BeamOnDisk } from '../../server/upgrade/beams';

const beam = (module: string, md5: string, o: { behaviours?: string[]; imports?: string[] } = {}): BeamOnDisk => ({
  module,
  file: `/b/${module}.beam`,
  binary: Buffer.alloc(0),
  info: { module, md5, vsn: undefined, exports: [], imports: o.imports ?? [], attributes: [], behaviours: o.behaviours ?? [], compileInfo: [], chunkIds: [], dbgi: undefined },
});
const app = (vsn: string, beams: BeamOnDisk[]): Map<string, AppBuild> => new Map([['a', { app: 'a', vsn, ebin: '/b', beams: new Map(beams.map((b) => [b.module, b])) }]]);
const project = { dir: '/p', kind: 'erlc' as const, mixEnv: 'dev' };

test('supervisor and gen_server by role, callers after callees, the own .appup wins for the modules it names', async () => {
  const older = app('1', [beam('sup', 'o1', { behaviours: ['supervisor'] }), beam('srv', 'o2', { behaviours: ['gen_server'] }), beam('lib', 'o3'), beam('agent', 'o4')]);
  const newer = app('2', [
    beam('sup', 'n1', { behaviours: ['supervisor'], imports: ['srv'] }),
    beam('srv', 'n2', { behaviours: ['gen_server'], imports: ['lib', 'lists'] }),
    beam('lib', 'n3'),
    beam('agent', 'n4'),
  ]);
  const [a] = await appupsBetween({
    project,
    from: 'the build at v1',
    older,
    newer,
    own: async () => new Map([['agent', { instruction: 'update' as const, extra: tuple(atom('m'), atom('f'), []) }]]),
  });
  assert.deepEqual(a!.modules, ['agent', 'lib', 'srv', 'sup']);
  assert.match(a!.text, /\{update,agent,\{advanced,\{m,f,\[\]\}\}\}/);
  assert.match(a!.text, /\{load_module,lib\},\s*\{update,srv,\{advanced,\[\]\},\[lib\]\},\s*\{update,sup,supervisor\}/);
});

test('an application with no changed module gets no appup; one whose vsn stayed is refused with what to bump', async () => {
  const same = app('1', [beam('lib', 'x')]);
  assert.deepEqual(await appupsBetween({ project, from: 'v1', older: same, newer: same, own: async () => new Map() }), []);
  await assert.rejects(
    appupsBetween({ project, from: 'v1', older: same, newer: app('1', [beam('lib', 'y')]), own: async () => new Map() }),
    /a changed since v1 but its application vsn did not \(a 1\).*Bump the vsn in its \.app\.src/,
  );
});

test('a vsn bumped with no module changed still gets its (empty) appup: a release needs one for every application it moves', async () => {
  const [a] = await appupsBetween({ project, from: 'v1', older: app('1', [beam('lib', 'x')]), newer: app('2', [beam('lib', 'x')]), own: async () => new Map() });
  assert.deepEqual([a!.fromVsn, a!.toVsn, a!.modules], ['1', '2', []]);
  assert.match(a!.text, /\{"2",\s*\[\{"1",\s*\[\]\}\],\s*\[\{"1",\s*\[\]\}\]\}\./);
});
