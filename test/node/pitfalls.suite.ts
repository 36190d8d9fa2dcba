// The upgrade pitfalls as diagnostics and code lenses, over LSP from the language server, with
// the sample app running as a real node. Each code has a source that triggers it, the sample
// app's own modules trigger none, and the warnings that predict a failure are followed by the
// upgrade that shows it happen. The suite runs twice: with upgrade on save at its default
// (always: each save pushes, and a risky one is held), and with it off (never).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import type { UpgradeReport } from '../../server/protocol';
import { LspClient, onNode, startLsp, startNode, stateOf, TestNode, until, writeSource } from '../helpers';

type Diag = { code?: string; source: string; message: string; severity: number; range: { start: { line: number; character: number } } };

let node: TestNode;
let conn: MessageConnection;
let analyses = 0;
const diagnostics = new Map<string, Diag[]>();
const originals = new Map<string, string>();
const finished: UpgradeReport[] = [];
let mode: 'always' | 'never' = 'never';

const uri = (rel: string) => pathToFileURL(join(node.dir, rel)).toString();
const beamLiveDiags = (rel: string) => (diagnostics.get(uri(rel)) ?? []).filter((d) => d.source === 'beam-live');


/** Writes (or restores, with text undefined) a source and saves it; resolves once the analysis ran. */
async function save(rel: string, text?: string): Promise<void> {
  const file = join(node.dir, rel);
  if (!originals.has(rel)) {
    try {
      originals.set(rel, readFileSync(file, 'utf8'));
    } catch {
      originals.set(rel, '');
    }
  }
  if (text === undefined) {
    const o = originals.get(rel)!;
    if (o === '') rmSync(file, { force: true });
    else writeSource(node.dir, rel, o);
  } else {
    mkdirSync(join(file, '..'), { recursive: true });
    writeSource(node.dir, rel, text);
  }
  const before = analyses;
  await conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(rel) } });
  await until(`the analysis after saving ${rel}`, () => analyses > before);
}

/** The upgrade of what was just saved: the save's own in always mode (when not held), else Upgrade Now. */
async function pushed(): Promise<UpgradeReport> {
  const last = finished.at(-1);
  return mode === 'always' && last && !last.held?.length ? last : upgradeNow();
}

async function upgradeNow(): Promise<UpgradeReport> {
  const before = analyses;
  const r = await conn.sendRequest<UpgradeReport>('beamLive/upgradeNow');
  await until('the analysis after the upgrade', () => analyses > before);
  return r;
}

function lineOf(rel: string, needle: string): number {
  return readFileSync(join(node.dir, rel), 'utf8').split('\n').findIndex((l) => l.includes(needle));
}

let lsp: LspClient;

export function pitfallSuite(upgradeOnSave: 'always' | 'never'): void {
before(async () => {
  mode = upgradeOnSave;
  node = await startNode({ name: 'pit' });
  lsp = await startLsp(node.dir, {
    capabilities: { workspace: { codeLens: { refreshSupport: true } } },
    // always is the default: nothing is passed then, as a user's editor would not.
    initializationOptions: upgradeOnSave === 'never' ? { upgradeOnSave } : undefined,
    setup: (c) => {
      c.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diag[] }) => diagnostics.set(p.uri, p.diagnostics));
      c.onRequest('workspace/codeLens/refresh', () => {
        analyses++;
        return null;
      });
      c.onNotification('beamLive/upgradeFinished', (r: UpgradeReport) => finished.push(r));
      c.onNotification(() => undefined);
    },
  });
  conn = lsp.conn;
  await conn.sendRequest('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
  await until('the first analysis', () => analyses > 0);
});

after(async () => {
  await lsp?.stop();
  await node?.stop();
});

test("the sample app's own modules trigger no pitfall, and the code lenses show live processes and vsns", async () => {
  await save('lib/sample_app/counter.ex');
  const all = [...diagnostics.values()].flat().filter((d) => d.source === 'beam-live');
  assert.deepEqual(all.map((d) => `${d.code}: ${d.message}`), []);
  const lenses = await conn.sendRequest<Array<{ range: { start: { line: number } }; command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri('lib/sample_app/counter.ex') } });
  assert.deepEqual(lenses.map((l) => [l.range.start.line, l.command.title]), [[0, '1 live process · running vsn "1" · saved vsn "1"']]);
  const machine = await conn.sendRequest<Array<{ command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri('lib/sample_app/machine.ex') } });
  assert.ok(machine.some((l) => l.command.title === 'next upgrade: called with old vsn "1" for 1 process'), JSON.stringify(machine));
  const erl = await conn.sendRequest<Array<{ command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri('src/sample_erl_server.erl') } });
  assert.ok(erl.some((l) => l.command.title === '1 live process · running vsn "1" · saved vsn "1"'), JSON.stringify(erl));
});

