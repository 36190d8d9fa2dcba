// Compiler messages as LSP diagnostics, cleared by the next good compile.
import { join, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection, Diagnostic, DiagnosticSeverity } from 'vscode-languageserver/node';
import type { CompileDiagnostic } from '../protocol';

export class CompileDiagnostics {
  private published = new Set<string>();

  constructor(
    private readonly conn: Connection,
    private readonly root: string,
    private readonly source: string,
  ) {}

  publish(diags: CompileDiagnostic[]): void {
    const byUri = new Map<string, Diagnostic[]>();
    for (const d of diags) {
      const uri = pathToFileURL(isAbsolute(d.file) ? d.file : join(this.root, d.file)).toString();
      const line = Math.max(0, d.line - 1);
      const col = Math.max(0, (d.column ?? 1) - 1);
      const list = byUri.get(uri) ?? [];
      list.push({
        range: { start: { line, character: col }, end: { line, character: d.column ? col + 1 : Number.MAX_SAFE_INTEGER } },
        severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
        source: this.source,
        message: d.message,
      });
      byUri.set(uri, list);
    }
    for (const uri of this.published) if (!byUri.has(uri)) void this.conn.sendDiagnostics({ uri, diagnostics: [] });
    for (const [uri, diagnostics] of byUri) void this.conn.sendDiagnostics({ uri, diagnostics });
    this.published = new Set(byUri.keys());
  }
}
