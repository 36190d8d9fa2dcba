// The upgrade against the sample app running as a real node, rule by rule from
// docs/otp-rules.md, asserting on the node itself (sys:get_state, module_info), not only on
// our report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpgradeReport } from '../../server/protocol';
import { cli, loadedMd5, onNode, stateOf, suspendedInSampleApp, TestNode, until, writeSource, loopbackEnv, withTestNode } from '../helpers';
import { spawn } from 'node:child_process';
import { COUNTER, COUNTER_V2, workerWithCodeChange } from './sources';

async function upgrade(node: TestNode, ...extra: string[]): Promise<{ code: number; report: UpgradeReport; stderr: string }> {
  const r = await cli(['upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json', ...extra]);
  let report: UpgradeReport;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

const withNode = (fn: (node: TestNode) => Promise<void>) => withTestNode('upg', fn);

test('a supervised GenServer, @vsn "1" -> "2" with a struct change: its state is transformed, and code_change got the loaded vsn "1", not "2" from the disk', () =>
  withNode(async (node) => {
    await onNode(node, `'Elixir.SampleApp.Counter':increment(), 'Elixir.SampleApp.Counter':increment(), ok`);
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    assert.equal(report.ok, true);
    const m = report.modules.find((x) => x.module === 'Elixir.SampleApp.Counter');
    assert.deepEqual([m?.instruction, m?.oldVsn, m?.newVsn], ['update', '<<"1">>', '<<"2">>']);
    const p = report.processes.find((x) => x.name === 'Elixir.SampleApp.Counter');
    assert.equal(p?.codeChange, 'ok');
    assert.ok(typeof p?.suspendedMs === 'number');
    for (const k of ['compileMs', 'planMs', 'suspendMs', 'loadMs', 'codeChangeMs', 'resumeMs', 'totalMs'] as const) {
      assert.equal(typeof report.timings[k], 'number', k);
    }
    // On the node: the new struct, with the OldVsn code_change received.
    const state = await stateOf(node, 'Elixir.SampleApp.Counter');
    assert.match(state, /count => 2/);
    assert.match(state, /label => <<"upgraded">>/);
    assert.match(state, /from_vsn => <<"1">>/);
    const attrs = await onNode(node, `io_lib:format("~0p", [proplists:get_value(vsn, 'Elixir.SampleApp.Counter':module_info(attributes))])`);
    assert.equal(attrs, '[<<"2">>]');
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), m?.newMd5);
    assert.equal(await onNode(node, `integer_to_list('Elixir.SampleApp.Counter':increment())`), '3');
  }));

test('gen_statem runs code_change/4, and every worker of a DynamicSupervisor is changed', () =>
  withNode(async (node) => {
    writeSource(
      node.dir,
      'lib/sample_app/machine.ex',
      readFileSync(join(node.dir, 'lib/sample_app/machine.ex'), 'utf8')
        .replace('@vsn "1"', '@vsn "2"')
        .replace('def code_change(_old_vsn, state, data, _extra), do: {:ok, state, data}', 'def code_change(old, state, data, _extra), do: {:ok, state, Map.put(data, :upgraded_from, old)}'),
    );
    writeSource(
      node.dir,
      'lib/sample_app/worker.ex',
      workerWithCodeChange(readFileSync(join(node.dir, 'lib/sample_app/worker.ex'), 'utf8')),
    );
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    assert.equal(report.processes.filter((p) => p.module === 'Elixir.SampleApp.Worker' && p.codeChange === 'ok').length, 3);
    assert.match(await stateOf(node, 'Elixir.SampleApp.Machine'), /upgraded_from => <<"1">>/);
    const workers = await onNode(
      node,
      `io_lib:format("~0p", [[maps:get(upgraded, sys:get_state(P), missing) || {_, P, _, _} <- supervisor:which_children('Elixir.SampleApp.WorkerSup')]])`,
    );
    assert.equal(workers, '[true,true,true]');
  }));

