// Starts the language server (dist/server.js over IPC). The server decides what a save does: it
// hears each save's reason in textDocument/willSave. A server that keeps crashing is left
// stopped and said so (status item, Restart), instead of restarting forever.
import * as vscode from 'vscode';
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { config } from './config';
import { logLevelName } from './logLevel';

export class ServerStoppedError extends Error {
  constructor() {
    super('The BEAM Live language server is not running. Restart it (BEAM Live: Restart Language Server), and see Output › BEAM Live for why it stopped.');
  }
}

/** Crashes within this window count together; past MAX_RESTARTS the server stays down. */
const WINDOW_MS = 3 * 60_000;
const MAX_RESTARTS = 3;

export function createClient(context: vscode.ExtensionContext, output: vscode.LogOutputChannel, stopped: (why: string) => void): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc },
  };
  const crashes: number[] = [];
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', pattern: '**/*.{ex,exs,erl,hrl}' },
      { scheme: 'file', language: 'elixir' },
      { scheme: 'file', language: 'erlang' },
    ],
    outputChannel: output,
    // The server's log lines come as beamLive/log with their level, and only from this level up.
    initializationOptions: { ...config.server(), log: 'levelled', logLevel: logLevelName(output.logLevel) },
    synchronize: { configurationSection: 'beamLive' },
    initializationFailedHandler: (e) => {
      output.error(`The language server failed to start: ${e instanceof Error ? e.message : String(e)}`);
      stopped('it failed to start');
      return false;
    },
    errorHandler: {
      // A broken message is the server's to recover from; the connection stays.
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        const now = Date.now();
        crashes.push(now);
        while (crashes.length && crashes[0]! < now - WINDOW_MS) crashes.shift();
        if (crashes.length <= MAX_RESTARTS) {
          output.warn(`The language server stopped; restarting it (${crashes.length} of ${MAX_RESTARTS} in 3 minutes).`);
          return { action: CloseAction.Restart, handled: true };
        }
        const why = `it stopped ${crashes.length} times in 3 minutes`;
        output.error(`The language server ${why}; it stays stopped until BEAM Live: Restart Language Server.`);
        stopped(why);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
  };
  return new LanguageClient('beamLive', 'BEAM Live', serverOptions, clientOptions);
}
