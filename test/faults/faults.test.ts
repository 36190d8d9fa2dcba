// Fault injection: each case runs an upgrade with one fault and then asks the node itself:
// nobody is left suspended, everyone alive before is alive (unless the fault killed it on
// purpose), states are the snapshot (rolled back) or the transformed ones (upgraded), and each
// module's code is exactly the old or exactly the new version, as the report says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, cpSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { UpgradeReport } from '../../server/protocol';
import { NodeGateway } from '../../server/runtime/gateway';
import { UpgradeEngine } from '../../server/upgrade/engine';
import { cli, loadedMd5, onNode, run, startNode, startUpgrade, stateOf, suspendedInSampleApp, TestNode, writeSource, withTestNode } from '../helpers';
import { COUNTER, COUNTER_V2 } from '../node/sources';

const EBIN = (n: TestNode) => join(n.dir, '_build', 'dev', 'lib', 'sample_app', 'ebin');

const withNode = (fn: (node: TestNode) => Promise<void>) => withTestNode('fault', fn);

/** What every case asserts on the node afterwards. */
async function intact(node: TestNode, expect: { md5: string; state?: string | RegExp; alive?: string[] }): Promise<void> {
  assert.equal(await suspendedInSampleApp(node), '[]', 'no process is left suspended');
  for (const name of expect.alive ?? ['Elixir.SampleApp.Counter', 'Elixir.SampleApp.Machine', 'Elixir.SampleApp.Parent', 'Elixir.SampleApp.Hidden', 'Elixir.SampleApp.Store']) {
    assert.notEqual(await onNode(node, `io_lib:format("~p", [whereis('${name}')])`), 'undefined', `${name} is alive`);
  }
  assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), expect.md5, 'the code is exactly the version the report says');
  if (expect.state instanceof RegExp) assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), expect.state);
  else if (expect.state !== undefined) assert.equal(await stateOf(node, 'Elixir.SampleApp.Counter'), expect.state);
}

async function upgradeJson(node: TestNode, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ code: number; report?: UpgradeReport; stderr: string }> {
  const r = await cli(['upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json', ...args], env);
  let report: UpgradeReport | undefined;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    report = undefined;
  }
  return { code: r.code, report, stderr: r.stderr };
}

const counterWith = (codeChange: string) =>
  COUNTER_V2.replace(/  def code_change\(old_vsn[\s\S]*?from_vsn: old_vsn\}\}\n/, `  def code_change(old_vsn, state, _extra) do\n${codeChange}\n  end\n`);

for (const [fault, body, extra] of [
  ['returns {:error, _}', '    _ = {old_vsn, state}\n    {:error, :refused}', []],
  ['raises', '    raise "boom #{inspect({old_vsn, state})}"', []],
  ['exits', '    _ = {old_vsn, state}\n    exit(:boom)', []],
  ['sleeps past the code_change timeout', '    Process.sleep(2000)\n    {:ok, Map.put(state, :slept, old_vsn)}', ['--code-change-timeout', '300']],
  ['raises in --parallel mode', '    raise "boom #{inspect({old_vsn, state})}"', ['--parallel']],
] as Array<[string, string, string[]]>) {
  test(`code_change ${fault}: exit 1, rolled back to the old code and the saved state, nobody suspended`, () =>
    withNode(async (node) => {
      await onNode(node, `'Elixir.SampleApp.Counter':increment(), ok`);
      const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
      const state = await stateOf(node, 'Elixir.SampleApp.Counter');
      writeSource(node.dir, COUNTER, counterWith(body));
      const { code, report } = await upgradeJson(node, extra);
      assert.equal(code, 1);
      assert.equal(report?.ok, false);
      assert.equal(report?.rolledBack, true);
      assert.equal(report?.processes.find((p) => p.name === 'Elixir.SampleApp.Counter')?.codeChange, 'error');
      // A code_change still sleeping finishes on its own; the restore is queued behind it.
      if (fault.startsWith('sleeps')) await new Promise((r) => setTimeout(r, 2500));
      await intact(node, { md5, state });
      assert.equal(await onNode(node, `integer_to_list('Elixir.SampleApp.Counter':increment())`), '2');
    }));
}

