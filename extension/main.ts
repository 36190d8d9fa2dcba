// Activation stays thin: build the context, register the commands, start the server. A failure
// to start is shown to the user, because VS Code does not show it.
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { Ctx } from './ctx';

let ctx: Ctx | undefined;

export interface BeamLiveApi {
  ctx: Ctx;
  /** How long activate() took (the language server starts after it, in the background). */
  activationMs: number;
  /** Resolves when the language server is up. */
  ready: Promise<void>;
}

export function activate(context: vscode.ExtensionContext): BeamLiveApi | undefined {
  const started = performance.now();
  try {
    ctx = new Ctx(context);
    context.subscriptions.push(...registerCommands(ctx));
    // The walkthrough's first step: an Elixir or Erlang project is open (activation says so).
    void vscode.commands.executeCommand('setContext', 'beamLive.project', (vscode.workspace.workspaceFolders?.length ?? 0) > 0);
    // The server starts in the background: activation must not wait for a process to spawn.
    const ready = ctx.start().catch((e: Error) => {
      void vscode.window.showErrorMessage(`BEAM Live could not start its language server: ${e.message}`, 'Open Log').then((p) => p && ctx?.output.show());
    });
    return { ctx, activationMs: performance.now() - started, ready };
  } catch (e) {
    void vscode.window.showErrorMessage(`BEAM Live could not start: ${(e as Error).message}`);
    return undefined;
  }
}

export function deactivate(): void {
  ctx = undefined;
}
