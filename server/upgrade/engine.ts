// compile → diff → plan → checks → upgrade, for one project and one attached node. The CLI and
// the language server both drive this class; the node is asked through the gateway, and the
// work on it is beam_live_upgrade's.
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { appFileIn, appFilesOf, generatedAppups, projectAppups, readAppVsn } from './appup';
import { compileProject, CompileResult } from '../compile/compile';
import { CompileError, compileFailure } from '../compile/buildFaults';
import { WarmMixVm } from '../compile/warmVm';
import { detectProject, guessBeamDirs, Project } from '../compile/project';
import { formatVsn } from '../beam/beamFile';
import type { Term } from '../beam/term';
import { applyPurge, type GeneratedAppup, type ModuleRow, type PlanWarning, type RollbackReport, type UpgradeOptions, type UpgradePlan, type UpgradePitfall, type UpgradeReport } from '../protocol';
import { analyze } from '../analysis/pitfalls';
import { gatherPitfallInput, PitfallSource } from '../analysis/collect';
import { NodeGateway } from '../runtime/gateway';
import type { LoadedInfo, PlanReply } from '../runtime/replies';
import { BeamSet, readBeamDirs, writtenSince } from './beams';
import { BinaryStore } from './binaries';
import { BuildDiff, diffBuild } from './diff';
import { instructionFor, PlannedModule, planWarnings } from './plan';
import { expandScript, LibOf, scriptBlocks } from './script';
import { emptyReport, mergeUpgradeReply, summarize } from './report';
import { upgradeRequest } from './request';
import { rollbackLast } from './rollback';
import { applyCluster, ClusterInput, upgradeCluster } from './cluster';

export interface EngineOptions {
  /** Compile mix projects in a warm build VM (long-lived engines: the editor, watch). */
  warm?: boolean;
  log?: (line: string) => void;
}

/** Modules view order: what changed, then what runs, then what the node never loaded. */
const RANK: Record<ModuleRow['state'], number> = { changed: 0, unchanged: 1, not_loaded: 2 };

export interface UpgradeHooks {
  /** This upgrade's turn in the queue came: it compiles now. */
  onTurn?: () => void;
  /** The plan's scan of the node's processes, kept on the node, still describes it after the upgrade. */
  scanned?: (scan: number) => void;
  /** A cluster upgrade prepared every node and commits next. */
  prepared?: () => void;
}

/** What a compile and a diff against the node give; the plan, the checks and the request read it. */
export interface Prepared {
  compile: CompileResult;
  /** The beams the compile produced, read once. */
  build?: BeamSet;
  diff?: BuildDiff;
  planned: PlannedModule[];
  /** The application (and vsn) each planned module's beam belongs to, from its .app. */
  libOf: LibOf;
  noOldBinary: string[];
  unreadable: Array<{ file: string; error: string }>;
  /** What the node runs of the planned modules (a deleted one's too: its binary is kept for an undo). */
  loaded: Map<string, LoadedInfo>;
  /** The modules the node loaded from the build's folders. */
  loadedUnder: string[];
}

export class UpgradeEngine {
  readonly project: Project;
  /** Where the build's beams are: consolidated protocols first, then each project app's ebin. */
  beamDirs: string[];
  readonly store = new BinaryStore();
  /** The last compile, for the pitfall checks (its parsed-source positions). */
  lastCompile: CompileResult | undefined;
  /** The beams that compile produced, read once and reused by the checks and the Modules view. */
  lastBuild: BeamSet | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The soft purge each report's upgrade left running on the node (beam_live_purge). */
  private readonly purges = new WeakMap<UpgradeReport, Array<{ id: number }>>();

  private readonly warm: WarmMixVm | undefined;
  /** Saved files not compiled yet: erlc projects compile only these. */
  private savedFiles: string[] = [];
  /** Bumped by every save noted: a compile that saw it move saves that came during it. */
  private saves = 0;

  constructor(
    readonly session: NodeGateway,
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
    this.saves++;
  }

  /** The saved files no compile has taken yet. */
  get uncompiledSaves(): string[] {
    return [...this.savedFiles];
  }

