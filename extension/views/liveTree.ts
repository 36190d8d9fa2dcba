// The Live view: node → applications → supervision trees → processes, plus the processes no
// tree reaches. Children load lazily, one page per request, collected and sorted on the node.
import * as vscode from 'vscode';
import type { LiveApplication, LiveItem, ProcessesPage, ProcessesParams, StatusParams } from '../../server/protocol';
import { isMd5Vsn, moduleName, processName, viaText, vsnText } from '../../server/text/names';

export type LiveNode =
  | { kind: 'node' }
  | { kind: 'app'; app: LiveApplication }
  | { kind: 'process'; item: LiveItem }
  | { kind: 'outside'; total: number }
  | { kind: 'more'; parent: LiveNode; shown: number; total: number };

export interface LiveSource {
  status(): StatusParams;
  page(p: ProcessesParams): Promise<ProcessesPage<LiveItem | LiveApplication>>;
  pageSize(): number;
  /** Pids on old code and pids a release upgrade would miss, from the last upgrade or plan. */
  annotations(): { oldCode: Map<string, string>; missed: Map<string, string> };
}

export class LiveTree implements vscode.TreeDataProvider<LiveNode> {
  private readonly changed = new vscode.EventEmitter<LiveNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Children already fetched, per parent, so that "Load more" appends one page. */
  private readonly cache = new Map<string, { items: LiveNode[]; total: number }>();

  constructor(private readonly src: LiveSource) {}

  refresh(): void {
    this.cache.clear();
    this.changed.fire(undefined);
  }

  async loadMore(more: Extract<LiveNode, { kind: 'more' }>): Promise<void> {
    const key = keyOf(more.parent);
    const cached = this.cache.get(key);
    if (!cached) return;
    const page = await this.fetch(more.parent, cached.items.length);
    if (page) cached.items.push(...page.items);
    this.changed.fire(more.parent);
  }

  async getChildren(el?: LiveNode): Promise<LiveNode[]> {
    if (!this.src.status().attached) return [];
    if (!el) return [{ kind: 'node' }];
    if (el.kind === 'more' || (el.kind === 'process' && el.item.type !== 'supervisor')) return [];
    if (el.kind === 'app') {
      const a = el.app;
      return a.supervisor ? [{ kind: 'process', item: { pid: a.supervisor, name: a.supervisorName, module: a.module, vsn: null, status: 'running', type: 'supervisor' } }] : [];
    }
    const key = keyOf(el);
    let cached = this.cache.get(key);
    if (!cached) {
      const page = await this.fetch(el, 0);
      if (!page) return [];
      cached = page;
      this.cache.set(key, cached);
    }
    const out = [...cached.items];
    if (el.kind === 'node') {
      // Fetched now (and kept for the expand) so that an empty one is not drawn as expandable.
      const outside: LiveNode = { kind: 'outside', total: 0 };
      const page = await this.fetch(outside, 0);
      if (page) this.cache.set(keyOf(outside), page);
      out.push({ kind: 'outside', total: page?.total ?? 0 });
    }
    if (cached.total > cached.items.length) out.push({ kind: 'more', parent: el, shown: cached.items.length, total: cached.total });
    return out;
  }

  private async fetch(el: LiveNode, offset: number): Promise<{ items: LiveNode[]; total: number } | undefined> {
    const limit = this.src.pageSize();
    let page: ProcessesPage<LiveItem | LiveApplication>;
    if (el.kind === 'node') {
      page = await this.src.page({ kind: 'applications' });
      return { items: (page.items as LiveApplication[]).map((app) => ({ kind: 'app', app })), total: page.total };
    }
    if (el.kind === 'outside') page = await this.src.page({ kind: 'unsupervised', offset, limit });
    else if (el.kind === 'process' && el.item.pid) page = await this.src.page({ kind: 'children', supervisor: el.item.pid, offset, limit });
    else return undefined;
    return { items: (page.items as LiveItem[]).map((item) => ({ kind: 'process', item })), total: page.total };
  }

