// One save, every node of the cluster, all or nothing. OTP's release_handler only offers a
// barrier (sync_nodes) and no undo across nodes; this is a two-phase upgrade:
//   prepare, on every node at once, changes nothing: the node runs the old code the plan
//     expects (else version skew), its loader accepts the new binaries
//     (erlang:prepare_loading/2), its processes are found and its pitfalls and kills estimated;
//   commit runs each node's own transactional upgrade (suspend, load, code_change, resume per
//     block), all at once or one at a time;
//   abort: if any node fails its commit, every node that changed is rolled back by the same
//     downgrade as `rollback`, and a node that fails undoes itself as on one node.
// A node that goes away before its commit stops everybody's; one that goes away during it is
// reported as unknown, and asked what it runs when it can be reached again.
import { applyPurge, type ClusterNodeResult, type ClusterReport, type UpgradeOptions, type UpgradePitfall, type UpgradeReport } from '../protocol';
import type { NodeGateway, UpgradeRequest } from '../runtime/gateway';
import type { LoadedInfo, PlanReply, UpgradeReply } from '../runtime/replies';
import { atom } from '../beam/term';
import type { BinaryStore } from './binaries';
import type { PlannedModule } from './plan';
import { mergeUpgradeReply, rollbackReport } from './report';
import { upgradeRequest } from './request';
import { rollbackLast } from './rollback';
import { md5sOf, skewOf } from '../runtime/cluster';

export interface ClusterInput {
  attached: NodeGateway;
  /** The attached node's request and plan, made by the engine with `validate`. */
  req: UpgradeRequest;
  plan: PlanReply;
  /** The attached node's own pitfalls, found by the engine. */
  pitfalls: UpgradePitfall[];
  planned: PlannedModule[];
  /** What the attached node runs of the planned modules. */
  loaded: Map<string, LoadedInfo>;
  projectModules: string[];
  store: BinaryStore;
  opts: UpgradeOptions;
  checks: (gw: NodeGateway, plan: PlanReply) => Promise<UpgradePitfall[]>;
  /** An empty one-node report, to be filled with the node's upgrade reply. */
  nodeReport: (node: string) => UpgradeReport;
  /** Every node prepared, nothing committed yet (tests stop a node here). */
  prepared?: () => void;
}

interface Member {
  gw: NodeGateway;
  req: UpgradeRequest;
  plan: PlanReply | null;
  result: ClusterNodeResult;
  /** Its commit's reply, once it committed. */
  reply?: UpgradeReply;
}

/** The attached node first, then the others by name: the order `serial` commits in. */
function ordered(members: Member[]): Member[] {
  return [members[0]!, ...members.slice(1).sort((a, b) => a.gw.node.localeCompare(b.gw.node))];
}

