// The shapes real projects have, and what a user reads about them: Registry via-names, Elixir's
// default supervisors, a pool started from the shell, a temporary Task killed by a load, Elixir
// aliases, and a project the node does not run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessesReport, TreeNode, UpgradePlan, UpgradeReport } from '../../server/protocol';
import { cli, FIXTURES, onNode, TestNode, tmp, withSampleVariant, writeSource } from '../helpers';
import { METRICS, metricsSource, NAMED, namedSource, POOL, POOL_SOURCE, withNamed } from './sources';

const withNamedNode = (fn: (node: TestNode) => Promise<void>) =>
  withSampleVariant('real', { [NAMED]: namedSource('1'), [METRICS]: metricsSource(1), [POOL]: POOL_SOURCE }, withNamed, fn);

const args = (node: TestNode) => ['--node', node.name, '--cookie-file', node.cookieFile];

async function json<R>(cmd: string, a: string[]): Promise<{ code: number; r: R; stderr: string }> {
  const res = await cli([cmd, ...a, '--json']);
  try {
    return { code: res.code, r: JSON.parse(res.stdout) as R, stderr: res.stderr };
  } catch {
    throw new Error(`${cmd}: no JSON (exit ${res.code}): ${res.stdout}\n${res.stderr}`);
  }
}

function walk(n: TreeNode | null): TreeNode[] {
  return n ? [n, ...n.children.flatMap(walk)] : [];
}

test('processes: Registry via-names read by pid, a DynamicSupervisor named as such, a pool started outside the trees listed with its children under it', () =>
  withNamedNode(async (node) => {
    // A pool started from the shell: a spawned process owns it, as an IEx session would.
    await onNode(node, `proc_lib:spawn(fun() -> {ok, _} = 'Elixir.SampleApp.Pool':start_link(2), receive after infinity -> ok end end), ok`);
    const { code, r } = await json<ProcessesReport>('processes', args(node));
    assert.equal(code, 0);
    const all = r.applications.flatMap((a) => walk(a.supervisor));
    const named = all.filter((p) => p.module === 'Elixir.SampleApp.Named');
    assert.deepEqual(named.map((p) => p.via?.key).sort(), ['{SampleApp.Named, "alice"}', '{SampleApp.Named, "bob"}']);
    assert.equal(named[0]?.via?.registry, 'Elixir.SampleApp.Registry');
    const dyn = all.find((p) => p.name === 'Elixir.SampleApp.NamedSup');
    assert.equal(dyn?.module, 'Elixir.DynamicSupervisor', 'not Elixir.Supervisor.Default');
    const pool = r.unsupervised.filter((p) => p.module === 'Elixir.SampleApp.Pool');
    assert.equal(pool.length, 1, JSON.stringify(r.unsupervised));
    assert.equal((pool[0] as { type?: string }).type, 'supervisor');
    assert.equal(r.unsupervised.filter((p) => p.module === 'Elixir.SampleApp.PoolWorker').length, 0, 'its workers show under it, not beside it');
  }));

test('a temporary Task that runs old code: plan names the kill, the summary counts it, in Elixir names', () =>
  withNamedNode(async (node) => {
    const p = [...args(node), '--project', node.dir];
    writeSource(node.dir, METRICS, metricsSource(2));
    assert.equal((await json<UpgradeReport>('upgrade', p)).code, 0);
    writeSource(node.dir, METRICS, metricsSource(3));
    const plan = await json<UpgradePlan>('plan', p);
    assert.deepEqual(plan.r.kills.map((k) => [k.module, k.restart]), [['Elixir.SampleApp.Metrics', 'temporary']]);
    assert.match(plan.r.missed.find((m) => m.module === 'Elixir.SampleApp.Metrics')?.why ?? '', /this load kills it \(temporary: not restarted\)/);
    const text = await cli(['plan', ...p]);
    assert.match(text.stdout, /this load kills <[\d.]+> \(it runs old code of SampleApp\.Metrics\); temporary: not restarted/);
    const up = await json<UpgradeReport>('upgrade', p);
    assert.equal(up.code, 0, up.r.summary);
    assert.match(up.r.summary, /^Upgraded 1 module, 0 processes in \d+ ms; killed 1 \(<[\d.]+> \(SampleApp\.Metrics\), temporary: not restarted\)$/);
  }));

test('a via-named GenServer upgraded: the report names it by its key', () =>
  withNamedNode(async (node) => {
    writeSource(node.dir, NAMED, namedSource('2'));
    const up = await json<UpgradeReport>('upgrade', [...args(node), '--project', node.dir]);
    assert.equal(up.code, 0, up.r.summary);
    assert.deepEqual(up.r.processes.map((x) => x.via?.key).sort(), ['{SampleApp.Named, "alice"}', '{SampleApp.Named, "bob"}']);
    const text = await cli(['upgrade', ...args(node), '--project', node.dir]);
    assert.match(text.stdout, /No module changed/);
    // Only the @vsn changed: it is not part of the MD5, and the summary says so.
    writeSource(node.dir, NAMED, namedSource('2').replace('@vsn "2"', '@vsn "9"'));
    const vsnOnly = await json<UpgradeReport>('upgrade', [...args(node), '--project', node.dir]);
    assert.equal(vsnOnly.code, 0);
    assert.match(vsnOnly.r.summary, /^Nothing loaded: only the vsn of SampleApp\.Named changed \("2" → "9"\), and the vsn is not part of the MD5/);
  }));

test('state takes Elixir aliases as IEx does, and a wrong name says what to do', () =>
  withNamedNode(async (node) => {
    const ok = await json<{ ok: boolean; name: string | null }>('state', [...args(node), 'SampleApp.Counter']);
    assert.equal(ok.r.ok, true);
    const none = await cli(['state', ...args(node), 'SampleApp.Nope']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /nothing on .* is registered as SampleApp\.Nope and it is no live pid/);
  }));

test('a project the node does not run: plan and upgrade say so instead of "No module changed"', () =>
  withNamedNode(async (node) => {
    const other = join(tmp('other'), 'erl_app');
    cpSync(join(FIXTURES, 'erl_app'), other, { recursive: true });
    const plan = await json<UpgradePlan>('plan', [...args(node), '--project', other]);
    assert.match(plan.r.warnings.map((w) => w.message).join('\n'), /None of the \d+ modules built from .*erl_app is loaded in .*: is this the project the node runs\?/);
    const up = await json<UpgradeReport>('upgrade', [...args(node), '--project', other]);
    assert.equal(up.code, 2);
    assert.match(up.r.summary, /Upgrade skipped: None of the/);
  }));
