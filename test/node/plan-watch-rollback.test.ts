// plan changes nothing; watch folds "Save All" into one upgrade; rollback undoes the last one,
// with code_change {down, Vsn} where the module defines it and the saved state otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, loadedMd5, onNode, startWatch, stateOf, TestNode, until, writeSource, withTestNode } from '../helpers';
import { COUNTER, COUNTER_V2, workerWithCodeChange } from './sources';

const withNode = (fn: (node: TestNode) => Promise<void>) => withTestNode('pwr', fn);

const args = (node: TestNode) => ['--node', node.name, '--cookie-file', node.cookieFile];

test('plan compiles, diffs and plans without changing the node', () =>
  withNode(async (node) => {
    const before = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const r = await cli(['plan', ...args(node), '--project', node.dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.deepEqual(plan.modules.map((m: { module: string; instruction: string; oldVsn: string; newVsn: string }) => [m.module, m.instruction, m.oldVsn, m.newVsn]), [
      ['Elixir.SampleApp.Counter', 'update', '<<"1">>', '<<"2">>'],
    ]);
    assert.ok(plan.script.includes("{suspend,['Elixir.SampleApp.Counter']}"));
    assert.deepEqual(plan.reach.map((p: { name: string }) => p.name), ['Elixir.SampleApp.Counter']);
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), before);
    assert.doesNotMatch(await stateOf(node, 'Elixir.SampleApp.Counter'), /label/);
  }));

test('plan warns when a module changes role against the code the node runs (a plain process module becomes a GenServer)', () =>
  withNode(async (node) => {
    const looper = 'lib/sample_app/looper.ex';
    writeSource(node.dir, looper, readFileSync(join(node.dir, looper), 'utf8').replace(
      'defmodule SampleApp.Looper do\n',
      'defmodule SampleApp.Looper do\n  use GenServer\n  @impl true\n  def init(n), do: {:ok, n}\n',
    ));
    const r = await cli(['plan', ...args(node), '--project', node.dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { modules: Array<{ module: string; instruction: string }>; warnings: Array<{ module: string; code: string; message: string }> };
    assert.deepEqual(plan.modules.map((m) => [m.module, m.instruction]), [['Elixir.SampleApp.Looper', 'update']]);
    const w = plan.warnings.filter((x) => x.module === 'Elixir.SampleApp.Looper').map((x) => x.code);
    // mix rewrites the .app's modules list on each compile: nothing is missing from it.
    assert.deepEqual(w, ['role-changed']);
    assert.match(plan.warnings.find((x) => x.code === 'role-changed')!.message, /was neither a supervisor nor a special process on the node and is a special process/);
  }));

test('appup prints the .appup from the running code to the build; --write puts it where the next upgrade follows it', () =>
  withNode(async (node) => {
    writeSource(node.dir, COUNTER, COUNTER_V2);
    const store = 'lib/sample_app/store.ex';
    writeSource(node.dir, store, readFileSync(join(node.dir, store), 'utf8').replace('  def get(key)', '  def upgrade_state(state), do: Map.put(state, :upgraded, true)\n  def get(key)'));
    const printed = await cli(['appup', ...args(node), '--project', node.dir]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^%% priv\/sample_app\.appup\n/);
    assert.match(printed.stdout, /\{update,'Elixir\.SampleApp\.Counter',\{advanced,\[\]\}\}/);
    assert.match(printed.stdout, /\{load_module,'Elixir\.SampleApp\.Store'\}/);

    const wrote = await cli(['appup', ...args(node), '--project', node.dir, '--write']);
    assert.equal(wrote.code, 0, wrote.stderr);
    assert.match(wrote.stdout, /Wrote priv\/sample_app\.appup: sample_app 0\.1\.0 -> 0\.1\.0, 2 module\(s\)/);
    const file = join(node.dir, 'priv', 'sample_app.appup');
    // Erlang reads it: the same two modules, up and down.
    const consulted = await onNode(node, `{ok, [{To, [{From, Up}], [{From, Down}]}]} = file:consult("${file}"), io_lib:format("~s ~s ~w ~w", [From, To, length(Up), length(Down)])`);
    assert.equal(consulted, '0.1.0 0.1.0 2 2');
    const again = await cli(['appup', ...args(node), '--project', node.dir, '--write']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /priv\/sample_app\.appup already exists; add --force to overwrite it/);

    // Edited as its header says, the .appup is what the next upgrade follows: the Agent gets Extra.
    writeSource(node.dir, 'priv/sample_app.appup', readFileSync(file, 'utf8').replace(/\{load_module,'Elixir\.SampleApp\.Store'\}/g, "{update,'Elixir.SampleApp.Store',{advanced,{'Elixir.SampleApp.Store',upgrade_state,[]}}}"));
    const up = await cli(['upgrade', ...args(node), '--project', node.dir, '--json']);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(await stateOf(node, 'Elixir.SampleApp.Store'), /upgraded => true/);
    assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /label => <<"upgraded">>/);
  }));

test('watch turns a burst of saves into one upgrade and prints one line for it', () =>
  withNode(async (node) => {
    const w = await startWatch(node, ['--debounce', '300']);
    try {
      // "Save All" of three modules.
      writeSource(node.dir, COUNTER, COUNTER_V2);
      writeSource(node.dir, 'lib/sample_app/machine.ex', readFileSync(join(node.dir, 'lib/sample_app/machine.ex'), 'utf8').replace('flips: 0', 'flips: 5'));
      writeSource(node.dir, 'lib/sample_app/worker.ex', readFileSync(join(node.dir, 'lib/sample_app/worker.ex'), 'utf8').replace('jobs: 0', 'jobs: 7'));
      await until('an upgrade line', () => /Upgraded|failed|skipped/.test(w.output()));
      // A later save is a marker, not a clock: watch upgrades one at a time, so a part of the
      // burst left for a second upgrade would print its line before the marker's.
      writeSource(node.dir, 'lib/sample_app/machine.ex', readFileSync(join(node.dir, 'lib/sample_app/machine.ex'), 'utf8').replace('flips: 5', 'flips: 6'));
      await until("the marker's upgrade line", () => /^Upgraded 1 module, 1 process/m.test(w.output()));
      const lines = w.output().split('\n').filter((l) => l.startsWith('Upgraded'));
      assert.equal(lines.length, 2, w.output());
      assert.match(lines[0]!, /^Upgraded 3 modules, 5 processes in \d+ ms$/);
      assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /label => <<"upgraded">>/);
    } finally {
      assert.equal(await w.stop(), 0);
    }
  }));

