// Decides whether a save upgrades the node (the whole save policy: the server hears the save's
// reason in textDocument/willSave), and starts the upgrade at once: a single save waits for
// nothing. Saves that arrive while an upgrade runs are handed to it (its compile runs again when
// one came during it, so "Save All" is one upgrade). What is left after it starts one more once
// the saves pause, so that a burst (a tool rewriting files, saves on every keystroke) folds into
// a few upgrades instead of one per save.
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

/** A burst's next upgrade waits for this much quiet, and never longer than MAX_WAIT_MS. */
export const QUIET_MS = 150;
export const MAX_WAIT_MS = 1000;

export class SaveHandler {
  /** The reason of each save announced by willSave and not yet done, by file. */
  private readonly reasons = new Map<string, SaveReason>();
  private running: Promise<void> | undefined;
  private lastSave = 0;

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
    if (/^(apps\/[^/]+\/)?config\/(.*\.exs|sys\.config)$/.test(rel)) return 'config';
    if (!isUpgradeSource(rel)) return 'ignored';
    const policy = this.ctx.upgradeOnSave();
    if (policy === 'never') return 'off';
    if (policy === 'manual' && reason !== 1) return 'auto-save';
    if (!this.ctx.attached()) return 'not-attached';
    this.ctx.note([rel]);
    this.lastSave = Date.now();
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return 'upgrade';
  }

  /** Resolves once no upgrade started by a save is running. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    await this.ctx.run().catch(() => undefined);
    while (this.ctx.uncompiled() && this.ctx.attached()) {
      const since = Date.now();
      for (;;) {
        const wait = Math.min(this.lastSave + QUIET_MS, since + MAX_WAIT_MS) - Date.now();
        if (wait <= 0) break;
        await new Promise((res) => setTimeout(res, wait));
      }
      await this.ctx.run().catch(() => undefined);
    }
  }

  dispose(): void {
    this.reasons.clear();
  }
}
