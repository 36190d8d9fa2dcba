// Activation stays thin: start the language server, and show a failure to start ourselves,
// because VS Code does not.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'elixir' },
      { scheme: 'file', language: 'erlang' },
      { scheme: 'file', pattern: '**/*.{ex,exs,erl,hrl}' },
    ],
  };
  client = new LanguageClient('beamLive', 'BEAM Live', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (e) {
    void vscode.window.showErrorMessage(`BEAM Live could not start its language server: ${(e as Error).message}`);
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
