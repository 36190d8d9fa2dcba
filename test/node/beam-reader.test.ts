// The .beam reader against beam_lib, for every module of stdlib, kernel and compiler and the
// sample app: module, exports, vsn (unwrapped as release_handler does), behaviours and MD5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBeamFile, formatVsn } from '../../server/beam/beamFile';
import { erlEval, prepareProject, cli, tmp } from '../helpers';

// Fields split by \x01, exports by \x02: atom names may hold anything else.
const BEAM_LIB_FACTS = (dirs: string) => `
  Dirs = ${dirs},
  Unwrap = fun(V) ->
      IsString = is_list(V) andalso V =/= [] andalso lists:all(fun(C) -> is_integer(C) andalso C >= 32 andalso C =< 255 end, V),
      case {IsString, V} of {true, _} -> V; {false, [T]} -> T; _ -> V end
    end,
  Lines = [begin
      {ok, {M, Md5}} = beam_lib:md5(F),
      {ok, {M, [{exports, Ex}, {imports, Im}, {attributes, At}]}} = beam_lib:chunks(F, [exports, imports, attributes]),
      {ok, {M, Vsn}} = beam_lib:version(F),
      Bs = lists:append([B || {K, B} <- At, K =:= behaviour orelse K =:= behavior]),
      io_lib:format("~ts\\x01~ts\\x01~s\\x01~ts\\x01~ts\\x01~ts\\x01~ts~n", [
        F, atom_to_list(M), [io_lib:format("~2.16.0b", [X]) || <<X>> <= Md5],
        re:replace(io_lib:format("~p", [Unwrap(Vsn)]), "\\\\s*\\\\n\\\\s*", "", [global, unicode]),
        lists:join("\\x02", [io_lib:format("~ts/~b", [atom_to_list(N), A]) || {N, A} <- lists:sort(Ex)]),
        lists:join(",", [atom_to_list(B) || B <- Bs]),
        lists:join("\\x02", lists:usort([atom_to_list(IM) || {IM, _, _} <- Im]))])
    end || D <- Dirs, F <- filelib:wildcard(filename:join(D, "*.beam"))],
  io:put_chars(unicode:characters_to_binary(Lines))`;

test('module, exports, imported modules, vsn, behaviours and MD5 equal beam_lib for every beam of stdlib, kernel, compiler and the sample app', async () => {
  const project = await prepareProject();
  const appEbin = join(project, '_build', 'dev', 'lib', 'sample_app', 'ebin');
  const out = await erlEval(BEAM_LIB_FACTS(`[code:lib_dir(stdlib, ebin), code:lib_dir(kernel, ebin), code:lib_dir(compiler, ebin), "${appEbin}"]`));
  const lines = out.split('\n').filter(Boolean);
  assert.ok(lines.length > 200, `expected hundreds of beams, got ${lines.length}`);
  let checked = 0;
  for (const line of lines) {
    const [file, module, md5, vsn, exports, behaviours, imports] = line.split('\x01') as [string, string, string, string, string, string, string];
    const b = readBeamFile(file);
    assert.equal(b.module, module, file);
    assert.equal(b.md5, md5, `${file}: MD5`);
    assert.equal(formatVsn(b.vsn), vsn, `${file}: vsn`);
    const ours = b.exports.map(([f, a]) => `${f}/${a}`).sort();
    const theirs = exports ? exports.split('\x02').sort() : [];
    assert.deepEqual(ours, theirs, `${file}: exports`);
    assert.deepEqual(b.behaviours, behaviours ? behaviours.split(',') : [], `${file}: behaviours`);
    assert.deepEqual([...b.imports].sort(), imports ? imports.split('\x02').sort() : [], `${file}: imported modules`);
    checked++;
  }
  assert.equal(checked, lines.length);
});

test('beam-live beam prints one JSON object per file, and a corrupt or truncated beam gets an error and exit 2', async () => {
  const project = await prepareProject();
  const counter = join(project, '_build', 'dev', 'lib', 'sample_app', 'ebin', 'Elixir.SampleApp.Counter.beam');
  const ok = await cli(['beam', '--json', counter]);
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout);
  assert.equal(r.module, 'Elixir.SampleApp.Counter');
  assert.equal(r.vsn, '<<"1">>');
  assert.match(r.md5, /^[0-9a-f]{32}$/);
  assert.ok(r.exports.includes('increment/0'));
  assert.deepEqual(r.behaviours, ['Elixir.GenServer']);
  // The text reads as the project writes it.
  const text = await cli(['beam', counter]);
  assert.match(text.stdout, new RegExp(`^SampleApp\\.Counter  md5 ${r.md5}  vsn "1"  behaviours GenServer\n  exports .*increment/0`));

  const dir = tmp('corrupt');
  const { readFileSync } = await import('node:fs');
  const whole = readFileSync(counter);
  const truncated = join(dir, 'truncated.beam');
  writeFileSync(truncated, whole.subarray(0, whole.length / 2));
  const garbage = join(dir, 'garbage.beam');
  writeFileSync(garbage, Buffer.from('definitely not a beam file'));
  const bad = await cli(['beam', '--json', counter, truncated, garbage]);
  assert.equal(bad.code, 2);
  const rows = bad.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 3);
  assert.equal(rows[0].module, 'Elixir.SampleApp.Counter');
  assert.match(rows[1].error, /truncated/);
  assert.match(rows[2].error, /not a BEAM file/);
  assert.deepEqual(Object.keys(rows[1]).sort(), ['error', 'file']);
});