/** The cluster's report, and the attached node's own upgrade reply when it committed (its part of the top-level report). */
export async function upgradeCluster(c: ClusterInput): Promise<{ cluster: ClusterReport; attachedReply: UpgradeReply | undefined }> {
  const order = c.opts.clusterOrder ?? 'parallel';
  const t0 = Date.now();
  const { peers, failed } = await c.attached.peers(c.opts.nodes ?? 'all');
  const report: ClusterReport = { order, phase: 'prepare', nodes: [], unreachable: failed, timings: { prepareMs: 0, commitMs: 0, abortMs: 0 } };
  for (const n of c.opts.nodes ?? []) {
    if (n !== c.attached.node && !peers.some((p) => p.node === n) && !failed.some((f) => f.node === n)) report.unreachable.push({ node: n, error: 'not connected to the attached node' });
  }
  const blank = (node: string): ClusterNodeResult => ({ node, outcome: 'not_committed', error: null, skew: [], invalid: [], reach: 0, kills: [], pitfalls: [], report: null, rollback: null, runs: null });
  const members: Member[] = ordered([
    { gw: c.attached, req: c.req, plan: c.plan, result: { ...blank(c.attached.node), reach: c.plan.reach.length, kills: c.plan.kills, pitfalls: c.pitfalls, invalid: c.plan.invalid } },
    ...peers.map((gw) => ({ gw, req: c.req, plan: null, result: blank(gw.node) })),
  ]);
  report.nodes = members.map((m) => m.result);
  const done = async () => ({ cluster: await finish(report, members, c), attachedReply: members[0]!.reply });

  // Prepare, everywhere at once; nothing changes.
  const expected = md5sOf(c.loaded);
  await Promise.all(members.slice(1).map((m) => prepare(m, c, expected)));
  for (const m of members) if (m.result.invalid.length) refuse(m, `its loader refuses ${m.result.invalid.map((i) => `${i.module} (${i.reason})`).join(', ')}`);
  report.timings.prepareMs = Date.now() - t0;
  const stop = (why: string) => {
    for (const m of members) if (m.result.outcome === 'not_committed' && !m.result.error) m.result.error = why;
    return done();
  };
  if (report.unreachable.length) return stop(`not committed: ${report.unreachable.map((u) => `${u.node} could not be prepared (${u.error})`).join('; ')}`);
  const refused = members.filter((m) => m.result.outcome === 'refused');
  if (refused.length) return stop(`not committed: ${refused.map((m) => m.gw.node).join(', ')} refused in prepare`);

  c.prepared?.();
  if (c.opts.pauseBeforeCommitMs) await new Promise((r) => setTimeout(r, c.opts.pauseBeforeCommitMs));
  // A node gone since its prepare (its nodedown heard) stops the commit everywhere: nothing
  // has changed yet. One that goes in the next instant fails its own commit, and the others
  // roll back.
  const gone = members.filter((m) => !m.gw.connected);
  if (gone.length) {
    for (const m of gone) refuse(m, 'went away after its prepare');
    return stop(`not committed: ${gone.map((m) => m.gw.node).join(', ')} went away after the prepare`);
  }

  // Commit.
  report.phase = 'commit';
  const tc = Date.now();
  if (order === 'parallel') await Promise.all(members.map((m) => commit(m, c)));
  else for (const m of members) if (!(await commit(m, c))) break;
  report.timings.commitMs = Date.now() - tc;

  // Abort: every node that changed goes back when any did not make it.
  const bad = members.filter((m) => m.result.outcome === 'failed' || m.result.outcome === 'unknown');
  if (bad.length) {
    const ta = Date.now();
    const why = bad.map((m) => `${m.gw.node}: ${m.result.error}`).join('; ');
    await Promise.all(
      members
        .filter((m) => m.result.outcome === 'upgraded')
        .map(async (m) => {
          // The snapshot taken at its upgrade goes back where no down clause matches: all or nothing.
          const r = await rollbackLast(m.gw, { ...c.opts, restoreSnapshot: true, confirmKills: true }).catch((e: Error) => rollbackReport(m.gw.node, { ok: false, error: e.message }));
          m.result.rollback = r;
          m.result.outcome = r.ok ? 'rolled_back' : 'failed';
          m.result.error = r.ok ? `rolled back: ${why}` : `its rollback failed (${r.error}) after ${why}`;
        }),
    );
    for (const m of members) if (m.result.outcome === 'not_committed' && !m.result.error) m.result.error = `not committed: ${why}`;
    report.timings.abortMs = Date.now() - ta;
  }
  report.phase = 'done';
  return done();
}

/** One peer's prepare: what it runs, what its loader says, what its plan finds. */
async function prepare(m: Member, c: ClusterInput, expected: Map<string, string | null>): Promise<void> {
  try {
    // The plan reports the MD5 each module runs there: skew is read from it, no extra round trip.
    let plan = await m.gw.plan({ ...m.req, validate: true }, c.projectModules);
    const changed = c.planned.filter((p) => p.instruction !== 'add_module').map((p) => p.module);
    const running = new Map(plan.versions.map((v) => [v.module, v.oldMd5 ?? null]));
    m.result.skew = skewOf(m.gw.node, changed, running, expected);
    if (m.result.skew.length && !c.opts.allowSkew) {
      refuse(m, `version skew: ${m.result.skew.map((s) => `${s.module} runs ${s.md5 ?? 'nothing'} here, ${s.expected ?? 'nothing'} on ${c.attached.node}`).join('; ')} (allow it with allowSkew / --allow-skew: each node upgrades from its own)`);
      return;
    }
    if (m.result.skew.length) {
      // Each node from the old code it runs: its kept binary (where BEAM Live has it) is what an undo loads back there.
      m.req = upgradeRequest(c.planned, new Map([...c.loaded, ...(await m.gw.moduleInfos(changed))]), c.store, c.opts);
      plan = await m.gw.plan({ ...m.req, validate: true }, c.projectModules);
    }
    m.plan = plan;
    m.result.reach = plan.reach.length;
    m.result.kills = plan.kills;
    m.result.invalid = plan.invalid;
    m.result.pitfalls = await c.checks(m.gw, plan);
  } catch (e) {
    refuse(m, `prepare failed: ${(e as Error).message}`);
  }
}

