// status and processes against the sample app running as a real node, checked against what the
// node itself answers; and the errors a user meets before anything works.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessesReport, TreeNode } from '../../server/protocol';
import { cli, loopbackEnv, onNode, startNode, TestNode, tmp } from '../helpers';

let node: TestNode;
before(async () => {
  node = await startNode({ name: 'live' });
});
after(async () => {
  await node?.stop();
});

test('status names the node, its OTP release, its applications with vsn and its process count', async () => {
  const r = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.node, node.name);
  const truth = (await onNode(node, `io_lib:format("~s ~b", [erlang:system_info(otp_release), length(application:which_applications())])`)).split(' ');
  assert.equal(s.otpRelease, truth[0]);
  assert.equal(s.applications.length, Number(truth[1]));
  assert.deepEqual(s.applications.find((a: { name: string }) => a.name === 'sample_app'), { name: 'sample_app', description: 'sample_app', vsn: '0.1.0' });
  assert.ok(s.processCount > 30);
});

test("the processes tree equals supervisor:which_children/1, and a GenServer started in another's init is listed as unsupervised", async () => {
  const r = await cli(['processes', '--node', node.name, '--cookie-file', node.cookieFile, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ProcessesReport;
  const app = report.applications.find((a) => a.application === 'sample_app');
  assert.ok(app?.supervisor, 'sample_app has a tree');

  // The node's own answer: every supervisor under the app's top, with its which_children.
  const truth = await onNode(
    node,
    `Fmt = fun(T) -> io_lib:format("~p", [T]) end,
     Walk = fun W(Sup) ->
         Ch = supervisor:which_children(Sup),
         Line = [pid_to_list(Sup), "=", lists:join(";", [[Fmt(Id), ",", pid_to_list(P), ",", atom_to_list(Ty), ",", Fmt(Ms)] || {Id, P, Ty, Ms} <- Ch]), "\\n"],
         [Line | [W(P) || {_, P, supervisor, _} <- Ch]]
       end,
     Walk(whereis('Elixir.SampleApp.Supervisor'))`,
  );
  const expected = new Map(truth.trim().split('\n').map((l) => l.split('=') as [string, string]));
  const ours = new Map<string, string>();
  const walk = (n: TreeNode) => {
    if (n.type !== 'supervisor' || !n.pid) return;
    ours.set(n.pid, n.children.map((c) => `${c.id},${c.pid},${c.type},${Array.isArray(c.modules) ? `[${c.modules.map(fmtAtom).join(',')}]` : c.modules}`).join(';'));
    n.children.forEach(walk);
  };
  walk(app.supervisor);
  assert.deepEqual(ours, expected);

  const counter = app.supervisor.children.find((c) => c.name === 'Elixir.SampleApp.Counter');
  assert.equal(counter?.module, 'Elixir.SampleApp.Counter');
  assert.equal(counter?.vsn, '<<"1">>');
  const workers = app.supervisor.children.find((c) => c.name === 'Elixir.SampleApp.WorkerSup')?.children ?? [];
  assert.equal(workers.length, 3);
  assert.ok(workers.every((w) => w.module === 'Elixir.SampleApp.Worker'));

  const hiddenPid = await onNode(node, `pid_to_list(whereis('Elixir.SampleApp.Hidden'))`);
  const hidden = report.unsupervised.find((p) => p.name === 'Elixir.SampleApp.Hidden');
  assert.ok(hidden, 'Hidden is listed outside the trees');
  assert.equal(hidden.pid, hiddenPid);
  assert.equal(hidden.module, 'Elixir.SampleApp.Hidden');
  assert.equal(hidden.parent, 'Elixir.SampleApp.Parent');
  assert.equal(hidden.startedBy, 'proc_lib');
  assert.ok(!report.unsupervised.some((p) => p.name === 'Elixir.SampleApp.Counter'), 'supervised processes are not listed as unsupervised');
});

test('--app shows only the trees of the applications asked for', async () => {
  const r = await cli(['processes', '--node', node.name, '--cookie-file', node.cookieFile, '--json', '--app', 'sample_app']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ProcessesReport;
  assert.deepEqual(report.applications.map((a) => a.application), ['sample_app']);
  assert.deepEqual(report.projectApplications, ['sample_app']);
});

test('processes prints the trees as the project writes them: Elixir names, vsn "1", no @vsn for an MD5', async () => {
  const r = await cli(['processes', '--node', node.name, '--cookie-file', node.cookieFile, '--app', 'sample_app']);
  assert.equal(r.code, 0, r.stderr);
  const counter = await onNode(node, "pid_to_list(whereis('Elixir.SampleApp.Counter'))");
  assert.match(r.stdout, new RegExp(`• SampleApp\\.Counter ${counter.replace(/[<>.]/g, '\\$&')}  SampleApp\\.Counter  vsn "1"\n`));
  assert.match(r.stdout, /• sample_erl_server <[\d.]+>  sample_erl_server  vsn "1"\n/);
  assert.match(r.stdout, /SampleApp\.Hidden <[\d.]+>  SampleApp\.Hidden  vsn "1"  started by SampleApp\.Parent\n/);
  assert.match(r.stdout, /sample_looper <[\d.]+>  SampleApp\.Looper  no @vsn  started by a plain spawn\n/);
  assert.doesNotMatch(r.stdout, /Elixir\.|<<"/);
});

test('state prints one process state on the node, in Elixir or Erlang syntax, cut to --max-bytes', async () => {
  const ex = await cli(['state', '--node', node.name, '--cookie-file', node.cookieFile, 'Elixir.SampleApp.Machine']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout.trim(), '{:off, %{flips: 0}}');
  const erl = await cli(['state', '--node', node.name, '--cookie-file', node.cookieFile, '--syntax', 'erlang', 'Elixir.SampleApp.Machine']);
  assert.equal(erl.stdout.trim(), '{off,#{flips => 0}}');
  const cut = await cli(['state', '--node', node.name, '--cookie-file', node.cookieFile, '--json', '--max-bytes', '5', 'Elixir.SampleApp.Machine']);
  const st = JSON.parse(cut.stdout);
  assert.equal(st.truncated, true);
  assert.equal(st.text.length, 5);
  const none = await cli(['state', '--node', node.name, '--cookie-file', node.cookieFile, 'no_such_process']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no such process/);
});

test('output printed by code run on the node for us does not corrupt the bridge', async () => {
  const { NodeGateway } = await import('../../server/runtime/gateway');
  const s = await NodeGateway.attach({ node: node.name, cookieFile: node.cookieFile });
  try {
    // A remote call's io goes to the caller's group leader: the bridge's, whose stdout is our frames.
    await s.rpc('io', 'format', [Buffer.from('Compiling 1 file (.ex)~n')], 5000);
    const st = await s.status();
    assert.equal(st.node, node.name);
  } finally {
    s.close();
  }
});

test('--limit caps the processes listed and says the list was truncated', async () => {
  const r = await cli(['processes', '--node', node.name, '--cookie-file', node.cookieFile, '--json', '--limit', '3']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ProcessesReport;
  let count = 0;
  const walk = (n: TreeNode | null) => {
    if (!n) return;
    count++;
    n.children.forEach(walk);
  };
  report.applications.forEach((a) => walk(a.supervisor));
  assert.ok(count + report.unsupervised.length <= 3);
  assert.equal(report.truncated, true);
});

test('a wrong cookie is named as the likely cause within 10 s, and the cookie is never printed', async () => {
  const dir = tmp('cookie');
  const wrong = join(dir, 'wrong.cookie');
  writeFileSync(wrong, 'NOT_THE_RIGHT_COOKIE_123');
  const started = Date.now();
  const r = await cli(['status', '--node', node.name, '--cookie-file', wrong]);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refused the connection: the cookie is probably wrong/);
  assert.ok(!(r.stdout + r.stderr).includes('NOT_THE_RIGHT_COOKIE_123'));
  assert.ok(!(r.stdout + r.stderr).includes((await import('node:fs')).readFileSync(node.cookieFile, 'utf8')));
});

test('a node that is not running, epmd that cannot be reached, a missing cookie file and bad arguments each get a clear error and exit 2', async () => {
  const stopped = await cli(['status', '--node', 'nobody_here@localhost', '--cookie-file', node.cookieFile]);
  assert.equal(stopped.code, 2);
  assert.match(stopped.stderr, /Node nobody_here@localhost is not running\..*Start it with "iex --sname nobody_here -S mix"/s);

  const noEpmd = await cli(['status', '--node', 'x@localhost', '--cookie-file', node.cookieFile], loopbackEnv({ ERL_EPMD_PORT: '1' }));
  assert.equal(noEpmd.code, 2);
  assert.match(noEpmd.stderr, /Could not reach epmd on localhost/);

  const noCookie = await cli(['status', '--node', node.name, '--cookie-file', '/nonexistent/cookie']);
  assert.equal(noCookie.code, 2);
  assert.match(noCookie.stderr, /No cookie file at \/nonexistent\/cookie/);

  const noNode = await cli(['processes', '--json']);
  assert.equal(noNode.code, 2);
  assert.match(noNode.stderr, /--node NAME is required/);
  const badLimit = await cli(['processes', '--node', node.name, '--limit', 'lots']);
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /--limit must be a positive integer/);
});

test('after the node stops, attaching says it is not running', async () => {
  const other = await startNode({ name: 'stopping' });
  await other.stop();
  const r = await cli(['status', '--node', other.name, '--cookie-file', other.cookieFile]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not running/);
});

function fmtAtom(name: string): string {
  return /^[a-z][a-zA-Z0-9_@]*$/.test(name) ? name : `'${name}'`;
}
