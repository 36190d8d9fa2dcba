// Text BEAM Live shows (an upgrade plan, say) as a read-only document: closing it asks nothing,
// and it cannot be edited as if it were a file.
import * as vscode from 'vscode';

export const TEXT_SCHEME = 'beam-live-text';

export class ReadOnlyText implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private next = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.query) ?? '';
  }

  /** A new document titled `title`, holding `content`. */
  uri(title: string, content: string): vscode.Uri {
    const key = String(this.next++);
    this.texts.set(key, content);
    // Only the latest few are kept: an old tab reopened shows nothing rather than growing memory.
    if (this.texts.size > 20) this.texts.delete(this.texts.keys().next().value!);
    return vscode.Uri.from({ scheme: TEXT_SCHEME, path: `/${title.replace(/\//g, '∕')}`, query: key });
  }
}
