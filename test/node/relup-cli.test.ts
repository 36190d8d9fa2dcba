// beam-live relup between two real `mix release`s: the .appup goes into the new release's
// ebin, systools:make_relup writes the relup, and the relup is what release_handler reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { twoReleases } from './releases';
import { cli, erlEval } from '../helpers';

test('relup between two mix releases: our .appup in the new ebin, the relup by make_relup, up and down', async () => {
  const { root } = await twoReleases('relupcli');

  const same = await cli(['relup', '--from', join(root, 'v1'), '--to', join(root, 'v1')]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /Both folders hold sample_app 0\.1\.0: bump the release version/);

  const r = await cli(['relup', '--from', join(root, 'v1'), '--to', join(root, 'v2'), '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout) as { ok: boolean; relup: string; appups: Array<{ app: string; path: string; modules: string[] }>; warnings: string[] };
  assert.equal(out.ok, true);
  assert.deepEqual(out.appups.map((a) => [a.app, a.path, a.modules]), [['sample_app', join(root, 'v2/lib/sample_app-0.2.0/ebin/sample_app.appup'), ['Elixir.SampleApp.Counter']]]);
  assert.ok(existsSync(out.relup));
  const relup = await erlEval(
    `{ok, [{"0.2.0", [{"0.1.0", _, Up}], [{"0.1.0", _, Down}]}]} = file:consult("${out.relup}"),
     C = 'Elixir.SampleApp.Counter',
     io:format("~p ~p ~p ~p", [lists:member({suspend, [C]}, Up), lists:member({code_change, up, [{C, []}]}, Up),
                               lists:member({code_change, down, [{C, []}]}, Down), lists:member({load, {C, brutal_purge, brutal_purge}}, Down)])`,
  );
  assert.equal(relup, 'true true true true');
});
