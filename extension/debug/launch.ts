// Launching the project in the integrated terminal and waiting for its node to register.
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import * as vscode from 'vscode';

export interface LaunchConfig {
  node: string;
  /** iex (default): iex --sname NAME -S mix; run: mix run --no-halt; or a command of your own. */
  command?: string;
  runMode?: 'iex' | 'run';
  cwd?: string;
  nameType?: 'sname' | 'name';
}

export function launchCommand(c: LaunchConfig): string {
  if (c.command) return c.command;
  const flag = (c.nameType ?? (c.node.split('@')[1]?.includes('.') ? 'name' : 'sname')) === 'name' ? '--name' : '--sname';
  return c.runMode === 'run' ? `elixir ${flag} ${c.node} -S mix run --no-halt` : `iex ${flag} ${c.node} -S mix`;
}

function epmdNames(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('epmd', ['-names'], { timeout: 3000 }, (err, stdout) => {
      if (err) return resolve([]);
      resolve([...stdout.matchAll(/^name (\S+) at port/gm)].map((m) => m[1]!));
    });
  });
}

/**
 * Nodes registered with the local epmd, for the Attach pick-list, with the host part they really
 * have: a node started with --sname app is app@<this machine's short host name> (and with
 * --name, app@<its full name>), never app@localhost unless it was named so.
 */
export async function localNodes(): Promise<Array<{ node: string; hint: string }>> {
  const full = hostname();
  const short = full.split('.')[0]!;
  return (await epmdNames()).flatMap((n) => [
    { node: `${n}@${short}`, hint: `registered with epmd (--sname ${n})` },
    ...(full.includes('.') ? [{ node: `${n}@${full}`, hint: `if started with --name ${n}` }] : []),
  ]);
}

export async function launchInTerminal(c: LaunchConfig, folder: string): Promise<vscode.Terminal> {
  const terminal = vscode.window.createTerminal({ name: `BEAM Live: ${c.node}`, cwd: c.cwd ?? folder });
  terminal.show(true);
  terminal.sendText(launchCommand(c));
  const short = c.node.split('@')[0]!;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if ((await epmdNames()).includes(short)) return terminal;
    if (terminal.exitStatus) throw new Error(`The launch command exited (${terminal.exitStatus.code}) before ${c.node} registered. See the terminal "${terminal.name}".`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${c.node} did not register with epmd within 90 s. See the terminal "${terminal.name}".`);
}
