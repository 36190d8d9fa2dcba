// The request beam_live_upgrade's plan/1 and upgrade/1 take, from a plan: the modules with
// their new and kept old binaries, the script's blocks, and the budgets (runtime/budget.ts).
import { Charlist, atom } from '../beam/term';
import type { UpgradeOptions } from '../protocol';
import { codeChangeTimeout, deadlineMs, suspendTimeout } from '../runtime/budget';
import type { UpgradeRequest } from '../runtime/gateway';
import type { LoadedInfo } from '../runtime/replies';
import type { BinaryStore } from './binaries';
import type { PlannedModule } from './plan';
import { scriptBlocks } from './script';

export function upgradeRequest(planned: PlannedModule[], loaded: Map<string, LoadedInfo>, store: BinaryStore, opts: UpgradeOptions): UpgradeRequest {
  const blocks = scriptBlocks(planned);
  return {
    modules: planned.map((m) => {
      const l = loaded.get(m.module);
      const old = l?.md5 ? store.get(l.md5) : undefined;
      return {
        module: atom(m.module),
        instruction: atom(m.instruction),
        ...(m.beam ? { binary: m.beam.binary, file: new Charlist(m.beam.file) } : {}),
        ...(old ? { old_binary: old, old_file: new Charlist(l?.file ?? m.beam?.file ?? m.module) } : {}),
        extra: m.extra ?? [],
      };
    }),
    blocks: blocks.map((b) => b.map((m) => atom(m.module))),
    mode: atom(opts.mode ?? 'release'),
    on_failure: atom(opts.onFailure ?? 'rollback'),
    parallel: opts.parallel ?? false,
    suspend_timeout: suspendTimeout(opts),
    code_change_timeout: codeChangeTimeout(opts),
    deadline: deadlineMs(opts, blocks.length),
    hooks: {
      pause_after_suspend: opts.pauseAfterSuspendMs ?? 0,
      pause_after_load: opts.pauseAfterLoadMs ?? 0,
      pause_mid_code_change: opts.pauseMidCodeChangeMs ?? 0,
    },
  };
}
