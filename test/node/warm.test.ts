// The warm build VM: compiles in the project without touching the node, restarts when mix.exs
// changes, and a compile still happens when it is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBeamFile } from '../../server/beam/beamFile';
import { compileProject } from '../../server/compile/compile';
import { detectProject } from '../../server/compile/project';
import { WarmMixVm } from '../../server/compile/warmVm';
import { loopbackEnv, prepareProject, run } from '../helpers';

test('the warm build VM compiles edits, restarts when mix.exs changes, and a compile still happens after it was killed', async () => {
  const dir = await prepareProject();
  const p = detectProject(dir);
  const vm = new WarmMixVm(p);
  const worker = join(dir, 'lib', 'sample_app', 'worker.ex');
  const beam = join(dir, '_build', 'dev', 'lib', 'sample_app', 'ebin', 'Elixir.SampleApp.Worker.beam');
  try {
    await vm.start();
    const firstPid = vm.pid;
    assert.ok(firstPid);
    const md5 = () => readBeamFile(beam).md5;
    const edit = (n: number) => writeFileSync(worker, readFileSync(worker, 'utf8').replace(/jobs: \d+/, `jobs: ${n}`));

    const m0 = md5();
    edit(1);
    const r1 = await compileProject(p, { warm: vm });
    assert.equal(r1.ok, true);
    assert.notEqual(md5(), m0);
    assert.equal(vm.pid, firstPid, 'the same VM compiled it');

    // A changed mix.exs: the VM restarts before compiling.
    const mixExs = join(dir, 'mix.exs');
    utimesSync(mixExs, new Date(), new Date(Date.now() + 2000));
    const m1 = md5();
    edit(2);
    assert.equal((await compileProject(p, { warm: vm })).ok, true);
    assert.notEqual(md5(), m1);
    assert.notEqual(vm.pid, firstPid, 'a new VM after mix.exs changed');

    // The VM killed: this compile falls back to a fresh mix, the next one starts a VM again.
    process.kill(vm.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const m2 = md5();
    edit(3);
    const r3 = await compileProject(p, { warm: vm });
    assert.equal(r3.ok, true);
    assert.notEqual(md5(), m2);
  } finally {
    await vm.stop();
  }
});

test('a saved module that nothing needs at compile time is compiled alone, and mix records it after: its own compile then has nothing to do', async () => {
  const dir = await prepareProject();
  const p = detectProject(dir);
  const vm = new WarmMixVm(p);
  const lib = join(dir, 'lib', 'sample_app');
  const ebin = join(dir, '_build', 'dev', 'lib', 'sample_app', 'ebin');
  const worker = join(lib, 'worker.ex');
  const md5 = (m: string) => readBeamFile(join(ebin, `Elixir.SampleApp.${m}.beam`)).md5;
  const original = readFileSync(worker, 'utf8');
  const edit = (n: number) => writeFileSync(worker, original.replace(/jobs: \d+/, `jobs: ${n}`));
  /** What mix itself does next, in a fresh process: it must find nothing stale. */
  const mixCompiles = async () => {
    const r = await run('mix', ['compile'], { cwd: dir, env: loopbackEnv({ MIX_ENV: 'dev' }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return /Compiling/.test(r.stdout + r.stderr);
  };
  // As in a project worked on for a while: its sources older than its build (a source written
  // in the same second as its build is taken for stale, and mix compiles).
  const past = new Date(Date.now() - 60_000);
  for (const f of ['lib/sample_app', 'src'].flatMap((d) => readdirSync(join(dir, d)).map((x) => join(dir, d, x)))) utimesSync(f, past, past);
  try {
    await vm.start();
    const m0 = md5('Worker');

    edit(1);
    const r1 = await compileProject(p, { warm: vm });
    assert.equal(r1.tool, 'elixir (warm)');
    assert.equal(r1.ok, true);
    const m1 = md5('Worker');
    assert.notEqual(m1, m0);
    await vm.settle();
    assert.equal(await mixCompiles(), false, 'mix recorded the compile: nothing is stale to it');
    assert.equal(md5('Worker'), m1, "mix's own build of the file is the same beam");

    // Changed back to what mix's manifest has, before mix recorded the edit: mix would not look
    // at it, yet its beam is the edit's. Both orders end with the beam of the source.
    edit(2);
    assert.equal((await compileProject(p, { warm: vm })).tool, 'elixir (warm)');
    edit(1);
    assert.equal((await compileProject(p, { warm: vm })).tool, 'elixir (warm)');
    assert.equal(md5('Worker'), m1);
    edit(3);
    await compileProject(p, { warm: vm });
    edit(1);
    await vm.settle();
    assert.equal(md5('Worker'), m1, 'settle built it again from the source');
    assert.equal(await mixCompiles(), false);

    // A module another one needs at compile time (a macro): mix compiles, the user again.
    writeFileSync(join(lib, 'limits.ex'), 'defmodule SampleApp.Limits do\n  defmacro max_jobs, do: 10\nend\n');
    writeFileSync(worker, original.replace('use GenServer', 'use GenServer\n  require SampleApp.Limits\n  def max_jobs, do: SampleApp.Limits.max_jobs()'));
    assert.equal((await compileProject(p, { warm: vm })).tool, 'mix (warm)', 'a new file is mix\'s');
    const before = md5('Worker');
    writeFileSync(join(lib, 'limits.ex'), 'defmodule SampleApp.Limits do\n  defmacro max_jobs, do: 20\nend\n');
    assert.equal((await compileProject(p, { warm: vm })).tool, 'mix (warm)');
    assert.notEqual(md5('Worker'), before, 'the module that uses the macro was compiled again');

    // A module added to a saved file changes the .app: mix compiles, and the .app lists it.
    writeFileSync(worker, `${readFileSync(worker, 'utf8')}\ndefmodule SampleApp.Extra do\nend\n`);
    const r5 = await compileProject(p, { warm: vm });
    assert.equal(r5.tool, 'mix (warm)');
    assert.match(readFileSync(join(ebin, 'sample_app.app'), 'utf8'), /'Elixir.SampleApp.Extra'/);
    await vm.settle();
    assert.equal(await mixCompiles(), false);
  } finally {
    await vm.stop();
  }
});
