// The language server's log, with levels: info for each upgrade and attach, debug for the
// bridge's traffic, trace for every frame to and from the node (its kind and size, never its
// content: the attach frame carries the cookie). A client that asks for it (VS Code's
// LogOutputChannel) gets beamLive/log with the level; any other editor gets window/logMessage.
// Lines under the client's level are not sent at all.
import { Connection, MessageType } from 'vscode-languageserver/node';
import { LOG_LEVELS, LogLevel, LogNotification } from '../protocol';

export interface ServerLog {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
  trace(line: string): void;
  /** Whether lines of this level are sent (a frame's line is not even formatted otherwise). */
  enabled(level: LogLevel): boolean;
  setLevel(level: LogLevel): void;
}

const TYPE: Record<LogLevel, MessageType> = { error: MessageType.Error, warn: MessageType.Warning, info: MessageType.Info, debug: MessageType.Log, trace: MessageType.Log };

export function serverLog(conn: Connection, opts: { levelled: boolean; level: LogLevel }): ServerLog {
  let level = opts.level;
  const enabled = (l: LogLevel) => LOG_LEVELS.indexOf(l) >= LOG_LEVELS.indexOf(level);
  const send = (l: LogLevel) => (message: string) => {
    if (!enabled(l)) return;
    if (opts.levelled) void conn.sendNotification(LogNotification.type, { level: l, message });
    else void conn.sendNotification('window/logMessage', { type: TYPE[l], message });
  };
  return {
    error: send('error'),
    warn: send('warn'),
    info: send('info'),
    debug: send('debug'),
    trace: send('trace'),
    enabled,
    setLevel: (l) => (level = l),
  };
}
