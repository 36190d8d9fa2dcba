// OTP is the oracle for the script: the plan's expansion must be the relup that
// systools:make_relup writes for the same appup, block for block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatAppup } from '../../server/upgrade/appup';
import type { PlannedModule } from '../../server/upgrade/plan';
import { expandScript } from '../../server/upgrade/script';
import { erlEval, run, tmp } from '../helpers';

const PLANNED: PlannedModule[] = [
  { module: 'srv_a', instruction: 'update' },
  { module: 'lib_b', instruction: 'load_module' },
  { module: 'sup_c', instruction: 'supervisor' },
  { module: 'srv_f', instruction: 'update', depMods: ['lib_g'] },
  { module: 'lib_g', instruction: 'load_module' },
  { module: 'old_d', instruction: 'delete_module' },
  { module: 'new_e', instruction: 'add_module' },
];

function app(dir: string, vsn: string, mods: string[]): void {
  const ebin = join(dir, 'lib', `myapp-${vsn}`, 'ebin');
  mkdirSync(ebin, { recursive: true });
  writeFileSync(join(ebin, 'myapp.app'), `{application,myapp,[{description,"relup oracle"},{vsn,"${vsn}"},{modules,[${mods.join(',')}]},{registered,[]},{applications,[kernel,stdlib]}]}.\n`);
  for (const m of mods) writeFileSync(join(ebin, `${m}.erl`), `-module(${m}).\n`);
}

test('the plan prints the relup systools:make_relup builds for the same appup: one block per module, DepMods grouped', async () => {
  const dir = tmp('relup');
  const v1 = ['srv_a', 'lib_b', 'sup_c', 'srv_f', 'lib_g', 'old_d'];
  const v2 = ['srv_a', 'lib_b', 'sup_c', 'srv_f', 'lib_g', 'new_e'];
  app(dir, '1', v1);
  app(dir, '2', v2);
  for (const [vsn, mods] of [['1', v1], ['2', v2]] as const) {
    const ebin = join(dir, 'lib', `myapp-${vsn}`, 'ebin');
    const r = await run('erlc', ['-o', ebin, ...mods.map((m) => join(ebin, `${m}.erl`))]);
    assert.equal(r.code, 0, r.stderr);
  }
  writeFileSync(join(dir, 'lib', 'myapp-2', 'ebin', 'myapp.appup'), formatAppup({ app: 'myapp', from: 'the test', fromVsn: '1', toVsn: '2', modules: PLANNED }));
  const ours = expandScript(PLANNED, () => ({ app: 'myapp', vsn: '2' }));
  const out = await erlEval(
    `Dir = "${dir}",
     Vsn = fun(A) -> application:load(A), {ok, V} = application:get_key(A, vsn), V end,
     Rel = fun(V) ->
       F = filename:join([Dir, "releases", V, "myapp"]),
       ok = filelib:ensure_dir(F),
       ok = file:write_file(F ++ ".rel", io_lib:format("~p.~n", [{release, {"myapp", V}, {erts, erlang:system_info(version)},
              [{kernel, Vsn(kernel)}, {stdlib, Vsn(stdlib)}, {sasl, Vsn(sasl)}, {myapp, V}]}])),
       F end,
     R1 = Rel("1"), R2 = Rel("2"),
     Path = [filename:join(Dir, "lib/*/ebin") | [filename:join(code:lib_dir(A), "ebin") || A <- [kernel, stdlib, sasl]]],
     {ok, _, _, _} = systools:make_relup(R2, [R1], [R1], [{path, Path}, {outdir, filename:join(Dir, "releases/2")}, silent]),
     {ok, [{"2", [{"1", _, Up}], _}]} = file:consult(filename:join(Dir, "releases/2/relup")),
     Parse = fun(S) -> {ok, Ts, _} = erl_scan:string(S ++ "."), {ok, T} = erl_parse:parse_term(Ts), T end,
     Ours = [Parse(S) || S <- ${JSON.stringify(ours)}],
     io:format("~s", [case Ours =:= Up of true -> "same"; false -> io_lib:format("relup:~n~p~nours:~n~p", [Up, Ours]) end])`,
  );
  assert.equal(out, 'same');
});