test('the process dies while suspended: the others are upgraded, its supervisor restarts it on the new code', () =>
  withNode(async (node) => {
    writeSource(node.dir, COUNTER, COUNTER_V2);
    // Long enough for a slow machine to see the suspension and kill the process inside it.
    const up = startUpgrade(node, { BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS: '6000' });
    for (let i = 0; i < 100 && (await suspendedInSampleApp(node)) === '[]'; i++) await new Promise((r) => setTimeout(r, 50));
    const old = await onNode(node, `P = whereis('Elixir.SampleApp.Counter'), exit(P, kill), pid_to_list(P)`);
    assert.equal(await up.exited, 0, up.out());
    const report = JSON.parse(up.out()) as UpgradeReport;
    const p = report.processes.find((x) => x.pid === old);
    assert.equal(p?.codeChange, 'not_called');
    assert.match(p?.reason ?? '', /exited while suspended/);
    const md5 = report.modules.find((m) => m.module === 'Elixir.SampleApp.Counter')!.newMd5!;
    // Restarted before the load, it began with a fresh state; it runs the new code now.
    await intact(node, { md5, state: /count => 0/ });
    assert.notEqual(await onNode(node, `pid_to_list(whereis('Elixir.SampleApp.Counter'))`), old);
  }));

async function pauseAndDo(node: TestNode, during: () => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  // The faults injected end the pause early; the length is only room for a slow machine.
  const up = startUpgrade(node, { BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS: '10000' });
  let sus = '[]';
  for (let i = 0; i < 100 && sus === '[]'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    sus = await suspendedInSampleApp(node);
  }
  assert.notEqual(sus, '[]', 'the upgrade suspended someone');
  await during();
  return { code: await up.exited, out: up.out(), err: up.err() };
}

test("the node drops the bridge's distribution connection mid-upgrade: everything is resumed, the code stays old", () =>
  withNode(async (node) => {
    const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    const state = await stateOf(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const r = await pauseAndDo(node, async () => {
      await onNode(node, `[erlang:disconnect_node(N) || N <- nodes(hidden), lists:prefix("beam_live_", atom_to_list(N))], ok`);
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /Lost the connection to .* during the upgrade|bridge .* exited|went down/);
    for (let i = 0; i < 40 && (await suspendedInSampleApp(node)) !== '[]'; i++) await new Promise((res) => setTimeout(res, 100));
    await intact(node, { md5, state });
  }));

test('the node is killed mid-upgrade: the CLI says so, and the next attach to the restarted node is clean', async () => {
  const node = await startNode({ name: 'killed' });
  try {
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const r = await pauseAndDo(node, async () => {
      node.proc.kill('SIGKILL');
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /Lost the connection|exited|went down|not running/);
  } finally {
    await node.stop();
  }
  // Same project, same name: a clean attach, and an upgrade that works.
  const again = await startNode({ name: 'killed2', dir: node.dir });
  try {
    const st = await cli(['status', '--node', again.name, '--cookie-file', again.cookieFile, '--json']);
    assert.equal(st.code, 0, st.stderr);
    writeSource(again.dir, COUNTER, COUNTER_V2.replace('label: "upgraded"', 'label: "again"'));
    const up = await upgradeJson(again);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await suspendedInSampleApp(again), '[]');
  } finally {
    await again.stop();
  }
});

test('two upgrades race (a save while one runs): they are serialised and the last saved code wins', () =>
  withNode(async (node) => {
    const s = await NodeGateway.attach({ node: node.name, cookieFile: node.cookieFile });
    const engine = new UpgradeEngine(s, node.dir, { warm: true });
    try {
      await engine.keepOldBinaries();
      writeSource(node.dir, COUNTER, COUNTER_V2.replace('label: "upgraded"', 'label: "first"'));
      const first = engine.upgrade();
      await new Promise((r) => setTimeout(r, 30));
      writeSource(node.dir, COUNTER, COUNTER_V2.replace('@vsn "2"', '@vsn "3"').replace('label: "upgraded"', 'label: "second"'));
      const second = engine.upgrade();
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.ok && b.ok, true, `${a.summary} / ${b.summary}`);
      const disk = readFileSync(join(EBIN(node), 'Elixir.SampleApp.Counter.beam'));
      const { readBeam } = await import('../../server/beam/beamFile');
      assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), readBeam(disk).md5, 'the node runs what was saved last');
      assert.equal(await onNode(node, `io_lib:format("~p", [proplists:get_value(vsn, 'Elixir.SampleApp.Counter':module_info(attributes))])`), '[<<"3">>]');
      assert.equal(await suspendedInSampleApp(node), '[]');
    } finally {
      engine.dispose();
      s.close();
    }
  }));

