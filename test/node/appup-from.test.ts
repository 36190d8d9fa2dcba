// beam-live appup --from: the .appup between the project at a git tag and the project now, with
// no node; OTP's systools:make_relup is the oracle that a release can use it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FIXTURES, cli, erlEval, loopbackEnv, run, tmp } from '../helpers';

const COUNTER = 'lib/sample_app/counter.ex';

async function sh(cwd: string, cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { cwd, env: loopbackEnv({ MIX_ENV: 'dev', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' }) });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

test('appup --from a tag (or an older release folder): update with DepMods after the added module it calls, delete, the down section reversed; a same-vsn app refused; make_relup accepts it', async () => {
  const root = tmp('appupfrom');
  const dir = join(root, 'sample_app');
  cpSync(join(FIXTURES, 'sample_app'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  writeFileSync(join(dir, 'lib/sample_app/legacy.ex'), 'defmodule SampleApp.Legacy do\n  def old, do: :old\nend\n');
  await sh(dir, 'git', ['init', '-q']);
  await sh(dir, 'git', ['add', '-A']);
  await sh(dir, 'git', ['commit', '-qm', 'v0.1.0']);
  await sh(dir, 'git', ['tag', 'v0.1.0']);
  await sh(dir, 'mix', ['compile']);
  const ebin = join(dir, '_build/dev/lib/sample_app/ebin');
  const oldEbin = join(root, 'rel/lib/sample_app-0.1.0/ebin');
  cpSync(ebin, oldEbin, { recursive: true });

  // The change: Counter calls a new module, a module goes, comments change nothing.
  const counter = readFileSync(join(dir, COUNTER), 'utf8');
  writeFileSync(join(dir, COUNTER), counter.replace('@vsn "1"', '@vsn "2"').replace(/\nend\s*$/, '\n  def helped, do: SampleApp.Helper.value()\nend\n'));
  writeFileSync(join(dir, 'lib/sample_app/helper.ex'), 'defmodule SampleApp.Helper do\n  def value, do: 42\nend\n');
  rmSync(join(dir, 'lib/sample_app/legacy.ex'));
  const machine = join(dir, 'lib/sample_app/machine.ex');
  writeFileSync(machine, `# a comment only\n${readFileSync(machine, 'utf8')}`);

  const refused = await cli(['appup', '--from', 'v0.1.0', '--project', dir]);
  assert.equal(refused.code, 2, refused.stdout);
  assert.match(refused.stderr, /sample_app changed since the build at v0\.1\.0 but its application vsn did not \(sample_app 0\.1\.0\): a release cannot upgrade an application to the same vsn\. Bump `version:` in mix\.exs/);

  // Mix compares mix.exs with the .app by whole seconds: the bump comes in a later second.
  await new Promise((res) => setTimeout(res, 1100));
  writeFileSync(join(dir, 'mix.exs'), readFileSync(join(dir, 'mix.exs'), 'utf8').replace('version: "0.1.0"', 'version: "0.2.0"'));
  const r = await cli(['appup', '--from', 'v0.1.0', '--project', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const [appup, ...others] = JSON.parse(r.stdout) as Array<{ app: string; fromVsn: string; toVsn: string; modules: string[]; text: string }>;
  assert.equal(others.length, 0);
  assert.deepEqual([appup!.app, appup!.fromVsn, appup!.toVsn], ['sample_app', '0.1.0', '0.2.0']);
  // The comment-only change compiles to the same MD5: not in the appup.
  assert.deepEqual(appup!.modules, ['Elixir.SampleApp.Helper', 'Elixir.SampleApp.Counter', 'Elixir.SampleApp.Legacy']);
  const text = appup!.text;
  assert.match(text, /\{"0\.2\.0",\s*\[\{"0\.1\.0",\s*\[\{add_module,'Elixir\.SampleApp\.Helper'\},\s*\{update,'Elixir\.SampleApp\.Counter',\{advanced,\[\]\},\['Elixir\.SampleApp\.Helper'\]\},\s*\{delete_module,'Elixir\.SampleApp\.Legacy'\}\]\}\],/);
  assert.match(text, /\[\{"0\.1\.0",\s*\[\{add_module,'Elixir\.SampleApp\.Legacy'\},\s*\{update,'Elixir\.SampleApp\.Counter',\{advanced,\[\]\},\['Elixir\.SampleApp\.Helper'\]\},\s*\{delete_module,'Elixir\.SampleApp\.Helper'\}\]\}\]\}\./);
  // The older side may be a release folder instead (its lib/APP-VSN/ebin): the same appup.
  const fromRelease = await cli(['appup', '--from', join(root, 'rel'), '--project', dir, '--json']);
  assert.equal(fromRelease.code, 0, fromRelease.stderr);
  assert.deepEqual((JSON.parse(fromRelease.stdout) as Array<{ modules: string[] }>).map((a) => a.modules), [appup!.modules]);
  // The repository is as it was: the tag was built in a folder of its own, no worktree added.
  assert.equal((await sh(dir, 'git', ['worktree', 'list', '--porcelain'])).split('\n').filter((l) => l.startsWith('worktree ')).length, 1);
  assert.equal((await sh(dir, 'git', ['rev-parse', 'HEAD'])).trim(), (await sh(dir, 'git', ['rev-parse', 'v0.1.0^{commit}'])).trim());

  // OTP's oracle: the two builds as a release's lib/, the appup in the new ebin, make_relup.
  await sh(dir, 'mix', ['compile']);
  const newEbin = join(root, 'rel/lib/sample_app-0.2.0/ebin');
  cpSync(ebin, newEbin, { recursive: true });
  writeFileSync(join(newEbin, 'sample_app.appup'), text);
  const elixirLib = dirname((await sh(root, 'elixir', ['-e', 'IO.write(:code.lib_dir(:elixir))'])).trim());
  const out = await erlEval(
    `Dir = "${join(root, 'rel')}",
     AppVsn = fun(Ebin, A) -> {ok, [{application, A, Ps}]} = file:consult(filename:join(Ebin, atom_to_list(A) ++ ".app")), proplists:get_value(vsn, Ps) end,
     Otp = fun(A) -> AppVsn(code:lib_dir(A, ebin), A) end,
     Ex = fun(A) -> AppVsn(filename:join(["${elixirLib}", atom_to_list(A), "ebin"]), A) end,
     Rel = fun(V) ->
       F = filename:join([Dir, "releases", V, "sample_app"]),
       ok = filelib:ensure_dir(F),
       ok = file:write_file(F ++ ".rel", io_lib:format("~p.~n", [{release, {"sample_app", V}, {erts, erlang:system_info(version)},
              [{kernel, Otp(kernel)}, {stdlib, Otp(stdlib)}, {sasl, Otp(sasl)}, {compiler, Otp(compiler)},
               {elixir, Ex(elixir)}, {logger, Ex(logger)}, {sample_app, V}]}])),
       F end,
     R1 = Rel("0.1.0"), R2 = Rel("0.2.0"),
     Path = [filename:join(Dir, "lib/*/ebin"), "${elixirLib}/*/ebin" | [filename:join(code:lib_dir(A), "ebin") || A <- [kernel, stdlib, sasl, compiler]]],
     case systools:make_relup(R2, [R1], [R1], [{path, Path}, {outdir, filename:join(Dir, "releases/0.2.0")}, silent]) of
       {ok, _, _, Warnings} ->
         {ok, [{"0.2.0", [{"0.1.0", _, Up}], [{"0.1.0", _, Down}]}]} = file:consult(filename:join(Dir, "releases/0.2.0/relup")),
         io:format("ok ~p ~p ~p", [length(Warnings), lists:keymember(add_module, 1, Up) orelse lists:any(fun({load_object_code, {sample_app, _, Ms}}) -> lists:member('Elixir.SampleApp.Helper', Ms); (_) -> false end, Up), length(Down) > 0]);
       Other -> io:format("~p", [Other])
     end`,
  );
  assert.equal(out, 'ok 0 true true');
});
