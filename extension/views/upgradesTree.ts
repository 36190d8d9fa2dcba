// The Upgrades view: each upgrade → modules (instruction, old → new vsn) → processes, with the
// code_change result and reason, suspension time and timings; a cluster upgrade → each node →
// its own modules and processes. A failure badge stays until seen.
import * as vscode from 'vscode';
import { applyPurge, type ClusterNodeResult, type ConfigReport, type ModuleChange, type ProcessResult, type RehearsalReport, type RehearsedCall, type RollbackReport, type UpgradePurgedParams, type UpgradeReport } from '../../server/protocol';
import { moduleName, oldVsnText, processName, restartText, vsnText } from '../../server/text/names';

export interface UpgradeEntry {
  report: UpgradeReport;
  at: Date;
  trigger: string;
}

/** A rollback: an entry of its own, with what it did. */
export interface RollbackEntry {
  rollback: RollbackReport;
  at: Date;
}

/** A release rehearsal (beam-live rehearse): each process's code_change up and down, and the differences from the plan. */
export interface RehearsalEntry {
  rehearsal: RehearsalReport;
  at: Date;
}

/** A configuration change applied to the node: each application's keys and its config_change/3 result. */
export interface ConfigEntry {
  config: ConfigReport;
  at: Date;
}

type Shown = { upgrade: UpgradeEntry } | { rollback: RollbackEntry } | { rehearsal: RehearsalEntry } | { config: ConfigEntry };

type Node =
  | { kind: 'upgrade'; entry: UpgradeEntry }
  | { kind: 'rollback'; entry: RollbackEntry }
  | { kind: 'rehearsal'; entry: RehearsalEntry }
  | { kind: 'config'; entry: ConfigEntry }
  | { kind: 'member'; entry: UpgradeEntry; result: ClusterNodeResult }
  | { kind: 'module'; entry: UpgradeEntry; module: ModuleChange }
  | { kind: 'process'; p: ProcessResult }
  | { kind: 'line'; label: string; description?: string; icon?: string };