function refuse(m: Member, why: string): void {
  m.result.outcome = 'refused';
  m.result.error = why;
}

/** The node's own transactional upgrade; true when it upgraded. */
async function commit(m: Member, c: ClusterInput): Promise<boolean> {
  let reply: UpgradeReply;
  try {
    // A cluster is all or nothing: a node that fails undoes itself, whatever onFailure says.
    reply = await m.gw.upgrade({ ...m.req, on_failure: atom('rollback'), scan: m.plan?.scan });
  } catch (e) {
    m.result.outcome = 'unknown';
    m.result.error = `went away during its commit: ${(e as Error).message}`;
    return false;
  }
  m.reply = reply;
  // The attached node's part is the cluster report's own top level (its purge is the engine's to
  // wait for, as on one node); a peer's report is whole when the commit ends.
  if (m.gw !== c.attached) {
    const report = mergeUpgradeReply(c.nodeReport(m.gw.node), reply);
    m.result.report = reply.purges?.length ? applyPurge(report, await m.gw.purged(reply.purges).catch(() => undefined)) : report;
  }
  m.result.outcome = reply.ok ? 'upgraded' : 'failed';
  if (!reply.ok) m.result.error = reply.error ?? 'its upgrade failed';
  return reply.ok === true;
}

/**
 * What every node runs of the changed modules now: the new build where all upgraded (each one's
 * reply said so), else asked of each node (a node gone since is tried once more).
 */
async function finish(report: ClusterReport, members: Member[], c: ClusterInput): Promise<ClusterReport> {
  const modules = c.planned.map((p) => p.module);
  if (members.every((m) => m.result.outcome === 'upgraded')) {
    for (const m of members) m.result.runs = c.planned.map((p) => ({ module: p.module, md5: p.beam?.info.md5 ?? null }));
    return report;
  }
  await Promise.all(
    members.map(async (m) => {
      let gw = m.gw;
      if (!(await gw.alive())) {
        const again = await c.attached.peers([gw.node]).catch(() => undefined);
        const back = again?.peers.find((p) => p.node === gw.node);
        if (!back) return;
        gw = back;
      }
      const infos = await gw.moduleInfos(modules).catch(() => undefined);
      m.result.runs = infos ? modules.map((module) => ({ module, md5: infos.get(module)?.md5 ?? null })) : null;
    }),
  );
  return report;
}

/**
 * The cluster's outcome into the attached node's report: its own upgrade as on one node, and
 * ok only if every node upgraded.
 */
export function applyCluster(report: UpgradeReport, cluster: ClusterReport, attachedReply: UpgradeReply | undefined): UpgradeReport {
  if (attachedReply) mergeUpgradeReply(report, attachedReply);
  report.cluster = cluster;
  // Code changed somewhere, even if it was put back: the exit status says so.
  report.pushed = report.pushed || cluster.nodes.some((n) => n.report?.pushed || n.rollback);
  const own = cluster.nodes.find((n) => n.node === report.node);
  const everywhere = cluster.nodes.every((n) => n.outcome === 'upgraded') && cluster.unreachable.length === 0;
  if (everywhere) return report;
  report.ok = false;
  if (own?.outcome === 'rolled_back') report.rolledBack = true;
  const other = cluster.nodes.find((n) => n.node !== report.node && n.outcome !== 'not_committed' && n.outcome !== 'rolled_back');
  report.error = report.error ?? (other ? `${other.node}: ${other.error}` : (own?.error ?? cluster.unreachable.map((u) => `${u.node}: ${u.error}`).join('; ')));
  return report;
}