test('code-change-without-vsn: a code_change with no @vsn / -vsn, in Elixir and in Erlang', async () => {
  const ex = 'lib/sample_app/no_vsn.ex';
  await save(ex, 'defmodule SampleApp.NoVsn do\n  use GenServer\n  def init(x), do: {:ok, x}\n\n  def code_change("1", s, _), do: {:ok, s}\nend\n');
  const d = beamLiveDiags(ex).find((x) => x.code === 'code-change-without-vsn');
  assert.ok(d, JSON.stringify(beamLiveDiags(ex)));
  assert.equal(d.range.start.line, 4);
  assert.match(d.message, /sets no @vsn: its vsn is the module's MD5, so code_change receives an integer .* Set @vsn "1"/);
  await save(ex);
  assert.deepEqual(beamLiveDiags(ex), []);

  const erl = 'src/erl_no_vsn.erl';
  await save(erl, '-module(erl_no_vsn).\n-behaviour(gen_server).\n-export([init/1, handle_call/3, handle_cast/2, code_change/3]).\ninit(X) -> {ok, X}.\nhandle_call(_, _, S) -> {reply, ok, S}.\nhandle_cast(_, S) -> {noreply, S}.\ncode_change("1", S, _) -> {ok, S}.\n');
  const e = beamLiveDiags(erl).find((x) => x.code === 'code-change-without-vsn');
  assert.ok(e, JSON.stringify(beamLiveDiags(erl)));
  assert.equal(e.range.start.line, 6);
  assert.match(e.message, /Set -vsn\("1"\)\./);
  await save(erl);
});

test('code-change-no-matching-clause: predicted, then the upgrade fails with a FunctionClauseError (Elixir and Erlang)', async () => {
  const rel = 'lib/sample_app/counter.ex';
  const src = readFileSync(join(node.dir, rel), 'utf8')
    .replace('@vsn "1"', '@vsn "3"')
    .replace('  @impl true\n  def init', '  @impl true\n  def code_change("2", state, _extra), do: {:ok, state}\n\n  @impl true\n  def init');
  await save(rel, src);
  const d = beamLiveDiags(rel).find((x) => x.code === 'code-change-no-matching-clause');
  assert.ok(d, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d.severity, 1);
  assert.equal(d.range.start.line, lineOf(rel, 'def code_change("2"'));
  assert.match(d.message, /No code_change clause matches the running vsn "1": the upgrade will fail with a FunctionClauseError in SampleApp\.Counter/);
  const r = await upgradeNow();
  assert.equal(r.ok, false);
  const p = r.processes.find((x) => x.name === 'Elixir.SampleApp.Counter');
  assert.equal(p?.codeChange, 'error');
  assert.match(p?.reason ?? '', /^\*\* \(FunctionClauseError\) no function clause matching in SampleApp\.Counter\.code_change\/3$/);
  assert.ok(beamLiveDiags(rel).some((x) => x.code === 'code-change-no-matching-clause'), 'still true after the rollback');
  await save(rel);
  assert.deepEqual(beamLiveDiags(rel), []);

  const erl = 'src/sample_erl_server.erl';
  await save(erl, readFileSync(join(node.dir, erl), 'utf8').replace('-vsn("1").', '-vsn("3").').replace('code_change(_OldVsn, S, _Extra)', 'code_change("2", S, _Extra)'));
  assert.ok(beamLiveDiags(erl).some((x) => x.code === 'code-change-no-matching-clause' && /running vsn "1"/.test(x.message)), JSON.stringify(beamLiveDiags(erl)));
  const re = await upgradeNow();
  assert.equal(re.processes.find((x) => x.name === 'sample_erl_server')?.codeChange, 'error');
  await save(erl);
});

test('vsn-not-bumped: the state struct changed but @vsn equals the running vsn', async () => {
  const rel = 'lib/sample_app/counter.ex';
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('defstruct count: 0', 'defstruct count: 0, extra: nil'));
  const d = beamLiveDiags(rel).find((x) => x.code === 'vsn-not-bumped');
  assert.ok(d, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d.range.start.line, lineOf(rel, '@vsn "1"'));
  assert.match(d.message, /struct fields changed but the vsn is still "1".*Bump the vsn/);
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('@vsn "1"', '@vsn "2"'));
  assert.ok(!beamLiveDiags(rel).some((x) => x.code === 'vsn-not-bumped'));
  await save(rel);
});

