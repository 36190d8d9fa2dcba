import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, EtfError } from '../../server/beam/etf';
import { formatTerm } from '../../server/beam/format';
import { Atom, BitString, Charlist, ErlMap, Float, ImproperList, Tuple, atom, termEquals, tuple } from '../../server/beam/term';

const samples = [
  0,
  255,
  256,
  -1,
  2147483647,
  -2147483648,
  2 ** 40,
  -(2n ** 200n),
  new Float(1.5),
  atom('ok'),
  atom('Elixir.MyApp.Counter'),
  atom('λ'),
  Buffer.from('2'),
  Buffer.alloc(0),
  new BitString(Buffer.from([0b10100000]), 3),
  [],
  [1, atom('two'), Buffer.from('3')],
  new ImproperList([atom('a')], atom('b')),
  new Charlist('1.0'),
  tuple(),
  new Tuple(Array.from({ length: 300 }, (_, i) => i)),
  new ErlMap([[atom('a'), 1], [Buffer.from('b'), [2]]]),
];

test('every kind of term survives encode then decode unchanged', () => {
  for (const t of samples) {
    const back = decode(encode(t));
    assert.ok(termEquals(back, t), `${formatTerm(t)} came back as ${formatTerm(back)}`);
  }
  const compressed = decode(encode(Array.from({ length: 500 }, () => atom('hello')), { compressed: true }));
  assert.equal((compressed as Atom[]).length, 500);
});

test('kinds Erlang keeps apart stay apart: 1 vs 1.0, atom vs binary, tuple vs list, charlist vs binary', () => {
  assert.equal(decode(encode(1)), 1);
  assert.ok(decode(encode(new Float(1))) instanceof Float);
  assert.ok(decode(encode(atom('x'))) instanceof Atom);
  assert.ok(Buffer.isBuffer(decode(encode('x'))));
  assert.ok(decode(encode(tuple(1, 2))) instanceof Tuple);
  assert.ok(Array.isArray(decode(encode([1, 2]))));
  assert.ok(decode(encode(new Charlist('ab'))) instanceof Charlist);
});

test('malformed input gets a typed EtfError, never another exception', () => {
  const cases = [
    Buffer.from([]),
    Buffer.from([130, 97, 1]),
    Buffer.from([131]),
    Buffer.from([131, 108, 255, 255, 255, 255]),
    Buffer.from([131, 109, 0, 0, 0, 10, 1]),
    Buffer.from([131, 80, 0, 0, 0, 10, 1, 2, 3]),
    Buffer.from([131, 80, 255, 255, 255, 255, 1, 2, 3]),
    Buffer.from([131, 200]),
    Buffer.from([131, 97, 1, 0]),
  ];
  for (const c of cases) assert.throws(() => decode(c), EtfError, `input ${c.toString('hex')}`);
  let deep = Buffer.from([131]);
  for (let i = 0; i < 5000; i++) deep = Buffer.concat([deep, Buffer.from([104, 1])]);
  deep = Buffer.concat([deep, Buffer.from([106])]);
  assert.throws(() => decode(deep), /nested too deeply/);
});

test('~p printing matches Erlang for vsn-like terms', () => {
  assert.equal(formatTerm(Buffer.from('2')), '<<"2">>');
  assert.equal(formatTerm(new Charlist('1.0')), '"1.0"');
  assert.equal(formatTerm(128485201709435295740878726248014303075n), '128485201709435295740878726248014303075');
  assert.equal(formatTerm(atom('Elixir.Foo')), "'Elixir.Foo'");
  assert.equal(formatTerm(tuple(atom('a'), new Charlist('x'), [])), '{a,"x",[]}');
  assert.equal(formatTerm(Buffer.from([1, 2, 3])), '<<1,2,3>>');
  assert.equal(formatTerm(new Float(1)), '1.0');
});
