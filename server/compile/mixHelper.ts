// The mix helper (beam_live_mix.exs) and its line protocol: it compiles in a mix VM and ends
// with one line, RESULT and a base64 external term, which this file reads.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ChildFacts } from '../beam/debugInfo';
import { decode } from '../beam/etf';
import { decodeReply } from '../runtime/replies';
import { shippedFile } from '../runtime/erlangBuild';
import { CompileDiagnostic, cleanElixirMessage } from './diagnostics';
import { CompileError } from './buildFaults';
import type { Project } from './project';

/** Positions the beam does not keep (Elixir): the @vsn line and the `children = [...]` items. */
export interface SourceModule {
  module: string;
  file: string;
  line: number;
  vsnLine: number | null;
  children: ChildFacts[];
}

export function mixHelper(): string {
  const f = shippedFile('elixir', 'beam_live_mix.exs');
  if (!f) throw new CompileError(`BEAM Live's mix helper is missing beside ${__dirname}. Run npm run build.`);
  return f;
}

export interface MixResult {
  ok: boolean;
  diagnostics: CompileDiagnostic[];
  beamDirs: string[];
  apps: string[];
  sources: SourceModule[];
  /** The Elixir compiler alone compiled the changed sources, without mix (its manifest follows). */
  alone: boolean;
}

interface HelperReply {
  compiler?: 'mix' | 'elixir';
  status: string;
  diagnostics: Array<{ file: string | null; severity: string; message: string; line: number | null; column: number | null }>;
  apps: string[];
  buildPath?: string;
  consolidationPath?: string;
  sources?: Array<{ file: string; modules: Array<{ module: string; line: number; vsnLine: number | null; children: ChildFacts[] }> }>;
}

export const RESULT = 'BEAM_LIVE_RESULT ';

/** The helper's one result line: status, diagnostics, where the beams are, source positions. */
export function parseMixResult(line: string, p: Project): MixResult {
  const r = decodeReply<HelperReply>(decode(Buffer.from(line.slice(RESULT.length), 'base64')));
  const diagnostics: CompileDiagnostic[] = r.diagnostics.map((d) => ({
    file: d.file ? relative(p.dir, d.file) || d.file : 'mix.exs',
    line: d.line ?? 1,
    column: d.column ?? undefined,
    severity: d.severity === 'warning' ? 'warning' : 'error',
    message: cleanElixirMessage(d.message),
  }));
  const beamDirs: string[] = [];
  if (r.consolidationPath && existsSync(r.consolidationPath)) beamDirs.push(r.consolidationPath);
  if (r.buildPath) for (const app of r.apps) beamDirs.push(join(r.buildPath, 'lib', app, 'ebin'));
  const sources = (r.sources ?? []).flatMap((f) => f.modules.map((m) => ({ ...m, file: f.file })));
  return { ok: r.status !== 'error', diagnostics, beamDirs: beamDirs.filter((d) => existsSync(d)), apps: r.apps, sources, alone: r.compiler === 'elixir' };
}

