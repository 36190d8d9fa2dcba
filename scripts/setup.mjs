// One set-up for `npm run demo`, `npm test` and .ci/run on a fresh machine: Erlang/Elixir,
// npm dependencies and the build, each only when missing or stale.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');
const say = (m) => quiet || console.log(`[setup] ${m}`);

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`[setup] "${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal}).`);
    process.exit(1);
  }
}

function ensureErlang() {
  const missing = ['erl', 'erlc', 'elixir', 'mix'].filter((c) => !onPath(c));
  const isRoot = process.getuid?.() === 0;
  // rebar3 is optional for users; the tests of rebar3 projects want it, so it comes along where
  // we may install it.
  const wantRebar3 = !onPath('rebar3') && isRoot && onPath('apt-get');
  if (missing.length === 0 && !wantRebar3) return;
  if (isRoot && onPath('apt-get')) {
    say(`installing ${missing.length ? `Erlang/OTP and Elixir (missing: ${missing.join(', ')})` : 'rebar3'} from Debian's packages`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { env });
    if (missing.length) run('apt-get', ['install', '-y', '-qq', 'erlang-nox', 'erlang-dev', 'erlang-src', 'elixir'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'rebar3'], { env });
    return;
  }
  if (missing.length === 0) return;
  const hint = onPath('apt-get')
    ? 'sudo apt-get install -y erlang-nox erlang-dev erlang-src elixir'
    : onPath('dnf')
      ? 'sudo dnf install -y erlang elixir'
      : onPath('brew')
        ? 'brew install elixir'
        : onPath('pacman')
          ? 'sudo pacman -S --noconfirm erlang elixir'
          : 'install Erlang/OTP 25+ and Elixir 1.14+ (https://elixir-lang.org/install.html)';
  console.error(`[setup] BEAM Live needs Erlang/OTP and Elixir, and ${missing.join(', ')} is not on PATH. Run:\n\n    ${hint}\n`);
  process.exit(1);
}

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function ensureDeps() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function ensureBuild() {
  const out = join(root, 'dist', 'cli.js');
  const built = existsSync(out) ? statSync(out).mtimeMs : 0;
  const src = Math.max(newest(join(root, 'server')), newest(join(root, 'extension')), statSync(join(root, 'esbuild.mjs')).mtimeMs);
  if (built >= src) return;
  say('building (node esbuild.mjs)');
  run(process.execPath, ['esbuild.mjs']);
}

ensureErlang();
ensureDeps();
ensureBuild();
if (!quiet) execFileSync('erl', ['-noshell', '-eval', 'io:format("[setup] OTP ~s, ", [erlang:system_info(otp_release)]), halt().'], { stdio: 'inherit' });
if (!quiet) execFileSync('elixir', ['-e', 'IO.puts("Elixir #{System.version()}: ready")'], { stdio: 'inherit' });