  getTreeItem(el: LiveNode): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (el.kind) {
      case 'node': {
        const s = this.src.status();
        const t = new vscode.TreeItem(s.node ?? 'node', C.Expanded);
        t.description = `OTP ${s.otpRelease ?? '?'} · attached`;
        t.iconPath = new vscode.ThemeIcon('server-process');
        t.contextValue = 'node';
        return t;
      }
      case 'app': {
        const t = new vscode.TreeItem(el.app.application, el.app.supervisor ? C.Collapsed : C.None);
        t.description = el.app.vsn ?? '';
        t.tooltip = el.app.description;
        t.iconPath = new vscode.ThemeIcon('package');
        t.contextValue = 'application';
        return t;
      }
      case 'outside': {
        const t = new vscode.TreeItem('Outside supervision trees', el.total ? C.Collapsed : C.None);
        t.description = el.total ? String(el.total) : 'none';
        t.tooltip = 'Processes of your applications that no supervision tree reaches: a release upgrade never suspends them nor calls their code_change.';
        t.iconPath = new vscode.ThemeIcon('warning');
        return t;
      }
      case 'more': {
        const t = new vscode.TreeItem(`Load more… (${el.shown} of ${el.total})`, C.None);
        t.command = { command: 'beamLive.loadMore', title: 'Load more', arguments: [el] };
        return t;
      }
      case 'process':
        return this.processItem(el.item);
    }
  }

  /**
   * A row that fits the default sidebar: the process as people name it, then what it runs and
   * its vsn in the module's language; the pid, the full vsn and the why go to the tooltip.
   */
  private processItem(p: LiveItem): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    const label = p.pid || p.name ? processName(p) : `${p.id ?? '?'} (${p.status})`;
    const expandable = p.type === 'supervisor' && p.pid && p.children !== 0;
    const t = new vscode.TreeItem(label, expandable ? C.Collapsed : C.None);
    const { oldCode, missed } = this.src.annotations();
    const badges: string[] = [];
    const why: string[] = [];
    if (p.pid && oldCode.has(p.pid)) {
      badges.push('old code');
      why.push(`Runs old code of ${moduleName(oldCode.get(p.pid)!)}: the next load of that module kills it.`);
    }
    if (p.pid && missed.has(p.pid)) {
      badges.push('missed by a release');
      why.push(missed.get(p.pid)!);
    }
    if (p.pid === null) badges.push(p.status);
    const mod = p.module ? moduleName(p.module) : '';
    // The child spec's module tells a default supervisor apart (DynamicSupervisor · Todo.Cache).
    const spec = Array.isArray(p.modules) && p.modules[0] && p.modules[0] !== p.module ? moduleName(p.modules[0]) : '';
    const role = [mod !== label ? mod : '', spec && spec !== mod && spec !== label ? spec : ''].filter(Boolean).join(' · ');
    const vsn = p.module && p.vsn ? vsnText(p.vsn, p.module, { short: true }) : '';
    t.description = [role, vsn, ...badges.map((b) => `⚠ ${b}`)].filter(Boolean).join('  ');
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${label}**\n\n`);
    md.appendText(`pid ${p.pid ?? '-'}`);
    if (p.via) md.appendText(`\nregistered ${viaText(p.via)}`);
    md.appendText(`\nmodule ${mod || '?'}${spec ? ` (child spec: ${spec})` : ''}`);
    md.appendText(`\nvsn ${p.module ? vsnText(p.vsn, p.module) : '-'}${p.vsn && isMd5Vsn(p.vsn) ? ' (the MD5: no @vsn set)' : ''}`);
    md.appendText(`\nstatus ${p.status}`);
    if (p.startedBy) md.appendText(`\nstarted by ${p.parent ? moduleName(p.parent) : '?'} (${p.startedBy})`);
    for (const w of why) md.appendText(`\n\n${w}`);
    t.tooltip = md;
    t.iconPath = new vscode.ThemeIcon(p.type === 'supervisor' ? 'type-hierarchy' : badges.length ? 'warning' : 'symbol-event');
    t.contextValue = p.pid ? 'process' : 'child';
    t.id = undefined;
    return t;
  }
}

function keyOf(el: LiveNode): string {
  switch (el.kind) {
    case 'node':
      return 'node';
    case 'app':
      return `app:${el.app.application}`;
    case 'outside':
      return 'outside';
    case 'process':
      return `proc:${el.item.pid}`;
    case 'more':
      return `more:${keyOf(el.parent)}`;
  }
}
