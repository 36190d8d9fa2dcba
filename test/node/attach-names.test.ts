// Nodes started as users start them (`--sname app`, no host part: app@<this machine>): a wrong
// host part is told apart from a refused cookie, and a failed attach leaves the current
// session as it was, with the failure in the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AttachRequest, PlanRequest, StatusNotification, StatusParams } from '../../server/protocol';
import { cli, startLsp, startNode, tmp } from '../helpers';

const short = hostname().split('.')[0]!;
// A host name that does not lead to loopback would take the tests off this machine: skip then.
const loopback = (() => {
  try {
    return /^127\./.test(execFileSync('getent', ['hosts', short]).toString().trim());
  } catch {
    return false;
  }
})();
const skip = loopback ? false : `${short} does not resolve to a loopback address here`;

test('a node started with --sname app is app@<host>: attaching to app@localhost names the real node, and the cookie is not blamed', { skip }, async () => {
  const node = await startNode({ name: 'app', hostless: true });
  try {
    assert.equal(node.name.split('@')[1], short);
    const bare = node.name.split('@')[0]!;
    const wrong = await cli(['status', '--node', `${bare}@localhost`, '--cookie-file', node.cookieFile]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, new RegExp(`epmd on this machine knows ${bare}, but its node is ${bare}@${short}, not ${bare}@localhost: attach to ${bare}@${short}`));
    assert.doesNotMatch(wrong.stderr, /cookie/);
    const right = await cli(['status', '--node', node.name, '--cookie-file', node.cookieFile, '--json']);
    assert.equal(right.code, 0, right.stderr);
    // The right name with a wrong cookie: that one is the cookie.
    const bad = join(tmp('cookie'), 'cookie');
    writeFileSync(bad, 'NOTTHECOOKIE');
    const refused = await cli(['status', '--node', node.name, '--cookie-file', bad]);
    assert.match(refused.stderr, /refused the connection: the cookie is probably wrong/);
  } finally {
    await node.stop();
  }
});

test('over LSP, a failed attach keeps the session it had, says why with a code, and logs it', { skip }, async () => {
  const node = await startNode({ name: 'app', hostless: true });
  const log: string[] = [];
  const statuses: StatusParams[] = [];
  const lsp = await startLsp(node.dir, {
    setup: (conn) => {
      conn.onNotification('window/logMessage', (m: { message: string }) => log.push(m.message));
      conn.onNotification(StatusNotification.method, (s: StatusParams) => statuses.push(s));
    },
  });
  try {
    await lsp.conn.sendRequest(AttachRequest.method, { node: node.name, cookieFile: node.cookieFile });
    const bare = node.name.split('@')[0]!;
    const err = await lsp.conn.sendRequest(AttachRequest.method, { node: `${bare}@localhost`, cookieFile: node.cookieFile }).then(
      () => undefined,
      (e: { message: string; data?: { code?: string; realName?: string } }) => e,
    );
    assert.ok(err, 'the attach failed');
    assert.equal(err.data?.code, 'wrong-name');
    assert.equal(err.data?.realName, node.name);
    assert.equal(statuses.at(-1)?.attached, true, 'still attached');
    assert.equal(statuses.at(-1)?.node, node.name);
    const plan = await lsp.conn.sendRequest<{ node: string }>(PlanRequest.method);
    assert.equal(plan.node, node.name, 'the session still works');
    assert.ok(log.some((l) => l.includes(`attach to ${bare}@localhost failed`)), log.join('\n'));
  } finally {
    await lsp.stop();
    await node.stop();
  }
});
