// file:consult without a node: an erl of the user's OTP reads the file and hands the terms
// back as an external term. For the CLI commands that work on builds, not on a running node.
import { spawnSync } from 'node:child_process';
import { decode } from '../beam/etf';
import type { Term } from '../beam/term';
import { installHint, ToolchainError, which } from '../runtime/erlangBuild';
import { ReleaseError } from './builds';

const READ = 'case file:consult(os:getenv("BEAM_LIVE_FILE")) of {ok, T} -> io:put_chars(base64:encode(term_to_binary(T))); {error, E} -> io:put_chars(standard_error, file:format_error(E)), halt(1) end, halt().';

export function consultFile(file: string): Term[] {
  const erl = which('erl');
  if (!erl) throw new ToolchainError(installHint('erl was not found on PATH'));
  const r = spawnSync(erl, ['-noshell', '-eval', READ], { encoding: 'utf8', env: { ...process.env, BEAM_LIVE_FILE: file } });
  if (r.status !== 0) throw new ReleaseError(`Cannot read ${file}: ${r.stderr.trim() || `erl exited ${r.status}`}`);
  return decode(Buffer.from(r.stdout, 'base64')) as Term[];
}
