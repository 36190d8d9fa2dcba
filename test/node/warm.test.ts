// The warm build VM: compiles in the project without touching the node, restarts when mix.exs
// changes, and a compile still happens when it is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBeamFile } from '../../server/beam/beamFile';
import { compileProject } from '../../server/compile/compile';
import { detectProject } from '../../server/compile/project';
import { WarmMixVm } from '../../server/compile/warmVm';
import { prepareProject } from '../helpers';

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
    vm.stop();
  }
});
