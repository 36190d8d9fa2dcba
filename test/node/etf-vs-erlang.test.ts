// The codec against the real thing: terms made by term_to_binary in a real erl decode to the
// model we expect, and what we encode, binary_to_term reads back equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '../../server/beam/etf';
import { formatTerm } from '../../server/beam/format';
import {
  Atom, BitString, Charlist, ErlMap, ExportFun, Float, Fun, ImproperList, Pid, Port, Ref, Term, Tuple, atom, termEquals, text, tuple,
} from '../../server/beam/term';
import { erlEval, tmp } from '../helpers';

// Name -> Erlang expression; the same names map to the model in EXPECTED below.
const CASES: Array<[string, string]> = [
  ['small_int', '42'],
  ['neg_int', '-5'],
  ['int32', '100000'],
  ['big_pos', '123456789012345678901234567890'],
  ['big_neg', '-98765432109876543210'],
  ['large_big', '1 bsl 2100'],
  ['float', '3.14'],
  ['float_neg', '-0.5'],
  ['atom', 'hello'],
  ['utf8_atom', "'héllo_λ'"],
  ['elixir_atom', "'Elixir.MyApp.Counter'"],
  ['nil', '[]'],
  ['charlist', '"1.0"'],
  ['unicode_list', '[955, 8364]'],
  ['list', '[1, two, <<"3">>]'],
  ['improper', '[a | b]'],
  ['improper2', '[1, 2 | 3]'],
  ['binary', '<<"2">>'],
  ['empty_binary', '<<>>'],
  ['bitstring', '<<1:3>>'],
  ['bitstring2', '<<255, 7:4>>'],
  ['tuple', '{a, 1, "x"}'],
  ['empty_tuple', '{}'],
  ['large_tuple', 'list_to_tuple(lists:seq(1, 300))'],
  ['map', '#{a => 1, <<"b">> => [2]}'],
  ['nested_map', '#{k => #{x => {1, 2}}}'],
  ['empty_map', '#{}'],
  ['long_string', 'lists:duplicate(70000, $a)'],
  ['pid', 'self()'],
  ['ref', 'make_ref()'],
  ['port', 'hd(erlang:ports())'],
  ['local_fun', 'fun(X) -> X + 1 end'],
  ['export_fun', 'fun lists:map/2'],
];

const EXPECTED: Record<string, Term> = {
  small_int: 42,
  neg_int: -5,
  int32: 100000,
  big_pos: 123456789012345678901234567890n,
  big_neg: -98765432109876543210n,
  large_big: 1n << 2100n,
  float: new Float(3.14),
  float_neg: new Float(-0.5),
  atom: atom('hello'),
  utf8_atom: atom('héllo_λ'),
  elixir_atom: atom('Elixir.MyApp.Counter'),
  nil: [],
  charlist: new Charlist('1.0'),
  unicode_list: [955, 8364],
  list: [1, atom('two'), Buffer.from('3')],
  improper: new ImproperList([atom('a')], atom('b')),
  improper2: new ImproperList([1, 2], 3),
  binary: Buffer.from('2'),
  empty_binary: Buffer.alloc(0),
  bitstring: new BitString(Buffer.from([0b00100000]), 3),
  bitstring2: new BitString(Buffer.from([255, 0b01110000]), 4),
  tuple: tuple(atom('a'), 1, new Charlist('x')),
  empty_tuple: tuple(),
  large_tuple: new Tuple(Array.from({ length: 300 }, (_, i) => i + 1)),
  map: new ErlMap([[atom('a'), 1], [Buffer.from('b'), [2]]]),
  nested_map: new ErlMap([[atom('k'), new ErlMap([[atom('x'), tuple(1, 2)]])]]),
  empty_map: new ErlMap([]),
  long_string: Array.from({ length: 70000 }, () => 97),
};

function erlCases(): string {
  return '[' + CASES.map(([n, e]) => `{${n}, ${e}}`).join(',\n') + ']';
}

test('terms from real term_to_binary (every tag, compressed too) decode to the expected model, and binary_to_term reads ours back equal', async () => {
  const dir = tmp('etf');
  const fromErl = join(dir, 'from_erl.bin');
  const fromTs = join(dir, 'from_ts.bin');
  // Each case is sent plain and compressed; the originals stay in the file for the return trip.
  await erlEval(
    `Cases = ${erlCases()},
     Bins = [{N, term_to_binary(T), term_to_binary(T, [compressed]), term_to_binary(T, [{minor_version, 1}])} || {N, T} <- Cases],
     ok = file:write_file("${fromErl}", term_to_binary(Bins))`,
  );
  const outer = decode(readFileSync(fromErl)) as Term[];
  assert.equal(outer.length, CASES.length);
  const back: Term[] = [];
  for (const entry of outer) {
    const [name, plain, compressed, minor1] = (entry as Tuple).elements as [Atom, Buffer, Buffer, Buffer];
    const t = decode(plain);
    assert.ok(termEquals(decode(compressed), t), `${name.name}: compressed form decodes the same`);
    assert.ok(termEquals(decode(minor1), t), `${name.name}: minor_version 1 decodes the same`);
    const want = EXPECTED[name.name];
    if (want !== undefined) assert.ok(termEquals(t, want), `${name.name}: got ${formatTerm(t).slice(0, 200)}`);
    back.push(tuple(name, encode(t), want === undefined ? atom('none') : encode(want), encode(t, { compressed: true })));
  }
  // Kinds without a literal: checked by shape here, and by equality in erl below.
  const byName = new Map(outer.map((e) => [((e as Tuple).elements[0] as Atom).name, decode((e as Tuple).elements[1] as Buffer)]));
  assert.ok(byName.get('pid') instanceof Pid);
  assert.equal((byName.get('pid') as Pid).node.name, 'nonode@nohost');
  assert.ok(byName.get('ref') instanceof Ref);
  assert.ok(byName.get('port') instanceof Port);
  assert.ok(byName.get('local_fun') instanceof Fun);
  assert.equal((byName.get('local_fun') as Fun).module.name, 'erl_eval');
  assert.ok(byName.get('export_fun') instanceof ExportFun);
  assert.equal(text((byName.get('export_fun') as ExportFun).fn), 'map');

  writeFileSync(fromTs, encode(back));
  const verdict = await erlEval(
    `{ok, E} = file:read_file("${fromErl}"), {ok, O} = file:read_file("${fromTs}"),
     Orig = [{N, binary_to_term(B)} || {N, B, _, _} <- binary_to_term(E)],
     Bad = lists:flatmap(fun({N, Ours, Hand, Comp}) ->
         {N, T} = lists:keyfind(N, 1, Orig),
         R1 = [{N, roundtrip} || binary_to_term(Ours) =/= T],
         R2 = [{N, hand_built} || Hand =/= none, binary_to_term(Hand) =/= T],
         R3 = [{N, compressed} || binary_to_term(Comp) =/= T],
         R1 ++ R2 ++ R3
       end, binary_to_term(O)),
     io:format("~p", [Bad])`,
  );
  assert.equal(verdict.trim(), '[]');
});
