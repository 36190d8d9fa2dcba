// What the last upgrade or rollback did, module by module, for the editor: an error diagnostic
// where a failed code_change raised (kept until an upgrade of that module succeeds), and the
// text of the "last time" code lens above code_change. Pure: reports in, facts out.
import { isAbsolute, relative } from 'node:path';
import type { RollbackReport, UpgradeReport } from '../protocol';
import type { Pitfall } from '../analysis/pitfalls';
import { moduleName, processName, shorten, vsnText } from '../text/names';

/** Where a module is defined and its code_change, from the build's debug info. */
export type Locate = (module: string) => { file: string; codeChangeLine: number | null; line: number } | undefined;

export class Outcomes {
  /** By module: the failure diagnostic, while no later upgrade of the module succeeded. */
  private readonly failures = new Map<string, Pitfall>();
  /** By module: what the last upgrade or rollback did to its code_change, one line. */
  readonly last = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly locate: Locate,
  ) {}

  /** Returns where a failed code_change shows in the project, if it failed. */
  noteUpgrade(r: UpgradeReport): { file: string; line: number } | undefined {
    // A success clears a module's failure, and so does a node that runs what the build holds.
    if (r.ok) this.settled([...r.modules.map((x) => x.module), ...r.unchanged]);
    for (const m of r.modules) {
      const procs = r.processes.filter((p) => p.module === m.module);
      const ok = procs.filter((p) => p.codeChange === 'ok').length;
      const failed = procs.find((p) => p.codeChange === 'error');
      if (failed) this.last.set(m.module, `last upgrade: code_change failed for ${processName(failed)}: ${short(failed.reason)}${r.rolledBack ? ' · rolled back' : ' · new code kept'}`);
      else if (r.ok && procs.length) this.last.set(m.module, `last upgrade: code_change ok for ${ok} process${ok === 1 ? '' : 'es'} (old vsn ${vsnText(m.oldVsn, m.module)})`);
    }
    const p = r.errorProcess;
    if (!r.ok && r.pushed && p) {
      const site = this.site(p.module, r.errorFrames ?? []);
      if (site) {
        this.failures.set(p.module, {
          code: 'code-change-failed',
          file: site.file,
          line: site.line,
          severity: 'error',
          message: `code_change of ${moduleName(p.module)} failed for ${processName(p)}: ${r.processes.find((x) => x.pid === p.pid)?.reason ?? r.error}. ` +
            (r.rolledBack ? 'Everything this upgrade changed was rolled back: the node runs the old code and states.' : 'The new code was kept (onFailure: resume).'),
        });
      }
      return site;
    }
    return undefined;
  }

  noteRollback(r: RollbackReport): void {
    if (!r.ok) return;
    for (const m of r.modules) {
      this.failures.delete(m.module);
      const procs = r.processes.filter((p) => p.module === m.module);
      const down = procs.filter((p) => p.how === 'code_change_down').length;
      this.last.set(m.module, `rolled back to vsn ${vsnText(m.newVsn, m.module)}${down ? `: code_change({down, _}) ran for ${down} process${down === 1 ? '' : 'es'}` : ''}`);
    }
  }

  /** Modules the node runs as the build holds them: their failure is no longer true. */
  settled(modules: string[]): void {
    for (const m of modules) this.failures.delete(m);
  }

  diagnostics(): Pitfall[] {
    return [...this.failures.values()];
  }

  /** The first frame in a project file, else the module's code_change, else its definition. */
  private site(module: string, frames: NonNullable<UpgradeReport['errorFrames']>): { file: string; line: number } | undefined {
    for (const f of frames) {
      // A frame's file is as its compiler recorded it: absolute, or relative to its app.
      const here = this.locate(f.module);
      if (!here) continue;
      const file = isAbsolute(f.file) ? relative(this.root, f.file) : here.file.endsWith(f.file) ? here.file : f.file;
      if (!file.startsWith('..')) return { file, line: f.line };
    }
    const here = this.locate(module);
    return here ? { file: here.file, line: here.codeChangeLine ?? here.line } : undefined;
  }
}

function short(reason: string | null): string {
  return shorten((reason ?? 'failed').split('\n')[0]!.replace(/^\*\* /, ''));
}
