// Three real nodes of the sample app on loopback, one cookie, connected with net_kernel: a
// cluster-scoped upgrade prepares all three before any commits, and is all or nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeGateway } from '../../server/runtime/gateway';
import { UpgradeEngine } from '../../server/upgrade/engine';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { UpgradeReport } from '../../server/protocol';
import { cli, loadedMd5, makeCookieHome, onNode, prepareProject, startLsp, startNode, stateOf, suspendedInSampleApp, TestNode, until, writeSource } from '../helpers';
import { COUNTER, COUNTER_V2 } from './sources';

const COUNTER_MOD = 'Elixir.SampleApp.Counter';

/** Counter at vsn N (the tests' vsn "2" Counter reworked): a label field, and code_change clauses up and down (the down one keeps the state). */
const counterV = (n: number, extra = '') =>
  COUNTER_V2.replace('@vsn "2"', `@vsn "${n}"`)
    .replace('defstruct count: 0, label: "new", from_vsn: nil', 'defstruct count: 0, label: nil')
    .replace(
      /  @impl true\n  def code_change[\s\S]*$/,
      `  def version, do: ${n}
  @impl true
  ${extra}def code_change({:down, _}, state, _extra), do: {:ok, state}
  def code_change(_old, %{count: c} = state, _extra), do: {:ok, Map.merge(%__MODULE__{count: c}, %{label: Map.get(state, :label) || "v${n}"})}
end
`,
    );

let dir: string;
let nodes: TestNode[];
const states = () => Promise.all(nodes.map((n) => stateOf(n, COUNTER_MOD)));
const md5s = () => Promise.all(nodes.map((n) => loadedMd5(n, COUNTER_MOD)));

