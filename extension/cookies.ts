// Cookies kept in VS Code's SecretStorage, one per node. The language server takes a cookie only
// from a file: a cookie in an LSP message would be printed by `beamLive.trace.server`. So while
// a node is attached its cookie lives in a file only this user can read, in the extension's
// own storage, and the file goes with the detach.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';

const key = (node: string) => `beamLive.cookie/${node}`;

export class CookieStore {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly dir: string,
  ) {}

  set(node: string, cookie: string): Thenable<void> {
    return this.secrets.store(key(node), cookie);
  }

  forget(node: string): Thenable<void> {
    return this.secrets.delete(key(node));
  }

  /** The file the server should read the node's stored cookie from; undefined when none is stored. */
  async fileFor(node: string): Promise<string | undefined> {
    const cookie = await this.secrets.get(key(node));
    if (!cookie) return undefined;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(node);
    writeFileSync(file, cookie, { mode: 0o600 });
    return file;
  }

  /** After a failed attach: that node's file only, since another node may still use its own. */
  removeFile(node: string): void {
    rmSync(this.file(node), { force: true });
  }

  private file(node: string): string {
    return join(this.dir, createHash('sha256').update(node).digest('hex').slice(0, 16));
  }

  /** Removes the files written for attaches; the secrets stay in SecretStorage. */
  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
