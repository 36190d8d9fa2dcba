// An erl of the user's OTP, run once for work on builds that needs no node: file:consult, and
// the script steps of relup and rehearse (systools, create_RELEASES).
import { spawnSync } from 'node:child_process';
import { decode } from '../beam/etf';
import type { Term } from '../beam/term';
import { installHint, ToolchainError, which } from '../runtime/erlangBuild';
import { ReleaseError } from './releaseError';

/** Runs `erl -noshell -eval Script` (paths travel in env, never on the command line); its stdout, or a ReleaseError naming `what`. */
export function evalErl(script: string, env: Record<string, string>, what: string): string {
  const erl = which('erl');
  if (!erl) throw new ToolchainError(installHint('erl was not found on PATH'));
  const r = spawnSync(erl, ['-noshell', '-eval', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new ReleaseError(`${what}: ${r.stderr.trim() || r.stdout.trim() || `erl exited ${r.status}`}`);
  return r.stdout;
}

const READ = 'case file:consult(os:getenv("BEAM_LIVE_FILE")) of {ok, T} -> io:put_chars(base64:encode(term_to_binary(T))); {error, E} -> io:put_chars(standard_error, file:format_error(E)), halt(1) end, halt().';

export function consultFile(file: string): Term[] {
  return decode(Buffer.from(evalErl(READ, { BEAM_LIVE_FILE: file }, `Cannot read ${file}`), 'base64')) as Term[];
}
