// What a pushed upgrade leaves behind, kept in the editor for as long as it is true on the node:
// states of the old shape (state-out-of-date, and the vsn-not-bumped that caused them), and a
// renamed module that running child specs, processes or callers still use (module-renamed).
// Cleared when the node says so: a code_change that migrated the state, a restart, the module
// put back.
import type { UpgradePitfall, UpgradeReport } from '../protocol';
import type { NodeGateway } from '../runtime/gateway';
import type { Pitfall, PitfallInput } from './pitfalls';
import { sampleStates } from './states';

export class Hazards {
  /** Modules whose live states are sampled after each upgrade of them, until they are clean. */
  private readonly watch = new Set<string>();
  /** By module: what the checks found before an upgrade that was pushed anyway. */
  private readonly lasting = new Map<string, UpgradePitfall[]>();

  noteUpgrade(r: UpgradeReport): void {
    for (const m of r.modules) if (m.instruction === 'update') this.watch.add(m.module);
    for (const p of r.pitfalls) {
      if (!p.module || (p.code !== 'vsn-not-bumped' && p.code !== 'module-renamed')) continue;
      this.lasting.set(p.module, [...(this.lasting.get(p.module) ?? []).filter((x) => x.code !== p.code), p]);
    }
  }

  /** The hazards still true on the node, as pitfalls for the editor. */
  async check(gateway: NodeGateway, input: PitfallInput): Promise<Pitfall[]> {
    const out: Pitfall[] = [];
    if (this.watch.size) {
      const states = await sampleStates(gateway, input.code, this.watch);
      const stale = new Set(states.map((s) => s.module!));
      for (const m of [...this.watch]) if (!stale.has(m)) this.watch.delete(m);
      out.push(...states);
      for (const [module, found] of this.lasting) {
        const notBumped = found.find((f) => f.code === 'vsn-not-bumped');
        if (notBumped && stale.has(module)) out.push(this.pitfall(notBumped));
      }
    }
    const renamed = [...this.lasting.values()].flat().filter((f) => f.code === 'module-renamed');
    if (renamed.length) {
      const users = await gateway.oldCodeUsers(renamed.map((r) => r.module!));
      for (const r of renamed) {
        // Back in the build under its old name: nothing uses a missing module any more.
        if (input.code.some((c) => c.module === r.module)) continue;
        const named = input.node?.supervisors.some((s) => s.children.includes(r.module!));
        const loaded = input.node?.modules.get(r.module!)?.loaded;
        if (named || loaded || users.some((u) => u.module === r.module)) out.push(this.pitfall(r));
      }
    }
    // What is no longer true goes.
    for (const [module, found] of this.lasting) {
      const kept = found.filter((f) => out.some((o) => o.code === f.code && o.module === module));
      if (kept.length) this.lasting.set(module, kept);
      else this.lasting.delete(module);
    }
    return out;
  }

  private pitfall(p: UpgradePitfall): Pitfall {
    return {
      code: p.code as Pitfall['code'],
      module: p.module ?? undefined,
      file: p.file,
      line: p.line,
      severity: p.severity,
      message: `${p.message} (Still true on the node after the upgrade.)`,
    };
  }
}