const HIDDEN_V2 = `defmodule SampleApp.Hidden do
  use GenServer
  @vsn "2"
  def start_link(_), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)
  @impl true
  def init(_), do: {:ok, %{seen: 0}}
  @impl true
  def handle_call(:seen, _from, state), do: {:reply, state.seen, state}
  def handle_call(:version, _from, state), do: {:reply, 2, state}
  @impl true
  def code_change(_old, state, _extra), do: {:ok, Map.put(state, :changed, true)}
end
`;

test("a GenServer started in another's init gets the new code but no code_change in release mode, and is listed in missed; --mode all changes it", () =>
  withNode(async (node) => {
    writeSource(node.dir, 'lib/sample_app/hidden.ex', HIDDEN_V2);
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    const missed = report.missed.find((m) => m.name === 'Elixir.SampleApp.Hidden');
    assert.ok(missed, 'Hidden is missed by a release');
    assert.match(missed.why, /not in a supervision tree \(started by Elixir\.SampleApp\.Parent\)/);
    assert.ok(!report.processes.some((p) => p.name === 'Elixir.SampleApp.Hidden'));
    // New code, old state: the node answers the new call, and no code_change ran.
    assert.equal(await onNode(node, `integer_to_list(gen_server:call('Elixir.SampleApp.Hidden', version))`), '2');
    assert.doesNotMatch(await stateOf(node, 'Elixir.SampleApp.Hidden'), /changed/);

    // Once more in mode all, from vsn "2" to "3": now it is suspended and changed, labelled dev-only.
    // (The vsn alone is not in the MD5: the code must change for the module to count as changed.)
    writeSource(node.dir, 'lib/sample_app/hidden.ex', HIDDEN_V2.replace('@vsn "2"', '@vsn "3"').replace('{:reply, 2, state}', '{:reply, 3, state}'));
    const all = await upgrade(node, '--mode', 'all');
    assert.equal(all.code, 0, JSON.stringify(all.report, null, 1));
    assert.equal(all.report.mode, 'all');
    assert.equal(all.report.devOnly, true);
    const hidden = all.report.processes.find((p) => p.name === 'Elixir.SampleApp.Hidden');
    assert.equal(hidden?.codeChange, 'ok');
    assert.equal(hidden?.devOnly, true);
    assert.match(all.report.summary, /mode all \(dev only\)/);
    assert.match(await stateOf(node, 'Elixir.SampleApp.Hidden'), /changed => true/);
  }));

test('a comment-only edit is reported unchanged and the MD5 on the node stays the same', () =>
  withNode(async (node) => {
    const before = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    const src = readFileSync(join(node.dir, COUNTER), 'utf8');
    writeSource(node.dir, COUNTER, src.replace('use GenServer', '# just a comment\n  use GenServer\n  # and another'));
    const { code, report } = await upgrade(node);
    assert.equal(code, 0);
    assert.ok(report.unchanged.includes('Elixir.SampleApp.Counter'));
    assert.equal(report.modules.length, 0);
    assert.match(report.summary, /No module changed/);
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), before);
  }));

test("an Agent's module change reports the Extra pitfall and leaves the Agent alive with its state", () =>
  withNode(async (node) => {
    await onNode(node, `'Elixir.SampleApp.Store':put(k, v), ok`);
    const pidBefore = await onNode(node, `pid_to_list(whereis('Elixir.SampleApp.Store'))`);
    writeSource(
      node.dir,
      'lib/sample_app/store.ex',
      readFileSync(join(node.dir, 'lib/sample_app/store.ex'), 'utf8').replace('  def get(key)', '  def size, do: Agent.get(__MODULE__, &map_size/1)\n  def get(key)'),
    );
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    assert.equal(report.modules.find((m) => m.module === 'Elixir.SampleApp.Store')?.instruction, 'load_module');
    assert.ok(report.warnings.some((w) => w.code === 'agent-extra' && /badfun/.test(w.message)), JSON.stringify(report.warnings));
    assert.equal(await onNode(node, `pid_to_list(whereis('Elixir.SampleApp.Store'))`), pidBefore);
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Store':get(k))`), 'v');
    assert.equal(await onNode(node, `integer_to_list('Elixir.SampleApp.Store':size())`), '1');
  }));

