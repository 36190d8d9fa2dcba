// The release commands on an Erlang project built by rebar3/relx, given as tarballs: appup
// --from the older release, relup between the tarballs (by systools:make_relup), and a rehearsal
// where OTP's release_handler moves the pool's #state{} record up and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { which } from '../../server/runtime/erlangBuild';
import { cli, run } from '../helpers';
import { rehearsingIn, twoRebarReleases, vmsUnder, watchForCookieArgs } from './releases';

const skip = which('rebar3') ? false : 'rebar3 is not installed (apt-get install rebar3)';

test('rebar3 releases as tarballs: appup --from, relup packed into the new tarball, rehearse moves #state{} up and back; no cookie on a command line, no node left', { skip }, async () => {
  const r = await twoRebarReleases('rehearserebar');

  const appup = await cli(['appup', '--from', r.tar1, '--project', r.dir, '--json']);
  assert.equal(appup.code, 0, appup.stderr);
  const [made] = JSON.parse(appup.stdout) as Array<{ app: string; fromVsn: string; toVsn: string; instructions: Array<{ module: string; instruction: string }> }>;
  assert.deepEqual([made?.app, made?.fromVsn, made?.toVsn], ['rebar_pool', '0.1.0', '0.2.0']);
  assert.deepEqual(made?.instructions.map((i) => [i.module, i.instruction]), [['rebar_pool', 'update']]);

  const relup = await cli(['relup', '--from', r.tar1, '--to', r.tar2]);
  assert.equal(relup.code, 0, relup.stderr + relup.stdout);
  assert.match(relup.stdout, /Wrote .*rebar_pool-0\.2\.0\.tar\.gz:releases\/0\.2\.0\/relup/);
  const inside = (await run('tar', ['-tzf', r.tar2])).stdout.split('\n');
  assert.ok(inside.includes('releases/0.2.0/relup'), 'the new tarball carries the relup');
  assert.ok(inside.includes('lib/rebar_pool-0.2.0/ebin/rebar_pool.appup'), 'and the appup');

  const leaks = watchForCookieArgs(r.root);
  const reh = await cli(['rehearse', '--from', r.tar1, '--to', r.tar2, '--warmup', 'rebar_pool:checkout(), rebar_pool:checkout()', '--json'], rehearsingIn(r.root));
  const out = JSON.parse(reh.stdout || '{}') as {
    ok: boolean;
    summary: string;
    differences: string[];
    up: { calls: Array<{ module: string; oldVsn: string; result: string }> };
    down: { calls: Array<{ module: string; oldVsn: string; result: string }> };
    processes: Array<{ module: string; name: string | null; predicted: boolean; up: { after: { alive: boolean; suspended: boolean; state: string } }; down: { after: { alive: boolean; suspended: boolean; state: string } } }>;
  };
  assert.equal(reh.code, 0, `${reh.stderr}\n${out.summary}\n${out.differences?.join('\n')}`);
  assert.deepEqual(out.up.calls.map((c) => [c.module, c.oldVsn, c.result]), [['rebar_pool', '"1"', 'ok']]);
  assert.deepEqual(out.down.calls.map((c) => [c.module, c.oldVsn, c.result]), [['rebar_pool', '{down,"1"}', 'ok']]);
  const pool = out.processes.find((p) => p.name === 'rebar_pool')!;
  assert.equal(pool.predicted, true, 'the plan predicted it');
  // sys:get_state on the rehearsal node: the two checked-out workers, served counted after the upgrade, gone after the downgrade.
  assert.match(pool.up.after.state, /^\{state,2,1,0,\[#Ref<[^\]]+>,#Ref<[^\]]+>\],2\}$/);
  assert.match(pool.down.after.state, /^\{state,2,1,0,\[#Ref<[^\]]+>,#Ref<[^\]]+>\]\}$/);
  assert.equal(pool.up.after.suspended || pool.down.after.suspended, false);
  assert.deepEqual(await leaks.stop(), [], 'the rehearsal node took its cookie from a command line');
  assert.equal(await vmsUnder(r.root), '', 'no rehearsal node left running');
});
