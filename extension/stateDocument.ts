// Process state as a read-only document: beam-live-state:/<name>.<ex|erl>?<process>, so that the
// tab reads SampleApp.Counter.ex. It is fetched one process at a time, printed and size-limited
// on the node, and read afresh each time it is opened and on Refresh.
import * as vscode from 'vscode';
import type { ProcessState } from '../server/protocol';

export const STATE_SCHEME = 'beam-live-state';

export class StateDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly fetch: (process: string, syntax: 'elixir' | 'erlang', node: string | undefined) => Promise<ProcessState>) {}

  /** `label` is what the tab shows: the process as people name it. `node`: another node of the cluster. */
  static uri(process: string, syntax: 'elixir' | 'erlang', label = process, node?: string): vscode.Uri {
    return vscode.Uri.from({
      scheme: STATE_SCHEME,
      path: `/${label.replace(/\//g, '∕')}.${syntax === 'elixir' ? 'ex' : 'erl'}`,
      query: encodeURIComponent(process),
      ...(node ? { fragment: encodeURIComponent(node) } : {}),
    });
  }

  static processOf(uri: vscode.Uri): { process: string; syntax: 'elixir' | 'erlang'; node: string | undefined } {
    const m = /^\/(.*)\.(ex|erl)$/.exec(uri.path);
    return {
      process: uri.query ? decodeURIComponent(uri.query) : (m?.[1] ?? uri.path.slice(1)),
      syntax: m?.[2] === 'erl' ? 'erlang' : 'elixir',
      node: uri.fragment ? decodeURIComponent(uri.fragment) : undefined,
    };
  }

  refresh(uri: vscode.Uri): void {
    this.changed.fire(uri);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { process, syntax, node } = StateDocuments.processOf(uri);
    const comment = syntax === 'elixir' ? '#' : '%';
    try {
      const st = await this.fetch(process, syntax, node);
      if (!st.ok) return `${comment} ${process}: ${st.error}\n`;
      const head = `${comment} State of ${st.name ?? st.pid} (${st.pid}${node ? ` on ${node}` : ''}), read with sys:get_state at ${new Date().toLocaleTimeString()}.`;
      const tail = st.truncated ? `\n${comment} … cut at ${st.text.length} of ${st.bytes} bytes (setting beamLive.state.maxBytes)\n` : '\n';
      return `${head}\n${comment} Read-only. "BEAM Live: Refresh" reads it again.\n\n${st.text}${tail}`;
    } catch (e) {
      return `${comment} ${process}: ${(e as Error).message}\n`;
    }
  }
}
