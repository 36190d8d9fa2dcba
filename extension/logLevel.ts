import * as vscode from 'vscode';
import type { LogLevel } from '../server/protocol';

/** VS Code's log level as the server names it (Off sends nothing above error). */
export function logLevelName(l: vscode.LogLevel): LogLevel {
  switch (l) {
    case vscode.LogLevel.Trace:
      return 'trace';
    case vscode.LogLevel.Debug:
      return 'debug';
    case vscode.LogLevel.Info:
      return 'info';
    case vscode.LogLevel.Warning:
      return 'warn';
    default:
      return 'error';
  }
}
