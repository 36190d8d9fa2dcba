// Compiling the way each project's own tools do, and the edge mix's whole-second mtimes hide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBeamFile } from '../../server/beam/beamFile';
import { compileProject } from '../../server/compile/compile';
import { detectProject } from '../../server/compile/project';
import { FIXTURES, prepareProject, tmp } from '../helpers';

test('an edit saved in the same second as the last mix compile is still compiled (Elixir and Erlang sources)', async () => {
  const dir = await prepareProject();
  const p = detectProject(dir);
  await compileProject(p);
  const ebin = join(dir, '_build', 'dev', 'lib', 'sample_app', 'ebin');
  const before = [readBeamFile(join(ebin, 'Elixir.SampleApp.Worker.beam')).md5, readBeamFile(join(ebin, 'sample_erl_server.beam')).md5];
  // Same size, new content, at once.
  for (const [f, a, b] of [
    ['lib/sample_app/worker.ex', 'jobs: 0', 'jobs: 9'],
    ['src/sample_erl_server.erl', 'count = 0', 'count = 9'],
  ]) writeFileSync(join(dir, f!), readFileSync(join(dir, f!), 'utf8').replace(a!, b!));
  const r = await compileProject(p);
  assert.equal(r.ok, true);
  const after = [readBeamFile(join(ebin, 'Elixir.SampleApp.Worker.beam')).md5, readBeamFile(join(ebin, 'sample_erl_server.beam')).md5];
  assert.notEqual(after[0], before[0], 'the Elixir module was recompiled');
  assert.notEqual(after[1], before[1], 'the Erlang module was recompiled');
});

test('a plain Erlang project compiles with erlc into ebin/, and its errors come back as file, line and message', async () => {
  const dir = join(tmp('erl'), 'erl_app');
  cpSync(join(FIXTURES, 'erl_app'), dir, { recursive: true });
  const p = detectProject(dir);
  assert.equal(p.kind, 'erlc');
  const ok = await compileProject(p);
  assert.equal(ok.ok, true, JSON.stringify(ok.diagnostics));
  assert.deepEqual(ok.beamDirs, [join(dir, 'ebin')]);
  assert.equal(readBeamFile(join(dir, 'ebin', 'erl_app_server.beam')).module, 'erl_app_server');
  const src = join(dir, 'src', 'erl_app_server.erl');
  writeFileSync(src, readFileSync(src, 'utf8').replace('init([]) -> {ok, #{n => 0}}.', 'init([]) -> {ok, no_such_function()}.'));
  const bad = await compileProject(p);
  assert.equal(bad.ok, false);
  const err = bad.diagnostics.find((d) => d.severity === 'error');
  assert.equal(err?.file, 'src/erl_app_server.erl');
  assert.equal(err?.line, 8);
  assert.match(err?.message ?? '', /function no_such_function\/0 undefined/);
});
