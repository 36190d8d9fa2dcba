// Activation stays thin: build the context, register the commands, start the server. A failure
// to start is shown to the user, because VS Code does not show it.
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { Ctx } from './ctx';

let ctx: Ctx | undefined;

export interface BeamLiveApi {
  ctx: Ctx;
}

export async function activate(context: vscode.ExtensionContext): Promise<BeamLiveApi | undefined> {
  try {
    ctx = new Ctx(context);
    context.subscriptions.push(...registerCommands(ctx));
    await ctx.start();
    return { ctx };
  } catch (e) {
    void vscode.window.showErrorMessage(`BEAM Live could not start: ${(e as Error).message}`);
    return ctx ? { ctx } : undefined;
  }
}

export function deactivate(): void {
  ctx = undefined;
}
