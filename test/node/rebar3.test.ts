// An Erlang project built with rebar3 (a pool with a #state{} record and overflow accounting):
// rebar3's real output parsed into clean diagnostics, and saved modules compiled warm in the
// bridge instead of a fresh rebar3, the upgrade checked on the node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileProject } from '../../server/compile/compile';
import { parseErlcOutput } from '../../server/compile/diagnostics';
import { detectProject } from '../../server/compile/project';
import { NodeGateway } from '../../server/runtime/gateway';
import { UpgradeEngine } from '../../server/upgrade/engine';
import { loadedMd5, loopbackEnv, onNode, run, startRebarNode } from '../helpers';
import { which } from '../../server/runtime/erlangBuild';

const SRC = 'src/rebar_pool.erl';
const skip = which('rebar3') ? false : 'rebar3 is not installed (apt-get install rebar3)';

test("rebar3's own output, coloured or not, gives diagnostics filed under the real file name", { skip }, async () => {
  const node = await startRebarNode('rebar_pool', 'rebar_pool');
  try {
    const file = join(node.dir, SRC);
    writeFileSync(file, readFileSync(file, 'utf8').replace('init([]) -> {ok, #state{}}.', 'init([]) -> {ok, #state{}'));
    // rebar3 compares whole-second mtimes: a save in the second of the build would look old.
    const later = Date.now() / 1000 + 2;
    utimesSync(file, later, later);
    // As a terminal gets it: colours forced on.
    const coloured = await run('rebar3', ['compile'], { cwd: node.dir, env: loopbackEnv({ REBAR_COLOR: 'high', TERM: 'xterm-256color' }) });
    assert.notEqual(coloured.code, 0);
    const fromColour = parseErlcOutput(coloured.stdout + coloured.stderr).filter((d) => d.severity === 'error');
    assert.ok(fromColour.length > 0, coloured.stdout);
    assert.deepEqual([...new Set(fromColour.map((d) => d.file))], [SRC]);
    // As BEAM Live runs it.
    const r = await compileProject(detectProject(node.dir));
    assert.equal(r.ok, false);
    assert.equal(r.tool, 'rebar3');
    assert.deepEqual([...new Set(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.file))], [SRC]);
  } finally {
    await node.stop();
  }
});

test('a saved module of a rebar3 project is compiled warm in the bridge and upgraded; its #state{} record survives', { skip }, async () => {
  const node = await startRebarNode('rebar_pool', 'rebar_pool');
  const s = await NodeGateway.attach({ node: node.name, cookieFile: node.cookieFile });
  const engine = new UpgradeEngine(s, node.dir);
  try {
    await onNode(node, `{ok, _} = rebar_pool:checkout(), {ok, _} = rebar_pool:checkout(), {ok, _} = rebar_pool:checkout(), ok`);
    await engine.keepOldBinaries();
    const dotApp = join(node.dir, '_build', 'default', 'lib', 'rebar_pool', 'ebin', 'rebar_pool.app');
    const appTime = statSync(dotApp).mtimeMs;
    const file = join(node.dir, SRC);
    writeFileSync(file, readFileSync(file, 'utf8').replace('-vsn("1").', '-vsn("2").').replace('status() ->', 'size() -> gen_server:call(?MODULE, size).\nstatus() ->').replace(
      "handle_call(status, _From,",
      "handle_call(size, _From, #state{size = S} = St) -> {reply, S, St};\nhandle_call(status, _From,",
    ).replace('-export([start_link/0, checkout/0, checkin/1, status/0]).', '-export([start_link/0, checkout/0, checkin/1, status/0, size/0]).'));
    engine.noteSaved([SRC]);
    const report = await engine.upgrade();
    assert.equal(report.ok, true, report.summary);
    assert.equal(report.compiler, 'erlang (warm)');
    assert.equal(statSync(dotApp).mtimeMs, appTime, 'rebar3 did not run');
    const m = report.modules.find((x) => x.module === 'rebar_pool');
    assert.deepEqual([m?.oldVsn, m?.newVsn], ['"1"', '"2"']);
    assert.equal(await loadedMd5(node, 'rebar_pool'), m?.newMd5);
    // The overflow accounting is intact: two checked out within size, one on overflow.
    assert.equal(await onNode(node, `io_lib:format("~p", [{rebar_pool:status(), rebar_pool:size(), rebar_pool:checkout()}])`), '{{3,1},2,full}');
    // A syntax error on the warm path: a diagnostic on the file, nothing pushed.
    writeFileSync(file, readFileSync(file, 'utf8').replace('size() -> gen_server:call(?MODULE, size).', 'size() -> gen_server:call(?MODULE, size'));
    engine.noteSaved([SRC]);
    const bad = await engine.upgrade();
    assert.equal(bad.ok, false);
    assert.ok(bad.diagnostics.some((d) => d.file === SRC && d.severity === 'error'), JSON.stringify(bad.diagnostics));
    assert.equal(await loadedMd5(node, 'rebar_pool'), m?.newMd5);
  } finally {
    engine.dispose();
    s.close();
    await node.stop();
  }
});
