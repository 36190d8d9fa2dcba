// The Modules view: the project's modules, loaded vsn and MD5 against what is on disk, and the
// processes still in old code. Changed modules first.
import * as vscode from 'vscode';
import type { ModuleRow, ProcessRef } from '../../server/protocol';
import { moduleName, processName, vsnText } from '../../server/text/names';

type Node = { kind: 'module'; row: ModuleRow } | { kind: 'detail'; label: string; description: string; proc?: ProcessRef };

export class ModulesTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly fetch: () => Promise<ModuleRow[]>,
    private readonly attached: () => boolean,
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(el?: Node): Promise<Node[]> {
    if (!this.attached()) return [];
    if (!el) return (await this.fetch()).map((row) => ({ kind: 'module', row }));
    if (el.kind !== 'module') return [];
    const r = el.row;
    const out: Node[] = [
      { kind: 'detail', label: 'loaded', description: `vsn ${vsnText(r.loadedVsn, r.module)} · md5 ${r.loadedMd5 ?? '-'}` },
      { kind: 'detail', label: 'on disk', description: `vsn ${vsnText(r.diskVsn, r.module)} · md5 ${r.diskMd5 ?? '-'}` },
    ];
    for (const p of r.oldCode) out.push({ kind: 'detail', label: processName(p), description: 'still runs old code', proc: p });
    return out;
  }

  getTreeItem(el: Node): vscode.TreeItem {
    if (el.kind === 'detail') {
      const t = new vscode.TreeItem(el.label);
      t.description = el.description;
      t.tooltip = el.description;
      if (el.proc) t.iconPath = new vscode.ThemeIcon('warning');
      return t;
    }
    const r = el.row;
    const t = new vscode.TreeItem(moduleName(r.module), vscode.TreeItemCollapsibleState.Collapsed);
    const v = (x: string | null) => vsnText(x, r.module, { short: true });
    const state = r.state === 'changed' ? `changed: ${v(r.loadedVsn)} → ${v(r.diskVsn)}` : r.state === 'not_loaded' ? 'not loaded' : v(r.loadedVsn);
    t.description = `${state}${r.oldCode.length ? ` · ${r.oldCode.length} in old code` : ''}`;
    t.iconPath = new vscode.ThemeIcon(r.state === 'changed' ? 'diff-modified' : r.oldCode.length ? 'warning' : 'symbol-module');
    t.contextValue = 'module';
    return t;
  }
}
