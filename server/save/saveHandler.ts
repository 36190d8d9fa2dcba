// Decides whether a save upgrades the node (the whole save policy: the server hears the save's
// reason in textDocument/willSave), and starts the upgrade at once. There is no debounce: saves
// that arrive while an upgrade runs are handed to it (its compile runs again when one came
// during it, so "Save All" is one upgrade), and any left after it start one more.
import { relative } from 'node:path';
import { isUpgradeSource } from '../compile/project';

export type SaveVerdict = 'upgrade' | 'ignored' | 'config' | 'off' | 'auto-save' | 'not-attached';

/** As LSP's TextDocumentSaveReason: 1 manual, 2 after a delay, 3 on focus out. */
export type SaveReason = 1 | 2 | 3;

export interface SaveContext {
  root: string;
  upgradeOnSave: () => 'never' | 'manual' | 'always';
  attached: () => boolean;
  /** Hands saved files (relative to root) to the engine: the compile running now may take them. */
  note: (files: string[]) => void;
  /** Saved files no compile has taken yet. */
  uncompiled: () => boolean;
  /** One upgrade of everything noted; resolves when it has finished. */
  run: () => Promise<void>;
}

export class SaveHandler {
  /** The reason of each save announced by willSave and not yet done, by file. */
  private readonly reasons = new Map<string, SaveReason>();
  private running: Promise<void> | undefined;

  constructor(private readonly ctx: SaveContext) {}

  /** textDocument/willSave: the reason, for the didSave that follows. */
  willSave(fsPath: string, reason: SaveReason): void {
    this.reasons.set(fsPath, reason);
  }

  /** Classifies a saved file; starts an upgrade (or hands it to the one running) when it should. */
  onSave(fsPath: string): SaveVerdict {
    // Editors without willSave send none: their saves are the user's.
    const reason = this.reasons.get(fsPath) ?? 1;
    this.reasons.delete(fsPath);
    const rel = relative(this.ctx.root, fsPath).replace(/\\/g, '/');
    if (rel.startsWith('..')) return 'ignored';
    if (/^(apps\/[^/]+\/)?config\/.*\.exs$/.test(rel)) return 'config';
    if (!isUpgradeSource(rel)) return 'ignored';
    const policy = this.ctx.upgradeOnSave();
    if (policy === 'never') return 'off';
    if (policy === 'manual' && reason !== 1) return 'auto-save';
    if (!this.ctx.attached()) return 'not-attached';
    this.ctx.note([rel]);
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return 'upgrade';
  }

  /** Resolves once no upgrade started by a save is running. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    do {
      await this.ctx.run().catch(() => undefined);
    } while (this.ctx.uncompiled() && this.ctx.attached());
  }

  dispose(): void {
    this.reasons.clear();
  }
}