export class UpgradesTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** The upgrades, newest first. */
  readonly entries: UpgradeEntry[] = [];
  /** Upgrades and rollbacks as the view lists them, newest first. */
  private readonly shown: Shown[] = [];
  private unseenFailures = 0;
  private view: vscode.TreeView<unknown> | undefined;

  attachView(view: vscode.TreeView<unknown>): void {
    this.view = view;
    // "Seen" means the view was shown while the failure was in it.
    view.onDidChangeVisibility((e) => e.visible && this.markSeen());
  }

  add(report: UpgradeReport, trigger: string): void {
    const entry = { report, at: new Date(), trigger };
    this.entries.unshift(entry);
    if (this.entries.length > 100) this.entries.pop();
    this.show({ upgrade: entry });
    if (!report.ok && report.pushed) {
      this.unseenFailures++;
      if (this.view?.visible) this.markSeen();
    }
    this.updateBadge();
    this.changed.fire(undefined);
  }

  /** The soft purge that followed an upgrade ended: its report is complete. */
  purged(p: UpgradePurgedParams): UpgradeReport | undefined {
    const entry = this.entries.find((e) => e.report.id === p.id);
    if (!entry) return undefined;
    applyPurge(entry.report, p);
    this.changed.fire(undefined);
    return entry.report;
  }

  addRollback(rollback: RollbackReport): void {
    this.show({ rollback: { rollback, at: new Date() } });
    this.changed.fire(undefined);
  }

  addConfig(config: ConfigReport): void {
    this.show({ config: { config, at: new Date() } });
    this.changed.fire(undefined);
  }

  addRehearsal(rehearsal: RehearsalReport): void {
    this.show({ rehearsal: { rehearsal, at: new Date() } });
    this.changed.fire(undefined);
  }

  private show(e: Shown): void {
    this.shown.unshift(e);
    if (this.shown.length > 100) this.shown.pop();
  }

  private markSeen(): void {
    this.unseenFailures = 0;
    this.updateBadge();
  }

  private updateBadge(): void {
    if (!this.view) return;
    this.view.badge = this.unseenFailures ? { value: this.unseenFailures, tooltip: `${this.unseenFailures} failed upgrade(s)` } : undefined;
  }

  getChildren(el?: Node): Node[] {
    if (!el) return this.shown.map((e): Node => ('upgrade' in e ? { kind: 'upgrade', entry: e.upgrade } : 'rollback' in e ? { kind: 'rollback', entry: e.rollback } : 'rehearsal' in e ? { kind: 'rehearsal', entry: e.rehearsal } : { kind: 'config', entry: e.config }));
    if (el.kind === 'config') {
      return el.entry.config.changes.flatMap((c): Node[] => [
        ...c.changed.map((x): Node => ({ kind: 'line', label: `${c.app}.${x.key}`, description: `changed: ${x.value}`, icon: 'edit' })),
        ...c.new.map((x): Node => ({ kind: 'line', label: `${c.app}.${x.key}`, description: `new: ${x.value}`, icon: 'add' })),
        ...c.removed.map((k): Node => ({ kind: 'line', label: `${c.app}.${k}`, description: 'removed', icon: 'remove' })),
        { kind: 'line', label: `${c.app}: config_change/3`, description: c.callback === 'no_callback' ? 'none defined' : c.restored ? `failed, env put back: ${c.callback}` : String(c.callback), icon: c.restored ? 'error' : 'pass' },
      ]);
    }
    if (el.kind === 'rehearsal') {
      const r = el.entry.rehearsal;
      const cc = (c: RehearsedCall | null) => (c ? `code_change(${oldVsnText(c.oldVsn, c.module)}) ${c.result}` : 'no code_change');
      const out: Node[] = r.processes.map((p) => ({
        kind: 'line',
        label: processName(p),
        description: `up: ${cc(p.up.codeChange)}${p.up.after.alive ? '' : ', died'} · down: ${cc(p.down.codeChange)}${p.down.after.alive ? '' : ', died'}${p.predicted ? '' : ' · not in the plan'}`,
        icon: p.up.after.alive && p.down.after.alive && (p.up.codeChange?.result ?? 'ok') === 'ok' ? 'pass' : 'error',
      }));
      for (const d of r.differences) out.push({ kind: 'line', label: 'difference', description: d, icon: 'warning' });
      for (const w of r.warnings) out.push({ kind: 'line', label: 'systools warning', description: w, icon: 'warning' });
      if (r.error) out.push({ kind: 'line', label: 'error', description: r.error, icon: 'error' });
      return out;
    }
    if (el.kind === 'rollback') {
      const r = el.entry.rollback;
      const out: Node[] = r.modules.map((m) => ({ kind: 'line', label: moduleName(m.module), description: `${vsnText(m.oldVsn, m.module, { short: true })} → ${vsnText(m.newVsn, m.module, { short: true })}`, icon: 'symbol-module' }));
      const how = { code_change_down: 'code_change({down, _}) ran', kept: 'state kept (no down clause; the upgrade had not changed it)', snapshot: 'snapshot from the upgrade put back' };
      for (const p of r.processes) out.push({ kind: 'line', label: processName(p), description: how[p.how], icon: p.how === 'code_change_down' ? 'arrow-down' : 'circle-outline' });
      for (const p of r.refused) out.push({ kind: 'line', label: processName(p), description: `no {down, _} clause: ${p.reason}`, icon: 'error' });
      for (const k of [...r.killed, ...(r.needsConfirmation ? (r.kills ?? []) : [])]) out.push({ kind: 'line', label: `${r.needsConfirmation ? 'would kill' : 'killed'} ${processName(k)}`, description: restartText(k), icon: 'flame' });
      if (r.error) out.push({ kind: 'line', label: 'error', description: r.error, icon: 'error' });
      return out;
    }
    if (el.kind === 'upgrade' && el.entry.report.cluster) {
      const c = el.entry.report.cluster;
      const out: Node[] = c.nodes.map((result) => ({ kind: 'member', entry: el.entry, result }));
      for (const u of c.unreachable) out.push({ kind: 'line', label: u.node, description: `not reachable: ${u.error}`, icon: 'error' });
      out.push({ kind: 'line', label: 'timings', description: `compile ${el.entry.report.timings.compileMs} · prepare ${c.timings.prepareMs} · commit ${c.timings.commitMs} (${c.order})${c.timings.abortMs ? ` · abort ${c.timings.abortMs}` : ''} · total ${el.entry.report.timings.totalMs} ms`, icon: 'watch' });
      return out;
    }
    if (el.kind === 'member') {
      const x = el.result;
      const own = x.report ?? (x.node === el.entry.report.node ? el.entry.report : null);
      const out: Node[] = [];
      for (const k of x.skew) out.push({ kind: 'line', label: `version skew: ${moduleName(k.module)}`, description: `${k.md5 ?? 'not loaded'} here, ${k.expected ?? 'not loaded'} on ${el.entry.report.node}`, icon: 'warning' });
      for (const i of x.invalid) out.push({ kind: 'line', label: `refused by the loader: ${moduleName(i.module)}`, description: i.reason, icon: 'error' });
      if (x.rollback) out.push({ kind: 'line', label: 'rolled back', description: x.rollback.summary, icon: x.rollback.ok ? 'discard' : 'error' });
      if (x.error && x.error !== own?.error) out.push({ kind: 'line', label: x.outcome.replace('_', ' '), description: x.error, icon: 'info' });
      if (own) out.push(...this.reportChildren({ ...el.entry, report: { ...own, cluster: undefined } }));
      return out;
    }
    if (el.kind === 'upgrade') return this.reportChildren(el.entry);
    if (el.kind === 'module') {
      return el.entry.report.processes.filter((p) => p.module === el.module.module).map((p) => ({ kind: 'process', p }));
    }
    return [];
  }

  /** One node's upgrade: its modules (each with its processes), then what went wrong or was found, and its timings. */
  private reportChildren(entry: UpgradeEntry): Node[] {
    const r = entry.report;
    const out: Node[] = r.modules.map((module) => ({ kind: 'module', entry, module }));
    if (r.error) out.push({ kind: 'line', label: 'error', description: r.error, icon: 'error' });
    if (r.release) out.push({ kind: 'line', label: 'a real release', description: r.release, icon: 'info' });
    if (r.undo) out.push({ kind: 'line', label: 'undone', description: `${r.undo.blocks} block(s) in reverse order: ${r.undo.states} state(s) put back, ${r.undo.resumed} resumed`, icon: 'discard' });
    for (const k of r.killed) out.push({ kind: 'line', label: `killed ${processName(k)}`, description: `ran old code of ${moduleName(k.module)}; ${restartText(k)}`, icon: 'flame' });
    for (const m of r.missed) out.push({ kind: 'line', label: `missed ${processName(m)}`, description: m.why, icon: 'warning' });
    for (const w of r.warnings) out.push({ kind: 'line', label: 'warning', description: w.message, icon: 'warning' });
    for (const x of r.pitfalls ?? []) out.push({ kind: 'line', label: `${x.risk ? 'held: ' : ''}${x.code}`, description: `${x.file}:${x.line}: ${x.message}`, icon: x.risk ? 'error' : 'warning' });
    const t = r.timings;
    out.push({
      kind: 'line',
      label: 'timings',
      description: `compile ${t.compileMs} · suspend ${t.suspendMs} · load ${t.loadMs} · code_change ${t.codeChangeMs} · resume ${t.resumeMs} · total ${t.totalMs} ms`,
      icon: 'watch',
    });
    return out;
  }

  getTreeItem(el: Node): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (el.kind) {
      case 'upgrade': {
        const r = el.entry.report;
        const t = new vscode.TreeItem(`${el.entry.at.toLocaleTimeString()} · ${r.summary}`, r.modules.length || r.error || r.pitfalls?.length || r.cluster ? C.Collapsed : C.None);
        t.description = [el.entry.trigger, r.devOnly ? 'mode all (dev only)' : '', r.parallel ? 'parallel' : ''].filter(Boolean).join(' · ');
        // A failed upgrade, a skipped save (compile error) and a save that changed nothing each look their own.
        t.iconPath = r.ok
          ? new vscode.ThemeIcon(r.modules.length ? 'pass' : 'circle-slash')
          : r.pushed
            ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
            : new vscode.ThemeIcon('warning', new vscode.ThemeColor('editorWarning.foreground'));
        t.tooltip = r.errorDetail ? `${r.summary}\n\n${r.errorDetail}` : r.summary;
        return t;
      }
      case 'member': {
        const x = el.result;
        const t = new vscode.TreeItem(x.node, C.Expanded);
        t.description = [x.outcome.replace('_', ' '), x.node === el.entry.report.node ? 'attached' : '', x.kills.length ? `${x.kills.length} kill(s)` : ''].filter(Boolean).join(' · ');
        t.tooltip = x.error ?? x.outcome;
        t.iconPath = new vscode.ThemeIcon(
          { upgraded: 'pass', rolled_back: 'discard', not_committed: 'circle-slash', refused: 'warning', failed: 'error', unknown: 'question' }[x.outcome],
        );
        return t;
      }
      case 'rollback':
        return entryItem(el.entry.at, el.entry.rollback, 'rollback', 'discard', true);
      case 'config':
        return entryItem(el.entry.at, el.entry.config, 'config change', 'settings-gear', el.entry.config.changes.length > 0);
      case 'rehearsal':
        return entryItem(el.entry.at, el.entry.rehearsal, 'release rehearsal', 'beaker', true);
      case 'module': {
        const m = el.module;
        const t = new vscode.TreeItem(moduleName(m.module), C.Expanded);
        t.description = `${vsnText(m.oldVsn, m.module, { short: true })} → ${vsnText(m.newVsn, m.module, { short: true })}`;
        t.tooltip = `${m.instruction}: vsn ${vsnText(m.oldVsn, m.module)} → ${vsnText(m.newVsn, m.module)}\nMD5 ${m.oldMd5 ?? '-'} → ${m.newMd5 ?? '-'}`;
        t.iconPath = new vscode.ThemeIcon('symbol-module');
        return t;
      }
      case 'process': {
        const p = el.p;
        const t = new vscode.TreeItem(processName(p));
        const result = p.codeChange === 'ok' ? 'code_change: ok' : p.codeChange === 'error' ? `code_change: error` : 'code_change: not called';
        t.description = `${result} · suspended ${p.suspendedMs.toFixed(2)} ms${p.devOnly ? ' · dev only' : ''}`;
        t.tooltip = p.reason ? `${result}\n${p.reason}` : result;
        t.iconPath = new vscode.ThemeIcon(p.codeChange === 'ok' ? 'check' : p.codeChange === 'error' ? 'error' : 'circle-slash');
        return t;
      }
      case 'line': {
        const t = new vscode.TreeItem(el.label);
        t.description = el.description;
        t.tooltip = el.description;
        if (el.icon) t.iconPath = new vscode.ThemeIcon(el.icon);
        return t;
      }
    }
  }
}

/** A rollback, config change or rehearsal: its time and summary, what it is, and its icon (the error icon when it failed). */
function entryItem(at: Date, r: { ok: boolean; summary: string }, what: string, icon: string, children: boolean): vscode.TreeItem {
  const t = new vscode.TreeItem(`${at.toLocaleTimeString()} · ${r.summary}`, children ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  t.description = what;
  t.iconPath = new vscode.ThemeIcon(r.ok ? icon : 'error', r.ok ? undefined : new vscode.ThemeColor('errorForeground'));
  t.tooltip = r.summary;
  return t;
}