test('an unwritable _build during compile: a clear error, nothing pushed', () =>
  withNode(async (node) => {
    const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    // As root permissions do not stop a write; a file where the ebin folder should be does.
    const ebin = EBIN(node);
    rmSync(ebin, { recursive: true, force: true });
    writeFileSync(ebin, 'not a folder');
    chmodSync(ebin, 0o444);
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const { code, report, stderr } = await upgradeJson(node);
    assert.equal(code, 2, stderr);
    assert.ok(!report || report.ok === false);
    assert.match(`${report?.error ?? ''}${stderr}`, /compile failed: .*ebin.*The build folder cannot be written/i);
    await intact(node, { md5 });
  }));

/** Mounts a tmpfs holding a copy of the folder over it; undefined where mounting is not allowed. */
async function smallDiskOver(dir: string): Promise<{ fill: () => void; free: () => void; unmount: () => Promise<void> } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const aside = `${dir}.aside`;
  renameSync(dir, aside);
  mkdirSync(dir);
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'beam-live-test', dir]);
  if (mounted.code !== 0) {
    rmSync(dir, { recursive: true });
    renameSync(aside, dir);
    return undefined;
  }
  cpSync(aside, dir, { recursive: true });
  const filler = join(dir, 'filler');
  return {
    fill: () => {
      const fd = openSync(filler, 'w');
      try {
        for (const size of [1 << 20, 4096, 1]) {
          for (;;) writeSync(fd, Buffer.alloc(size));
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        // The loop above ends at the first size that no longer fits; fill with the smaller ones.
        for (const size of [4096, 1]) {
          try {
            for (;;) writeSync(fd, Buffer.alloc(size));
          } catch {
            // full at this size
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount: async () => {
      await run('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
      renameSync(aside, dir);
    },
  };
}

test('a full disk during compile: a clear error, nothing pushed; with space again the next save upgrades', async (t) => {
  const node = await startNode({ name: 'full' });
  const disk = await smallDiskOver(join(node.dir, '_build'));
  try {
    if (!disk) return t.skip('mounting a small tmpfs needs root');
    const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    disk.fill();
    // Rewriting a beam of the same size reuses its pages even on a full disk: this one grows.
    const blob = randomBytes(48 * 1024).toString('hex');
    writeSource(node.dir, COUNTER, COUNTER_V2.replace(/\nend\s*$/, `\n  def blob, do: "${blob}"\nend\n`));
    const { code, report, stderr } = await upgradeJson(node);
    assert.equal(code, 2, JSON.stringify(report) + stderr);
    assert.equal(report?.ok, false);
    assert.match(report?.error ?? '', /compile failed: .*no space left on device.*The disk is full: free some space and save again/i);
    await intact(node, { md5 });
    disk.free();
    const again = await upgradeJson(node);
    assert.equal(again.code, 0, again.report?.error ?? again.stderr);
    assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /label => <<"upgraded">>/);
  } finally {
    await node.stop();
    await disk?.unmount();
  }
});

test('a truncated or corrupt .beam in the build: nothing is pushed and the error names the file', () =>
  withNode(async (node) => {
    const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2);
    // A module the compile does not rewrite, cut in half.
    const victim = join(EBIN(node), 'Elixir.SampleApp.Store.beam');
    const bytes = readFileSync(victim);
    writeFileSync(victim, bytes.subarray(0, bytes.length >> 1));
    const { code, report } = await upgradeJson(node);
    assert.equal(code, 2);
    assert.match(report?.error ?? '', /Elixir\.SampleApp\.Store\.beam \(truncated BEAM file.*nothing was pushed/);
    await intact(node, { md5 });
  }));

test("a module whose NIF fails to load: the load fails, the old code stays, the report says why", () =>
  withNode(async (node) => {
    const rel = 'lib/sample_app/native.ex';
    writeSource(node.dir, rel, 'defmodule SampleApp.Native do\n  @on_load :load_nif\n  def load_nif, do: :ok\n  def hello, do: :old\nend\n');
    const first = await upgradeJson(node);
    assert.equal(first.code, 0, JSON.stringify(first.report));
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Native':hello())`), 'old');
    const oldMd5 = await loadedMd5(node, 'Elixir.SampleApp.Native');
    writeSource(node.dir, rel, 'defmodule SampleApp.Native do\n  @on_load :load_nif\n  def load_nif, do: :erlang.load_nif(~c"/nonexistent/native", 0)\n  def hello, do: :new\nend\n');
    const { code, report } = await upgradeJson(node);
    assert.equal(code, 1);
    assert.match(report?.error ?? '', /loading 'Elixir\.SampleApp\.Native' failed: .*on_load/);
    assert.ok(report?.warnings.some((w) => w.code === 'nif'));
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Native'), oldMd5);
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Native':hello())`), 'old');
    assert.equal(await suspendedInSampleApp(node), '[]');
  }));
