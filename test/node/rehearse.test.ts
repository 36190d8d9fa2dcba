// beam-live rehearse on two real mix releases: OTP's release_handler installs the upgrade and
// the downgrade on a throw-away node; the report is checked against what the node said, and
// no node the rehearsal started survives it.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rehearsingIn, twoReleases, vmsUnder, watchForCookieArgs } from './releases';
import { cli, startLsp } from '../helpers';

let root: string;
before(async () => {
  ({ root } = await twoReleases('rehearse'));
});

test('rehearse: release_handler upgrades and downgrades for real; each code_change with its OldVsn, as the plan predicted; the node is gone after', async () => {
  // relup first: the rehearsal then reads the appup the new release ships with.
  assert.equal((await cli(['relup', '--from', join(root, 'v1'), '--to', join(root, 'v2')])).code, 0);

  // The warm-up gives Counter a state to carry through the upgrade and back. Meanwhile every
  // command line is watched: the throw-away node's cookie must be in none of them.
  const leaks = watchForCookieArgs(root);
  const r = await cli(['rehearse', '--from', join(root, 'v1'), '--to', join(root, 'v2'), '--warmup', 'SampleApp.Counter.increment(); SampleApp.Counter.increment()', '--json'], rehearsingIn(root));
  const out = JSON.parse(r.stdout || '{}') as {
    ok: boolean;
    summary: string;
    differences: string[];
    up: { ok: boolean; calls: Array<{ module: string; oldVsn: string; result: string }> };
    down: { ok: boolean; calls: Array<{ module: string; oldVsn: string; result: string }> };
    processes: Array<{ module: string; predicted: boolean; up: { codeChange: { oldVsn: string } | null; after: { alive: boolean; md5: string; state: string } }; down: { after: { alive: boolean; md5: string; state: string } } }>;
  };
  assert.equal(r.code, 0, `${r.stderr}\n${out.summary}\n${out.differences?.join('\n')}`);
  assert.equal(out.ok, true);
  assert.deepEqual(out.up.calls.map((c) => [c.module, c.oldVsn, c.result]), [['Elixir.SampleApp.Counter', '<<"1">>', 'ok']]);
  assert.deepEqual(out.down.calls.map((c) => [c.module, c.oldVsn, c.result]), [['Elixir.SampleApp.Counter', '{down,<<"1">>}', 'ok']]);
  const c = out.processes.find((p) => p.module === 'Elixir.SampleApp.Counter')!;
  assert.equal(c.predicted, true);
  assert.equal(c.up.codeChange?.oldVsn, '<<"1">>');
  assert.equal(c.up.after.alive && c.down.after.alive, true);
  assert.notEqual(c.up.after.md5, c.down.after.md5, 'the downgrade loaded the old code back');
  assert.match(c.up.after.state, /count => 2/, 'the state survived the upgrade');
  assert.match(c.down.after.state, /count => 2/, 'and the downgrade');
  assert.equal(await vmsUnder(root), '', 'no rehearsal node left running');
  assert.deepEqual(await leaks.stop(), [], 'the rehearsal node took its cookie from a command line');
});

test('rehearse a broken appup: a code_change with no clause for the running vsn fails install_release; exit 1 names the process and the reason; the node is stopped', async () => {
  const { root } = await twoReleases('rehearsebad', { broken: true });
  const r = await cli(['rehearse', '--from', join(root, 'v1'), '--to', join(root, 'v2')], rehearsingIn(root));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /install_release 0\.2\.0 failed: .*code_change_failed/);
  assert.match(r.stdout, /SampleApp\.Counter.*code_change failed in the upgrade: .*function_clause/);
  assert.equal(await vmsUnder(root), '', 'no rehearsal node left running');
});

test('the editor asks the same over LSP (beamLive/rehearse), with no node attached', async () => {
  const lsp = await startLsp(root, { env: rehearsingIn(root) });
  try {
    const r = await lsp.conn.sendRequest<{ ok: boolean; processes: Array<{ module: string }> }>('beamLive/rehearse', { from: join(root, 'v1'), to: join(root, 'v2') });
    assert.equal(r.ok, true);
    assert.ok(r.processes.some((p) => p.module === 'Elixir.SampleApp.Counter'));
    await assert.rejects(lsp.conn.sendRequest('beamLive/rehearse', { from: join(root, 'nothing'), to: join(root, 'v2') }), /is not a release: no releases\/VSN\/NAME.rel/);
  } finally {
    await lsp.stop();
  }
  assert.equal(await vmsUnder(root), '');
});

test('rehearse a wider change: the gen_statem and the DynamicSupervisor workers as predicted; a comment-only change and module add/delete through the relup; the process outside the tree, missed by the plan, killed by the downgrade and named', async () => {
  const wide = await twoReleases('rehearsewide', { wide: true });
  assert.equal((await cli(['relup', '--from', wide.v1, '--to', wide.v2])).code, 0);
  const r = await cli(['rehearse', '--from', wide.v1, '--to', wide.v2, '--json'], rehearsingIn(wide.root));
  const out = JSON.parse(r.stdout || '{}') as {
    appups?: unknown;
    differences: string[];
    processes: Array<{ module: string; name: string | null; predicted: boolean; up: { codeChange: { result: string } | null }; down: { after: { alive: boolean } } }>;
  };
  assert.equal(r.code, 1, r.stderr);
  const called = (m: string) => out.processes.filter((p) => p.module === m && p.predicted && p.up.codeChange?.result === 'ok').length;
  assert.equal(called('Elixir.SampleApp.Machine'), 1, 'the gen_statem');
  assert.equal(called('Elixir.SampleApp.Worker'), 3, "the DynamicSupervisor's workers");
  assert.equal(called('Elixir.SampleApp.Counter'), 1);
  const looper = out.processes.find((p) => p.module === 'Elixir.SampleApp.Looper')!;
  assert.deepEqual([looper.predicted, looper.up.codeChange, looper.down.after.alive], [false, null, false]);
  assert.deepEqual(out.differences, ['sample_looper (Elixir.SampleApp.Looper): died in the downgrade']);
  // The comment-only change is no change; the added and the removed module are in the appup.
  const appup = readFileSync(join(wide.root, 'v2/lib/sample_app-0.2.0/ebin/sample_app.appup'), 'utf8');
  assert.doesNotMatch(appup, /SampleApp\.Store/);
  assert.match(appup, /\{add_module,'Elixir\.SampleApp\.Added'\}/);
  assert.match(appup, /\{delete_module,'Elixir\.SampleApp\.Legacy'\}/);
  assert.equal(await vmsUnder(wide.root), '');
});