test('a code_change that raises: exit 1, the old binary is current again, the state is intact, nobody is suspended, and the process still answers', () =>
  withNode(async (node) => {
    await onNode(node, `'Elixir.SampleApp.Counter':increment(), ok`);
    const md5Before = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    const stateBefore = await stateOf(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2.replace('do: {:ok, %__MODULE__{count: c, label: "upgraded", from_vsn: old_vsn}}', 'do: raise("boom in code_change #{c} #{old_vsn}")'));
    const { code, report } = await upgrade(node);
    assert.equal(code, 1);
    assert.equal(report.ok, false);
    assert.equal(report.rolledBack, true);
    // As Elixir prints it, once: the one-line banner per process, the stacktrace in the detail.
    assert.match(report.error ?? '', /^code_change of SampleApp\.Counter failed in <[\d.]+>: \*\* \(RuntimeError\) boom in code_change 1 1$/);
    assert.equal(report.processes.find((p) => p.name === 'Elixir.SampleApp.Counter')?.reason, '** (RuntimeError) boom in code_change 1 1');
    assert.match(report.errorDetail ?? '', /^\*\* \(RuntimeError\) boom in code_change 1 1\n\s+\(sample_app 0\.1\.0\) lib\/sample_app\/counter\.ex:\d+: SampleApp\.Counter\.code_change\/3/);
    assert.match(report.release ?? '', /install_release would have .* restarted the node onto the old release/);
    assert.equal(report.processes.find((p) => p.name === 'Elixir.SampleApp.Counter')?.codeChange, 'error');
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5Before);
    assert.equal(await stateOf(node, 'Elixir.SampleApp.Counter'), stateBefore);
    assert.equal(await suspendedInSampleApp(node), '[]');
    assert.equal(await onNode(node, `integer_to_list('Elixir.SampleApp.Counter':increment())`), '2');
  }));

test('a process busy past the suspend timeout is reported as not suspended, and the rest proceeds', () =>
  withNode(async (node) => {
    writeSource(node.dir, COUNTER, COUNTER_V2);
    writeSource(
      node.dir,
      'lib/sample_app/machine.ex',
      readFileSync(join(node.dir, 'lib/sample_app/machine.ex'), 'utf8').replace('@vsn "1"', '@vsn "2"').replace('flips: 0', 'flips: 10'),
    );
    // Counter is busy in a call until the test lets it go, however long the compile takes;
    // the upgrade's suspend timeout is 300 ms.
    await onNode(node, `spawn(fun() -> sys:replace_state('Elixir.SampleApp.Counter', fun(S) -> receive beam_live_test_go -> S after 120000 -> S end end) end), timer:sleep(100), ok`);
    const { code, report } = await upgrade(node, '--suspend-timeout', '300');
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    const counter = report.processes.find((p) => p.name === 'Elixir.SampleApp.Counter');
    assert.equal(counter?.codeChange, 'not_called');
    assert.match(counter?.reason ?? '', /not suspended: busy past the suspend timeout/);
    assert.equal(report.processes.find((p) => p.name === 'Elixir.SampleApp.Machine')?.codeChange, 'ok');
    // Let go, Counter gets to the late suspend and to the resume queued behind it.
    await onNode(node, `'Elixir.SampleApp.Counter' ! beam_live_test_go, ok`);
    await until('Counter resumed', async () => (await suspendedInSampleApp(node)) === '[]');
    assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /count/, 'Counter answers');
  }));

test('a compile error pushes nothing, exits 2, and names the file and line', () =>
  withNode(async (node) => {
    const md5Before = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2.replace('def value, do: GenServer.call(__MODULE__, :value)', 'def value, do: no_such_function()'));
    const { code, report } = await upgrade(node);
    assert.equal(code, 2);
    assert.equal(report.ok, false);
    assert.match(report.error ?? '', /lib\/sample_app\/counter\.ex:7: undefined function no_such_function\/0/);
    assert.ok(report.diagnostics.some((d) => d.file === COUNTER && d.line === 7 && d.severity === 'error'));
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5Before);
  }));

