// The language server over stdio, as another editor would run it, against a real node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import type { StatusParams, UpgradePurgedParams, UpgradeReport } from '../../server/protocol';
import { LspClient, loadedMd5, onNode, startLsp, startNode, stateOf, TestNode, until, writeSource } from '../helpers';
import { COUNTER, COUNTER_V2 } from './sources';

let node: TestNode;
let conn: MessageConnection;
const finished: UpgradeReport[] = [];
const purged: UpgradePurgedParams[] = [];
const started: Array<{ id: number; trigger: string }> = [];
const statuses: StatusParams[] = [];
const diagnostics = new Map<string, Array<{ message: string; range: { start: { line: number } }; source: string }>>();

const uri = (rel: string) => pathToFileURL(join(node.dir, rel)).toString();
const save = (rel: string) => conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(rel) } });


let lsp: LspClient;

before(async () => {
  node = await startNode({ name: 'lsp' });
  lsp = await startLsp(node.dir, {
    setup: (c) => {
      c.onNotification('beamLive/upgradeFinished', (r: UpgradeReport) => finished.push(r));
      c.onNotification('beamLive/upgradePurged', (p: UpgradePurgedParams) => purged.push(p));
      c.onNotification('beamLive/upgradeStarted', (p: { id: number; trigger: string }) => started.push(p));
      c.onNotification('beamLive/status', (s: StatusParams) => statuses.push(s));
      c.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: never[] }) => diagnostics.set(p.uri, p.diagnostics));
    },
  });
  conn = lsp.conn;
});

after(async () => {
  await lsp?.stop();
  await node?.stop();
});

test('a save in a workspace never attached upgrades nothing and does not nag', async () => {
  writeSource(node.dir, COUNTER, readFileSync(join(node.dir, COUNTER), 'utf8'));
  await save(COUNTER);
  // Messages are handled in order: once a later request is answered, the save has been seen.
  await conn.sendRequest('textDocument/codeLens', { textDocument: { uri: pathToFileURL(join(node.dir, COUNTER)).toString() } });
  assert.equal(statuses.filter((x) => x.state === 'skipped').length, 0);
  assert.equal(finished.length, 0);
});

test('attach answers with the node and its OTP release', async () => {
  const r = await conn.sendRequest<{ node: string; otpRelease: string }>('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
  // The node's own OTP release, whatever it is: nothing here assumes one.
  assert.deepEqual(r, { node: node.name, otpRelease: await onNode(node, 'erlang:system_info(otp_release)') });
  const pages = await conn.sendRequest<{ items: Array<{ application: string; supervisor: string }> }>('beamLive/processes', { kind: 'applications' });
  const app = pages.items.find((a) => a.application === 'sample_app');
  assert.ok(app?.supervisor);
  const children = await conn.sendRequest<{ items: Array<{ name: string }>; total: number }>('beamLive/processes', { kind: 'children', supervisor: app.supervisor, limit: 2 });
  assert.equal(children.items.length, 2);
  assert.equal(children.total, 6);
});

test('saving a changed GenServer upgrades it: code_change ran on the node, and upgradeFinished carries the report', async () => {
  writeSource(node.dir, COUNTER, COUNTER_V2);
  await save(COUNTER);
  const report = await until('upgradeFinished', () => finished.at(-1));
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.processes.find((p) => p.name === 'Elixir.SampleApp.Counter')?.codeChange, 'ok');
  assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /from_vsn => <<"1">>/);
  assert.equal((await until('upgraded status', () => statuses.find((s) => s.state === 'upgraded')))?.message, report.summary);
  const st = await conn.sendRequest<{ ok: boolean; text: string }>('beamLive/processState', { process: 'Elixir.SampleApp.Counter' });
  assert.equal(st.ok, true);
  assert.match(st.text, /from_vsn: "1"/);
  // The code lens above defmodule follows the node: it runs vsn "2" now.
  const title = await until('the lens after the upgrade', async () => {
    const lenses = await conn.sendRequest<Array<{ range: { start: { line: number } }; command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri(COUNTER) } });
    const t = lenses.find((l) => l.range.start.line === 0)?.command.title;
    return t?.includes('running vsn "2"') ? t : undefined;
  });
  assert.equal(title, '1 live process · running vsn "2" · saved vsn "2"');
});

