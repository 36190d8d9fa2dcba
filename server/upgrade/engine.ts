// compile → diff → plan → upgrade, for one project and one attached node. The CLI and the
// language server both drive this class; the work on the node is beam_live_upgrade's.
import { Charlist, atom } from '../beam/term';
import { termToJson } from '../beam/json';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { AppupEntry, appupHomes, appupInstructions, formatAppup, readAppFile, readAppVsn } from './appup';
import { CompileError, compileProject, CompileResult } from '../compile/compile';
import { WarmMixVm } from '../compile/warmVm';
import { detectProject, guessBeamDirs, Project } from '../compile/project';
import { formatVsn } from '../beam/beamFile';
import type {
  FailurePolicy,
  GeneratedAppup,
  ModuleChange,
  ModuleRow,
  PlanWarning,
  ProcessRef,
  RollbackReport,
  UpgradeMode,
  UpgradePlan,
  UpgradePitfall,
  UpgradeReport,
} from '../protocol';
import { analyze } from '../analysis/pitfalls';
import { gatherPitfallInput, NodeFacts } from '../analysis/collect';
import { NodeSession } from '../runtime/session';
import { BeamSet, readBeamDirs } from './beams';
import { BinaryStore } from './binaries';
import { BuildDiff, diffBuild, LoadedInfo } from './diff';
import { instructionFor, PlannedModule, planWarnings, WarningInputs } from './plan';
import { expandScript, LibOf, scriptBlocks } from './script';
import { emptyReport, summarize } from './report';
import { agentTimeout, deadlineMs, rollbackLast, upgradeCall } from './rollback';

export interface EngineOptions {
  /** Compile mix projects in a warm build VM (long-lived engines: the editor, watch). */
  warm?: boolean;
  log?: (line: string) => void;
}

export interface UpgradeOptions {
  mode?: UpgradeMode;
  onFailure?: FailurePolicy;
  parallel?: boolean;
  suspendTimeoutMs?: number;
  codeChangeTimeoutMs?: number;
  /** Fault injection for the tests: pause between suspend and load. */
  pauseAfterSuspendMs?: number;
  /** Fault injection: pause after the first block's load. */
  pauseAfterLoadMs?: number;
  /** Fault injection: pause after the first block's first code_change. */
  pauseMidCodeChangeMs?: number;
  /** Rollback: put back the snapshot taken at the upgrade where no down clause matches. */
  restoreSnapshot?: boolean;
  /** Rollback: false to have one that would kill processes change nothing and name them. */
  confirmKills?: boolean;
  /** Hold the upgrade (push nothing) when the checks predict harm. */
  holdRisky?: boolean;
}

// Failures of the build folder rather than of the code: say what to do about them.
const BUILD_FAULTS: Array<[RegExp, string]> = [
  [/no space left on device|enospc/i, 'The disk is full: free some space and save again.'],
  [/read-only file system|permission denied|eacces|erofs|not a directory|enotdir|could not make directory|could not write to file/i, 'The build folder cannot be written: check _build (or ebin/) and its permissions, then save again.'],
];

