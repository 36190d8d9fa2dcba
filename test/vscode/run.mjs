// npm run test:vscode: the integration suite through @vscode/test-electron (whose "VS Code" is
// our code-server runner here), then the UI walk-through on the packaged .vsix.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT } from './codeServer.mjs';
import { ensureEpmd } from '../../scripts/epmd.mjs';

const only = process.argv.slice(2);
const want = (part) => only.length === 0 || only.includes(part);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
}

sh(process.execPath, ['scripts/setup.mjs', '--quiet']);
sh('bash', ['scripts/setup-vscode.sh']);

// The suite, one bundle per file (vscode and mocha come from the host).
const suiteSrc = join(ROOT, 'test', 'vscode', 'suite');
const suiteOut = join(ROOT, 'out', 'test', 'vscode', 'suite');
rmSync(suiteOut, { recursive: true, force: true });
await esbuild.build({
  entryPoints: readdirSync(suiteSrc).filter((f) => f.endsWith('.ts')).map((f) => join(suiteSrc, f)),
  outdir: suiteOut,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', 'mocha'],
  logLevel: 'warning',
});

// A project copy, a HOME whose ~/.erlang.cookie the nodes, code-server and our probes share.
const home = mkdtempSync(join(tmpdir(), 'beam-live-vshome-'));
const cookie = randomBytes(12).toString('hex');
writeFileSync(join(home, '.erlang.cookie'), cookie);
chmodSync(join(home, '.erlang.cookie'), 0o400);
mkdirSync(join(home, '.mix'), { recursive: true });
const env = {
  ...process.env,
  HOME: home,
  ERL_EPMD_ADDRESS: '127.0.0.1',
  ERL_AFLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  ERL_CRASH_DUMP_SECONDS: '0',
  MIX_ENV: 'dev',
  BEAM_LIVE_TEST_HOME: home,
  BEAM_LIVE_CACHE: join(ROOT, '.cache', 'beam-live'),
};
const stopEpmd = ensureEpmd(env);

function project(name) {
  const dir = join(mkdtempSync(join(tmpdir(), `beam-live-${name}-`)), 'sample_app');
  cpSync(join(ROOT, 'test', 'fixtures', 'sample_app'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  sh('mix', ['compile'], { cwd: dir, env, stdio: 'ignore' });
  return dir;
}

/**
 * A node started outside VS Code, for the attach test and the UI walk-through, as users start
 * one: `--sname NAME` with no host part, so that it is NAME@<this machine's short name>. On
 * loopback only.
 */
async function startNode(dir, bare) {
  const name = `${bare}@${hostname().split('.')[0]}`;
  const proc = spawn('elixir', ['--sname', bare, '--erl', '-kernel inet_dist_use_interface {127,0,0,1}', '-S', 'mix', 'run', '--no-halt', '-e', 'IO.puts("beam-live-test-ready")'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${name} did not start`)), 60_000);
    proc.stdout.on('data', (d) => String(d).includes('beam-live-test-ready') && (clearTimeout(t), res()));
    proc.once('exit', (c) => rej(new Error(`${name} exited (${c})`)));
  });
  return { name, stop: () => new Promise((r) => (proc.exitCode !== null ? r() : (proc.once('exit', r), proc.kill('SIGTERM')))) };
}

let failed = 0;
let passed = 0;
const nodes = [];
try {
  if (want('integration')) {
    const dir = project('itest');
    const node = await startNode(dir, `vsattach_${process.pid}`);
    nodes.push(node);
    // Two more nodes of the same app and cookie: the suite connects them to the first as a cluster.
    const peers = await Promise.all(['a', 'b'].map((x) => startNode(dir, `vspeer_${x}_${process.pid}`)));
    nodes.push(...peers);
    const results = join(home, 'results.json');
    const { runTests } = await import('@vscode/test-electron');
    let code = 0;
    try {
      await runTests({
        vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH ?? join(ROOT, 'test', 'vscode', 'code-runner'),
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: join(suiteOut, 'index'),
        launchArgs: [dir],
        extensionTestsEnv: { ...env, BEAM_LIVE_TEST_NODE: node.name, BEAM_LIVE_TEST_PEERS: peers.map((p) => p.name).join(','), BEAM_LIVE_TEST_COOKIE: join(home, '.erlang.cookie'), BEAM_LIVE_TEST_RESULTS: results },
      });
    } catch (e) {
      code = 1;
      console.error(`integration suite: ${e.message}`);
    }
    try {
      const r = JSON.parse(readFileSync(results, 'utf8'));
      passed += r.passed;
      failed += r.failed;
      for (const f of r.failures) console.error(`FAILED: ${f}`);
    } catch {
      if (code) failed++;
    }
  }
  if (want('ui')) {
    const { walkThrough } = await import('./ui.mjs');
    const dir = project('ui');
    const node = await startNode(dir, `vsui_${process.pid}`);
    nodes.push(node);
    const r = await walkThrough({ dir, node: node.name, env });
    passed += r.passed;
    failed += r.failed;
    const { publishScreenshots } = await import('./screenshots.mjs');
    const problems = publishScreenshots();
    for (const p of problems) console.error(`screenshots: ${p}`);
    if (problems.length) failed++;
    else passed++;
  }
} finally {
  for (const n of nodes) await n.stop();
  stopEpmd();
}
console.log(`vscode: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
