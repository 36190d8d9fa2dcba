// A real VS Code here: code-server 4.100.3 (VS Code 1.100), isolated in a run folder, offline,
// driven by Debian's Chromium through playwright-core. The recipe is in README (Tests).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CODE_SERVER = join(ROOT, '.cache', 'code-server', 'node_modules', '.bin', 'code-server');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A run folder with its own HOME, XDG dirs, user settings and extensions dir. */
export function makeRunDir(prefix = 'vscode') {
  const run = mkdtempSync(join(tmpdir(), `beam-live-${prefix}-`));
  const dirs = { run, home: join(run, 'home'), ud: join(run, 'ud'), ext: join(run, 'ext'), profile: join(run, 'chromium') };
  for (const d of [dirs.home, join(dirs.ud, 'User'), dirs.ext, dirs.profile, join(run, 'xdg', 'config'), join(run, 'xdg', 'data'), join(run, 'xdg', 'cache')]) mkdirSync(d, { recursive: true });
  writeFileSync(
    join(dirs.ud, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.ignoreRecommendations': true,
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'security.workspace.trust.enabled': false,
        'git.enabled': false,
        'workbench.colorTheme': 'Default Dark Modern',
        'editor.formatOnSave': false,
        'editor.formatOnPaste': false,
        'editor.autoIndent': 'none',
        'files.autoSave': 'off',
        'window.commandCenter': false,
      },
      null,
      2,
    ),
  );
  return dirs;
}

export function codeServerEnv(dirs, extra = {}) {
  return {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.run, 'xdg', 'config'),
    XDG_DATA_HOME: join(dirs.run, 'xdg', 'data'),
    XDG_CACHE_HOME: join(dirs.run, 'xdg', 'cache'),
    EXTENSIONS_GALLERY: '{}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ...extra,
  };
}

function dirFlags(dirs) {
  return ['--user-data-dir', dirs.ud, '--extensions-dir', dirs.ext];
}

export function installVsix(dirs, vsix, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(CODE_SERVER, [...dirFlags(dirs), '--install-extension', vsix], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`install-extension failed (${code}): ${out}`))));
  });
}

/** Starts code-server on 127.0.0.1 and waits for /healthz. */
export async function startCodeServer(dirs, folder, env) {
  const port = await freePort();
  writeFileSync(join(dirs.run, 'config.yaml'), `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const proc = spawn(
    CODE_SERVER,
    [
      '--config', join(dirs.run, 'config.yaml'),
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...dirFlags(dirs),
      folder,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null) throw new Error(`code-server exited (${proc.exitCode}):\n${log}`);
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz in 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
    });
  return { port, url: `http://127.0.0.1:${port}`, proc, log: () => log, stop };
}

/** Headless Chromium, every request off loopback refused. */
export async function launchBrowser(dirs) {
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(dirs.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (/^(https?|wss?):\/\/(127\.0\.0\.1|localhost)[:/]/.test(u) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    return route.abort();
  });
  return context;
}
