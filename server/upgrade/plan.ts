// The default appup (docs/otp-rules.md): which instruction each module gets, and what to warn
// about. Pure logic; script.ts expands the instructions into blocks.
import type { Instruction, PlanWarning, ProcessRef } from '../protocol';
import type { Term } from '../beam/term';
import type { BeamOnDisk } from './beams';
import { readDebugInfo } from '../beam/debugInfo';
import { dirname } from 'node:path';
import { moduleName, processName } from '../text/names';

const SUPERVISOR = new Set(['supervisor', 'Elixir.Supervisor', 'Elixir.DynamicSupervisor', 'supervisor_bridge']);
const SPECIAL = new Set(['gen_server', 'gen_statem', 'gen_event', 'gen_fsm', 'Elixir.GenServer', 'Elixir.GenEvent']);

/** A module's role by its behaviours: supervisor, a special process (update), or neither. */
export function roleOf(behaviours: string[]): Instruction {
  if (behaviours.some((x) => SUPERVISOR.has(x))) return 'supervisor';
  if (behaviours.some((x) => SPECIAL.has(x))) return 'update';
  return 'load_module';
}

/** By the new module's role: supervisor → update supervisor; gen_* → update advanced; else load_module. */
export function instructionFor(beam: BeamOnDisk): Instruction {
  return roleOf(beam.info.behaviours);
}

const ROLE: Record<string, string> = { supervisor: 'a supervisor', update: 'a special process (gen_*)', load_module: 'neither a supervisor nor a special process' };
// What happens to the processes started under the old role, by the new one.
const ROLE_CHANGE: Record<string, string> = {
  load_module: 'nothing suspends them and no code_change runs, so their state keeps its old shape.',
  update: 'processes started under the old role may not answer system messages, and a suspend times out on them.',
  supervisor: 'the upgrade runs a supervisor\'s code_change (init/1 again) in processes that were started as another kind.',
};

export interface PlannedModule {
  module: string;
  instruction: Instruction;
  beam?: BeamOnDisk;
  /** code_change's Extra: [] by default, the appup's when it gives one. */
  extra?: Term;
  /** The instruction came from the project's .appup. */
  fromAppup?: boolean;
  /** The appup's DepMods: modules this one depends on, which share its block. */
  depMods?: string[];
}

function exports(beam: BeamOnDisk, name: string, arity: number): boolean {
  return beam.info.exports.some(([f, a]) => f === name && a === arity);
}

export interface WarningInputs {
  modules: PlannedModule[];
  /** Supervised processes whose child spec names a changed module, with their callback module. */
  users: Array<ProcessRef & { callback: string | null }>;
  /** Changed modules whose running binary BEAM Live does not have. */
  noOldBinary: string[];
  /** Suspended processes whose state holds a fun of a changed module (found by the agent). */
  storedFuns?: ProcessRef[];
  /** The behaviours of the code the node runs, by module. */
  loadedBehaviours?: Map<string, string[]>;
  /** The `.app` files beside the new beams: the application and its `modules` list, by folder. */
  appFiles?: Map<string, { app: string; modules?: string[] }>;
}

export function planWarnings({ modules, users, noOldBinary, storedFuns = [], loadedBehaviours, appFiles }: WarningInputs): PlanWarning[] {
  const w: PlanWarning[] = [];
  for (const f of storedFuns) {
    w.push({
      module: f.module,
      code: 'badfun',
      message: `The state of ${processName(f)} holds a fun made by ${moduleName(f.module)}: once the old code is purged, calling it raises badfun. ` +
        `Store {Module, Function, Args} or a fun Module.function/arity capture instead.`,
    });
  }
  for (const m of modules) {
    const beam = m.beam;
    if (!beam) continue;
    const isStatem = beam.info.behaviours.includes('gen_statem');
    const was = loadedBehaviours?.get(m.module);
    const role = roleOf(beam.info.behaviours);
    if (was && roleOf(was) !== role) {
      w.push({
        module: m.module,
        code: 'role-changed',
        message: `${moduleName(m.module)} was ${ROLE[roleOf(was)]} on the node and is ${ROLE[role]} now. The default instruction follows the new role ` +
          `(${m.instruction}): ${ROLE_CHANGE[role]} Restart those processes (or the application), or write an .appup for this step.`,
      });
    }
    const app = appFiles?.get(dirname(beam.file));
    if (app?.modules && !app.modules.includes(m.module)) {
      w.push({
        module: m.module,
        code: 'not-in-app',
        message: `${moduleName(m.module)} is missing from the modules list of ${app.app}.app: systools leaves it out of a real release and its relup. ` +
          `Add it to the .app (or .app.src) modules list.`,
      });
    }
    // The code_change that runs is each process's callback module's (an Agent's is Agent.Server):
    // this module's missing one fails only where a process runs this module as its callback.
    const runners = users.filter((u) => u.module === m.module);
    const callsOwn = runners.length === 0 || runners.some((u) => u.callback === m.module || u.callback === null);
    if (m.instruction === 'update' && callsOwn && !exports(beam, 'code_change', isStatem ? 4 : 3)) {
      w.push({
        module: m.module,
        code: 'no-code-change',
        message: `${moduleName(m.module)} does not export code_change/${isStatem ? 4 : 3}: the upgrade calls it and fails with undef. ` +
          `"use GenServer" defines one; with only @behaviour, define code_change yourself.`,
      });
    }
    if (m.instruction === 'supervisor') {
      w.push({
        module: m.module,
        code: 'supervisor-init',
        message: `Upgrading supervisor ${moduleName(m.module)} re-runs its init/1 (side effects included) to update the child specs, ` +
          `but starts and stops no children: a changed child list needs a restart.`,
      });
    }
    const agents = users.filter((u) => u.module === m.module && u.callback === 'Elixir.Agent.Server');
    if (agents.length && !(m.fromAppup && m.instruction === 'update' && !Array.isArray(m.extra))) {
      // One warning per module, naming its Agents: not one per process.
      const names = agents.slice(0, 3).map(processName).join(', ') + (agents.length > 3 ? ` and ${agents.length - 3} more` : '');
      w.push({
        module: m.module,
        code: 'agent-extra',
        message: `${names} ${agents.length === 1 ? 'is an Agent' : 'are Agents'}: an Agent's code_change applies Extra as a function, so a release {update, ${moduleName(m.module)}, {advanced, []}} ` +
          `crashes ${agents.length === 1 ? 'it' : 'them'} with badfun. By default ${moduleName(m.module)} gets load_module and the state stays as it is; ` +
          `to transform it, use an appup with Extra = {Module, Function, Args}.`,
      });
    }
    // The compiler keeps on_load out of the attributes; the debug info has it.
    if (beam.info.attributes.some(([k]) => k === 'on_load') || readDebugInfo(beam.info.dbgi, m.module)?.onLoad) {
      w.push({
        module: m.module,
        code: 'nif',
        message: `${moduleName(m.module)} has an on_load function: it runs again when the module loads; a changed NIF library needs a restart.`,
      });
    }
  }
  for (const mod of noOldBinary) {
    w.push({
      module: mod,
      code: 'no-old-binary',
      message: `The binary of ${moduleName(mod)} that the node runs was overwritten before BEAM Live saw it, so a rollback cannot load it back; ` +
        `on failure the new code stays. Attach before compiling to keep it.`,
    });
  }
  return w;
}

