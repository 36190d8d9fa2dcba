// Mutation fuzzing of the two parsers that read bytes from outside: the ETF decoder and the
// .beam reader. Seeds are real inputs (terms as term_to_binary writes them, the beams of the
// installed OTP); each mutant must decode or fail with the parser's own typed error, quickly.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BeamError, readBeam } from '../../server/beam/beamFile';
import { decode, encode, EtfError } from '../../server/beam/etf';
import { BitString, Charlist, ErlMap, Float, ImproperList, Tuple, atom, tuple } from '../../server/beam/term';

/** A small deterministic PRNG, so that a failing case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function etfSeeds(): Buffer[] {
  const terms = [
    tuple(atom('ok'), new ErlMap([[atom('pid'), Buffer.from('<0.1.0>')], [atom('vsn'), Buffer.from('<<"1">>')]])),
    [1, 2, 3, new Float(1.5), 2n ** 100n, -5, atom('Elixir.MyApp.Counter'), new Charlist('1.0')],
    new ImproperList([atom('a')], atom('b')),
    new Tuple(Array.from({ length: 300 }, (_, i) => i)),
    new BitString(Buffer.from([1, 2, 0xf0]), 4),
    new ErlMap([[Buffer.from('k'), [tuple(atom('x'), new ErlMap([]))]]]),
    atom('λ'),
  ];
  return [...terms.map((t) => encode(t)), ...terms.map((t) => encode(t, { compressed: true }))];
}

export function beamSeeds(max = 12): Buffer[] {
  const out: Buffer[] = [];
  for (const lib of ['/usr/lib/erlang/lib']) {
    try {
      const stdlib = readdirSync(lib).find((d) => d.startsWith('stdlib-'));
      if (!stdlib) continue;
      const ebin = join(lib, stdlib, 'ebin');
      for (const f of readdirSync(ebin).filter((f) => f.endsWith('.beam')).slice(0, max)) out.push(readFileSync(join(ebin, f)));
    } catch {
      // no Erlang here: the ETF seeds still run
    }
  }
  return out;
}

function mutate(b: Buffer, r: () => number): Buffer {
  const out = Buffer.from(b);
  const n = 1 + Math.floor(r() * 4);
  let cur = out;
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * Math.max(1, cur.length));
    switch (Math.floor(r() * 6)) {
      case 0: // flip a bit
        if (cur.length) cur[at] = cur[at]! ^ (1 << Math.floor(r() * 8));
        break;
      case 1: // a random byte
        if (cur.length) cur[at] = Math.floor(r() * 256);
        break;
      case 2: // cut
        cur = cur.subarray(0, at);
        break;
      case 3: // a length field gone huge
        if (cur.length >= at + 4) cur.writeUInt32BE([0xffffffff, 0x7fffffff, 0x10000000, cur.length * 2][Math.floor(r() * 4)]!, at);
        break;
      case 4: // insert garbage
        cur = Buffer.concat([cur.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))), cur.subarray(at)]);
        break;
      default: // duplicate a slice
        cur = Buffer.concat([cur.subarray(0, at), cur.subarray(at, at + 16), cur.subarray(at)]);
    }
  }
  return cur;
}

export interface FuzzStats {
  cases: number;
  decoded: number;
  rejected: number;
  /** Inputs that escaped with another exception or took too long: must stay empty. */
  escaped: Array<{ seed: number; kind: string; error: string }>;
  slowestMs: number;
}

export function fuzz(cases: number, seed = 1): FuzzStats {
  const r = rng(seed);
  const etf = etfSeeds();
  const beams = beamSeeds();
  const stats: FuzzStats = { cases, decoded: 0, rejected: 0, escaped: [], slowestMs: 0 };
  for (let i = 0; i < cases; i++) {
    const useBeam = beams.length > 0 && r() < 0.3;
    const base = useBeam ? beams[Math.floor(r() * beams.length)]! : etf[Math.floor(r() * etf.length)]!;
    const input = mutate(base, r);
    const t = performance.now();
    try {
      if (useBeam) readBeam(input, 'fuzz.beam');
      else decode(input, { maxInflatedBytes: 16 * 1024 * 1024 });
      stats.decoded++;
    } catch (e) {
      if ((useBeam && e instanceof BeamError) || (!useBeam && e instanceof EtfError)) stats.rejected++;
      else stats.escaped.push({ seed: i, kind: useBeam ? 'beam' : 'etf', error: String((e as Error).stack ?? e).slice(0, 300) });
    }
    const ms = performance.now() - t;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (ms > 2000) stats.escaped.push({ seed: i, kind: useBeam ? 'beam' : 'etf', error: `took ${ms.toFixed(0)} ms` });
  }
  return stats;
}