before(async () => {
  dir = await prepareProject();
  const cookie = makeCookieHome();
  nodes = [];
  for (const name of ['one', 'two', 'three']) nodes.push(await startNode({ dir, name, cookie }));
  for (const n of nodes.slice(1)) assert.equal(await onNode(nodes[0]!, `net_kernel:connect_node('${n.name}')`), 'true');
  // Each node's own state: one, two and three increments.
  for (const [i, n] of nodes.entries()) for (let k = 0; k <= i; k++) await onNode(n, `'Elixir.SampleApp.Counter':increment()`);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

test('status --cluster lists the three nodes', async () => {
  const r = await cli(['status', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--cluster', '--project', dir, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const s = JSON.parse(r.stdout) as { nodes: Array<{ node: string; status: { applications: Array<{ name: string }> } | null }>; skew: unknown[] };
  assert.deepEqual(s.nodes.map((n) => n.node).sort(), nodes.map((n) => n.name).sort());
  assert.ok(s.nodes.every((n) => n.status?.applications.some((a) => a.name === 'sample_app')));
  assert.deepEqual(s.skew, []);
});

test('a cluster-scoped upgrade: prepared on all three, committed on all three, each node migrates its own state', async () => {
  writeSource(dir, COUNTER, counterV(2));
  const r = await cli(['upgrade', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--project', dir, '--cluster', '--json']);
  const report = JSON.parse(r.stdout || '{}') as { ok: boolean; summary: string; cluster: { nodes: Array<{ node: string; outcome: string; report: { processes: Array<{ codeChange: string }> } | null }> } };
  assert.equal(r.code, 0, `${r.stderr}\n${report.summary}`);
  assert.deepEqual(report.cluster.nodes.map((n) => n.outcome), ['upgraded', 'upgraded', 'upgraded']);
  assert.match(report.summary, /^Cluster of 3: upgraded on every node/);
  // On the nodes themselves: the new code, and each node's count carried into the new shape.
  const after = await states();
  for (const [i, s] of after.entries()) assert.match(s, new RegExp(`count => ${i + 1}.*label => <<"v2">>`), s);
  assert.equal(new Set(await md5s()).size, 1);
  for (const n of nodes) assert.equal(await onNode(n, `'Elixir.SampleApp.Counter':version()`), '2');
});

test("one node's state makes its code_change raise: nothing changes anywhere, every state as it was, nobody suspended", async () => {
  const md5Before = await md5s();
  const statesBefore = await states();
  // Only node two's count (2) makes this code_change raise.
  writeSource(dir, COUNTER, counterV(3, 'def code_change(_old, %{count: 2}, _extra), do: raise "count 2 cannot move"\n  '));
  const r = await cli(['upgrade', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--project', dir, '--cluster', '--json']);
  const report = JSON.parse(r.stdout || '{}') as { ok: boolean; summary: string; cluster: { nodes: Array<{ node: string; outcome: string; error: string; runs: Array<{ module: string; md5: string }> | null }> } };
  assert.equal(r.code, 1, r.stderr);
  // The report says what each node runs at the end, asked of the node.
  for (const [i, n] of nodes.entries()) assert.deepEqual(report.cluster.nodes.find((x) => x.node === n.name)!.runs, [{ module: COUNTER_MOD, md5: md5Before[i] }]);
  const outcome = new Map(report.cluster.nodes.map((n) => [n.node, n.outcome]));
  assert.equal(outcome.get(nodes[1]!.name), 'failed');
  assert.equal(outcome.get(nodes[0]!.name), 'rolled_back');
  assert.equal(outcome.get(nodes[2]!.name), 'rolled_back');
  assert.match(report.cluster.nodes.find((n) => n.node === nodes[1]!.name)!.error, /count 2 cannot move/);
  assert.deepEqual(await md5s(), md5Before, 'all three on the old code');
  assert.deepEqual(await states(), statesBefore, 'every state as it was');
  for (const n of nodes) assert.equal(await suspendedInSampleApp(n), '[]');
  for (const n of nodes) assert.equal(await onNode(n, `'Elixir.SampleApp.Counter':version()`), '2');
});

test('serially: the attached node commits first, the failing node stops the rest, and the first one rolls back', async () => {
  const md5Before = await md5s();
  const statesBefore = await states();
  const r = await cli(['upgrade', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--project', dir, '--cluster', '--cluster-order', 'serial', '--json']);
  const report = JSON.parse(r.stdout || '{}') as { cluster: { order: string; nodes: Array<{ node: string; outcome: string }> } };
  assert.equal(r.code, 1, r.stderr);
  assert.equal(report.cluster.order, 'serial');
  // The attached node, then the others by name: only node two's state fails, so whoever comes after it is not committed.
  const order = [nodes[0]!.name, ...[nodes[1]!.name, nodes[2]!.name].sort()];
  const failedAt = order.indexOf(nodes[1]!.name);
  assert.deepEqual(
    report.cluster.nodes.map((n) => [n.node, n.outcome]),
    order.map((n, i) => [n, i < failedAt ? 'rolled_back' : i === failedAt ? 'failed' : 'not_committed']),
  );
  assert.deepEqual(await md5s(), md5Before);
  assert.deepEqual(await states(), statesBefore);
});

test('a save in the editor with beamLive.upgrade.scope "cluster": didSave upgrades all three, the report grouped by node', async () => {
  writeSource(dir, COUNTER, counterV(6));
  const finished: UpgradeReport[] = [];
  const lsp = await startLsp(dir, {
    initializationOptions: { upgrade: { scope: 'cluster' } },
    setup: (c) => c.onNotification('beamLive/upgradeFinished', (r: UpgradeReport) => finished.push(r)),
  });
  try {
    await lsp.conn.sendRequest('beamLive/attach', { node: nodes[0]!.name, cookieFile: nodes[0]!.cookieFile });
    await lsp.conn.sendNotification('textDocument/didSave', { textDocument: { uri: pathToFileURL(join(dir, COUNTER)).toString() } });
    const r = await until('upgradeFinished', () => finished[0]);
    assert.equal(r.ok, true, r.summary);
    assert.deepEqual(r.cluster?.nodes.map((n) => n.outcome), ['upgraded', 'upgraded', 'upgraded']);
    for (const n of nodes) assert.equal(await onNode(n, `'Elixir.SampleApp.Counter':version()`), '6');
    const cluster = await lsp.conn.sendRequest<{ nodes: Array<{ node: string }>; skew: unknown[] }>('beamLive/cluster');
    assert.deepEqual(cluster.nodes.map((n) => n.node).sort(), nodes.map((n) => n.name).sort());
    assert.deepEqual(cluster.skew, []);
  } finally {
    await lsp.stop();
  }
});

test('version skew: a node that runs another Counter is shown, and stops a default upgrade before anything changes', async () => {
  // Node three gets a Counter of its own (compiled there from the source with one more function).
  writeSource(dir, COUNTER, counterV(2));
  const skewed = counterV(2).replace('def version, do: 2', 'def version, do: 2\n  def skewed, do: true');
  await onNode(nodes[2]!, `'Elixir.Code':compile_string(<<${JSON.stringify(skewed)}/utf8>>), ok`);
  const md5Before = await md5s();
  assert.notEqual(md5Before[2], md5Before[0]);

  const status = await cli(['status', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--cluster', '--project', dir]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, new RegExp(`VERSION SKEW  SampleApp\\.Counter: ${nodes[2]!.name} runs ${md5Before[2]}`));

  writeSource(dir, COUNTER, counterV(4));
  const r = await cli(['upgrade', '--node', nodes[0]!.name, '--cookie-file', nodes[0]!.cookieFile, '--project', dir, '--cluster', '--json']);
  const report = JSON.parse(r.stdout || '{}') as { summary: string; pushed: boolean; cluster: { phase: string; nodes: Array<{ node: string; outcome: string; error: string; skew: Array<{ module: string }> }> } };
  assert.equal(r.code, 2, `${r.stderr}\n${report.summary}`);
  assert.equal(report.cluster.phase, 'prepare');
  const three = report.cluster.nodes.find((n) => n.node === nodes[2]!.name)!;
  assert.deepEqual([three.outcome, three.skew.map((s) => s.module)], ['refused', [COUNTER_MOD]]);
  assert.match(three.error, /version skew/);
  assert.match(report.summary, /nothing changed on any node/);
  assert.deepEqual(await md5s(), md5Before, 'nothing changed anywhere');
});

test('a node killed between prepare and commit: nobody commits, nothing changed on the others', async () => {
  const md5Before = await md5s();
  const statesBefore = await states();
  writeSource(dir, COUNTER, counterV(5));
  const gw = await NodeGateway.attach({ node: nodes[0]!.name, cookieFile: nodes[0]!.cookieFile });
  const engine = new UpgradeEngine(gw, dir);
  try {
    // Node three still runs its own Counter: allowSkew lets it through prepare.
    const report = await engine.upgrade(
      { scope: 'cluster', allowSkew: true, pauseBeforeCommitMs: 1500 },
      { prepared: () => void nodes[2]!.proc.kill('SIGKILL') },
    );
    assert.equal(report.ok, false);
    assert.equal(report.pushed, false);
    assert.equal(report.cluster?.phase, 'prepare');
    const outcome = new Map(report.cluster!.nodes.map((n) => [n.node, n.outcome]));
    assert.equal(outcome.get(nodes[2]!.name), 'refused');
    assert.equal(outcome.get(nodes[0]!.name), 'not_committed');
    assert.equal(outcome.get(nodes[1]!.name), 'not_committed');
    assert.deepEqual(await Promise.all(nodes.slice(0, 2).map((n) => loadedMd5(n, COUNTER_MOD))), md5Before.slice(0, 2));
    assert.deepEqual(await Promise.all(nodes.slice(0, 2).map((n) => stateOf(n, COUNTER_MOD))), statesBefore.slice(0, 2));
  } finally {
    engine.dispose();
    gw.close();
  }
});