  dispose(): void {
    void this.warm?.stop();
  }

  get node(): string {
    return this.session.node;
  }

  /**
   * Upgrades run one at a time, in the order asked: the last saved code wins. After each, the
   * warm build VM's mix records what its compile built, before the next job reads the build.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined).then(() => this.warm?.settle());
    return next;
  }

  /** Keeps the binaries the node runs before a compile overwrites them (docs/otp-rules.md). */
  async keepOldBinaries(beams: BeamSet = readBeamDirs(this.beamDirs)): Promise<Set<string>> {
    this.keep(beams, await this.session.moduleInfos([...beams.modules.keys()]));
    return new Set(beams.modules.keys());
  }

  private keep(beams: BeamSet, loaded: Map<string, LoadedInfo>): void {
    for (const b of beams.modules.values()) {
      if (loaded.get(b.module)?.md5 === b.info.md5) this.store.put(b.info.md5, b.binary);
    }
  }

  /** What the node runs of the build in these folders, in one round trip. */
  private async nodeFacts(modules: string[], dirs: string[]) {
    const appOfDir = new Map(dirs.flatMap((d) => {
      const app = appFileIn(d);
      return app ? [[d, app.slice(0, -'.app'.length)] as const] : [];
    }));
    const facts = await this.session.buildFacts(modules, dirs, [...new Set(appOfDir.values())]);
    return { dirs, appOfDir, facts, loaded: new Map(facts.infos.map((i) => [i.module, i])) };
  }

  /**
   * Compile until no save came during the compile (a "Save All" of five files is one upgrade,
   * and a single save waits for nothing), then diff against what the node runs.
   */
  private async prepare(): Promise<Prepared> {
    const before = readBeamDirs(this.beamDirs);
    // The bytes are in memory already: the node is asked what it runs while the compile runs,
    // and its answer keeps the binaries the compile overwrites.
    const asked = this.nodeFacts([...before.modules.keys()], this.beamDirs);
    asked.catch(() => undefined);
    let compile: CompileResult;
    for (;;) {
      const seen = this.saves;
      const files = this.savedFiles.splice(0).map((f) => join(this.project.dir, f));
      compile = await compileProject(this.project, {
        warm: this.warm,
        files: files.some((f) => f.endsWith('.hrl')) ? undefined : files,
        erlang: (req) => this.session.compileErl(req),
      });
      if (this.saves === seen || !compile.ok) break;
    }
    let node = await asked;
    this.keep(before, node.loaded);
    this.lastCompile = compile;
    const none = { compile, planned: [], libOf: () => undefined, noOldBinary: [], unreadable: [], loaded: new Map(), loadedUnder: [] };
    if (!compile.ok) return none;
    if (compile.beamDirs.length) this.beamDirs = compile.beamDirs;
    const after = readBeamDirs(this.beamDirs);
    this.lastBuild = after;
    // The first compile may name other folders than the guess; modules new in this build are asked now.
    if (node.dirs.join('\n') !== this.beamDirs.join('\n')) node = await this.nodeFacts([...after.modules.keys()], this.beamDirs);
    const added = [...after.modules.keys()].filter((m) => !node.loaded.has(m));
    if (added.length) for (const [m, l] of await this.session.moduleInfos(added)) node.loaded.set(m, l);
    const { appOfDir, facts, loaded } = node;
    const appModules = new Map(facts.apps.map((a) => [a.app, a.modules]));
    const known = new Map([...appOfDir].flatMap(([d, app]) => (appModules.get(app) ? [[d, new Set(appModules.get(app))] as const] : [])));
    const diff = diffBuild(new Set(before.modules.keys()), after, loaded, facts.under, known);
    const appup = await projectAppups(this.project, this.beamDirs, (f) => this.consult(f), () => this.runningApps());
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
    const planLoaded = new Map(diff.changed.map(({ beam, loaded: l }) => [beam.module, l]));
    // A deleted module's running binary is kept too, so that an undo can load it back.
    if (diff.deleted.length) for (const [m, l] of await this.session.moduleInfos(diff.deleted)) planLoaded.set(m, l);
    return { compile, build: after, diff, planned, libOf, noOldBinary, unreadable: after.errors, loaded: planLoaded, loadedUnder: facts.under };
  }

