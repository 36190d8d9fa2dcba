// npm run demo: the sample app as a live node, seen through BEAM Live.
// Builds test/fixtures/sample_app in a scratch copy, starts it on loopback with a cookie kept in
// a file, attaches with bin/beam-live, prints its supervision trees with module versions, stops it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEpmd } from './epmd.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = join(root, '.cache', 'demo');
const app = join(work, 'sample_app');
const home = join(work, 'home');
const cookieFile = join(home, '.erlang.cookie');
const nodeName = `sample_demo_${process.pid}@localhost`;
const env = { ...process.env, ERL_EPMD_ADDRESS: '127.0.0.1', MIX_ENV: 'dev' };

const step = (m) => console.log(`\n\x1b[1m== ${m}\x1b[0m`);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

function beamLive(...args) {
  step(`bin/beam-live ${args.join(' ')}`);
  sh(process.execPath, [join(root, 'bin', 'beam-live'), ...args, '--node', nodeName, '--cookie-file', cookieFile]);
}

step('Building the sample app (mix compile)');
rmSync(app, { recursive: true, force: true });
cpSync(join(root, 'test', 'fixtures', 'sample_app'), app, { recursive: true, filter: (s) => !s.includes('/_build') });
mkdirSync(join(home, '.mix'), { recursive: true });
if (!existsSync(cookieFile)) {
  writeFileSync(cookieFile, randomBytes(16).toString('hex'));
  chmodSync(cookieFile, 0o400);
}
sh('mix', ['compile'], { cwd: app });

step(`Starting it as ${nodeName}`);
const stopEpmd = ensureEpmd(env);
const node = spawn('elixir', ['--sname', nodeName, '--erl', '-kernel inet_dist_use_interface {127,0,0,1}', '-S', 'mix', 'run', '--no-halt', '-e', 'IO.puts("sample app up")'], {
  cwd: app,
  env: { ...env, HOME: home },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const stopNode = () => {
  if (node.exitCode === null && node.signalCode === null) node.kill('SIGTERM');
};
process.on('exit', stopNode);
process.on('SIGINT', () => process.exit(130));

let code = 0;
try {
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the sample app did not start within 60 s')), 60_000);
    node.stdout.on('data', (d) => {
      if (String(d).includes('sample app up')) {
        clearTimeout(t);
        resolve();
      }
    });
    node.once('exit', (c) => reject(new Error(`the sample app exited (${c}) while starting`)));
  });
  console.log('sample app up');
  beamLive('status');
  beamLive('processes', '--app', 'sample_app');

  step('Some work on the node: SampleApp.Counter.increment() x3');
  sh('erl', ['-sname', `demo_probe_${process.pid}@localhost`, '-hidden', '-noshell', '-dist_listen', 'false', '-eval',
    `[rpc:call('${nodeName}', 'Elixir.SampleApp.Counter', increment, []) || _ <- [1,2,3]], halt().`], { env: { ...env, HOME: home } });
  beamLive('state', 'Elixir.SampleApp.Counter');

  step('Editing lib/sample_app/counter.ex: @vsn "1" -> "2", a new field, and code_change to fill it');
  const counterFile = join(app, 'lib', 'sample_app', 'counter.ex');
  const original = readFileSync(counterFile, 'utf8');
  writeFileSync(counterFile, original
    .replace('@vsn "1"', '@vsn "2"')
    .replace('defstruct count: 0', 'defstruct count: 0, upgraded_from: nil')
    .replace('  @impl true\n  def init', '  @impl true\n  def code_change(old_vsn, state, _extra), do: {:ok, Map.put(state, :upgraded_from, old_vsn)}\n\n  @impl true\n  def init'));
  try {
    beamLive('upgrade', '--project', app);
    beamLive('state', 'Elixir.SampleApp.Counter');
  } finally {
    step('Restoring counter.ex');
    writeFileSync(counterFile, original);
    console.log('restored');
  }
} catch (e) {
  console.error(`\ndemo failed: ${e.message}`);
  code = 1;
} finally {
  step('Stopping the node');
  const exited = new Promise((r) => node.once('exit', r));
  stopNode();
  await exited;
  stopEpmd();
  console.log('stopped');
}
process.exit(code);
