// One status bar item: node and last result. A click opens the actions that apply now (as VS
// Code's own items do); the tooltip says the same in words. Error colour for a failed upgrade,
// warning colour for a skipped save; upgrade on save turned off is said in the text.
import * as vscode from 'vscode';
import type { StatusParams } from '../server/protocol';
import { shorten } from '../server/text/names';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('beamLive.status', vscode.StatusBarAlignment.Left, 10);
  private last: StatusParams = { attached: false, node: null, otpRelease: null, state: 'detached', message: null };

  constructor(private readonly upgradeOnSave: () => 'never' | 'manual' | 'always') {
    this.item.name = 'BEAM Live';
    this.item.command = 'beamLive.statusMenu';
    this.update(this.last);
    this.item.show();
  }

  /** The language server is down: nothing else the item says is true any more. */
  serverStopped(why?: string): void {
    this.item.text = '$(error) BEAM: server stopped';
    this.item.accessibilityInformation = { label: 'BEAM Live: the language server stopped' };
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    this.item.command = { title: 'Restart', command: 'beamLive.restartServer' };
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['beamLive.restartServer', 'beamLive.showLog'] };
    md.appendMarkdown(`**BEAM Live**: the language server stopped${why ? ` (${escapeMd(why)})` : ''}.\n\n`);
    md.appendMarkdown('[$(debug-restart) Restart](command:beamLive.restartServer) · [$(output) Open Log](command:beamLive.showLog)');
    this.item.tooltip = md;
  }

  update(s: StatusParams = this.last): void {
    this.last = s;
    this.item.command = 'beamLive.statusMenu';
    const mode = this.upgradeOnSave();
    const icon = s.state === 'upgrading' || s.state === 'compiling' ? '$(sync~spin)' : s.attached ? '$(debug-alt)' : '$(debug-disconnect)';
    const head = s.attached ? `BEAM: ${s.node}` : 'BEAM: not attached';
    const save = mode === 'never' ? ' · save: check only' : mode === 'manual' ? ' · save: manual' : '';
    this.item.text = `${icon} ${head}${save}${s.message ? ` · ${shorten(s.message)}` : ''}`;
    this.item.accessibilityInformation = { label: `BEAM Live: ${head}${save}${s.message ? `, ${s.message}` : ''}` };
    this.item.backgroundColor =
      s.state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : s.state === 'skipped' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const md = new vscode.MarkdownString(undefined, true);
    const cmds = s.attached
      ? ['[$(cloud-upload) Upgrade Now](command:beamLive.upgradeNow)', '[$(list-tree) Show Plan](command:beamLive.showPlan)', '[$(debug-disconnect) Detach](command:beamLive.detach)']
      : ['[$(plug) Attach](command:beamLive.attach)', '[$(play) Launch](command:beamLive.launch)'];
    md.isTrusted = { enabledCommands: ['beamLive.attach', 'beamLive.launch', 'beamLive.detach', 'beamLive.upgradeNow', 'beamLive.showPlan', 'beamLive.showLog', 'beamLive.toggleUpgradeOnSave'] };
    md.appendMarkdown(s.attached ? `**BEAM Live** attached to \`${s.node}\` (OTP ${s.otpRelease ?? '?'})\n\n` : '**BEAM Live**: not attached\n\n');
    if (s.message) md.appendMarkdown(`${escapeMd(s.message)}\n\n`);
    md.appendMarkdown(`Upgrade on save: **${mode}** ([change](command:beamLive.toggleUpgradeOnSave))\n\n`);
    md.appendMarkdown([...cmds, '[$(output) Open Log](command:beamLive.showLog)'].join(' · '));
    this.item.tooltip = md;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, (c) => `\\${c}`);
}