test('killing the bridge between suspend and resume leaves no process suspended, and the node as it was', () =>
  withNode(async (node) => {
    const md5Before = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    const stateBefore = await stateOf(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'beam-live'), 'upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir], {
      // The kill ends the pause early; the length is only room for a slow machine.
      env: loopbackEnv({ BEAM_LIVE_TEST_PAUSE_AFTER_SUSPEND_MS: '10000' }),
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    // Wait until the upgrade has suspended Counter, then SIGKILL the bridge (the CLI's erl child).
    let suspended = '[]';
    for (let i = 0; i < 100 && suspended === '[]'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      suspended = await suspendedInSampleApp(node);
    }
    assert.notEqual(suspended, '[]', 'the upgrade suspended Counter');
    const bridgePid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    assert.ok(bridgePid > 0);
    process.kill(bridgePid, 'SIGKILL');
    await exited;
    let after = suspended;
    for (let i = 0; i < 50 && after !== '[]'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await suspendedInSampleApp(node);
    }
    assert.equal(after, '[]');
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5Before);
    assert.equal(await stateOf(node, 'Elixir.SampleApp.Counter'), stateBefore);
  }));

test('a process looping with a local call stays on old code after one load (oldCode) and is killed by the next (killed)', () =>
  withNode(async (node) => {
    const looper = 'lib/sample_app/looper.ex';
    const src = readFileSync(join(node.dir, looper), 'utf8');
    const pid = await onNode(node, `pid_to_list(whereis(sample_looper))`);
    writeSource(node.dir, looper, src.replace('send(from, {:pong, n})', 'send(from, {:pong, n * 10})'));
    const first = await upgrade(node);
    assert.equal(first.code, 0, JSON.stringify(first.report, null, 1));
    assert.deepEqual(first.report.oldCode.map((p) => p.pid), [pid]);
    assert.ok(first.report.missed.some((m) => m.pid === pid && /not a special process/.test(m.why)));
    assert.equal(await onNode(node, `atom_to_list(erlang:check_process_code(whereis(sample_looper), 'Elixir.SampleApp.Looper'))`), 'true');

    writeSource(node.dir, looper, src.replace('send(from, {:pong, n})', 'send(from, {:pong, n * 100})'));
    const second = await upgrade(node);
    assert.equal(second.code, 0, JSON.stringify(second.report, null, 1));
    assert.deepEqual(second.report.killed.map((p) => p.pid), [pid]);
    assert.equal(await onNode(node, `io_lib:format("~p", [whereis(sample_looper)])`), 'undefined');
  }));

test("an upgrade's plan soft-purges the old code nobody runs, as check_install_release [purge] does; old code a process runs stays, and a plan alone changes nothing", () =>
  withNode(async (node) => {
    const [machine, looper] = ['lib/sample_app/machine.ex', 'lib/sample_app/looper.ex'];
    const oldCode = (m: string) => onNode(node, `atom_to_list(erlang:check_old_code('Elixir.SampleApp.${m}'))`);
    const pid = await onNode(node, 'pid_to_list(whereis(sample_looper))');
    const counterMd5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    // Old code as IEx's recompile() leaves it: Machine's unused (its gen_statem waits in
    // gen_statem's code), Looper's run by its local-call loop.
    await onNode(node, "[begin {M, B, F} = code:get_object_code(M), {module, M} = code:load_binary(M, F, B) end || M <- ['Elixir.SampleApp.Machine', 'Elixir.SampleApp.Looper']], ok");
    assert.deepEqual([await oldCode('Machine'), await oldCode('Looper')], ['true', 'true']);
    writeSource(node.dir, machine, readFileSync(join(node.dir, machine), 'utf8').replace('flips: 0', 'flips: 1'));
    writeSource(node.dir, looper, readFileSync(join(node.dir, looper), 'utf8').replace('send(from, {:pong, n})', 'send(from, {:pong, n * 10})'));
    // A risky change beside them holds the upgrade after its plan: nothing is pushed.
    writeSource(node.dir, COUNTER, readFileSync(join(node.dir, COUNTER), 'utf8').replace('defstruct count: 0', 'defstruct count: 0, step: 1'));

    const plan = await cli(['plan', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual((JSON.parse(plan.stdout) as { kills: Array<{ pid: string }> }).kills.map((k) => k.pid), [pid]);
    assert.deepEqual([await oldCode('Machine'), await oldCode('Looper')], ['true', 'true'], 'a plan changes nothing');

    const held = await upgrade(node);
    assert.ok(held.report.held?.length, JSON.stringify(held.report, null, 1));
    assert.equal(await oldCode('Machine'), 'false', "the upgrade's plan purged the old code nobody ran");
    assert.equal(await oldCode('Looper'), 'true', 'old code a process runs is not purged');
    assert.equal(await onNode(node, 'pid_to_list(whereis(sample_looper))'), pid);
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), counterMd5, 'nothing was pushed');
  }));

