// Compiler messages as structured diagnostics: file, line, message.

import type { CompileDiagnostic } from '../protocol';
export type { CompileDiagnostic };

/** erlc and rebar3 print `path:line[:col]: [Warning: ]message`. */
export function parseErlcOutput(out: string): CompileDiagnostic[] {
  const diags: CompileDiagnostic[] = [];
  // Colour escapes (rebar3 colours its output unless told not to) are never part of a path.
  for (const line of out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\n')) {
    const m = /^(?:===> )?(.+?\.(?:erl|hrl)):(\d+)(?::(\d+))?: (Warning: )?(.*)$/.exec(line.trim());
    if (!m) continue;
    diags.push({
      file: m[1]!,
      line: Number(m[2]),
      column: m[3] ? Number(m[3]) : undefined,
      severity: m[4] ? 'warning' : 'error',
      message: m[5]!,
    });
  }
  return diags;
}

/** Elixir 1.14 puts `** (CompileError) file:line: ` in front of the message; the location is already ours. */
export function cleanElixirMessage(message: string): string {
  return message.replace(/^\*\* \(\w+(?:\.\w+)*\) [^\s:]+:\d+(?::\d+)?: /, '').trim();
}

export function formatDiagnostic(d: CompileDiagnostic): string {
  return `${d.file}:${d.line}${d.column ? `:${d.column}` : ''}: ${d.severity}: ${d.message}`;
}