test('state-out-of-date: a struct field added and pushed anyway, the live process still holds the old shape; named on defstruct until the code matches it again', async () => {
  const rel = 'lib/sample_app/counter.ex';
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('defstruct count: 0', 'defstruct count: 0, extra: nil'));
  // Held in always mode, not pushed in never mode: pushed here either way.
  await upgradeNow();
  const d = beamLiveDiags(rel).find((x) => x.code === 'state-out-of-date');
  assert.ok(d, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d.range.start.line, lineOf(rel, 'defstruct'));
  assert.match(d.message, /^SampleApp\.Counter holds a %SampleApp\.Counter\{\} without :extra: the next callback that touches a missing field crashes/);
  await save(rel);
  await upgradeNow();
  assert.ok(!beamLiveDiags(rel).some((x) => x.code === 'state-out-of-date'), JSON.stringify(beamLiveDiags(rel)));
});

test('code-change-not-called: not a special process, and a special process outside supervision (then the upgrade indeed skips it)', async () => {
  const plain = 'lib/sample_app/socket_handler.ex';
  await save(plain, 'defmodule SampleApp.SocketHandler do\n  # a websocket-style handler: nobody calls its code_change\n  def init(req, s), do: {:ok, req, s}\n  def code_change(_old, s, _extra), do: {:ok, s}\nend\n');
  const d = beamLiveDiags(plain).find((x) => x.code === 'code-change-not-called');
  assert.ok(d, JSON.stringify(beamLiveDiags(plain)));
  assert.equal(d.range.start.line, 3);
  assert.match(d.message, /not a gen_server, gen_statem, gen_event or supervisor callback, so no upgrade will ever call its code_change/);
  await save(plain);

  const hidden = 'lib/sample_app/hidden.ex';
  await save(
    hidden,
    readFileSync(join(node.dir, hidden), 'utf8')
      .replace('@vsn "1"', '@vsn "2"')
      .replace('  @impl true\n  def handle_call', '  @impl true\n  def code_change(_old, state, _extra), do: {:ok, Map.put(state, :changed, true)}\n\n  @impl true\n  def handle_call'),
  );
  const h = beamLiveDiags(hidden).find((x) => x.code === 'code-change-not-called');
  assert.ok(h, JSON.stringify(beamLiveDiags(hidden)));
  assert.match(h.message, /SampleApp\.Hidden runs SampleApp\.Hidden outside any supervision tree \(started by SampleApp\.Parent\)/);
  const lenses = await conn.sendRequest<Array<{ command: { title: string } }>>('textDocument/codeLens', { textDocument: { uri: uri(hidden) } });
  assert.ok(lenses.some((l) => l.command.title === 'next upgrade: not called: its processes are outside supervision trees'), JSON.stringify(lenses));
  const r = await pushed();
  assert.equal(r.ok, true);
  assert.ok(r.missed.some((m) => m.name === 'Elixir.SampleApp.Hidden'), JSON.stringify(r.missed));
  assert.doesNotMatch(await stateOf(node, 'Elixir.SampleApp.Hidden'), /changed/);
});

test('children-changed: a child added to the application child list is not started by a hot upgrade', async () => {
  const rel = 'lib/sample_app/application.ex';
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('      SampleApp.Store,\n', '      SampleApp.Store,\n      SampleApp.Extra,\n'));
  const d = beamLiveDiags(rel).filter((x) => x.code === 'children-changed');
  assert.equal(d.length, 1, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d[0]!.range.start.line, lineOf(rel, 'SampleApp.Extra,'));
  assert.equal(d[0]!.range.start.character, 6);
  assert.match(d[0]!.message, /SampleApp\.Extra is not among the children the running supervisor <0\.\d+\.0> has: a hot upgrade does not start it/);
  await save(rel);
  assert.deepEqual(beamLiveDiags(rel), []);
});

