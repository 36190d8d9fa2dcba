// Starts the language server (dist/server.js over IPC) and hands saves to it. With
// beamLive.upgradeOnSave = manual, auto-saves are not forwarded: only an explicit save upgrades.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { config } from './config';

export function createClient(context: vscode.ExtensionContext, output: vscode.OutputChannel): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc },
  };
  const lastSaveReason = new Map<string, vscode.TextDocumentSaveReason>();
  context.subscriptions.push(vscode.workspace.onWillSaveTextDocument((e) => lastSaveReason.set(e.document.uri.toString(), e.reason)));
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', pattern: '**/*.{ex,exs,erl,hrl}' },
      { scheme: 'file', language: 'elixir' },
      { scheme: 'file', language: 'erlang' },
    ],
    outputChannel: output,
    initializationOptions: config.server(),
    synchronize: { configurationSection: 'beamLive' },
    middleware: {
      didSave: (doc, next) => {
        const reason = lastSaveReason.get(doc.uri.toString());
        if (config.upgradeOnSave() === 'manual' && reason !== undefined && reason !== vscode.TextDocumentSaveReason.Manual) return Promise.resolve();
        return next(doc);
      },
    },
  };
  return new LanguageClient('beamLive', 'BEAM Live', serverOptions, clientOptions);
}
