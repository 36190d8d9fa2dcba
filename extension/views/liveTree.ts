// The Live view: node → applications → supervision trees → processes, plus the processes no
// tree reaches. Children load lazily, one page per request, collected and sorted on the node.
// When the attached node is connected to others, each node of the cluster is a root, and a
// project module another node runs in another version is badged there (version skew).
import * as vscode from 'vscode';
import type { ClusterStatus, LiveApplication, LiveItem, ProcessesPage, ProcessesParams, StatusParams, VersionSkew } from '../../server/protocol';
import { isMd5Vsn, moduleName, processName, viaText, vsnText } from '../../server/text/names';

/** `on`: the cluster node it lives on, when it is not the attached node. */
export type LiveNode = (
  | { kind: 'node'; peer?: { otpRelease: string | null; error: string | null } }
  | { kind: 'app'; app: LiveApplication }
  | { kind: 'process'; item: LiveItem }
  | { kind: 'outside'; total: number }
  | { kind: 'more'; parent: LiveNode; shown: number; total: number }
) & { on?: string };

export interface LiveSource {
  status(): StatusParams;
  page(p: ProcessesParams): Promise<ProcessesPage<LiveItem | LiveApplication>>;
  /** The attached node's cluster (just itself when it sees no other node). */
  cluster(): Promise<ClusterStatus>;
  pageSize(): number;
  /** Pids on old code and pids a release upgrade would miss, from the last upgrade or plan. */
  annotations(): { oldCode: Map<string, string>; missed: Map<string, string> };
}

export class LiveTree implements vscode.TreeDataProvider<LiveNode> {
  private readonly changed = new vscode.EventEmitter<LiveNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Children already fetched, per parent, so that "Load more" appends one page. */
  private readonly cache = new Map<string, { items: LiveNode[]; total: number }>();
  /** The cluster as the last refresh saw it: its skew, per node and module. */
  private skew = new Map<string, Map<string, VersionSkew>>();

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
    if (!el) return this.roots();
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
      const outside: LiveNode = { kind: 'outside', total: 0, on: el.on };
      const page = await this.fetch(outside, 0);
      if (page) this.cache.set(keyOf(outside), page);
      out.push({ kind: 'outside', total: page?.total ?? 0, on: el.on });
    }
    if (cached.total > cached.items.length) out.push({ kind: 'more', parent: el, shown: cached.items.length, total: cached.total });
    return out;
  }

  /** The attached node alone, or every node of its cluster (the attached one first, expanded). */
  private async roots(): Promise<LiveNode[]> {
    const cluster = await this.src.cluster().catch(() => undefined);
    this.skew = new Map();
    for (const s of cluster?.skew ?? []) {
      if (!this.skew.has(s.node)) this.skew.set(s.node, new Map());
      this.skew.get(s.node)!.set(s.module, s);
    }
    if (!cluster || cluster.nodes.length < 2) return [{ kind: 'node' }];
    return cluster.nodes.map((n, i): LiveNode => (i === 0 ? { kind: 'node' } : { kind: 'node', on: n.node, peer: { otpRelease: n.status?.otpRelease ?? null, error: n.error } }));
  }

  private async fetch(el: LiveNode, offset: number): Promise<{ items: LiveNode[]; total: number } | undefined> {
    const limit = this.src.pageSize();
    const on = el.on ? { node: el.on } : {};
    let page: ProcessesPage<LiveItem | LiveApplication>;
    if (el.kind === 'node') {
      if (el.peer?.error) return { items: [], total: 0 };
      page = await this.src.page({ kind: 'applications', ...on });
      return { items: (page.items as LiveApplication[]).map((app) => ({ kind: 'app', app, on: el.on })), total: page.total };
    }
    if (el.kind === 'outside') page = await this.src.page({ kind: 'unsupervised', offset, limit, ...on });
    else if (el.kind === 'process' && el.item.pid) page = await this.src.page({ kind: 'children', supervisor: el.item.pid, offset, limit, ...on });
    else return undefined;
    return { items: (page.items as LiveItem[]).map((item) => ({ kind: 'process', item, on: el.on })), total: page.total };
  }

  getTreeItem(el: LiveNode): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (el.kind) {
      case 'node': {
        const s = this.src.status();
        const t = new vscode.TreeItem(el.on ?? s.node ?? 'node', el.peer ? C.Collapsed : C.Expanded);
        const skewed = [...(this.skew.get(el.on ?? '')?.values() ?? [])];
        t.description = el.peer?.error
          ? `not reachable: ${el.peer.error}`
          : [`OTP ${(el.peer ? el.peer.otpRelease : s.otpRelease) ?? '?'}`, el.peer ? 'in the cluster' : 'attached', skewed.length ? `⚠ version skew: ${skewed.map((k) => moduleName(k.module)).join(', ')}` : ''].filter(Boolean).join(' · ');
        if (skewed.length) t.tooltip = `Runs other versions than ${s.node} of: ${skewed.map((k) => `${moduleName(k.module)} (${k.md5 ?? 'not loaded'} here, ${k.expected ?? 'not loaded'} there)`).join('; ')}. A cluster upgrade stops on it unless beamLive.upgrade.allowSkew is on.`;
        t.iconPath = new vscode.ThemeIcon(skewed.length || el.peer?.error ? 'warning' : 'server-process');
        t.contextValue = 'node';
        t.id = `node:${el.on ?? s.node}`;
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
        return this.processItem(el.item, el.on);
    }
  }

  /**
   * A row that fits the default sidebar: the process as people name it, then what it runs and
   * its vsn in the module's language; the pid, the full vsn and the why go to the tooltip.
   */
  private processItem(p: LiveItem, on: string | undefined): vscode.TreeItem {
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
    const skewed = on && p.module ? this.skew.get(on)?.get(p.module) : undefined;
    if (skewed) {
      badges.push('version skew');
      why.push(`This node runs ${moduleName(skewed.module)} ${skewed.md5 ?? '(not loaded)'}; the attached node runs ${skewed.expected ?? '(not loaded)'}.`);
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
  return `${el.on ?? ''}/${localKey(el)}`;
}

function localKey(el: LiveNode): string {
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