test('a compile error gives diagnostics and pushes nothing; the next good save clears them', async () => {
  const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
  const before = finished.length;
  writeSource(node.dir, COUNTER, COUNTER_V2.replace('def value, do: GenServer.call(__MODULE__, :value)', 'def value, do: missing_fun()'));
  await save(COUNTER);
  const report = await until('upgradeFinished', () => finished[before]);
  assert.equal(report.ok, false);
  const diags = await until('diagnostics', () => diagnostics.get(uri(COUNTER))?.length ? diagnostics.get(uri(COUNTER)) : undefined);
  assert.equal(diags[0]!.range.start.line, 6);
  assert.match(diags[0]!.message, /undefined function missing_fun\/0/);
  assert.match(statuses.at(-1)?.message ?? '', /upgrade skipped: compile error in lib\/sample_app\/counter\.ex:7/);
  assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5);

  writeSource(node.dir, COUNTER, COUNTER_V2);
  await save(COUNTER);
  await until('the next report', () => finished[before + 1]);
  await until('cleared diagnostics', () => diagnostics.get(uri(COUNTER))?.length === 0 || undefined);
});

test('a code_change that raises on save: an error diagnostic where it raised, the status in the error state, the lens says what happened; a good save clears it', async () => {
  const before = finished.length;
  const raising = COUNTER_V2.replace('@vsn "2"', '@vsn "3"').replace(
    /  def code_change\(old_vsn[\s\S]*?from_vsn: old_vsn\}\}\n/,
    '  def code_change(_old_vsn, _state, _extra) do\n    raise "migration bug"\n  end\n',
  );
  writeSource(node.dir, COUNTER, raising);
  await save(COUNTER);
  const report = await until('upgradeFinished', () => finished[before]);
  assert.equal(report.ok, false);
  assert.equal(report.pushed, true);
  assert.equal(statuses.at(-1)?.state, 'failed');
  const raiseLine = raising.split('\n').findIndex((l) => l.includes('raise "migration bug"'));
  const d = await until('the failure diagnostic', () => diagnostics.get(uri(COUNTER))?.find((x) => (x as { code?: string }).code === 'code-change-failed'));
  assert.equal(d.range.start.line, raiseLine, `on the raise, from the stacktrace: ${JSON.stringify(report.errorFrames)} ${JSON.stringify(d)}`);
  assert.equal((d as { severity?: number }).severity, 1);
  assert.match(d.message, /code_change of SampleApp\.Counter failed for SampleApp\.Counter: \*\* \(RuntimeError\) migration bug\. Everything this upgrade changed was rolled back/);
  // The lenses follow the checks that run after the report: wait for them, not a clock.
  const lenses = await until('the lenses after the failure', async () => {
    const ls = await conn.sendRequest<Array<{ command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri(COUNTER) } });
    return ls.some((l) => l.command.title.startsWith('last upgrade: code_change failed')) && ls;
  });
  assert.ok(lenses.some((l) => /^last upgrade: code_change failed for SampleApp\.Counter: \(RuntimeError\) migration bug · rolled back$/.test(l.command.title)), JSON.stringify(lenses));
  assert.ok(lenses.some((l) => l.command.title.startsWith('next upgrade: called with old vsn "2"')), JSON.stringify(lenses));
  writeSource(node.dir, COUNTER, COUNTER_V2.replace('@vsn "2"', '@vsn "3"').replace('label: "upgraded"', 'label: "third"'));
  await save(COUNTER);
  const good = await until('the next report', () => finished[before + 1]);
  assert.equal(good.ok, true, good.summary);
  await until('the failure diagnostic cleared', () => !diagnostics.get(uri(COUNTER))?.some((x) => (x as { code?: string }).code === 'code-change-failed') || undefined);
});

test('"Save All" of three files gives one upgrade', async () => {
  const before = finished.length;
  const edits: Array<[string, string, string]> = [
    ['lib/sample_app/machine.ex', 'flips: 0', 'flips: 1'],
    ['lib/sample_app/worker.ex', 'jobs: 0', 'jobs: 1'],
    ['lib/sample_app/hidden.ex', 'seen: 0', 'seen: 1'],
  ];
  for (const [f, a, b] of edits) writeSource(node.dir, f, readFileSync(join(node.dir, f), 'utf8').replace(a, b));
  const startedBefore = started.length;
  for (const [f] of edits) await save(f);
  // Idle, not a clock: the server answers once no upgrade started by a save runs or waits.
  await conn.sendRequest('beamLive/idle');
  const report = finished[before]!;
  assert.equal(started.length, startedBefore + 1, 'one upgrade started');
  assert.equal(finished.length, before + 1);
  assert.deepEqual(report.modules.map((m) => m.module).sort(), ['Elixir.SampleApp.Hidden', 'Elixir.SampleApp.Machine', 'Elixir.SampleApp.Worker']);
});

