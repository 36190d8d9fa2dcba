// One typed getter per beamLive.* setting (rust-analyzer's config.ts is the model).
import * as vscode from 'vscode';
import { DEFAULT_SETTINGS, ServerSettings } from '../server/protocol';

function get<T>(key: string, fallback: T): T {
  return vscode.workspace.getConfiguration('beamLive').get<T>(key, fallback);
}

export const config = {
  node: () => get('node', ''),
  nameType: () => get<'' | 'sname' | 'name'>('nameType', ''),
  cookieFile: () => get('cookieFile', ''),
  upgradeOnSave: () => get<'never' | 'manual' | 'always'>('upgradeOnSave', 'always'),
  refreshSeconds: () => Math.max(1, get('processes.refreshSeconds', DEFAULT_SETTINGS.processes.refreshSeconds)),
  pageSize: () => Math.max(1, get('processes.pageSize', DEFAULT_SETTINGS.processes.pageSize)),
  /** Everything the server reads, sent as initializationOptions. */
  server: (): ServerSettings => {
    const c = vscode.workspace.getConfiguration('beamLive');
    return {
      node: c.get('node', ''),
      nameType: c.get('nameType', ''),
      cookieFile: c.get('cookieFile', ''),
      upgradeOnSave: c.get('upgradeOnSave', 'always'),
      holdRiskyUpgrades: c.get('holdRiskyUpgrades', true),
      upgrade: {
        mode: c.get('upgrade.mode', 'release'),
        onFailure: c.get('upgrade.onFailure', 'rollback'),
        parallel: c.get('upgrade.parallel', false),
        suspendTimeoutMs: c.get('upgrade.suspendTimeoutMs', 5000),
        codeChangeTimeoutMs: c.get('upgrade.codeChangeTimeoutMs', 5000),
        scope: c.get('upgrade.scope', 'node'),
        clusterOrder: c.get('upgrade.clusterOrder', 'parallel'),
        allowSkew: c.get('upgrade.allowSkew', false),
      },
      compile: { warm: c.get('compile.warm', true) },
      processes: { refreshSeconds: c.get('processes.refreshSeconds', 5), pageSize: c.get('processes.pageSize', 200) },
      state: { maxBytes: c.get('state.maxBytes', 65536) },
    };
  },
  async setUpgradeOnSave(v: 'never' | 'manual' | 'always'): Promise<void> {
    await vscode.workspace.getConfiguration('beamLive').update('upgradeOnSave', v, vscode.ConfigurationTarget.Workspace);
  },
};
