// The transactional core on the shapes that broke it: many processes per module, code_changes
// that call a process of another changed module, a failure in the middle, the runner killed at
// each stage, a rollback after the state moved on, and a load that kills a supervised child.
// Every case asks the node itself afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GeneratedAppup, RollbackReport, UpgradePlan, UpgradeReport } from '../../server/protocol';
import { NodeGateway } from '../../server/runtime/gateway';
import { rollbackLast } from '../../server/upgrade/rollback';
import { cli, loadedMd5, onNode, startUpgrade, TestNode, until, withSampleVariant, writeSource } from '../helpers';
import { ACCEPTOR, acceptorSource, TALLY, TALLY_WORKER, TALLY_WORKERS, tallySource, tallyWorkerSource, withTally } from '../node/sources';

const T = 'Elixir.SampleApp.Tally';
const W = 'Elixir.SampleApp.TallyWorker';

const withTallyNode = (fn: (node: TestNode) => Promise<void>) =>
  withSampleVariant('txn', { [TALLY]: tallySource('1'), [TALLY_WORKER]: tallyWorkerSource('1'), [ACCEPTOR]: acceptorSource(1) }, withTally, fn);

const nodeArgs = (node: TestNode) => ['--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir];

async function json<R>(node: TestNode, cmd: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ code: number; r: R; stderr: string }> {
  const res = await cli([cmd, ...(cmd === 'rollback' ? nodeArgs(node).slice(0, 4) : nodeArgs(node)), '--json', ...args], env);
  try {
    return { code: res.code, r: JSON.parse(res.stdout) as R, stderr: res.stderr };
  } catch {
    throw new Error(`${cmd}: no JSON (exit ${res.code}): ${res.stdout}\n${res.stderr}`);
  }
}

/** Tally's state and every worker's, and who among them is suspended, from the node. */
async function tallyFacts(node: TestNode): Promise<{ tally: string; workers: string; suspended: string }> {
  const out = await onNode(
    node,
    `Ws = [P || {_, P, _, _} <- supervisor:which_children('Elixir.SampleApp.TallySup')],
     All = [whereis('${T}') | Ws],
     Sus = [P || P <- All, (catch lists:nth(2, element(4, sys:get_status(P, 2000)))) =/= running],
     io_lib:format("~0p|~0p|~0p", [sys:get_state('${T}', 2000), lists:sort([maps:get(seen, sys:get_state(P, 2000)) || P <- Ws]), Sus])`,
  );
  const [tally, workers, suspended] = out.split('|') as [string, string, string];
  return { tally, workers, suspended };
}

const seen = (v: string) => `[${Array(TALLY_WORKERS).fill(v).join(',')}]`;

test('a code_change that calls a process of a module upgraded in an earlier block: 20 workers see Tally, as in a real release', () =>
  withTallyNode(async (node) => {
    await onNode(node, `[ '${T}':bump() || _ <- lists:seq(1, 7)], ok`);
    writeSource(node.dir, TALLY, tallySource('2', '  @impl true\n  def code_change(_old, n, _extra), do: {:ok, n}\n'));
    writeSource(node.dir, TALLY_WORKER, tallyWorkerSource('2', '  @impl true\n  def code_change(_old, s, _extra), do: {:ok, %{s | seen: SampleApp.Tally.get()}}\n'));
    const plan = await json<UpgradePlan>(node, 'plan');
    assert.deepEqual(plan.r.blocks, [[T], [W]], 'one block per module, in the appup order');
    const { code, r } = await json<UpgradeReport>(node, 'upgrade');
    assert.equal(code, 0, r.summary);
    assert.equal(r.processes.filter((p) => p.module === W && p.codeChange === 'ok').length, TALLY_WORKERS);
    const facts = await tallyFacts(node);
    assert.equal(facts.workers, seen('7'), 'each worker saw Tally count 7');
    assert.equal(facts.suspended, '[]');
  }));

test('20 workers whose code_change hangs past the timeout: one code_change attempted, everything back on the old code and states, nobody suspended', () =>
  withTallyNode(async (node) => {
    await onNode(node, `'${T}':bump(), ok`);
    const md5 = { t: await loadedMd5(node, T), w: await loadedMd5(node, W) };
    writeSource(node.dir, TALLY, tallySource('2', '  @impl true\n  def code_change(_old, n, _extra), do: {:ok, n * 10}\n'));
    writeSource(node.dir, TALLY_WORKER, tallyWorkerSource('2', '  @impl true\n  def code_change(_old, s, _extra) do\n    Process.sleep(4000)\n    {:ok, %{s | seen: :late}}\n  end\n'));
    const { code, r } = await json<UpgradeReport>(node, 'upgrade', ['--code-change-timeout', '1000']);
    assert.equal(code, 1, r.summary);
    assert.equal(r.rolledBack, true);
    const workers = r.processes.filter((p) => p.module === W);
    assert.equal(workers.filter((p) => p.codeChange === 'error').length, 1, 'the first failing worker stops the upgrade');
    assert.equal(workers.filter((p) => p.codeChange === 'not_called').length, TALLY_WORKERS - 1);
    assert.match(r.error ?? '', /did not finish within the block's code_change timeout/);
    assert.equal(r.undo?.blocks, 2, 'both blocks undone, in reverse order');
    // The late code_change finishes by itself; its restore and resume were queued behind it.
    const facts = await until('the late code_change to end and its restore to run', async () => {
      const f = await tallyFacts(node);
      return f.suspended === '[]' && f;
    });
    assert.equal(facts.tally, '1', "Tally's state is back from the snapshot");
    assert.equal(facts.workers, seen('nil'));
    assert.equal(await loadedMd5(node, T), md5.t);
    assert.equal(await loadedMd5(node, W), md5.w);
  }));

/** Starts `beam-live upgrade` with a pause hook, waits for the runner to pause there, kills it. */
async function killRunnerAt(node: TestNode, hook: string): Promise<{ code: number | null; report: UpgradeReport }> {
  const up = startUpgrade(node, { [hook]: '60000' });
  await until('the runner to pause at its hook', async () =>
    (await onNode(node, `case whereis(beam_live_runner) of undefined -> "none"; R -> io_lib:format("~p", [element(2, process_info(R, current_function))]) end`)) ===
      '{beam_live_upgrade,pause,2}',
  );
  await onNode(node, `exit(whereis(beam_live_runner), kill), ok`);
  const code = await up.exited;
  try {
    return { code, report: JSON.parse(up.out()) as UpgradeReport };
  } catch {
    throw new Error(`no JSON (exit ${code}): ${up.out()}\n${up.err()}`);
  }
}

for (const [stage, hook, exit] of [
  ['after the suspends', 'BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS', 2],
  ['after the load', 'BEAM_LIVE_TEST_PAUSE_AFTER_LOAD_MS', 1],
  ['in the middle of the code_changes', 'BEAM_LIVE_TEST_PAUSE_MID_CODE_CHANGE_MS', 1],
] as Array<[string, string, number]>) {
  test(`the runner killed ${stage}: the watchdog undoes what it finds, the report and the exit status say so`, () =>
    withTallyNode(async (node) => {
      await onNode(node, `[ '${T}':bump() || _ <- lists:seq(1, 3)], ok`);
      const md5 = { t: await loadedMd5(node, T), w: await loadedMd5(node, W) };
      writeSource(node.dir, TALLY, tallySource('2', '  @impl true\n  def code_change(_old, n, _extra), do: {:ok, n * 10}\n'));
      writeSource(node.dir, TALLY_WORKER, tallyWorkerSource('2', '  @impl true\n  def code_change(_old, s, _extra), do: {:ok, %{s | seen: :changed}}\n'));
      const { code, report } = await killRunnerAt(node, hook);
      assert.equal(code, exit, report.error ?? '');
      assert.equal(report.ok, false);
      assert.equal(report.pushed, exit === 1, 'pushed iff a load happened');
      assert.equal(report.rolledBack, exit === 1);
      assert.match(report.error ?? '', /the upgrade runner died \(killed\)/);
      const facts = await tallyFacts(node);
      assert.equal(facts.suspended, '[]', 'nobody is left suspended');
      assert.equal(facts.tally, '3');
      assert.equal(facts.workers, seen('nil'));
      assert.equal(await loadedMd5(node, T), md5.t, 'Tally runs exactly its old code');
      assert.equal(await loadedMd5(node, W), md5.w, 'the workers run exactly their old code');
    }));
}

test('rollback is a downgrade: a {:down, _} clause that keeps the state keeps what the process did after the upgrade', () =>
  withTallyNode(async (node) => {
    await onNode(node, `[ '${T}':bump() || _ <- lists:seq(1, 3)], ok`);
    const md5 = await loadedMd5(node, T);
    writeSource(node.dir, TALLY, tallySource('2', '  @impl true\n  def code_change({:down, _}, n, _extra), do: {:ok, n}\n  def code_change("1", n, _extra), do: {:ok, n * 10}\n'));
    assert.equal((await json<UpgradeReport>(node, 'upgrade')).code, 0);
    assert.equal(await onNode(node, `io_lib:format("~p", [sys:get_state('${T}')])`), '30');
    await onNode(node, `[ '${T}':bump() || _ <- lists:seq(1, 5)], ok`);
    const { code, r } = await json<RollbackReport>(node, 'rollback');
    assert.equal(code, 0, r.summary);
    assert.equal(r.processes.find((p) => p.module === T)?.how, 'code_change_down');
    assert.equal(await onNode(node, `io_lib:format("~p", [sys:get_state('${T}')])`), '35', 'the five bumps since the upgrade survive');
    assert.equal(await loadedMd5(node, T), md5);
  }));

test('rollback with no down clause for a state the upgrade changed refuses and changes nothing; --restore-snapshot restores', () =>
  withTallyNode(async (node) => {
    await onNode(node, `[ '${T}':bump() || _ <- lists:seq(1, 3)], ok`);
    const old = { t: await loadedMd5(node, T), w: await loadedMd5(node, W) };
    writeSource(node.dir, TALLY, tallySource('2', '  @impl true\n  def code_change("1", n, _extra), do: {:ok, n * 10}\n'));
    // The workers' code_change leaves the state as it was: without a down clause it is kept.
    writeSource(node.dir, TALLY_WORKER, tallyWorkerSource('2', '  @impl true\n  def code_change("1", s, _extra), do: {:ok, s}\n'));
    const up = await json<UpgradeReport>(node, 'upgrade');
    assert.equal(up.code, 0, up.r.summary);
    const newMd5 = await loadedMd5(node, T);
    await onNode(node, `'${T}':bump(), ok`);
    const refused = await json<RollbackReport>(node, 'rollback');
    assert.equal(refused.code, 1);
    assert.deepEqual(refused.r.refused.map((p) => p.module), [T]);
    assert.equal(typeof refused.r.snapshotAgeMs, 'number');
    assert.match(refused.r.summary, /Rollback refused, nothing changed/);
    assert.equal(await loadedMd5(node, T), newMd5, 'nothing changed');
    assert.equal(await onNode(node, `io_lib:format("~p", [sys:get_state('${T}')])`), '31');
    assert.equal((await tallyFacts(node)).suspended, '[]');
    const restored = await json<RollbackReport>(node, 'rollback', ['--restore-snapshot']);
    assert.equal(restored.code, 0, restored.r.summary);
    assert.equal(restored.r.processes.find((p) => p.module === T)?.how, 'snapshot');
    assert.equal(restored.r.processes.find((p) => p.module === W)?.how, 'kept');
    assert.equal(await onNode(node, `io_lib:format("~p", [sys:get_state('${T}')])`), '3', 'the snapshot taken at the upgrade');
    assert.equal(await loadedMd5(node, T), old.t);
    assert.equal(await loadedMd5(node, W), old.w);
  }));

test('a supervised child killed by the load (it ran old code) is named by plan, and comes back on the new code', () =>
  withTallyNode(async (node) => {
    const ask = `P = whereis(sample_acceptor), P ! {version, self()}, receive {version, V} -> io_lib:format("~p ~p", [V, erlang:check_process_code(P, 'Elixir.SampleApp.Acceptor')]) after 2000 -> "timeout" end`;
    const first = await onNode(node, `pid_to_list(whereis(sample_acceptor))`);
    writeSource(node.dir, ACCEPTOR, acceptorSource(2));
    assert.equal((await json<UpgradeReport>(node, 'upgrade')).code, 0);
    // It loops with local calls: it still runs version 1, now old code.
    assert.equal(await onNode(node, ask), '1 true');
    writeSource(node.dir, ACCEPTOR, acceptorSource(3));
    const plan = await json<UpgradePlan>(node, 'plan');
    assert.deepEqual(plan.r.kills.map((k) => [k.pid, k.restart]), [[first, 'permanent']]);
    const { code, r } = await json<UpgradeReport>(node, 'upgrade');
    assert.equal(code, 0, r.summary);
    const killed = r.killed.find((k) => k.pid === first);
    assert.equal(killed?.restart, 'permanent');
    const now = await onNode(node, `pid_to_list(whereis(sample_acceptor))`);
    assert.notEqual(now, first);
    assert.equal(killed?.restarted, now);
    assert.match(r.summary, /; killed 1 \(sample_acceptor, permanent: restarted as <[\d.]+> on the new code\)$/);
    assert.equal(await onNode(node, ask), '3 false', 'the restarted acceptor runs the new code');
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Acceptor'), r.modules.find((m) => m.module === 'Elixir.SampleApp.Acceptor')?.newMd5);
  }));

test('a renamed module: plan, appup and upgrade give the same answer whether or not a compile ran before', () =>
  withTallyNode(async (node) => {
    const BAG = 'lib/sample_app/bag.ex';
    writeSource(node.dir, BAG, 'defmodule SampleApp.Bag do\n  def hello, do: :bag\nend\n');
    assert.equal((await json<UpgradeReport>(node, 'upgrade')).code, 0);
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Bag':hello())`), 'bag');
    writeSource(node.dir, BAG, 'defmodule SampleApp.Sack do\n  def hello, do: :sack\nend\n');
    const shape = (mods: Array<{ module: string; instruction: string }>) =>
      mods.filter((m) => /Bag|Sack/.test(m.module)).map((m) => `${m.instruction} ${m.module}`).sort();
    const want = ['add_module Elixir.SampleApp.Sack', 'delete_module Elixir.SampleApp.Bag'];
    const appupText = async () => (await json<GeneratedAppup[]>(node, 'appup')).r.map((a) => a.text).join('\n');
    assert.deepEqual(shape((await json<UpgradePlan>(node, 'plan')).r.modules), want, 'plan, first');
    assert.match(await appupText(), /\{add_module,'Elixir\.SampleApp\.Sack'\}[\s\S]*\{delete_module,'Elixir\.SampleApp\.Bag'\}|\{delete_module,'Elixir\.SampleApp\.Bag'\}[\s\S]*\{add_module,'Elixir\.SampleApp\.Sack'\}/, 'appup after a plan');
    assert.deepEqual(shape((await json<UpgradePlan>(node, 'plan')).r.modules), want, 'plan after an appup');
    const up = await json<UpgradeReport>(node, 'upgrade');
    assert.equal(up.code, 0, up.r.summary);
    assert.deepEqual(shape(up.r.modules), want, 'upgrade after both');
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Sack':hello())`), 'sack');
    assert.equal(await onNode(node, `atom_to_list(code:is_loaded('Elixir.SampleApp.Bag'))`), 'false');
  }));

test('a rollback that would kill processes still in old code changes nothing until confirmed, and names them', () =>
  withTallyNode(async (node) => {
    writeSource(node.dir, ACCEPTOR, acceptorSource(2));
    assert.equal((await json<UpgradeReport>(node, 'upgrade')).code, 0);
    const md5 = await loadedMd5(node, 'Elixir.SampleApp.Acceptor');
    const acceptor = await onNode(node, `pid_to_list(whereis(sample_acceptor))`);
    const s = await NodeGateway.attach({ node: node.name, cookieFile: node.cookieFile });
    try {
      // The acceptor loops in the old code, which loading the old binary back purges.
      const asked = await rollbackLast(s, { confirmKills: false });
      assert.equal(asked.ok, false);
      assert.equal(asked.needsConfirmation, true);
      assert.deepEqual(asked.kills?.map((k) => [k.pid, k.restart]), [[acceptor, 'permanent']]);
      assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Acceptor'), md5, 'nothing changed');
      assert.equal(await onNode(node, `pid_to_list(whereis(sample_acceptor))`), acceptor);
      const done = await rollbackLast(s, { confirmKills: true });
      assert.equal(done.ok, true, done.summary);
      assert.deepEqual(done.killed.map((k) => k.pid), [acceptor]);
      assert.notEqual(await loadedMd5(node, 'Elixir.SampleApp.Acceptor'), md5);
    } finally {
      s.close();
    }
  }));
