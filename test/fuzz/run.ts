// npm run fuzz [-- N]: at least 100,000 mutated inputs through the ETF decoder and the .beam reader.
import { fuzz } from './fuzz';

const n = Math.max(100_000, Number(process.argv[2] ?? 0) || 0);
const stats = fuzz(n, Number(process.env.FUZZ_SEED ?? 1));
console.log(`fuzz: ${stats.cases} cases, ${stats.decoded} decoded, ${stats.rejected} rejected with a typed error, slowest ${stats.slowestMs.toFixed(1)} ms`);
for (const e of stats.escaped.slice(0, 20)) console.error(`fuzz: ESCAPED case ${e.seed} (${e.kind}): ${e.error}`);
console.log(`${stats.cases - stats.escaped.length} passed, ${stats.escaped.length} failed`);
process.exit(stats.escaped.length ? 1 : 0);