test('rollback is a downgrade: code_change {down, Vsn} runs wherever a clause matches, and the state it returns is kept', () =>
  withNode(async (node) => {
    const md5v1 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
    const withDown = COUNTER_V2.replace(
      '  @impl true\n  def code_change(old_vsn',
      '  @impl true\n  def code_change({:down, _}, state, _extra), do: {:ok, %{__struct__: __MODULE__, count: state.count}}\n  def code_change(old_vsn',
    );
    writeSource(node.dir, COUNTER, withDown);
    writeSource(node.dir, 'lib/sample_app/worker.ex', workerWithCodeChange(readFileSync(join(node.dir, 'lib/sample_app/worker.ex'), 'utf8')));
    const up = await cli(['upgrade', ...args(node), '--project', node.dir, '--json']);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    // Work done on the new code must survive a code_change down.
    await onNode(node, `'Elixir.SampleApp.Counter':increment(), 'Elixir.SampleApp.Counter':increment(), ok`);

    const r = await cli(['rollback', ...args(node), '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    const how = Object.fromEntries(report.processes.map((p: { name: string | null; module: string; how: string }) => [p.name ?? p.module, p.how]));
    assert.equal(how['Elixir.SampleApp.Counter'], 'code_change_down');
    // The workers' code_change(_old, ...) matches {down, _} too: it ran, as in a real downgrade.
    assert.deepEqual(
      report.processes.filter((p: { module: string }) => p.module === 'Elixir.SampleApp.Worker').map((p: { how: string }) => p.how),
      ['code_change_down', 'code_change_down', 'code_change_down'],
    );
    assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5v1);
    assert.equal(await stateOf(node, 'Elixir.SampleApp.Counter'), "#{'__struct__' => 'Elixir.SampleApp.Counter',count => 2}");
    const workers = await onNode(node, `io_lib:format("~0p", [[maps:is_key(upgraded, sys:get_state(P)) || {_, P, _, _} <- supervisor:which_children('Elixir.SampleApp.WorkerSup')]])`);
    assert.equal(workers, '[true,true,true]');

    const again = await cli(['rollback', ...args(node)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has no upgrade to roll back/);
  }));
