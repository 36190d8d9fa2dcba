// The checks before the push, with the default settings (upgrade on every save, risky saves
// held): a struct that gained a field without a vsn bump, and a module renamed in its file.
// What they found stays in the editor while it is true on the node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import type { UpgradeReport } from '../../server/protocol';
import { cli, LspClient, loadedMd5, onNode, startLsp, startNode, TestNode, until, writeSource } from '../helpers';
import { COUNTER } from './sources';

let node: TestNode;
let lsp: LspClient;
let conn: MessageConnection;
const finished: UpgradeReport[] = [];
const diagnostics = new Map<string, Array<{ code?: string; message: string; range: { start: { line: number } } }>>();
const uri = (rel: string) => pathToFileURL(join(node.dir, rel)).toString();
const codes = (rel: string) => (diagnostics.get(uri(rel)) ?? []).map((d) => d.code);

async function save(rel: string, text: string): Promise<UpgradeReport> {
  const n = finished.length;
  writeSource(node.dir, rel, text);
  await conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(rel) } });
  return until(`the report for ${rel}`, () => finished[n]);
}

before(async () => {
  node = await startNode({ name: 'held' });
  // The default settings: nothing passed.
  lsp = await startLsp(node.dir, {
    setup: (c) => {
      c.onNotification('beamLive/upgradeFinished', (r: UpgradeReport) => finished.push(r));
      c.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: never[] }) => diagnostics.set(p.uri, p.diagnostics));
    },
  });
  conn = lsp.conn;
  await conn.sendRequest('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
});

after(async () => {
  await lsp?.stop();
  await node?.stop();
});

const original = () => readFileSync(join(node.dir, COUNTER), 'utf8');

test('a struct that gains a field without a vsn bump: the save is held; pushed anyway, the old state is named; a migrating save clears both', async () => {
  const src = original();
  const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
  await onNode(node, `'Elixir.SampleApp.Counter':increment(), 'Elixir.SampleApp.Counter':increment(), ok`);
  const stepped = src
    .replace('defstruct count: 0', 'defstruct count: 0, step: 1')
    .replace('{:reply, state.count + 1, %{state | count: state.count + 1}}', '{:reply, state.count + state.step, %{state | count: state.count + state.step}}');
  const held = await save(COUNTER, stepped);
  assert.equal(held.ok, false);
  assert.deepEqual(held.held?.map((h) => [h.code, h.risk]), [['vsn-not-bumped', 'state']]);
  assert.match(held.summary, /^Held, nothing pushed: The state's struct fields changed but the vsn is still "1"/);
  assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5, 'nothing reached the node');
  await until('the vsn-not-bumped diagnostic', () => codes(COUNTER).includes('vsn-not-bumped'));

  // Upgrade Anyway.
  const pushed = await conn.sendRequest<UpgradeReport>('beamLive/upgradeNow');
  assert.equal(pushed.ok, true, pushed.summary);
  assert.ok(pushed.pitfalls.some((p) => p.code === 'vsn-not-bumped'), 'the checks ran before the push');
  const stale = await until('state-out-of-date', () => diagnostics.get(uri(COUNTER))?.find((d) => d.code === 'state-out-of-date'));
  assert.match(stale.message, /^SampleApp\.Counter holds a %SampleApp\.Counter\{\} without :step: the next callback that touches a missing field crashes\. Bump @vsn and migrate the state in code_change/);
  assert.equal(stale.range.start.line, stepped.split('\n').findIndex((l) => l.includes('defstruct')));
  assert.ok(codes(COUNTER).includes('vsn-not-bumped'), 'vsn-not-bumped stays while the old shape is live');

  // Bump the vsn and migrate: both go, and the process answers.
  const migrated = stepped
    .replace('@vsn "1"', '@vsn "2"')
    .replace('  @impl true\n  def init', '  @impl true\n  def code_change("1", state, _extra), do: {:ok, Map.put(state, :step, 1)}\n\n  @impl true\n  def init');
  const ok = await save(COUNTER, migrated);
  assert.equal(ok.ok, true, ok.summary);
  await until('both cleared', () => !codes(COUNTER).some((c) => c === 'state-out-of-date' || c === 'vsn-not-bumped') || undefined);
  assert.equal(await onNode(node, `integer_to_list('Elixir.SampleApp.Counter':increment())`), '3');
});

test('a module renamed in its file while a child spec names it: held; pushed anyway, module-renamed stays while the old name is in use', async () => {
  const rel = 'lib/sample_app/store.ex';
  const src = readFileSync(join(node.dir, rel), 'utf8');
  const held = await save(rel, src.replace('defmodule SampleApp.Store do', 'defmodule SampleApp.Shelf do').replace(/__MODULE__/g, '__MODULE__'));
  assert.deepEqual(held.held?.map((h) => [h.code, h.risk]), [['module-renamed', 'callers']]);
  assert.equal(await onNode(node, `atom_to_list(code:is_loaded('Elixir.SampleApp.Shelf'))`), 'false', 'nothing pushed');
  const pushed = await conn.sendRequest<UpgradeReport>('beamLive/upgradeNow');
  assert.equal(pushed.ok, true, pushed.summary);
  // The application's child spec still names SampleApp.Store.
  const d = await until('module-renamed after the push', () => diagnostics.get(uri(rel))?.find((x) => x.code === 'module-renamed'));
  assert.match(d.message, /Still true on the node after the upgrade/);
  // Put it back: the module is there again, the warning goes.
  const back = await save(rel, src);
  assert.equal(back.ok, true, back.summary);
  await until('module-renamed cleared', () => !codes(rel).includes('module-renamed') || undefined);
});

test('the CLI holds a risky upgrade too: the finding printed, exit 1, nothing pushed; --force pushes it', async () => {
  const md5 = await loadedMd5(node, 'Elixir.SampleApp.Counter');
  // Its code_change takes any vsn: only the unchanged vsn with a new field is wrong.
  writeSource(
    node.dir,
    COUNTER,
    original()
      .replace('defstruct count: 0', 'defstruct count: 0, extra: nil')
      .replace('def code_change("1", state, _extra), do: {:ok, Map.put(state, :step, 1)}', 'def code_change(_old, state, _extra), do: {:ok, state}'),
  );
  const args = ['upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir];
  const held = await cli(args);
  assert.equal(held.code, 1);
  assert.match(held.stdout, /warning vsn-not-bumped \(held\): lib\/sample_app\/counter\.ex:\d+: The state's struct fields changed/);
  assert.match(held.stderr, /Held: nothing was pushed\. Fix it, or push it anyway with --force/);
  assert.equal(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5);
  const forced = await cli([...args, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(await loadedMd5(node, 'Elixir.SampleApp.Counter'), md5);
});
