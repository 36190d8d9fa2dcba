// BEAM Live in a real VS Code (code-server here, desktop VS Code elsewhere), against the real
// vscode API and real BEAM nodes: one launched through the beam-live debug configuration, one
// started by the test runner and attached to.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { BeamLiveApi } from '../../../extension/main';
import type { LiveNode } from '../../../extension/views/liveTree';
import { COUNTER_V2 } from '../../node/sources';

const folder = () => vscode.workspace.workspaceFolders![0]!.uri.fsPath;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function api(): Promise<BeamLiveApi> {
  const ext = vscode.extensions.getExtension<BeamLiveApi>('beam-live.beam-live')!;
  const a = ext.isActive ? ext.exports : await ext.activate();
  await a.ready;
  return a;
}

/** Walks the Live view's own tree data down to the process named `name`. */
async function findInLive(a: BeamLiveApi, name: string): Promise<LiveNode | undefined> {
  const walk = async (el: LiveNode | undefined, depth: number): Promise<LiveNode | undefined> => {
    if (depth > 5) return undefined;
    for (const c of await a.ctx.live.getChildren(el)) {
      if (c.kind === 'process' && c.item.name === name) return c;
      if (c.kind === 'outside' || c.kind === 'more') continue;
      if (c.kind === 'app' && c.app.application !== 'sample_app') continue;
      const found = await walk(c, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(undefined, 0);
}

/** The node's own answer, from an independent hidden erl sharing the cookie in HOME. */
function onNode(node: string, expr: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'erl',
      ['-sname', `probe_${process.pid}_${Date.now() % 100000}@localhost`, '-hidden', '-noshell', '-dist_listen', 'false', '-eval', `R = rpc:call('${node}', erlang, apply, [fun() -> ${expr} end, []]), io:format("~0p", [R]), halt().`],
      { env: { ...process.env, HOME: process.env.BEAM_LIVE_TEST_HOME ?? process.env.HOME }, timeout: 20_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}${stderr}`)) : resolve(stdout)),
    );
  });
}

function saveCounter(source: string): Promise<void> {
  return saveSource('counter.ex', source);
}

async function saveSource(file: string, source: string): Promise<void> {
  const uri = vscode.Uri.file(join(folder(), 'lib', 'sample_app', file));
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), source);
  assert.ok(await vscode.workspace.applyEdit(edit));
  assert.ok(await doc.save());
}

suite('BEAM Live in VS Code', () => {
  const original = readFileSync(join(folder(), 'lib', 'sample_app', 'counter.ex'), 'utf8');
  const looper = readFileSync(join(folder(), 'lib', 'sample_app', 'looper.ex'), 'utf8');

  test('every contributed command runs without throwing while not attached', async () => {
    const a = await api();
    // For npm run bench: how long activation took in this VS Code.
    if (process.env.BEAM_LIVE_ACTIVATION_FILE) writeFileSync(process.env.BEAM_LIVE_ACTIVATION_FILE, JSON.stringify({ activationMs: a.activationMs }));
    assert.equal(a.ctx.status.attached, false);
    const pkg = JSON.parse(readFileSync(join(vscode.extensions.getExtension('beam-live.beam-live')!.extensionPath, 'package.json'), 'utf8'));
    const args: Record<string, unknown[]> = {
      'beamLive.attach': ['nobody_here@localhost'],
      'beamLive.launch': [],
      'beamLive.inspectState': ['Elixir.SampleApp.Counter'],
      'beamLive.setCookie': ['nobody_here@localhost', 'not-a-real-cookie'],
      'beamLive.forgetCookie': ['nobody_here@localhost'],
      'beamLive.toggleUpgradeOnSave': ['never'],
      // Since a ref the workspace's git does not have: said plainly, nothing written.
      'beamLive.generateAppup': ['no-such-ref'],
      // Folders that are no releases: said plainly, no node started.
      'beamLive.rehearse': ['/nonexistent/old-release', '/nonexistent/new-release'],
    };
    // Every contributed command has its handler.
    const registered = await vscode.commands.getCommands(true);
    const contributed = (pkg.contributes.commands as Array<{ command: string }>).map((c) => c.command);
    assert.deepEqual(contributed.filter((c) => !registered.includes(c)), [], 'contributed without a handler');
    for (const c of contributed) {
      if (c === 'beamLive.launch') continue; // launched for real below
      await vscode.commands.executeCommand(c, ...(args[c] ?? []));
      if (c === 'beamLive.toggleUpgradeOnSave') await vscode.commands.executeCommand(c, 'always');
      // A command that fails deep inside takes the server down or leaves a half-attached state.
      assert.ok(a.ctx.client?.isRunning(), `the language server runs after ${c}`);
      assert.equal(a.ctx.status.attached, false, `still not attached after ${c}`);
    }
    assert.equal(a.ctx.status.attached, false);
  });

  test('launch with the beam-live debug configuration; the Live view lists the supervised GenServer; saving it upgrades the node; Inspect State shows the new state', async () => {
    const a = await api();
    const node = `vsc_${process.pid}@localhost`;
    const started = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], {
      type: 'beam-live',
      request: 'launch',
      name: 'BEAM Live test launch',
      node,
      runMode: 'run',
    });
    assert.ok(started, 'the debug session started');
    try {
      await until('attached', () => a.ctx.status.attached && a.ctx.status.node === node);
      const counter = await until('Counter in the Live view', () => findInLive(a, 'Elixir.SampleApp.Counter'));
      assert.equal(counter.kind === 'process' && counter.item.module, 'Elixir.SampleApp.Counter');

      const before = a.ctx.upgrades.entries.length;
      await saveCounter(COUNTER_V2);
      const entry = await until('an Upgrades entry', () => a.ctx.upgrades.entries.length > before && a.ctx.upgrades.entries[0]);
      assert.equal(entry.report.ok, true, entry.report.summary);
      assert.equal(entry.report.processes.find((p) => p.name === 'Elixir.SampleApp.Counter')?.codeChange, 'ok');
      assert.match(await onNode(node, `sys:get_state('Elixir.SampleApp.Counter')`), /from_vsn => <<"1">>/);

      const doc = (await vscode.commands.executeCommand('beamLive.inspectState', 'Elixir.SampleApp.Counter')) as vscode.TextDocument;
      assert.match(doc.getText(), /%SampleApp\.Counter\{[^}]*from_vsn: "1"/s);
      // Elixir syntax: the language where an Elixir extension provides it, the .ex name always.
      if ((await vscode.languages.getLanguages()).includes('elixir')) assert.equal(doc.languageId, 'elixir');
      assert.match(doc.uri.path, /\.ex$/);
      assert.equal(doc.uri.scheme, 'beam-live-state');

      // Upgrade Now adds one Upgrades entry (not one from the answer and one from the notification).
      const n = a.ctx.upgrades.entries.length;
      // Its report arrives before its answer, and the command adds nothing once answered: when
      // the command returns, every entry it could make is there.
      await vscode.commands.executeCommand('beamLive.upgradeNow');
      assert.equal(a.ctx.upgrades.entries.length, n + 1);
      assert.equal(a.ctx.upgrades.entries[0]!.trigger, 'command');


      // The Live view speaks Elixir and fits the sidebar: the name once, no pid, the vsn as written.
      const row = a.ctx.live.getTreeItem(await until('Counter again', () => findInLive(a, 'Elixir.SampleApp.Counter')));
      assert.equal(row.label, 'SampleApp.Counter');
      assert.equal(row.description, '"2"');

      // A code_change that raises on save: an error diagnostic where it raised, the status failed.
      const raising = COUNTER_V2.replace('@vsn "2"', '@vsn "3"').replace(
        /  def code_change\(old_vsn[\s\S]*?from_vsn: old_vsn\}\}\n/,
        '  def code_change(_old_vsn, _state, _extra) do\n    raise "migration bug"\n  end\n',
      );
      const uri = vscode.Uri.file(join(folder(), 'lib', 'sample_app', 'counter.ex'));
      await saveCounter(raising);
      const failure = await until('the failure diagnostic', () => vscode.languages.getDiagnostics(uri).find((d) => d.code === 'code-change-failed'));
      assert.equal(failure.severity, vscode.DiagnosticSeverity.Error);
      assert.equal(failure.range.start.line, raising.split('\n').findIndex((l) => l.includes('raise "migration bug"')));
      assert.match(failure.message, /\*\* \(RuntimeError\) migration bug\. Everything this upgrade changed was rolled back/);
      assert.equal(a.ctx.status.state, 'failed');

      // A rollback is an entry of its own in Upgrades, and the status follows.
      await vscode.commands.executeCommand('beamLive.rollback');
      const top = await until('the rollback entry', () => a.ctx.upgrades.getChildren()[0]?.kind === 'rollback' && a.ctx.upgrades.getChildren()[0]);
      assert.match(String(a.ctx.upgrades.getTreeItem(top).label), /Rolled back 1 module/);
      await until('the rolled-back status', () => a.ctx.status.state === 'rolled-back');
    } finally {
      await vscode.debug.stopDebugging();
      await until('detached', () => !a.ctx.status.attached);
      await saveCounter(original);
    }
    // Stopping the launched session stops the node too.
    await until('the launched node gone', async () => !(await onNode(node, 'ok').then(() => true, () => false)) || (await onNode(node, 'ok')).includes('badrpc'));
  });

  test('attach to a node started outside VS Code, then detach', async () => {
    const a = await api();
    const node = process.env.BEAM_LIVE_TEST_NODE!;
    assert.ok(node, 'the runner started a node');
    // A cookie stored for this node wins over ~/.erlang.cookie (which would let us in): a wrong
    // one is refused, the right one attaches through a private file that goes with the detach.
    await vscode.commands.executeCommand('beamLive.setCookie', node, 'wrong-cookie');
    await assert.rejects(a.ctx.attach(node), /refused the connection: the cookie is probably wrong/);
    await vscode.commands.executeCommand('beamLive.setCookie', node, readFileSync(process.env.BEAM_LIVE_TEST_COOKIE!, 'utf8').trim());
    await a.ctx.attach(node);
    await until('attached', () => a.ctx.status.attached && a.ctx.status.node === node);
    const cookieDir = join(a.ctx.extension.globalStorageUri.fsPath, 'cookies');
    assert.deepEqual(readdirSync(cookieDir).map((f) => statSync(join(cookieDir, f)).mode & 0o777), [0o600]);
    await vscode.commands.executeCommand('beamLive.detach');
    await until('detached', () => !a.ctx.status.attached);
    assert.equal(existsSync(cookieDir), false, 'the cookie file went with the detach');
    await vscode.commands.executeCommand('beamLive.forgetCookie', node);

    await vscode.commands.executeCommand('beamLive.attach', node, { cookieFile: process.env.BEAM_LIVE_TEST_COOKIE });
    await until('attached', () => a.ctx.status.attached && a.ctx.status.node === node);
    assert.ok(await until('Counter in the Live view', () => findInLive(a, 'Elixir.SampleApp.Counter')));
    const pkg = JSON.parse(readFileSync(join(vscode.extensions.getExtension('beam-live.beam-live')!.extensionPath, 'package.json'), 'utf8'));
    // Every command again, now attached (the ones that change the node are covered above).
    for (const c of pkg.contributes.commands as Array<{ command: string }>) {
      if (['beamLive.launch', 'beamLive.attach', 'beamLive.detach', 'beamLive.upgradeNow', 'beamLive.rollback', 'beamLive.loadMore', 'beamLive.restartServer'].includes(c.command)) continue;
      const attachedArgs: Record<string, unknown[]> = {
        'beamLive.inspectState': ['Elixir.SampleApp.Machine'],
        'beamLive.setCookie': ['nobody_here@localhost', 'not-a-real-cookie'],
        'beamLive.forgetCookie': ['nobody_here@localhost'],
        'beamLive.toggleUpgradeOnSave': ['always'],
        'beamLive.generateAppup': ['node'],
        'beamLive.rehearse': ['/nonexistent/old-release', '/nonexistent/new-release'],
      };
      await vscode.commands.executeCommand(c.command, ...(attachedArgs[c.command] ?? []));
    }

    // Generate .appup: a change on disk (no save, so no upgrade) becomes priv/sample_app.appup, opened.
    const counter = join(folder(), 'lib', 'sample_app', 'counter.ex');
    const appup = join(folder(), 'priv', 'sample_app.appup');
    writeFileSync(counter, COUNTER_V2);
    try {
      const made = (await vscode.commands.executeCommand('beamLive.generateAppup', 'node')) as Array<{ path: string; modules: string[] }>;
      assert.deepEqual(made.map((m) => [m.path, m.modules]), [[appup, ['Elixir.SampleApp.Counter']]]);
      assert.match(readFileSync(appup, 'utf8'), /\{update,'Elixir\.SampleApp\.Counter',\{advanced,\[\]\}\}/);
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, appup);
      // Nothing was pushed: the node still runs the old Counter.
      assert.doesNotMatch(await onNode(node, `sys:get_state('Elixir.SampleApp.Counter')`), /from_vsn/);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      rmSync(appup, { force: true });
      writeFileSync(counter, original);
    }

    // Apply Config Change: config.exs saved in the editor warns; the command sets the env on the
    // node, lists the change in Upgrades, and the warning goes.
    const configDir = join(folder(), 'config');
    const cfg = vscode.Uri.file(join(configDir, 'config.exs'));
    mkdirSync(configDir, { recursive: true });
    writeFileSync(cfg.fsPath, 'import Config\n');
    try {
      const doc = await vscode.workspace.openTextDocument(cfg);
      await vscode.window.showTextDocument(doc);
      const edit = new vscode.WorkspaceEdit();
      edit.replace(cfg, new vscode.Range(0, 0, doc.lineCount, 0), 'import Config\nconfig :sample_app, greeting: "from vscode"\n');
      assert.ok(await vscode.workspace.applyEdit(edit));
      assert.ok(await doc.save());
      const warned = () => vscode.languages.getDiagnostics(cfg).some((d) => d.code === 'config-not-reloaded');
      await until('config-not-reloaded on config.exs', () => warned() || undefined);
      const r = (await vscode.commands.executeCommand('beamLive.applyConfig')) as { ok: boolean; changes: Array<{ app: string; new: Array<{ key: string }> }> };
      assert.equal(r.ok, true);
      assert.deepEqual(r.changes.map((c) => [c.app, c.new.map((n) => n.key)]), [['sample_app', ['greeting']]]);
      assert.equal(await onNode(node, 'application:get_env(sample_app, greeting)'), '{ok,<<"from vscode">>}');
      assert.equal((a.ctx.upgrades.getChildren()[0] as { kind: string }).kind, 'config');
      await until('the warning gone once applied', () => !warned() || undefined);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      rmSync(configDir, { recursive: true, force: true });
    }

    // A process left in old code is named once the soft purge after the report ended.
    const looperPid = (await onNode(node, 'pid_to_list(whereis(sample_looper))')).replace(/"/g, '');
    const m = a.ctx.upgrades.entries.length;
    try {
      await saveSource('looper.ex', looper.replace('send(from, {:pong, n})', 'send(from, {:pong, n * 10})'));
      const purged = await until('the purge in the Upgrades entry', () => a.ctx.upgrades.entries.length > m && !a.ctx.upgrades.entries[0]!.report.purging && a.ctx.upgrades.entries[0]!.report);
      assert.equal(purged.ok, true, purged.summary);
      assert.deepEqual(purged.oldCode.map((o) => o.pid), [looperPid]);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      writeFileSync(join(folder(), 'lib', 'sample_app', 'looper.ex'), looper);
    }
    await vscode.commands.executeCommand('beamLive.detach');
    await until('detached', () => !a.ctx.status.attached);
  });

  test('Rehearse Release Upgrade… installs a real release upgrade and downgrade on a throw-away node; the Upgrades view lists each process with its code_change', async function () {
    this.timeout(300_000);
    const a = await api();
    const root = mkdtempSync(join(tmpdir(), 'beam-live-vscode-rel-'));
    const mix = (args: string[], cwd: string) =>
      new Promise<void>((resolve, reject) =>
        execFile('mix', args, { cwd, env: { ...process.env, MIX_ENV: 'prod' }, timeout: 180_000 }, (err, stdout, stderr) => (err ? reject(new Error(`mix ${args.join(' ')}: ${stderr}${stdout}`)) : resolve())),
      );
    try {
      // Two releases of the workspace's app, the second with Counter's code and the version changed.
      const dir = join(root, 'app');
      cpSync(folder(), dir, { recursive: true, filter: (f) => !f.includes('/_build') });
      await mix(['release', '--quiet', '--overwrite', '--path', join(root, 'v1')], dir);
      const counter = join(dir, 'lib/sample_app/counter.ex');
      writeFileSync(counter, readFileSync(counter, 'utf8').replace('@vsn "1"', '@vsn "2"').replace(/\nend\s*$/, '\n  def release, do: 2\nend\n'));
      writeFileSync(join(dir, 'mix.exs'), readFileSync(join(dir, 'mix.exs'), 'utf8').replace('version: "0.1.0"', 'version: "0.2.0"'));
      // Mix compares whole-second mtimes: an edit in the second of the first build would look built.
      rmSync(join(dir, '_build/prod/lib/sample_app'), { recursive: true, force: true });
      await mix(['release', '--quiet', '--overwrite', '--path', join(root, 'v2')], dir);

      const r = (await vscode.commands.executeCommand('beamLive.rehearse', join(root, 'v1'), join(root, 'v2'))) as { ok: boolean; summary: string };
      assert.equal(r.ok, true, r.summary);
      const [top] = a.ctx.upgrades.getChildren();
      assert.equal((top as { kind: string }).kind, 'rehearsal');
      const lines = a.ctx.upgrades.getChildren(top).map((n) => a.ctx.upgrades.getTreeItem(n));
      const counterLine = lines.find((i) => String(i.label).includes('Counter'));
      assert.ok(counterLine, lines.map((i) => i.label).join(', '));
      assert.match(String(counterLine.description), /^up: code_change\("1"\) ok · down: code_change\(\{:down, "1"\}\) ok$/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('the Live view shows each node of the cluster the attached node is connected to; one that leaves goes at the next refresh', async function () {
    this.timeout(120_000);
    const a = await api();
    const node = process.env.BEAM_LIVE_TEST_NODE!;
    const peers = process.env.BEAM_LIVE_TEST_PEERS!.split(',');
    assert.equal(peers.length, 2, 'the runner started two more nodes');
    await vscode.commands.executeCommand('beamLive.attach', node, { cookieFile: process.env.BEAM_LIVE_TEST_COOKIE });
    await until('attached', () => a.ctx.status.attached && a.ctx.status.node === node);
    try {
      for (const p of peers) assert.equal(await onNode(node, `net_kernel:connect_node('${p}')`), 'true');
      const labels = async () => (await a.ctx.live.getChildren()).map((n) => String(a.ctx.live.getTreeItem(n).label));
      a.ctx.live.refresh();
      assert.deepEqual(await labels(), [node, ...[...peers].sort()]);
      // A peer's own applications and tree, asked of that node.
      const roots = await a.ctx.live.getChildren();
      const apps = await a.ctx.live.getChildren(roots[1]);
      assert.ok(apps.some((x) => x.kind === 'app' && x.app.application === 'sample_app'), 'the peer lists sample_app');
      assert.match(String(a.ctx.live.getTreeItem(roots[1]!).description), /in the cluster/);

      // A node that leaves the cluster is gone from the view at the next refresh.
      await onNode(node, `erlang:disconnect_node('${peers[1]}')`);
      // (global may drop more links to keep the cluster fully connected: the view follows nodes().)
      await until('the peer gone from the Live view', async () => {
        a.ctx.live.refresh();
        return !(await labels()).includes(peers[1]!) || undefined;
      });
      const seen = (await onNode(node, 'nodes()')).replace(/[[\]']/g, '').split(',').filter(Boolean).sort();
      assert.deepEqual(await labels(), seen.length ? [node, ...seen] : [node]);
    } finally {
      for (const p of peers) await onNode(node, `erlang:disconnect_node('${p}')`);
      await vscode.commands.executeCommand('beamLive.detach');
      await until('detached', () => !a.ctx.status.attached);
    }
  });

  test('the Get started walkthrough opens', async () => {
    await api();
    await vscode.commands.executeCommand('beamLive.getStarted');
    const tab = await until('the walkthrough tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => /Welcome|Walkthrough|BEAM Live/.test(t.label)));
    assert.ok(tab);
    await vscode.window.tabGroups.close(tab);
  });
});
