// beam-live rehearse: the release upgrade for real, before production sees it. The old release
// boots on a throw-away node (loopback only, a random cookie in its .erlang.cookie); OTP's
// release_handler installs the new one and then the old one again; every code_change call is
// traced, each process is looked at after each step, and the outcome is set beside BEAM Live's
// own plan for the same change. The node is stopped in every case.
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atom, Charlist, type Term } from '../beam/term';
import type { RehearsalReport, RehearsalStep, RehearsedProcessState as Seen } from '../protocol';
import { NodeGateway } from '../runtime/gateway';
import { decodeReply } from '../runtime/replies';
import { BinaryStore } from '../upgrade/binaries';
import type { PlannedModule } from '../upgrade/plan';
import { upgradeRequest } from '../upgrade/request';
import { appsIn } from './builds';
import { ReleaseError } from './releaseError';
import { evalErl } from './consult';
import { bootRelease } from './boot';
import { readRelease, relupBetween, type ReleaseDir } from './relup';
import { withReleases } from './tarball';

export function rehearse(o: { from: string; to: string; warmup?: string }): Promise<RehearsalReport> {
  return withReleases([o.from, o.to], ([from, to]) => rehearseFolders(from!.root, to!.root, o.warmup));
}

async function rehearseFolders(fromRoot: string, toRoot: string, warmup: string | undefined): Promise<RehearsalReport> {
  const older = readRelease(fromRoot);
  const newer = readRelease(toRoot);
  for (const r of [older, newer]) {
    if (!r.apps.has('sasl')) {
      throw new ReleaseError(
        `${r.name} ${r.vsn} (${r.root}) does not include sasl, where release_handler lives: add it (mix: extra_applications: [:sasl] in mix.exs; relx: sasl in the release's applications) and build the release again.`,
      );
    }
  }
  const report: RehearsalReport = { ok: false, name: newer.name, from: older.vsn, to: newer.vsn, error: null, warnings: [], up: null, down: null, processes: [], differences: [], summary: '' };
  const root = mkdtempSync(join(tmpdir(), 'beam-live-rehearse-'));
  const next = mkdtempSync(join(tmpdir(), 'beam-live-rehearse-new-'));
  let node: ChildProcess | undefined;
  let gw: NodeGateway | undefined;
  try {
    // The user's folders stay as they are: both are copied, the relup made in the copy.
    cpSync(older.root, root, { recursive: true });
    cpSync(newer.root, next, { recursive: true });
    const relup = await relupBetween(root, next);
    report.warnings = relup.warnings;
    if (!relup.ok) {
      report.error = `systools:make_relup failed: ${relup.error}`;
      return finish(report);
    }
    for (const lib of readdirSync(join(next, 'lib'))) if (!existsSync(join(root, 'lib', lib))) cpSync(join(next, 'lib', lib), join(root, 'lib', lib), { recursive: true });
    cpSync(join(next, 'releases', newer.vsn), join(root, 'releases', newer.vsn), { recursive: true });
    createReleases(root, older);
    const booted = bootRelease(root, { ...older, root });
    node = booted.vm;
    gw = await attachWhenUp(booted.name, booted.cookieFile, node);
    if (warmup) await gw.rpc('beam_live_rehearse', 'warmup', [Buffer.from(existsSync(warmup) ? readFileSync(warmup, 'utf8') : warmup)], 60_000);

    // What BEAM Live would do with the same change, from the new beams and the appups' instructions.
    const planned: PlannedModule[] = relup.instructions.flatMap((a) => {
      const beams = appsIn([a.ebin]).get(a.app)?.beams;
      return a.modules.map((i) => ({ module: i.module, instruction: i.instruction, depMods: i.depMods, beam: beams?.get(i.module) }));
    });
    const loaded = await gw.moduleInfos(planned.map((p) => p.module));
    const plan = await gw.plan(upgradeRequest(planned, loaded, new BinaryStore(join(root, '.binaries')), {}), []);
    const watched = [...plan.reach.map((p) => ({ ...p, predicted: true })), ...plan.missed.map((p) => ({ ...p, predicted: false }))];
    // A node that restarted after a failed install (release_handler's ErrorAction) answers nothing.
    const gone = (p: { pid: string; module: string }): Seen => ({ pid: p.pid, module: p.module, alive: false, suspended: false, oldCode: false, md5: null, state: null });
    const watch = async (): Promise<Seen[]> => {
      try {
        return decodeReply<Seen[]>(await gw!.rpc('beam_live_rehearse', 'watch', [watched.map((p) => ({ pid: Buffer.from(p.pid), module: atom(p.module) }))], 30_000));
      } catch {
        return watched.map(gone);
      }
    };
    const install = async (rel: Term, vsn: string): Promise<RehearsalStep> => {
      try {
        return decodeReply<RehearsalStep>(await gw!.rpc('beam_live_rehearse', 'install', [rel, new Charlist(vsn)], 300_000));
      } catch (e) {
        return { ok: false, result: null, error: `the node went away during install_release ${vsn}: ${(e as Error).message}`, calls: [] };
      }
    };

    report.up = await install(new Charlist(join(root, 'releases', newer.vsn, `${newer.name}.rel`)), newer.vsn);
    const afterUp = await watch();
    report.down = report.up.ok ? await install(atom('undefined'), older.vsn) : null;
    const afterDown = report.down ? await watch() : afterUp;
    report.processes = watched.map((p, i) => ({
      pid: p.pid,
      name: p.name,
      module: p.module,
      predicted: p.predicted,
      up: { codeChange: report.up!.calls.find((c) => c.pid === p.pid && c.module === p.module) ?? null, after: afterUp[i]! },
      down: { codeChange: report.down?.calls.find((c) => c.pid === p.pid && c.module === p.module) ?? null, after: afterDown[i]! },
    }));
    report.differences = differences(report);
    return finish(report);
  } finally {
    await stop(gw, node);
    rmSync(root, { recursive: true, force: true });
    rmSync(next, { recursive: true, force: true });
  }
}