test('a consolidated protocol that changed is reloaded with the upgrade', () =>
  withNode(async (node) => {
    // The node uses String.Chars, so its consolidated version is loaded.
    assert.equal(await onNode(node, `'Elixir.String.Chars':to_string(42)`), '42');
    writeSource(
      node.dir,
      'lib/sample_app/counter_chars.ex',
      'defimpl String.Chars, for: SampleApp.Counter do\n  def to_string(c), do: "counter at #{c.count}"\nend\n',
    );
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    const chars = report.modules.find((m) => m.module === 'Elixir.String.Chars');
    assert.equal(chars?.instruction, 'load_module');
    assert.ok(report.modules.some((m) => m.module === 'Elixir.String.Chars.SampleApp.Counter' && m.instruction === 'add_module'));
    assert.equal(await loadedMd5(node, 'Elixir.String.Chars'), chars?.newMd5);
    assert.equal(await onNode(node, `'Elixir.String.Chars':to_string(sys:get_state('Elixir.SampleApp.Counter'))`), 'counter at 0');
  }));

test('--parallel upgrades every worker concurrently and says so in the report', () =>
  withNode(async (node) => {
    writeSource(
      node.dir,
      'lib/sample_app/worker.ex',
      workerWithCodeChange(readFileSync(join(node.dir, 'lib/sample_app/worker.ex'), 'utf8')),
    );
    const { code, report } = await upgrade(node, '--parallel');
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    assert.equal(report.parallel, true);
    assert.match(report.summary, /\[parallel\]/);
    assert.equal(report.processes.filter((p) => p.codeChange === 'ok').length, 3);
    const workers = await onNode(node, `io_lib:format("~0p", [[maps:get(upgraded, sys:get_state(P), missing) || {_, P, _, _} <- supervisor:which_children('Elixir.SampleApp.WorkerSup')]])`);
    assert.equal(workers, '[true,true,true]');
    assert.equal(await suspendedInSampleApp(node), '[]');
  }));

test("a project .appup wins over the default: an Agent upgraded with Extra = {M, F, A} gets its state transformed", () =>
  withNode(async (node) => {
    await onNode(node, `'Elixir.SampleApp.Store':put(k, v), ok`);
    writeSource(
      node.dir,
      'src/sample_app.appup',
      `{"0.1.0", [{"0.1.0", [{update, 'Elixir.SampleApp.Store', {advanced, {'Elixir.SampleApp.Store', upgrade_state, []}}}]}], []}.\n`,
    );
    writeSource(
      node.dir,
      'lib/sample_app/store.ex',
      readFileSync(join(node.dir, 'lib/sample_app/store.ex'), 'utf8').replace('  def get(key)', '  def upgrade_state(state), do: Map.put(state, :upgraded, true)\n  def get(key)'),
    );
    const { code, report } = await upgrade(node);
    assert.equal(code, 0, JSON.stringify(report, null, 1));
    assert.equal(report.modules.find((m) => m.module === 'Elixir.SampleApp.Store')?.instruction, 'update');
    assert.equal(report.processes.find((p) => p.name === 'Elixir.SampleApp.Store')?.codeChange, 'ok');
    assert.ok(!report.warnings.some((w) => w.code === 'agent-extra'), JSON.stringify(report.warnings));
    assert.match(await stateOf(node, 'Elixir.SampleApp.Store'), /upgraded => true/);
    assert.equal(await onNode(node, `atom_to_list('Elixir.SampleApp.Store':get(k))`), 'v');
  }));