function compileFailure(c: CompileResult): string {
  const errors = c.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file ? `${d.file}:${d.line ?? ''}: ` : ''}${d.message}`);
  const text = errors.join('; ') || 'see the compiler output';
  const hint = BUILD_FAULTS.find(([re]) => re.test(text))?.[1];
  return `compile failed: ${text}${hint ? `. ${hint}` : ''}`;
}

/** Modules view order: what changed, then what runs, then what the node never loaded. */
const RANK: Record<ModuleRow['state'], number> = { changed: 0, unchanged: 1, not_loaded: 2 };

interface AppFile {
  app: string;
  vsn?: string;
  modules?: string[];
}

interface Prepared {
  compile: CompileResult;
  diff?: BuildDiff;
  planned: PlannedModule[];
  /** The application (and vsn) each planned module's beam belongs to, from its .app. */
  libOf: LibOf;
  noOldBinary: string[];
  unreadable: Array<{ file: string; error: string }>;
}

export class UpgradeEngine {
  readonly project: Project;
  /** Where the build's beams are: consolidated protocols first, then each project app's ebin. */
  beamDirs: string[];
  readonly store = new BinaryStore();
  /** The last compile, for the pitfall checks (its parsed-source positions). */
  lastCompile: CompileResult | undefined;
  /** The beams that compile produced, read once and reused by the pitfall checks. */
  lastBuild: BeamSet | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly warm: WarmMixVm | undefined;
  /** Saved files since the last compile: erlc projects compile only these. */
  private savedFiles: string[] = [];

  constructor(
    readonly session: NodeSession,
    projectDir: string,
    opts: EngineOptions = {},
  ) {
    this.project = detectProject(projectDir);
    this.beamDirs = guessBeamDirs(this.project);
    this.warm = opts.warm && this.project.kind === 'mix' ? new WarmMixVm(this.project, opts.log) : undefined;
  }

  /** Starts the warm build VM ahead of the first save. */
  warmUp(): Promise<void> {
    return this.warm?.start().catch(() => undefined) ?? Promise.resolve();
  }

  /** Which files the next compile is for (the editor knows; a terminal compiles all). */
  noteSaved(files: string[]): void {
    this.savedFiles.push(...files);
  }

  dispose(): void {
    this.warm?.stop();
  }

  get node(): string {
    return this.session.node;
  }

  /** Upgrades run one at a time, in the order asked: the last saved code wins. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Keeps the binaries the node runs before a compile overwrites them (docs/otp-rules.md). */
  async keepOldBinaries(): Promise<Set<string>> {
    const beams = readBeamDirs(this.beamDirs);
    const loaded = await this.loadedInfos([...beams.modules.keys()]);
    for (const b of beams.modules.values()) {
      if (loaded.get(b.module)?.md5 === b.info.md5) this.store.put(b.info.md5, b.binary);
    }
    return new Set(beams.modules.keys());
  }

  async loadedInfos(modules: string[]): Promise<Map<string, LoadedInfo>> {
    if (modules.length === 0) return new Map();
    const infos = termToJson(await this.session.bridge.agent('module_infos', [modules.map(atom)], 30_000)) as unknown as LoadedInfo[];
    return new Map(infos.map((i) => [i.module, i]));
  }

  private async prepare(): Promise<Prepared> {
    const before = await this.keepOldBinaries();
    const files = this.savedFiles.splice(0).map((f) => join(this.project.dir, f));
    const compile = await compileProject(this.project, {
      warm: this.warm,
      files: files.some((f) => f.endsWith('.hrl')) ? undefined : files,
      erlang: (req) => this.session.bridge.compileErl(req),
    });
    this.lastCompile = compile;
    if (!compile.ok) return { compile, planned: [], libOf: () => undefined, noOldBinary: [], unreadable: [] };
    if (compile.beamDirs.length) this.beamDirs = compile.beamDirs;
    const after = readBeamDirs(this.beamDirs);
    this.lastBuild = after;
    const loaded = await this.loadedInfos([...after.modules.keys()]);
    const under = (termToJson(await this.session.bridge.agent('loaded_under', [this.beamDirs.map((d) => Buffer.from(d))])) as string[]) ?? [];
    const appOfDir = new Map(this.beamDirs.flatMap((d) => {
      const app = existsSync(d) ? readdirSync(d).find((f) => f.endsWith('.app')) : undefined;
      return app ? [[d, app.slice(0, -'.app'.length)] as const] : [];
    }));
    const appModules = new Map(
      appOfDir.size
        ? (termToJson(await this.session.bridge.agent('app_modules', [[...new Set(appOfDir.values())].map(atom)])) as Array<{ app: string; modules: string[] | null }>).map((a) => [a.app, a.modules])
        : [],
    );
    const known = new Map([...appOfDir].flatMap(([d, app]) => (appModules.get(app) ? [[d, new Set(appModules.get(app))] as const] : [])));
    const diff = diffBuild(before, after, loaded, under, known);
    const appup = await this.appup();
    const withAppup = (p: PlannedModule): PlannedModule => {
      const a = appup.get(p.module);
      return a ? { ...p, instruction: a.instruction, extra: a.extra, depMods: a.depMods, fromAppup: true } : p;
    };
    const planned: PlannedModule[] = [
      ...diff.changed.map(({ beam }) => ({ module: beam.module, instruction: instructionFor(beam), beam })),
      ...diff.added.map((beam) => ({ module: beam.module, instruction: 'add_module' as const, beam })),
      ...diff.deleted.map((module) => ({ module, instruction: 'delete_module' as const })),
    ].map(withAppup);
    const noOldBinary = diff.changed.filter(({ loaded: l }) => !l.md5 || !this.store.has(l.md5)).map(({ beam }) => beam.module);
    const vsnOf = new Map<string, string>();
    for (const [d, app] of appOfDir) {
      const v = readAppVsn(join(d, `${app}.app`));
      if (v) vsnOf.set(d, v);
    }
    const libOf: LibOf = (m) => {
      const b = after.modules.get(m);
      const d = b && dirname(b.file);
      return d && appOfDir.has(d) && vsnOf.has(d) ? { app: appOfDir.get(d)!, vsn: vsnOf.get(d)! } : undefined;
    };
    return { compile, diff, planned, libOf, noOldBinary, unreadable: after.errors };
  }

  /**
   * The project's .appup files, one per application (its folder under apps/, then the project's
   * own src/ and priv/, then the build's ebin folders; the first found for an app wins), read on
   * the bridge; empty without any.
   */
  private async appup(): Promise<Map<string, AppupEntry>> {
    const found = new Map<string, string>();
    for (const dir of [...appupHomes(this.project), ...this.beamDirs]) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        const app = f.endsWith('.appup') ? f.slice(0, -'.appup'.length) : undefined;
        if (app && !found.has(app)) found.set(app, join(dir, f));
      }
    }
    const out = new Map<string, AppupEntry>();
    if (found.size === 0) return out;
    const running = new Map((await this.session.status()).applications.map((a) => [a.name, a.vsn]));
    for (const [app, file] of found) {
      for (const [m, e] of appupInstructions(await this.session.bridge.consult(file), running.get(app) ?? null)) out.set(m, e);
    }
    return out;
  }

  /** What a release of this plan would do that the developer may not expect. */
  private async warnings(p: Prepared, users: WarningInputs['users']): Promise<PlanWarning[]> {
    return planWarnings({
      modules: p.planned,
      users,
      noOldBinary: p.noOldBinary,
      loadedBehaviours: new Map(p.diff?.changed.map(({ beam, loaded }) => [beam.module, loaded.behaviours ?? []])),
      appFiles: await this.appFiles(p.planned),
    });
  }

  /** The `.app` beside each new beam (mix, rebar3 and an erlc ebin/ with one), read on the bridge. */
  private async appFiles(planned: PlannedModule[]): Promise<Map<string, AppFile>> {
    const out = new Map<string, AppFile>();
    for (const dir of new Set(planned.flatMap((m) => (m.beam ? [dirname(m.beam.file)] : [])))) {
      const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.app')) : undefined;
      if (!file) continue;
      try {
        out.set(dir, { app: file.replace(/\.app$/, ''), ...readAppFile(await this.session.bridge.consult(join(dir, file))) });
      } catch {
        // An unreadable .app is the build's to report; what we use it for are hints.
      }
    }
    return out;
  }

  /**
   * The .appup each application with changed modules needs, from the vsn the node runs to the
   * built one, with the plan's instructions. Nothing is written, nothing on the node changes.
   */
  generateAppups(): Promise<GeneratedAppup[]> {
    return this.serial(async () => {
      const p = await this.prepare();
      if (!p.compile.ok) throw new CompileError(`${compileFailure(p.compile)}. Fix it and generate again.`);
      const apps = await this.appFiles(p.planned);
      const running = new Map((await this.session.status()).applications.map((a) => [a.name, a.vsn]));
      const byApp = new Map<string, { file: AppFile; modules: PlannedModule[] }>();
      for (const m of p.planned) {
        // A deleted module has no beam left: it belongs to the project's only application, if one.
        const file = m.beam ? apps.get(dirname(m.beam.file)) : apps.size === 1 ? [...apps.values()][0] : undefined;
        if (!file) continue;
        const entry = byApp.get(file.app) ?? { file, modules: [] };
        entry.modules.push(m);
        byApp.set(file.app, entry);
      }
      return [...byApp.values()].map(({ file, modules }) => {
        const toVsn = file.vsn ?? '0';
        const fromVsn = running.get(file.app) ?? toVsn;
        return {
          app: file.app,
          path: join(appupHomes(this.project, file.app)[0]!, `${file.app}.appup`),
          fromVsn,
          toVsn,
          modules: modules.map((m) => m.module),
          text: formatAppup({ app: file.app, node: this.node, fromVsn, toVsn, modules }),
        };
      });
    });
  }

  /** The request the agent's upgrade, plan and rollback take. */
  private async agentRequest(p: Prepared, opts: UpgradeOptions) {
    const loaded = new Map(p.diff?.changed.map(({ beam, loaded: l }) => [beam.module, l]) ?? []);
    // A deleted module's running binary is kept too, so that an undo can load it back.
    if (p.diff?.deleted.length) for (const [m, l] of await this.loadedInfos(p.diff.deleted)) loaded.set(m, l);
    const blocks = scriptBlocks(p.planned);
    return {
      modules: p.planned.map((m) => {
        const l = loaded.get(m.module);
        const old = l?.md5 ? this.store.get(l.md5) : undefined;
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
      suspend_timeout: opts.suspendTimeoutMs ?? 5000,
      code_change_timeout: opts.codeChangeTimeoutMs ?? 5000,
      deadline: deadlineMs(opts, blocks.length),
      hooks: {
        pause_after_suspend: opts.pauseAfterSuspendMs ?? 0,
        pause_after_load: opts.pauseAfterLoadMs ?? 0,
        pause_mid_code_change: opts.pauseMidCodeChangeMs ?? 0,
      },
    };
  }

  private upgradeCall(fn: 'plan' | 'upgrade', req: Record<string, unknown>, timeoutMs: number) {
    return upgradeCall(this.session, fn, req, timeoutMs);
  }

  /** Compile, diff and plan; nothing on the node changes. */
  plan(opts: UpgradeOptions = {}): Promise<UpgradePlan> {
    return this.serial(async () => {
      const p = await this.prepare();
      const base: UpgradePlan = {
        node: this.node,
        mode: opts.mode ?? 'release',
        modules: [],
        unchanged: p.diff?.unchanged ?? [],
        notLoaded: p.diff?.notLoaded ?? [],
        added: p.diff?.added.map((b) => b.module) ?? [],
        deleted: p.diff?.deleted ?? [],
        script: expandScript(p.planned, p.libOf),
        blocks: scriptBlocks(p.planned).map((b) => b.map((m) => m.module)),
        kills: [],
        pitfalls: [],
        reach: [],
        missed: [],
        warnings: [],
        diagnostics: p.compile.diagnostics,
      };
      const elsewhere = notThisProject(p, this.project.dir, this.node);
      if (elsewhere) return { ...base, warnings: [{ module: '', code: 'project-not-loaded', message: elsewhere }] };
      if (!p.compile.ok || p.planned.length === 0) return base;
      const r = termToJson(await this.upgradeCall('plan', await this.agentRequest(p, opts), 60_000)) as unknown as {
        reach: UpgradePlan['reach'];
        missed: UpgradePlan['missed'];
        kills: UpgradePlan['kills'];
        users: Array<{ pid: string; name: string | null; module: string; callback: string | null }>;
        versions: ModuleChange[];
        facts: NodeFacts;
      };
      return {
        ...base,
        modules: r.versions,
        reach: r.reach,
        missed: r.missed,
        kills: r.kills,
        warnings: await this.warnings(p, r.users),
        pitfalls: await this.checks(p, r.facts),
      };
    });
  }

  /** The whole save-to-upgraded path. Throws only when it could not run at all. */
  /** `onTurn` runs when this upgrade's turn in the queue comes, before it compiles. */
  upgrade(opts: UpgradeOptions = {}, onTurn: () => void = () => undefined): Promise<UpgradeReport> {
    return this.serial(async () => {
      onTurn();
      const started = Date.now();
      const p = await this.prepare();
      const report = emptyReport(this.node, opts, p.compile);
      if (!p.compile.ok) {
        report.error = compileFailure(p.compile);
        return summarize(report, Date.now() - started);
      }
      if (p.unreadable.length) {
        report.error = `cannot read ${p.unreadable.map((u) => `${u.file} (${u.error})`).join(', ')}: nothing was pushed. Rebuild the project (mix compile --force) and save again.`;
        return summarize(report, Date.now() - started);
      }
      Object.assign(report, {
        unchanged: p.diff!.unchanged,
        notLoaded: p.diff!.notLoaded,
        added: p.diff!.added.map((b) => b.module),
        deleted: p.diff!.deleted,
        vsnOnly: p.diff!.vsnOnly,
      });
      const elsewhere = notThisProject(p, this.project.dir, this.node);
      if (elsewhere) {
        report.error = elsewhere;
        return summarize(report, Date.now() - started);
      }
      if (p.planned.length === 0) {
        report.ok = true;
        return summarize(report, Date.now() - started);
      }
      const planStart = Date.now();
      const req = await this.agentRequest(p, opts);
      const planned = termToJson(await this.upgradeCall('plan', req, 60_000)) as unknown as {
        users: Array<{ pid: string; name: string | null; module: string; callback: string | null }>;
        versions: ModuleChange[];
        facts: NodeFacts;
      };
      report.modules = planned.versions;
      report.warnings = await this.warnings(p, planned.users);
      // The pitfall checks on this plan, against the node as it runs: before anything is loaded.
      report.pitfalls = await this.checks(p, planned.facts);
      report.timings.planMs = Date.now() - planStart;
      const risky = report.pitfalls.filter((x) => x.risk);
      if (opts.holdRisky && risky.length) {
        report.held = risky;
        return summarize(report, Date.now() - started);
      }
      const r = termToJson(await this.upgradeCall('upgrade', req, agentTimeout(opts, req.blocks.length))) as Record<string, unknown>;
      const merged = mergeAgentReport(report, r);
      const funs = (r.storedFuns as Array<{ pid: string; name: string | null; module: string }>) ?? [];
      if (funs.length) merged.warnings.push(...planWarnings({ modules: [], users: [], noOldBinary: [], storedFuns: funs }));
      return summarize(merged, Date.now() - started);
    });
  }

  /** The pitfalls of the planned modules, found against the node as it runs now. */
  private async checks(p: Prepared, facts: NodeFacts): Promise<UpgradePitfall[]> {
    const planned = new Set(p.planned.map((m) => m.module));
    const { pitfalls } = analyze(await gatherPitfallInput(this, planned, facts));
    return pitfalls
      .filter((x) => x.module && planned.has(x.module))
      .map((x) => ({
        code: x.code,
        module: x.module ?? null,
        file: isAbsolute(x.file) ? relative(this.project.dir, x.file) : x.file,
        line: x.line,
        message: x.message,
        severity: x.severity,
        ...(x.risk ? { risk: x.risk } : {}),
      }));
  }

  /** The project's modules as built vs as loaded, and who still runs old code (the Modules view). */
  async modules(): Promise<ModuleRow[]> {
    const beams = readBeamDirs(this.beamDirs);
    const loaded = await this.loadedInfos([...beams.modules.keys()]);
    const withOld = [...loaded.values()].filter((l) => l.oldCode).map((l) => atom(l.module));
    const users = withOld.length
      ? (termToJson(await this.session.bridge.agent('old_code_users', [withOld])) as unknown as Array<ProcessRef>)
      : [];
    return [...beams.modules.values()]
      .map((b): ModuleRow => {
        const l = loaded.get(b.module);
        return {
          module: b.module,
          loadedVsn: l?.vsn ?? null,
          diskVsn: b.info.vsn === undefined ? null : formatVsn(b.info.vsn) ?? null,
          loadedMd5: l?.md5 ?? null,
          diskMd5: b.info.md5,
          oldCode: users.filter((u) => u.module === b.module),
          state: !l?.loaded ? 'not_loaded' : l.md5 === b.info.md5 ? 'unchanged' : 'changed',
        };
      })
      .sort((a, b) => RANK[a.state] - RANK[b.state] || a.module.localeCompare(b.module));
  }

  /** Undoes the last upgrade the node remembers, after any upgrade still running. */
  rollback(opts: UpgradeOptions = {}): Promise<RollbackReport> {
    return this.serial(() => rollbackLast(this.session, opts));
  }
}

/** A build none of whose modules the node runs is another project's, or one not started yet. */
function notThisProject(p: Prepared, dir: string, node: string): string | undefined {
  const d = p.diff;
  if (!d || d.changed.length || d.unchanged.length || d.deleted.length) return undefined;
  const n = d.notLoaded.length + d.added.length;
  if (n === 0) return undefined;
  return `None of the ${n} modules built from ${dir} is loaded in ${node}: is this the project the node runs? Nothing was pushed.`;
}

function mergeAgentReport(report: UpgradeReport, r: Record<string, unknown>): UpgradeReport {
  const t = (r.timings ?? {}) as Record<string, number>;
  report.ok = r.ok === true;
  report.pushed = r.pushed === true;
  report.rolledBack = r.rolledBack === true;
  report.error = (r.error as string | null) ?? null;
  report.errorDetail = (r.errorDetail as string | null) ?? null;
  report.errorProcess = (r.errorProcess as ProcessRef | null) ?? null;
  report.errorFrames = (r.errorFrames as UpgradeReport['errorFrames']) ?? [];
  // A runner that died reports no modules of its own: the ones asked for are what it found.
  report.modules = (r.modules as ModuleChange[]) ?? report.modules;
  report.blocks = (r.blocks as string[][]) ?? [];
  report.undo = (r.undo as UpgradeReport['undo']) ?? null;
  report.processes = (r.processes as UpgradeReport['processes']) ?? [];
  report.missed = (r.missed as UpgradeReport['missed']) ?? [];
  report.killed = (r.killed as UpgradeReport['killed']) ?? [];
  report.oldCode = (r.oldCode as UpgradeReport['oldCode']) ?? [];
  report.unpurged = (r.unpurged as string[]) ?? [];
  Object.assign(report.timings, {
    suspendMs: t.suspendMs ?? 0,
    loadMs: t.loadMs ?? 0,
    codeChangeMs: t.codeChangeMs ?? 0,
    resumeMs: t.resumeMs ?? 0,
    purgeMs: t.purgeMs ?? 0,
    softPurgeMs: t.softPurgeMs ?? 0,
    maxSuspendedMs: t.maxSuspendedMs ?? 0,
  });
  if (!report.ok && report.processes.some((p) => p.codeChange === 'error')) {
    report.release =
      'A real install_release would have stopped at this code_change failure ({code_change_failed, Pid, Mod, Vsn, Reason}), ' +
      'left the processes suspended, and restarted the node onto the old release.';
  }
  return report;
}
