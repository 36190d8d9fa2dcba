// Rapid saves through the language server: a burst makes a handful of upgrades and leaves the
// node running exactly what is on disk; the server's memory stays flat across 1,000 upgrades.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { readBeamFile } from '../../server/beam/beamFile';
import type { UpgradeReport } from '../../server/protocol';
import { LspClient, loadedMd5, startLsp, startNode, suspendedInSampleApp, TestNode, until, writeSource } from '../helpers';

let node: TestNode;
let server: ChildProcess;
let conn: MessageConnection;
const finished: UpgradeReport[] = [];
let started = 0;

const MODULES: Array<[string, string, RegExp]> = [
  ['lib/sample_app/counter.ex', 'Elixir.SampleApp.Counter', /count: 0\b/],
  ['lib/sample_app/machine.ex', 'Elixir.SampleApp.Machine', /flips: 0\b/],
  ['lib/sample_app/worker.ex', 'Elixir.SampleApp.Worker', /jobs: 0\b/],
  ['lib/sample_app/hidden.ex', 'Elixir.SampleApp.Hidden', /seen: 0\b/],
  ['lib/sample_app/store.ex', 'Elixir.SampleApp.Store', /fn -> %\{\} end/],
];

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

let lsp: LspClient;

before(async () => {
  node = await startNode({ name: 'rapid' });
  lsp = await startLsp(node.dir, {
    setup: (c) => {
      c.onNotification('beamLive/upgradeStarted', () => started++);
      c.onNotification('beamLive/upgradeFinished', (r: UpgradeReport) => finished.push(r));
      c.onNotification(() => undefined);
    },
  });
  conn = lsp.conn;
  server = lsp.server;
  await conn.sendRequest('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
});

after(async () => {
  await lsp?.stop();
  await node?.stop();
});

test('50 saves of 5 modules within 5 s make a handful of upgrades, and the node ends up running exactly what is on disk', async () => {
  const originals = MODULES.map(([rel]) => readFileSync(join(node.dir, rel), 'utf8'));
  for (let i = 0; i < 50; i++) {
    const k = i % 5;
    const [rel, , pattern] = MODULES[k]!;
    // Each save changes code (a literal), so every save matters.
    writeSource(node.dir, rel, originals[k]!.replace(pattern, (m) => `${m.replace(/0\b/, String(i + 1))}`.replace('%{}', `%{n: ${i}}`)));
    await conn.sendNotification('textDocument/didSave', { textDocument: { uri: pathToFileURL(join(node.dir, rel)).toString() } });
    await new Promise((r) => setTimeout(r, 90));
  }
  // Let the last debounced upgrade finish: past the debounce, nothing started is unfinished.
  await new Promise((r) => setTimeout(r, 1500));
  await until('the last upgrade', () => started > 0 && finished.length === started);
  console.log(`rapid saves: 50 saves made ${finished.length} upgrades`);
  assert.ok(finished.length >= 1 && finished.length <= 10, `${finished.length} upgrades`);
  for (const [, mod] of MODULES) {
    const disk = readBeamFile(join(node.dir, '_build', 'dev', 'lib', 'sample_app', 'ebin', `${mod}.beam`)).md5;
    assert.equal(await loadedMd5(node, mod), disk, `${mod} runs what is on disk`);
  }
  assert.equal(await suspendedInSampleApp(node), '[]');
});

test("the language server's memory stays flat across 1,000 upgrades", async () => {
  const rel = MODULES[0]![0];
  const base = readFileSync(join(node.dir, rel), 'utf8');
  const samples: Array<[number, number]> = [];
  for (let i = 1; i <= 1000; i++) {
    // Every 25th upgrade loads new code; the rest compile, diff and find nothing to do.
    if (i % 25 === 0) writeSource(node.dir, rel, base.replace(/count: \d+/, `count: ${1000 + i}`));
    const r = await conn.sendRequest<UpgradeReport>('beamLive/upgradeNow');
    assert.equal(r.ok, true, r.summary);
    if (i === 100 || i % 250 === 0) samples.push([i, rssKb(server.pid!)]);
  }
  console.log(`server RSS (kB) by upgrade count: ${samples.map(([i, kb]) => `${i}: ${kb}`).join(', ')}`);
  const growth = samples.at(-1)![1] - samples[0]![1];
  assert.ok(growth < 40 * 1024, `RSS grew by ${growth} kB between upgrade 100 and 1000`);
});