  /** file:consult on the bridge, again only when the file changed (an .app is read at every save). */
  private readonly consulted = new Map<string, { stamp: string; terms: Promise<Term[]> }>();

  private consult(file: string): Promise<Term[]> {
    const st = statSync(file, { bigint: true });
    const stamp = `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
    const hit = this.consulted.get(file);
    if (hit?.stamp === stamp) return hit.terms;
    const terms = this.session.consult(file);
    terms.catch(() => this.consulted.delete(file));
    this.consulted.set(file, { stamp, terms });
    return terms;
  }

  private async runningApps(): Promise<Map<string, string>> {
    return new Map((await this.session.status()).applications.map((a) => [a.name, a.vsn]));
  }

  /** What a release of this plan would do that the developer may not expect. */
  private async warnings(p: Prepared, plan: PlanReply): Promise<PlanWarning[]> {
    return planWarnings({
      modules: p.planned,
      users: plan.users,
      noOldBinary: p.noOldBinary,
      loadedBehaviours: new Map(p.diff?.changed.map(({ beam, loaded }) => [beam.module, loaded.behaviours ?? []])),
      appFiles: await appFilesOf(p.planned, (f) => this.consult(f)),
    });
  }

  /**
   * The .appup each application with changed modules needs, from the vsn the node runs to the
   * built one, with the plan's instructions. Nothing is written, nothing on the node changes.
   */
  generateAppups(): Promise<GeneratedAppup[]> {
    return this.serial(async () => {
      const p = await this.prepare();
      if (!p.compile.ok) throw new CompileError(`${compileFailure(p.compile)}. Fix it and generate again.`);
      const apps = await appFilesOf(p.planned, (f) => this.consult(f));
      return generatedAppups({ project: this.project, node: this.node, planned: p.planned, apps, running: await this.runningApps() });
    });
  }

  /**
   * The plan call, with the project's modules so that its one scan of the node serves the checks
   * after the upgrade too. An upgrade's plan soft-purges the old code nobody runs, as
   * release_handler:check_install_release/2 does with `purge` (the load would purge it anyway);
   * a plan that is only shown, and a cluster's prepare (on every node), change nothing.
   */
  private planOnNode(p: Prepared, opts: UpgradeOptions, forUpgrade: boolean) {
    // A cluster's prepare asks each node's loader about the new binaries, this one's too.
    const cluster = clusterScoped(opts);
    const req = { ...upgradeRequest(p.planned, p.loaded, this.store, opts), ...(cluster ? { validate: true } : {}) };
    return { req, plan: this.session.plan(forUpgrade && !cluster ? { ...req, purge: true } : req, [...(p.build?.modules.keys() ?? [])]) };
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
      const r = await this.planOnNode(p, opts, false).plan;
      return {
        ...base,
        modules: r.versions,
        reach: r.reach,
        missed: r.missed,
        kills: r.kills,
        warnings: await this.warnings(p, r),
        pitfalls: await this.checks(p, r),
      };
    });
  }

  /** The whole save-to-upgraded path. Throws only when it could not run at all. */
  upgrade(opts: UpgradeOptions = {}, hooks: UpgradeHooks = {}): Promise<UpgradeReport> {
    return this.serial(async () => {
      hooks.onTurn?.();
      const started = Date.now();
      const p = await this.prepare();
      const report = emptyReport(this.node, opts, p.compile);
      const done = () => summarize(report, Date.now() - started);
      if (!p.compile.ok) {
        report.error = compileFailure(p.compile);
        return done();
      }
      if (p.unreadable.length) {
        report.error = `cannot read ${p.unreadable.map((u) => `${u.file} (${u.error})`).join(', ')}: nothing was pushed. Rebuild the project (mix compile --force) and save again.`;
        return done();
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
        return done();
      }
      if (p.planned.length === 0) {
        report.ok = true;
        return done();
      }
      const planStart = Date.now();
      const { req, plan: asked } = this.planOnNode(p, opts, true);
      const plan = await asked;
      report.modules = plan.versions;
      report.warnings = await this.warnings(p, plan);
      // The pitfall checks on this plan, against the node as it runs: before anything is loaded.
      report.pitfalls = await this.checks(p, plan);
      report.timings.planMs = Date.now() - planStart;
      const risky = report.pitfalls.filter((x) => x.risk);
      if (opts.holdRisky && risky.length) {
        report.held = risky;
        hooks.scanned?.(plan.scan);
        return done();
      }
      if (clusterScoped(opts)) {
        const input: ClusterInput = {
          attached: this.session,
          req,
          plan,
          pitfalls: report.pitfalls,
          planned: p.planned,
          loaded: p.loaded,
          projectModules: [...(p.build?.modules.keys() ?? [])],
          store: this.store,
          opts,
          checks: (gw, nodePlan) => this.checks(p, nodePlan, gw),
          nodeReport: (node) => emptyReport(node, opts, p.compile),
          prepared: hooks.prepared,
        };
        const { cluster, attachedReply } = await upgradeCluster(input);
        applyCluster(report, cluster, attachedReply);
        if (attachedReply?.purges?.length) this.purges.set(report, attachedReply.purges);
        return done();
      }
      const r = await this.session.upgrade({ ...req, scan: plan.scan });
      mergeUpgradeReply(report, r);
      if (r.purges?.length) this.purges.set(report, r.purges);
      if (r.storedFuns?.length) report.warnings.push(...planWarnings({ modules: [], users: [], noOldBinary: [], storedFuns: r.storedFuns }));
      // The scan still holds the processes, unless the load killed some (their restarts are new).
      if (!report.killed.length) hooks.scanned?.(plan.scan);
      return done();
    });
  }

  /**
   * Waits for the soft purge that followed this report's upgrade and puts what it found into
   * the report (who still runs old code); false when there was none to wait for.
   */
  async purged(report: UpgradeReport): Promise<boolean> {
    const ids = this.purges.get(report);
    if (!ids) return false;
    this.purges.delete(report);
    applyPurge(report, await this.session.purged(ids).catch(() => undefined));
    return true;
  }

  /** What the pitfall checks read of this project, with what the caller already knows of the node. */
  pitfallSource(known: Partial<PitfallSource> = {}): PitfallSource {
    return {
      gateway: this.session,
      projectDir: this.project.dir,
      beamDirs: this.beamDirs,
      store: this.store,
      compile: this.lastCompile,
      build: this.lastBuild,
      ...known,
    };
  }

  /** The pitfalls of the planned modules, found against the node as the plan saw it. */
  private async checks(p: Prepared, plan: PlanReply, gateway = this.session): Promise<UpgradePitfall[]> {
    const planned = new Set(p.planned.map((m) => m.module));
    const input = await gatherPitfallInput(
      this.pitfallSource({ gateway, compile: p.compile, build: p.build, only: planned, facts: plan.facts, oldCode: plan.oldCode, loadedUnder: p.loadedUnder }),
    );
    return analyze(input)
      .pitfalls.filter((x) => x.module && planned.has(x.module))
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
    await this.queue;
    // The beams the last save read, unless the folders changed since (a build outside the editor).
    const beams = this.lastBuild && !writtenSince(this.lastBuild, this.beamDirs) ? this.lastBuild : readBeamDirs(this.beamDirs);
    const loaded = await this.session.moduleInfos([...beams.modules.keys()]);
    const users = await this.session.oldCodeUsers([...loaded.values()].filter((l) => l.oldCode).map((l) => l.module));
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

function clusterScoped(opts: UpgradeOptions): boolean {
  return opts.scope === 'cluster' || (opts.nodes?.length ?? 0) > 0;
}

/** A build none of whose modules the node runs is another project's, or one not started yet. */
function notThisProject(p: Prepared, dir: string, node: string): string | undefined {
  const d = p.diff;
  if (!d || d.changed.length || d.unchanged.length || d.deleted.length) return undefined;
  const n = d.notLoaded.length + d.added.length;
  if (n === 0) return undefined;
  return `None of the ${n} modules built from ${dir} is loaded in ${node}: is this the project the node runs? Nothing was pushed.`;
}
