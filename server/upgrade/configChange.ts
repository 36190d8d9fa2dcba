// A configuration change, as a release applies it (docs/otp-rules.md: config is not re-read by a
// hot upgrade): the project's configuration read as the release reads it, compared with each
// application's env on the node, and, when asked, set there with config_change/3 called.
import { detectProject } from '../compile/project';
import { readProjectConfig } from '../compile/config';
import type { ConfigChange, ConfigReport } from '../protocol';
import type { NodeGateway } from '../runtime/gateway';

export async function configChange(gw: NodeGateway, projectDir: string, apply: boolean): Promise<ConfigReport> {
  const cfg = readProjectConfig(detectProject(projectDir));
  const changes = await gw.config(cfg.apps, apply);
  const failed = changes.filter((c) => c.restored);
  const report: ConfigReport = { ok: failed.length === 0, node: gw.node, applied: apply, changes, read: cfg.read, skipped: cfg.skipped, summary: '' };
  report.summary = configSummary(report);
  return report;
}

function keys(c: ConfigChange): string {
  return [...c.changed.map((x) => `${x.key} changed`), ...c.new.map((x) => `${x.key} new`), ...c.removed.map((k) => `${k} removed`)].join(', ');
}

export function configSummary(r: ConfigReport): string {
  if (r.changes.length === 0) return `${r.node}'s application env already matches ${r.read.join(' and ') || 'the configuration'}: nothing to apply.`;
  const list = r.changes.map((c) => `${c.app} (${keys(c)})`).join('; ');
  if (!r.applied) return `Config differs from ${r.node}: ${list}. Apply it to set the env and call config_change/3.`;
  const failed = r.changes.filter((c) => c.restored);
  if (failed.length) return `Config applied except ${failed.map((c) => `${c.app}, whose config_change/3 failed (${c.callback}); its env was put back`).join('; ')}.`;
  return `Config applied to ${r.node}: ${list}; config_change/3 ${r.changes.map((c) => `${c.app}: ${c.callback === 'no_callback' ? 'none' : c.callback}`).join(', ')}.`;
}
