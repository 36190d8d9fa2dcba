// Compiles our Erlang sources (bridge and agent) with the user's own erlc, so that their beams
// always match the node's OTP. The output is cached by OTP release and source hash.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

export class ToolchainError extends Error {
  override name = 'ToolchainError';
}

/** Finds an executable on PATH. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function cacheDir(): string {
  const base = process.env.BEAM_LIVE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'beam-live');
  mkdirSync(base, { recursive: true });
  return base;
}

/**
 * A file we ship beside the code: dist/<folder>/<file> when bundled, server/<folder>/<file>
 * when run from source (this module then sits in server/runtime or server/compile).
 */
export function shippedFile(folder: string, file: string): string | undefined {
  return [join(__dirname, folder, file), join(__dirname, '..', folder, file)].find((f) => existsSync(f));
}

function erlangSourceDir(): string {
  const bridge = shippedFile('erlang', 'beam_live_bridge.erl');
  if (!bridge) throw new ToolchainError(`BEAM Live's Erlang sources are missing beside ${__dirname}. Reinstall the extension or run npm run build.`);
  return dirname(bridge);
}

let releaseMemo: string | undefined;

/** The OTP release of the erl on PATH, read from its installation without starting a VM. */
export function otpRelease(): string {
  if (releaseMemo) return releaseMemo;
  const erl = which('erl');
  if (!erl) throw new ToolchainError(installHint('erl was not found on PATH'));
  try {
    const root = dirname(dirname(realpathSync(erl)));
    const rels = readdirSync(join(root, 'releases')).filter((d) => existsSync(join(root, 'releases', d, 'OTP_VERSION')));
    if (rels.length === 1) return (releaseMemo = readFileSync(join(root, 'releases', rels[0]!, 'OTP_VERSION'), 'utf8').trim());
  } catch {
    // Not a standard layout (kerl, asdf shims): ask the VM instead.
  }
  releaseMemo = execFileSync(erl, ['-noshell', '-eval', 'io:format("~s",[erlang:system_info(otp_release)]),halt().'], {
    encoding: 'utf8',
  }).trim();
  return releaseMemo;
}

export function installHint(what: string): string {
  return `${what}. BEAM Live needs Erlang/OTP 25+ and Elixir 1.14+: on Debian/Ubuntu run "sudo apt-get install -y erlang-nox erlang-dev erlang-src elixir", on macOS "brew install elixir", then reopen the terminal/editor.`;
}

/** Returns the folder holding the compiled bridge and agent beams, compiling them if needed. */
export function ensureErlangBeams(): string {
  const src = erlangSourceDir();
  const sources = readdirSync(src)
    .filter((f) => f.endsWith('.erl') || f.endsWith('.hrl'))
    .sort();
  const files = sources.filter((f) => f.endsWith('.erl'));
  // The header is part of what the beams are built from.
  const h = createHash('sha256');
  for (const f of sources) h.update(f).update(readFileSync(join(src, f)));
  const out = join(cacheDir(), `ebin-otp${otpRelease()}-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(join(out, 'beam_live_bridge.beam'))) return out;
  const erlc = which('erlc');
  if (!erlc) throw new ToolchainError(installHint('erlc was not found on PATH'));
  // Compile into a private folder and rename, so a concurrent start never sees half a cache.
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync(erlc, ['-o', tmp, ...files.map((f) => join(src, f))], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      renameSync(tmp, out);
    } catch {
      // Another process won the race; its output is the same.
    }
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new ToolchainError(`Could not compile BEAM Live's Erlang sources with ${erlc}: ${err.stderr?.toString() || err.message}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
