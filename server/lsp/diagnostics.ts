// Diagnostics in layers (compiler messages, upgrade pitfalls, config notes), merged per file:
// LSP replaces a file's whole list on each publish, so every layer is sent together.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection, Diagnostic, DiagnosticSeverity, Range } from 'vscode-languageserver/node';
import type { CompileDiagnostic } from '../protocol';
import type { Pitfall } from '../analysis/pitfalls';

export type Layer = 'compile' | 'pitfalls' | 'config' | 'upgrade';

export class DiagnosticsPublisher {
  private readonly layers = new Map<Layer, Map<string, Diagnostic[]>>();
  private published = new Set<string>();

  constructor(
    private readonly conn: Connection,
    private readonly root: string,
  ) {}

  uriOf(file: string): string {
    return pathToFileURL(isAbsolute(file) ? file : join(this.root, file)).toString();
  }

  setCompile(diags: CompileDiagnostic[]): void {
    const m = new Map<string, Diagnostic[]>();
    for (const d of diags) {
      const line = Math.max(0, d.line - 1);
      const col = Math.max(0, (d.column ?? 1) - 1);
      push(m, this.uriOf(d.file), {
        range: d.column ? { start: { line, character: col }, end: { line, character: col + 1 } } : lineRange(this.abs(d.file), line),
        severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
        source: 'beam-live (compiler)',
        message: d.message,
      });
    }
    this.set('compile', m);
  }

  setPitfalls(pitfalls: Pitfall[], layer: Layer = 'pitfalls'): void {
    const m = new Map<string, Diagnostic[]>();
    for (const p of pitfalls) {
      const line = Math.max(0, p.line - 1);
      const range: Range =
        p.column !== undefined
          ? { start: { line, character: p.column - 1 }, end: { line, character: p.column - 1 + (p.length ?? 1) } }
          : lineRange(this.abs(p.file), line);
      push(m, this.uriOf(p.file), {
        range,
        severity: p.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
        source: 'beam-live',
        code: p.code,
        message: p.message,
      });
    }
    this.set(layer, m);
  }

  clear(layer: Layer): void {
    this.set(layer, new Map());
  }

  private abs(file: string): string {
    return isAbsolute(file) ? file : join(this.root, file);
  }

  private set(layer: Layer, m: Map<string, Diagnostic[]>): void {
    this.layers.set(layer, m);
    const merged = new Map<string, Diagnostic[]>();
    for (const l of this.layers.values()) for (const [uri, ds] of l) merged.set(uri, [...(merged.get(uri) ?? []), ...ds]);
    for (const uri of this.published) if (!merged.has(uri)) void this.conn.sendDiagnostics({ uri, diagnostics: [] });
    for (const [uri, diagnostics] of merged) void this.conn.sendDiagnostics({ uri, diagnostics });
    this.published = new Set(merged.keys());
  }
}

function push(m: Map<string, Diagnostic[]>, uri: string, d: Diagnostic): void {
  m.set(uri, [...(m.get(uri) ?? []), d]);
}

/** The line's text without its indentation: what the construct on that line spans. */
function lineRange(file: string, line: number): Range {
  try {
    const text = readFileSync(file, 'utf8').split('\n')[line] ?? '';
    const start = text.length - text.trimStart().length;
    return { start: { line, character: start }, end: { line, character: Math.max(start + 1, text.trimEnd().length) } };
  } catch {
    return { start: { line, character: 0 }, end: { line, character: 1 } };
  }
}
