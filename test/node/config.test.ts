// Config changes as a release applies them: config/config.exs read by Config.Reader, the env set
// on the node, and the application's config_change/3 called with Changed, New and Removed; a
// callback that raises gets its application's env put back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FIXTURES, cli, onNode, startLsp, startNode, tmp, TestNode, until } from '../helpers';

let node: TestNode;
let dir: string;
const config = (body: string) => writeFileSync(join(dir, 'config/config.exs'), `import Config\n${body}\n`);

before(async () => {
  dir = join(tmp('config'), 'sample_app');
  cpSync(join(FIXTURES, 'sample_app'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  mkdirSync(join(dir, 'config'));
  config('config :sample_app, greeting: "hi", old_key: 1');
  // The callback records what it is called with, and raises when told to.
  const app = join(dir, 'lib/sample_app/application.ex');
  writeFileSync(app, readFileSync(app, 'utf8').replace(/\nend\s*$/, `
  @impl true
  def config_change(changed, new, removed) do
    if new[:explode] || changed[:explode], do: raise("config_change refused")
    :persistent_term.put(:sample_app_config_change, {changed, new, removed})
    :ok
  end
end
`));
  node = await startNode({ dir, name: 'config' });
});

after(async () => {
  await node?.stop();
});

test('config --apply: the new env on the node, config_change/3 called with Changed, New and Removed', async () => {
  config('config :sample_app, greeting: "hello", level: 3');
  const dry = await cli(['config', '--node', node.name, '--cookie-file', node.cookieFile, '--project', dir, '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { applied: boolean; changes: Array<{ app: string; changed: unknown[]; new: unknown[]; removed: string[] }> };
  assert.equal(plan.applied, false);
  assert.deepEqual(plan.changes.map((c) => [c.app, c.changed, c.new, c.removed]), [['sample_app', [{ key: 'greeting', value: '<<"hello">>' }], [{ key: 'level', value: '3' }], ['old_key']]]);
  assert.equal(await onNode(node, `application:get_env(sample_app, greeting)`), '{ok,<<"hi">>}', 'a dry run changes nothing');

  const r = await cli(['config', '--node', node.name, '--cookie-file', node.cookieFile, '--project', dir, '--apply']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Config applied to .*sample_app \(greeting changed, level new, old_key removed\); config_change\/3 sample_app: ok/);
  assert.equal(await onNode(node, `application:get_env(sample_app, greeting)`), '{ok,<<"hello">>}');
  assert.equal(await onNode(node, `application:get_env(sample_app, old_key)`), 'undefined');
  assert.equal(await onNode(node, `persistent_term:get(sample_app_config_change)`), '{[{greeting,<<"hello">>}],[{level,3}],[old_key]}');
});

test('a config_change/3 that raises: reported, exit 1, and its application env put back', async () => {
  config('config :sample_app, greeting: "boom", level: 3, explode: true');
  const r = await cli(['config', '--node', node.name, '--cookie-file', node.cookieFile, '--project', dir, '--apply']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /sample_app, whose config_change\/3 failed \(\*\* \(RuntimeError\) config_change refused\); its env was put back/);
  assert.equal(await onNode(node, `application:get_env(sample_app, greeting)`), '{ok,<<"hello">>}');
  assert.equal(await onNode(node, `application:get_env(sample_app, explode)`), 'undefined');
});

test('in the editor: saving config.exs while attached warns until Apply Config Change applies it', async () => {
  const saved: string[] = [];
  const diagnostics = new Map<string, Array<{ code?: string }>>();
  const lsp = await startLsp(dir, {
    setup: (c) => {
      c.onNotification('beamLive/configSaved', (p: { file: string }) => saved.push(p.file));
      c.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Array<{ code?: string }> }) => diagnostics.set(p.uri, p.diagnostics));
    },
  });
  try {
    await lsp.conn.sendRequest('beamLive/attach', { node: node.name, cookieFile: node.cookieFile });
    config('config :sample_app, greeting: "from the editor", level: 3');
    const file = join(dir, 'config/config.exs');
    const uri = pathToFileURL(file).toString();
    await lsp.conn.sendNotification('textDocument/didSave', { textDocument: { uri } });
    await until('the config-not-reloaded warning', () => diagnostics.get(uri)?.some((d) => d.code === 'config-not-reloaded') || undefined);
    assert.deepEqual(saved, [file]);
    const r = await lsp.conn.sendRequest<{ ok: boolean; applied: boolean }>('beamLive/applyConfig', { apply: true });
    assert.deepEqual([r.ok, r.applied], [true, true]);
    await until('the warning gone once applied', () => !diagnostics.get(uri)?.some((d) => d.code === 'config-not-reloaded') || undefined);
    assert.equal(await onNode(node, `application:get_env(sample_app, greeting)`), '{ok,<<"from the editor">>}');
  } finally {
    await lsp.stop();
  }
});