function differences(r: RehearsalReport): string[] {
  const out: string[] = [];
  for (const p of r.processes) {
    const who = `${p.name ?? p.pid} (${p.module})`;
    if (p.predicted && !p.up.codeChange) out.push(`${who}: the plan predicted its code_change; release_handler did not call it`);
    if (!p.predicted && p.up.codeChange) out.push(`${who}: release_handler called its code_change; the plan did not predict it`);
    for (const [step, s] of [['upgrade', p.up], ['downgrade', p.down]] as const) {
      if (!s.after.alive) out.push(`${who}: died in the ${step}`);
      if (s.after.suspended) out.push(`${who}: left suspended by the ${step}`);
      if (s.codeChange && s.codeChange.result !== 'ok') out.push(`${who}: code_change failed in the ${step}: ${s.codeChange.result}`);
    }
  }
  for (const c of r.up?.calls ?? []) {
    if (!r.processes.some((p) => p.pid === c.pid)) out.push(`${c.pid} (${c.module}): release_handler called its code_change; the plan did not predict it`);
  }
  return out;
}

function finish(r: RehearsalReport): RehearsalReport {
  r.ok = !r.error && !!r.up?.ok && !!r.down?.ok && r.differences.length === 0;
  const calls = (s: RehearsalStep | null) => s?.calls.length ?? 0;
  r.summary = r.error
    ? `Rehearsal failed: ${r.error}`
    : !r.up?.ok
      ? `install_release ${r.to} failed: ${r.up?.error ?? r.up?.result}`
      : !r.down?.ok
        ? `Upgrade ${r.from} → ${r.to} worked; the downgrade back failed: ${r.down?.error ?? r.down?.result}`
        : `${r.name} ${r.from} → ${r.to} and back: ${calls(r.up)} code_change(s) up, ${calls(r.down)} down, ${r.differences.length ? `${r.differences.length} difference(s) from the plan or lost processes` : 'as planned, nothing lost'}`;
  return r;
}

/** RELEASES before the node boots: made on a running node it is not taken into account. */
function createReleases(root: string, older: ReleaseDir): void {
  evalErl(
    'E = fun os:getenv/1, ok = release_handler:create_RELEASES(E("R"), filename:join(E("R"), "releases"), E("REL"), []), halt().',
    { R: root, REL: `${older.rel.replace(older.root, root)}.rel` },
    'release_handler:create_RELEASES failed',
  );
}

async function attachWhenUp(name: string, cookieFile: string, node: ChildProcess): Promise<NodeGateway> {
  let err = '';
  node.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const until = Date.now() + 30_000;
  for (;;) {
    if (node.exitCode !== null) throw new ReleaseError(`The old release did not start (exit ${node.exitCode}): ${err.trim()}`);
    try {
      return await NodeGateway.attach({ node: name, nameType: 'name', cookieFile, confirmed: true, timeoutMs: 5000 });
    } catch (e) {
      if (Date.now() > until) throw new ReleaseError(`The old release did not answer as ${name} within 30 s: ${(e as Error).message}`);
      await new Promise((res) => setTimeout(res, 300));
    }
  }
}

async function stop(gw: NodeGateway | undefined, node: ChildProcess | undefined): Promise<void> {
  const asked = gw ? await gw.rpc('init', 'stop', [], 5000).then(() => true, () => false) : false;
  gw?.close();
  if (!node || node.exitCode !== null) return;
  const exited = new Promise((res) => node.once('exit', res));
  // A node that did not take init:stop (it was restarting) is stopped by its pid.
  if (!asked) node.kill('SIGTERM');
  const t = setTimeout(() => node.kill('SIGKILL'), asked ? 10_000 : 3000);
  await exited;
  clearTimeout(t);
}
