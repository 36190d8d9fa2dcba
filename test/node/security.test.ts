// The cookie never leaks, and a node that does not look like a development node is attached
// to only after confirmation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { cli, loopbackEnv, onNode, ROOT, startNode, startWatch, until, writeSource } from '../helpers';
import { COUNTER, COUNTER_V2 } from './sources';

function cmdlines(): string {
  let all = '';
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      all += readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ') + '\n';
    } catch {
      // gone
    }
  }
  return all;
}

test('the cookie appears in no command line, log, report, LSP message or CLI output', async () => {
  const node = await startNode({ name: 'sec' });
  const cookie = readFileSync(node.cookieFile, 'utf8').trim();
  try {
    // A long-lived CLI session with debug logging on, while we look at every command line.
    const w = await startWatch(node, [], { BEAM_LIVE_DEBUG: '1' });
    assert.ok(!cmdlines().includes(cookie), 'a command line holds the cookie');
    writeSource(node.dir, COUNTER, COUNTER_V2);
    await until('an upgrade line', () => /Upgraded|failed|skipped/.test(w.output()));
    assert.ok(!cmdlines().includes(cookie), 'a command line holds the cookie');
    await w.stop();
    const out = w.output();

    const upgrade = await cli(['upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json'], loopbackEnv({ BEAM_LIVE_DEBUG: '1' }));
    const wrong = await cli(['status', '--node', node.name, '--cookie-file', '/etc/hostname']);

    // The language server: every message it sends, its log at every level included, as VS Code
    // gets it (beamLive/log with levels, from trace up) and as other editors do (window/logMessage).
    const levelled = await lspSession(node, { log: 'levelled', logLevel: 'trace' });
    const plain = await lspSession(node, { logLevel: 'trace' });
    const seen = [...levelled.seen, ...plain.seen];
    const serverErr = levelled.stderr + plain.stderr;
    const levels = new Set(levelled.seen.flatMap((m) => ((m as { method: string }).method === 'beamLive/log' ? [(m as { params: { level: string } }).params.level] : [])));
    for (const l of ['trace', 'debug', 'info']) assert.ok(levels.has(l), `no ${l} line was logged: ${[...levels].join(', ')}`);
    assert.ok(JSON.stringify(levelled.seen).includes('→') && JSON.stringify(levelled.seen).includes('attaching to'), 'the frames were traced, the attach frame too');

    for (const [what, text] of [
      ['watch output', out],
      ['upgrade report and debug log', upgrade.stdout + upgrade.stderr],
      ['wrong-cookie error', wrong.stdout + wrong.stderr],
      ['LSP messages', JSON.stringify(seen)],
      ['server stderr', serverErr],
    ] as const) {
      assert.ok(!text.includes(cookie), `${what} holds the cookie`);
    }
    assert.ok(JSON.stringify(plain.seen).includes('window/logMessage'), 'the plain log was looked at');
  } finally {
    await node.stop();
  }
});

test('a node that runs a release is attached to only after confirmation (--yes)', async () => {
  const node = await startNode({ name: 'rel', env: { RELEASE_NAME: 'sample_app' } });
  try {
    const r = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /does not look like a development node: it runs a release .* confirm to attach anyway \(CLI: --yes\)/);
    // Refused before anything was loaded into the node.
    assert.equal(await onNode(node, `atom_to_list(code:is_loaded(beam_live_agent) =/= false)`), 'false');
    const yes = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile, '--yes', '--json']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(JSON.parse(yes.stdout).node, node.name);
  } finally {
    await node.stop();
  }
});

test('a node whose name says production is attached to only after confirmation', async () => {
  const node = await startNode({ name: 'prod' });
  try {
    const r = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /does not look like a development node: its name \(prod_\w+\) says production or staging/);
    const yes = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile, '--yes']);
    assert.equal(yes.code, 0, yes.stderr);
  } finally {
    await node.stop();
  }
});

/** One language server session: attach, upgrade, read the tree; every message it sent, and its stderr. */
async function lspSession(node: { name: string; dir: string; cookieFile: string }, initializationOptions: object): Promise<{ seen: unknown[]; stderr: string }> {
  const server = spawn(process.execPath, [join(ROOT, 'dist', 'server.js'), '--stdio'], { env: loopbackEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  const seen: unknown[] = [];
  conn.onNotification((method, params) => seen.push({ method, params }));
  conn.onRequest((method, params) => {
    seen.push({ method, params });
    return null;
  });
  conn.listen();
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(node.dir).toString(), capabilities: {}, initializationOptions });
  await conn.sendNotification('initialized', {});
  await conn.sendRequest('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
  seen.push(await conn.sendRequest('beamLive/upgradeNow'));
  seen.push(await conn.sendRequest('beamLive/processes', { kind: 'applications' }));
  await conn.sendRequest('shutdown');
  conn.dispose();
  server.kill();
  return { seen, stderr };
}