test('module-renamed: a loaded module gone from the build while a new one appeared in its file', async () => {
  const rel = 'lib/sample_app/parent.ex';
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('defmodule SampleApp.Parent do', 'defmodule SampleApp.Guardian do'));
  const d = beamLiveDiags(rel).find((x) => x.code === 'module-renamed');
  assert.ok(d, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d.range.start.line, 0);
  assert.match(d.message, /SampleApp\.Parent \(loaded in the node\) is gone from the build and SampleApp\.Guardian appeared in the same file/);
  await save(rel);
  assert.deepEqual(beamLiveDiags(rel), []);
});

test('config-not-reloaded: a config file saved while attached', async () => {
  const rel = 'config/config.exs';
  mkdirSync(join(node.dir, 'config'), { recursive: true });
  writeSource(node.dir, rel, 'import Config\nconfig :sample_app, greeting: "hi"\n');
  await conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(rel) } });
  const d = await until('the config diagnostic', () => beamLiveDiags(rel).find((x) => x.code === 'config-not-reloaded'));
  assert.match(d.message, /will not see this change: a hot upgrade does not re-read config\/\*\.exs/);
  rmSync(join(node.dir, 'config'), { recursive: true, force: true });
});

test('old-code-in-use: a local-call loop stays on old code after an upgrade, and the next one kills it as predicted', async () => {
  const rel = 'lib/sample_app/looper.ex';
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('send(from, {:pong, n})', 'send(from, {:pong, n + 1000})'));
  // With upgrade on save off, nothing is loaded yet; in always mode the save was the upgrade.
  if (mode === 'never') assert.ok(!beamLiveDiags(rel).some((x) => x.code === 'old-code-in-use'), 'not before the upgrade');
  await pushed();
  const d = beamLiveDiags(rel).find((x) => x.code === 'old-code-in-use');
  assert.ok(d, JSON.stringify(beamLiveDiags(rel)));
  assert.equal(d.range.start.line, lineOf(rel, 'defp loop(n)'));
  assert.match(d.message, /sample_looper \(no supervisor: not restarted\) still runs the old code of SampleApp\.Looper in loop\/1: the next load of this module kills it\. .*__MODULE__\.loop\/1/);
  await save(rel, readFileSync(join(node.dir, rel), 'utf8').replace('n + 1000', 'n + 2000'));
  const r = await pushed();
  assert.ok(r.killed.some((k) => k.name === 'sample_looper'));
  assert.equal(await onNode(node, `io_lib:format("~p", [whereis(sample_looper)])`), 'undefined');
  assert.ok(!beamLiveDiags(rel).some((x) => x.code === 'old-code-in-use'), 'gone with the process');
});

test('the checks run again when the node changes without a save: a Counter recompiled in the node (as IEx recompile does) clears a prediction', async () => {
  const rel = 'lib/sample_app/counter.ex';
  const original = readFileSync(join(node.dir, rel), 'utf8');
  await save(rel, original.replace('@vsn "1"', '@vsn "3"').replace('  @impl true\n  def init', '  @impl true\n  def code_change("2", state, _extra), do: {:ok, state}\n\n  @impl true\n  def init'));
  assert.ok(beamLiveDiags(rel).some((x) => x.code === 'code-change-no-matching-clause'), JSON.stringify(beamLiveDiags(rel)));
  // Outside BEAM Live: the node compiles and loads a Counter with @vsn "2" itself.
  const v2 = original.replace('@vsn "1"', '@vsn "2"').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  await onNode(node, `'Elixir.Code':compile_string(<<"${v2}"/utf8>>), ok`);
  assert.match(await onNode(node, `io_lib:format("~p", [proplists:get_value(vsn, 'Elixir.SampleApp.Counter':module_info(attributes))])`), /<<"2">>/);
  // No save: the next poll of the node sees the new code, and code_change("2") now matches.
  await until('the prediction cleared', () => !beamLiveDiags(rel).some((x) => x.code === 'code-change-no-matching-clause'));
  await save(rel);
});
}
