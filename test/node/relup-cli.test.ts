// beam-live relup between two real `mix release`s: the .appup goes into the new release's
// ebin, systools:make_relup writes the relup, and the relup is what release_handler reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, cli, erlEval, loopbackEnv, run, tmp } from '../helpers';

async function release(dir: string, into: string): Promise<void> {
  const r = await run('mix', ['release', '--overwrite', '--quiet'], { cwd: dir, env: loopbackEnv({ MIX_ENV: 'prod' }) });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  cpSync(join(dir, '_build/prod/rel/sample_app'), into, { recursive: true });
}

test('relup between two mix releases: our .appup in the new ebin, the relup by make_relup, up and down', async () => {
  const root = tmp('relupcli');
  const dir = join(root, 'sample_app');
  cpSync(join(FIXTURES, 'sample_app'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  await release(dir, join(root, 'v1'));
  const counter = join(dir, 'lib/sample_app/counter.ex');
  // @vsn alone is not part of the MD5: the code changes too.
  writeFileSync(counter, readFileSync(counter, 'utf8').replace('@vsn "1"', '@vsn "2"').replace(/\nend\s*$/, '\n  def release, do: 2\nend\n'));
  writeFileSync(join(dir, 'mix.exs'), readFileSync(join(dir, 'mix.exs'), 'utf8').replace('version: "0.1.0"', 'version: "0.2.0"'));
  await release(dir, join(root, 'v2'));

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
