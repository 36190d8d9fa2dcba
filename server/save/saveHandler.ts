// Decides whether a save upgrades the node, and folds "Save All" into one upgrade.
// (Dart-Code's HotReloadOnSaveHandler is the model: skip what should not reload, debounce.)
import { relative } from 'node:path';
import { isUpgradeSource } from '../compile/project';
import { Debouncer } from './debounce';

export type SaveVerdict = 'upgrade' | 'ignored' | 'config' | 'off' | 'not-attached';

export interface SaveContext {
  root: string;
  upgradeOnSave: () => 'never' | 'manual' | 'always';
  attached: () => boolean;
}

export class SaveHandler {
  private readonly pending = new Set<string>();
  private readonly debouncer: Debouncer;

  constructor(
    private readonly ctx: SaveContext,
    run: (files: string[]) => Promise<void>,
    delayMs = 200,
  ) {
    this.debouncer = new Debouncer(delayMs, async () => {
      const files = [...this.pending];
      this.pending.clear();
      if (files.length) await run(files);
    });
  }

  /** Classifies a saved file; schedules an upgrade when it should trigger one. */
  onSave(fsPath: string): SaveVerdict {
    const rel = relative(this.ctx.root, fsPath).replace(/\\/g, '/');
    if (rel.startsWith('..')) return 'ignored';
    if (/^(apps\/[^/]+\/)?config\/.*\.exs$/.test(rel)) return 'config';
    if (!isUpgradeSource(rel)) return 'ignored';
    if (this.ctx.upgradeOnSave() === 'never') return 'off';
    if (!this.ctx.attached()) return 'not-attached';
    this.pending.add(rel);
    this.debouncer.trigger();
    return 'upgrade';
  }

  dispose(): void {
    this.debouncer.cancel();
    this.pending.clear();
  }
}
