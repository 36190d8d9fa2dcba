// npm test: the unit tests and the real-node tests, with node's own test runner.
// epmd is started on loopback if none runs, and stopped afterwards if we started it.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEpmd } from './epmd.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const groups = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const which = groups.length ? groups : ['unit', 'node'];

const files = which.flatMap((g) =>
  readdirSync(join(root, 'test', g))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join('test', g, f)),
);

const env = { ...process.env, ERL_EPMD_ADDRESS: '127.0.0.1', BEAM_LIVE_CACHE: join(root, '.cache', 'beam-live') };
const stopEpmd = which.some((g) => g !== 'unit') ? ensureEpmd(env) : () => {};

const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
});

stopEpmd();
process.exit(r.status ?? 1);