test('a save that lands while Upgrade Now runs keeps its own label: each report carries its trigger and the id of its start', async () => {
  const before = finished.length;
  writeSource(node.dir, COUNTER, COUNTER_V2.replace('label: "upgraded"', 'label: "now"'));
  const now = conn.sendRequest<UpgradeReport>('beamLive/upgradeNow');
  writeSource(node.dir, COUNTER, COUNTER_V2.replace('label: "upgraded"', 'label: "saved"'));
  await save(COUNTER);
  const answer = await now;
  assert.equal(answer.trigger, 'command');
  const reports = await until('both reports', () => finished.length >= before + 2 && finished.slice(before, before + 2));
  assert.deepEqual(reports.map((r) => r.trigger).sort(), ['command', 'save']);
  for (const r of reports) assert.equal(started.find((p) => p.id === r.id)?.trigger, r.trigger);
});

test('the soft purge follows the report: upgradeFinished comes first, beamLive/upgradePurged names who still runs old code', async () => {
  const looper = 'lib/sample_app/looper.ex';
  const pid = await onNode(node, 'pid_to_list(whereis(sample_looper))');
  let before = finished.length;
  writeSource(node.dir, looper, readFileSync(join(node.dir, looper), 'utf8').replace('send(from, {:pong, n})', 'send(from, {:pong, n * 10})'));
  await save(looper);
  const report = await until('upgradeFinished', () => finished[before]);
  assert.equal(report.ok, true, report.summary);
  assert.equal(report.purging, true);
  assert.deepEqual(report.oldCode, []);
  const p = await until('upgradePurged', () => purged.find((x) => x.id === report.id));
  assert.deepEqual(p.oldCode.map((o) => o.pid), [pid]);
  assert.deepEqual(p.unpurged, ['Elixir.SampleApp.Looper']);
  // What editors that only echo show, in Elixir's form.
  assert.equal(p.message, `still in old code: sample_looper ${pid} (SampleApp.Looper) — the next load of it kills this process`);
  assert.equal(await onNode(node, "atom_to_list(erlang:check_old_code('Elixir.SampleApp.Looper'))"), 'true');

  // A module nobody runs in old code: the purge leaves none behind.
  before = finished.length;
  const machine = 'lib/sample_app/machine.ex';
  writeSource(node.dir, machine, readFileSync(join(node.dir, machine), 'utf8').replace('flips: 1', 'flips: 2'));
  await save(machine);
  const second = await until('upgradeFinished', () => finished[before]);
  assert.equal(second.ok, true, second.summary);
  const q = await until('upgradePurged', () => purged.find((x) => x.id === second.id));
  assert.deepEqual(q.unpurged, []);
  assert.equal(await onNode(node, "atom_to_list(erlang:check_old_code('Elixir.SampleApp.Machine'))"), 'false');
});

test('plan, modules and rollback answer over LSP; detach leaves the node running', async () => {
  const plan = await conn.sendRequest<{ modules: unknown[] }>('beamLive/plan');
  assert.deepEqual(plan.modules, []);
  const modules = await conn.sendRequest<Array<{ module: string; state: string }>>('beamLive/modules');
  assert.equal(modules.find((m) => m.module === 'Elixir.SampleApp.Counter')?.state, 'unchanged');
  // Generate .appup since a ref needs no node; a ref the folder's git does not know is said plainly.
  await assert.rejects(conn.sendRequest('beamLive/generateAppup', { from: 'no-such-ref' }), /no-such-ref is neither a release folder \(with lib\/\) nor usable as a git ref: .* is not in a git repository/);
  const rb = await conn.sendRequest<{ ok: boolean }>('beamLive/rollback');
  assert.equal(rb.ok, true);
  await conn.sendRequest('beamLive/detach');
  await assert.rejects(conn.sendRequest('beamLive/plan'), /Not attached to a node/);
  assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /count/);
  // Once it has been attached, a save while detached is skipped, and the status says why.
  const n = statuses.length;
  await save(COUNTER);
  const s = await until('a skipped status', () => statuses.slice(n).find((x) => x.state === 'skipped'));
  assert.match(s.message ?? '', /not attached/);
});
