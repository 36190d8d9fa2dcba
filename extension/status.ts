// One status bar item: node and last result; its tooltip is the menu (Attach, Detach, Upgrade
// Now, Show Plan, Open Log). It turns to the warning colour on a failure or a skipped save.
import * as vscode from 'vscode';
import type { StatusParams } from '../server/protocol';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('beamLive.status', vscode.StatusBarAlignment.Left, 10);

  constructor() {
    this.item.name = 'BEAM Live';
    this.item.command = 'beamLive.showLog';
    this.update({ attached: false, node: null, otpRelease: null, state: 'detached', message: null });
    this.item.show();
  }

  update(s: StatusParams): void {
    const icon = s.state === 'upgrading' || s.state === 'compiling' ? '$(sync~spin)' : s.attached ? '$(debug-alt)' : '$(debug-disconnect)';
    const head = s.attached ? `BEAM: ${s.node}` : 'BEAM: not attached';
    this.item.text = `${icon} ${head}${s.message ? ` · ${shorten(s.message)}` : ''}`;
    const warn = s.state === 'failed' || s.state === 'skipped';
    this.item.backgroundColor = warn ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['beamLive.attach', 'beamLive.detach', 'beamLive.upgradeNow', 'beamLive.showPlan', 'beamLive.showLog'] };
    md.appendMarkdown(s.attached ? `**BEAM Live** attached to \`${s.node}\` (OTP ${s.otpRelease ?? '?'})\n\n` : '**BEAM Live**: not attached\n\n');
    if (s.message) md.appendMarkdown(`${escapeMd(s.message)}\n\n`);
    md.appendMarkdown(
      [
        '[$(plug) Attach](command:beamLive.attach)',
        '[$(debug-disconnect) Detach](command:beamLive.detach)',
        '[$(cloud-upload) Upgrade Now](command:beamLive.upgradeNow)',
        '[$(list-tree) Show Plan](command:beamLive.showPlan)',
        '[$(output) Open Log](command:beamLive.showLog)',
      ].join(' · '),
    );
    this.item.tooltip = md;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, (c) => `\\${c}`);
}
