// The command table. Every command works attached or not: used while not attached, it says so
// plainly and offers to attach, instead of failing obscurely.
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { RollbackParams } from '../server/protocol';
import { ApplyConfigRequest, GenerateAppupRequest, PlanRequest, RehearseRequest, RollbackRequest, UpgradeNowRequest } from '../server/protocol';
import { printPlan, printRollback } from '../server/text/printReport';
import { killText, processName } from '../server/text/names';
import { config } from './config';
import { Ctx } from './ctx';
import { localNodes } from './debug/launch';
import { ServerStoppedError } from './client';
import { StateDocuments, STATE_SCHEME } from './stateDocument';
import type { LiveNode } from './views/liveTree';

type Handler = (...args: unknown[]) => unknown;
interface Command {
  /** Commands that need a node say so when there is none. */
  needsNode?: boolean;
  run: (ctx: Ctx) => Handler;
}

/** Says so and offers the way out; does not wait for an answer, so the command returns. */
function notAttached(): void {
  void vscode.window.showInformationMessage('BEAM Live is not attached to a node.', 'Attach to Node…', 'Launch and Attach').then((pick) => {
    if (pick === 'Attach to Node…') void vscode.commands.executeCommand('beamLive.attach');
    if (pick === 'Launch and Attach') void vscode.commands.executeCommand('beamLive.launch');
  });
}

async function openText(ctx: Ctx, title: string, content: string, language = 'plaintext'): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(ctx.texts.uri(title, content));
  // A language no installed extension provides stays plain text.
  if (language !== 'plaintext' && (await vscode.languages.getLanguages()).includes(language)) await vscode.languages.setTextDocumentLanguage(doc, language);
  await vscode.window.showTextDocument(doc, { preview: true });
  return doc;
}

/** Runs a request-backed command; a failure becomes an error message (with Restart when the server is down), not an exception. */
async function shown<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const restart = e instanceof ServerStoppedError ? ['Restart Server'] : [];
    void vscode.window.showErrorMessage(`BEAM Live: ${(e as Error).message}`, ...restart).then((pick) => pick && vscode.commands.executeCommand('beamLive.restartServer'));
    return undefined;
  }
}

function lines(print: (out: (l: string) => void) => void): string {
  const out: string[] = [];
  print((l) => out.push(l));
  return `${out.join('\n')}\n`;
}

/** 'node', a git ref or release folder, or undefined when the user backs out. */
async function askAppupSource(ctx: Ctx): Promise<string | undefined> {
  const tag = lastTag(ctx.folder());
  const items: Array<vscode.QuickPickItem & { from?: string }> = [
    ...(ctx.status.attached ? [{ label: '$(debug-alt) From the running node', description: ctx.status.node ?? '', from: 'node' }] : []),
    ...(tag ? [{ label: `$(tag) Since the last tag`, description: tag, from: tag }] : []),
    { label: '$(git-commit) Since a git ref or an older release…', description: 'a tag, commit or branch; or a release folder' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Generate .appup' });
  if (!pick) return undefined;
  if (pick.from) return pick.from;
  const typed = await vscode.window.showInputBox({ title: 'Generate .appup since', prompt: 'A git tag, commit or branch, or the folder of an older release', value: tag ?? '' });
  return typed?.trim() || undefined;
}

function lastTag(dir: string): string | undefined {
  const r = spawnSync('git', ['describe', '--tags', '--abbrev=0'], { cwd: dir, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

/** The summary as information, or as an error when it failed; the result passes through. */
function told<T extends { ok: boolean; summary: string }>(r: T): T {
  void (r.ok ? vscode.window.showInformationMessage : vscode.window.showErrorMessage)(`BEAM Live: ${r.summary}`);
  return r;
}

async function pickFolder(title: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({ title, canSelectFolders: true, canSelectFiles: false, canSelectMany: false, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  return picked?.[0]?.fsPath;
}

async function askNode(title = 'Attach to Node'): Promise<string | undefined> {
  const known = await localNodes();
  const fromSetting = config.node();
  const items: vscode.QuickPickItem[] = [
    ...(fromSetting ? [{ label: fromSetting, description: 'beamLive.node' }] : []),
    ...known.filter((k) => k.node !== fromSetting).map((k) => ({ label: k.node, description: k.hint })),
  ];
  const qp = vscode.window.createQuickPick();
  qp.title = title;
  qp.placeholder = `name@host, e.g. app@${hostname().split('.')[0]}`;
  qp.items = items;
  return new Promise((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems[0]?.label ?? (qp.value.trim() || undefined));
      qp.hide();
    });
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
}

export const COMMANDS: Record<string, Command> = {
  'beamLive.attach': {
    run: (ctx) => async (node?: unknown, opts?: unknown) => {
      const name = typeof node === 'string' ? node : await askNode();
      if (!name) return;
      const o = (opts ?? {}) as { nameType?: 'sname' | 'name'; cookieFile?: string };
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Attaching to ${name}…` }, () =>
          ctx.attach(name, o.nameType || config.nameType() || undefined, o.cookieFile || undefined),
        );
        void vscode.window.setStatusBarMessage(`BEAM Live: attached to ${name}`, 3000);
      } catch (e) {
        // A wrong name and a refused cookie look alike on the wire; the server told them apart.
        const data = (e as { data?: { code?: string; realName?: string } }).data;
        const retry = data?.code === 'wrong-name' && data.realName ? `Attach to ${data.realName}` : undefined;
        const cookie = data?.code === 'cookie-rejected' ? 'Set Cookie for Node…' : undefined;
        // Not awaited: the command returns, the notification stays until the user answers it.
        void vscode.window.showErrorMessage(`BEAM Live: ${(e as Error).message}`, ...[retry, cookie, 'Open Log'].filter((x): x is string => !!x)).then((pick) => {
          if (pick === 'Open Log') ctx.output.show();
          if (pick && pick === retry) void vscode.commands.executeCommand('beamLive.attach', data!.realName, opts);
          if (pick && pick === cookie) void vscode.commands.executeCommand('beamLive.setCookie', name);
        });
      }
    },
  },
  'beamLive.launch': {
    run: (ctx) => async (node?: unknown) => {
      const name =
        typeof node === 'string'
          ? node
          : await vscode.window.showInputBox({ title: 'Launch and Attach', prompt: 'Node name for the launched project', value: config.node() || 'app@localhost' });
      if (!name) return;
      const folder = vscode.workspace.workspaceFolders?.[0];
      await vscode.debug.startDebugging(folder, { type: 'beam-live', request: 'launch', name: `BEAM Live: ${name}`, node: name });
      void ctx;
    },
  },
  'beamLive.detach': {
    run: (ctx) => async () => {
      if (!ctx.status.attached) return void vscode.window.showInformationMessage('BEAM Live is not attached to a node: nothing to detach.');
      await ctx.detach();
    },
  },
  'beamLive.upgradeNow': {
    needsNode: true,
    // The report reaches the Upgrades view through beamLive/upgradeFinished, like a save's.
    run: (ctx) => () =>
      shown(async () => {
        const r = await ctx.request(UpgradeNowRequest.type);
        // A failed upgrade is said by the report's handler, on save as here; a skip only here.
        if (!r.ok && !r.pushed) void vscode.window.showWarningMessage(`BEAM Live: ${r.summary}`, 'Show Upgrades').then((p) => p && vscode.commands.executeCommand('beamLive.upgrades.focus'));
        return r;
      }),
  },
  'beamLive.showPlan': {
    needsNode: true,
    run: (ctx) => () =>
      shown(async () => {
        const plan = await ctx.request(PlanRequest.type);
        return openText(ctx, `Upgrade plan for ${plan.node}`, `Upgrade plan for ${plan.node} (mode ${plan.mode}); nothing has been changed on the node.\n\n${lines((o) => printPlan(plan, o))}`);
      }),
  },
  'beamLive.rollback': {
    needsNode: true,
    run: (ctx) => () =>
      shown(async () => {
        const params: RollbackParams = { confirmKills: false };
        let r = await ctx.request(RollbackRequest.type, params);
        if (r.needsConfirmation) {
          // Loading the old code back kills whoever still runs code older than it: ask, naming them.
          const go = 'Roll Back Anyway';
          const pick = await vscode.window.showWarningMessage(
            `BEAM Live: rolling back kills ${(r.kills ?? []).map(killText).join('; ')}.`,
            { modal: true, detail: 'They still run old code, which the rollback\'s load purges. Nothing has been changed yet.' },
            go,
          );
          if (pick !== go) return r;
          params.confirmKills = true;
          r = await ctx.request(RollbackRequest.type, params);
        }
        if (r.refused.length) {
          // A down clause is missing for a state the upgrade changed: the snapshot only on request.
          const age = Math.round((r.snapshotAgeMs ?? 0) / 1000);
          const names = r.refused.map(processName).join(', ');
          const restore = 'Restore Snapshot';
          const pick = await vscode.window.showWarningMessage(
            `BEAM Live: ${names} have no code_change({down, _}) clause, and the upgrade changed their state. Nothing was rolled back.`,
            { modal: true, detail: `Restoring the snapshot taken at the upgrade (${age} s ago) drops what these processes did since.` },
            restore,
          );
          if (pick === restore) r = await ctx.request(RollbackRequest.type, { ...params, restoreSnapshot: true });
        }
        ctx.output.info(lines((o) => printRollback(r, o, o)));
        ctx.onRollback(r);
        if (!r.ok) {
          void vscode.window.showWarningMessage(`BEAM Live: ${r.summary}`);
          return r;
        }
        // The node runs the old code, the file still the new one: the next save pushes it again.
        const file = r.files?.[0];
        const note = file ? ` ${ctx.status.node ?? 'The node'} runs the old code, while ${file} still holds the new code: the next save pushes it again.` : '';
        void vscode.window.showInformationMessage(`BEAM Live: ${r.summary}.${note}`, ...(file ? ['Open File'] : [])).then((p) => {
          if (p === 'Open File' && file) void vscode.window.showTextDocument(vscode.Uri.file(join(ctx.folder(), file)));
        });
        return r;
      }),
  },
  'beamLive.generateAppup': {
    // From what the node runs (today's default), since the last tag, or since a ref or an older
    // release; written where the next upgrade follows it and opened to edit; an existing one is
    // only replaced when the developer says so. Arguments ('node', or a ref) are for scripts.
    run: (ctx) => (arg?: unknown) =>
      shown(async () => {
        const from = typeof arg === 'string' ? arg : await askAppupSource(ctx);
        if (from === undefined) return undefined;
        if (from === 'node' && !ctx.status.attached) return void notAttached();
        const appups = await ctx.request(GenerateAppupRequest.type, from === 'node' ? {} : { from });
        if (appups.length === 0) {
          void vscode.window.showInformationMessage(`BEAM Live: no module changed ${from === 'node' ? 'against the node' : `since ${from}`}, so there is no .appup to generate.`);
          return appups;
        }
        for (const a of appups) {
          const uri = vscode.Uri.file(a.path);
          if (await vscode.workspace.fs.stat(uri).then(() => true, () => false)) {
            const pick = await vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(uri)} already exists.`, { modal: true }, 'Overwrite', 'Open Generated Version');
            if (pick === 'Open Generated Version') await openText(ctx, `${a.app}.appup (generated)`, a.text, 'erlang');
            if (pick !== 'Overwrite') continue;
          }
          await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(a.text));
          await vscode.window.showTextDocument(uri, { preview: false });
        }
        return appups;
      }),
  },
  'beamLive.applyConfig': {
    needsNode: true,
    // The project's configuration set on the node with config_change/3 called, as a release does.
    run: (ctx) => () =>
      shown(async () => {
        const r = await ctx.request(ApplyConfigRequest.type, { apply: true });
        ctx.upgrades.addConfig(r);
        return told(r);
      }),
  },
  'beamLive.rehearse': {
    // The real release upgrade on a throw-away node: no attached node needed. Arguments (old and
    // new release folders) are for scripts; the palette asks for both folders.
    run: (ctx) => (from?: unknown, to?: unknown) =>
      shown(async () => {
        const older = typeof from === 'string' ? from : await pickFolder('The OLD release folder (built by mix release or rebar3 release)');
        const newer = older && (typeof to === 'string' ? to : await pickFolder('The NEW release folder'));
        if (!older || !newer) return undefined;
        const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'BEAM Live: rehearsing the release upgrade…' }, () =>
          ctx.request(RehearseRequest.type, { from: older, to: newer }),
        );
        ctx.upgrades.addRehearsal(r);
        void vscode.commands.executeCommand('beamLive.upgrades.focus');
        return told(r);
      }),
  },
  'beamLive.setCookie': {
    // Arguments (node, cookie) are for scripts and tests; the palette asks, the cookie hidden.
    run: (ctx) => async (node?: unknown, cookie?: unknown) => {
      const name = typeof node === 'string' ? node : await askNode('Set Cookie for Node');
      if (!name) return;
      const value =
        typeof cookie === 'string'
          ? cookie
          : await vscode.window.showInputBox({ title: `Cookie for ${name}`, prompt: "Kept in VS Code's secret storage and used when attaching to this node", password: true, ignoreFocusOut: true });
      if (!value?.trim()) return;
      await ctx.cookies.set(name, value.trim());
      void vscode.window.setStatusBarMessage(`BEAM Live: cookie for ${name} stored`, 3000);
    },
  },
  'beamLive.forgetCookie': {
    run: (ctx) => async (node?: unknown) => {
      const name = typeof node === 'string' ? node : await askNode('Forget Stored Cookie');
      if (!name) return;
      await ctx.cookies.forget(name);
      void vscode.window.setStatusBarMessage(`BEAM Live: stored cookie for ${name} forgotten`, 3000);
    },
  },
  'beamLive.toggleUpgradeOnSave': {
    // A mode as argument sets it (scripts, tests); the palette shows the modes, the current one marked.
    run: () => async (mode?: unknown) => {
      const MODES = { always: 'every save upgrades the node', manual: 'explicit saves only (not auto-save)', never: 'saves only compile and check' } as const;
      const current = config.upgradeOnSave();
      let next = typeof mode === 'string' && mode in MODES ? (mode as keyof typeof MODES) : undefined;
      if (!next) {
        const pick = await vscode.window.showQuickPick(
          (Object.keys(MODES) as Array<keyof typeof MODES>).map((m) => ({ label: m, description: `${MODES[m]}${m === current ? ' (current)' : ''}`, picked: m === current })),
          { title: `Upgrade on Save: ${current}`, placeHolder: `Now ${current}: ${MODES[current]}` },
        );
        next = pick?.label as keyof typeof MODES | undefined;
      }
      if (!next) return current;
      await config.setUpgradeOnSave(next);
      void vscode.window.setStatusBarMessage(`BEAM Live: upgrade on save ${next}`, 3000);
      return next;
    },
  },
  'beamLive.restartServer': {
    run: (ctx) => () =>
      shown(async () => {
        await ctx.restart();
        void vscode.window.setStatusBarMessage('BEAM Live: language server restarted', 3000);
      }),
  },
  'beamLive.statusMenu': {
    // The status item's click: the actions that apply now, as VS Code's own items do.
    run: (ctx) => async () => {
      const attached = ctx.status.attached;
      const items: Array<vscode.QuickPickItem & { command: string }> = attached
        ? [
            { label: '$(cloud-upload) Upgrade Now', command: 'beamLive.upgradeNow' },
            { label: '$(list-tree) Show Upgrade Plan', command: 'beamLive.showPlan' },
            { label: '$(discard) Roll Back Last Upgrade', command: 'beamLive.rollback' },
            { label: '$(symbol-variable) Inspect Process State…', command: 'beamLive.inspectState' },
            { label: `$(save) Upgrade on Save: ${config.upgradeOnSave()}…`, command: 'beamLive.toggleUpgradeOnSave' },
            { label: '$(debug-disconnect) Detach', command: 'beamLive.detach', description: ctx.status.node ?? '' },
            { label: '$(output) Show Log', command: 'beamLive.showLog' },
          ]
        : [
            { label: '$(plug) Attach to Node…', command: 'beamLive.attach' },
            { label: '$(play) Launch and Attach…', command: 'beamLive.launch' },
            { label: `$(save) Upgrade on Save: ${config.upgradeOnSave()}…`, command: 'beamLive.toggleUpgradeOnSave' },
            { label: '$(output) Show Log', command: 'beamLive.showLog' },
          ];
      const pick = await vscode.window.showQuickPick(items, { title: attached ? `BEAM Live: ${ctx.status.node}` : 'BEAM Live: not attached' });
      if (pick) await vscode.commands.executeCommand(pick.command);
    },
  },
  'beamLive.inspectState': {
    needsNode: true,
    run: (ctx) => async (arg?: unknown) => {
      let process: string | undefined;
      let label: string | undefined;
      let node: string | undefined;
      if (typeof arg === 'string') process = arg;
      else if (arg && typeof arg === 'object' && (arg as LiveNode).kind === 'process') {
        const el = arg as Extract<LiveNode, { kind: 'process' }>;
        process = el.item.pid ?? el.item.name ?? undefined;
        label = processName(el.item);
        node = el.on;
      } else {
        process = await vscode.window.showInputBox({ title: 'Inspect Process State', prompt: 'A registered name (MyApp.Counter) or a pid (<0.123.0>)' });
      }
      if (!process) return;
      const elixir = (await vscode.workspace.findFiles('mix.exs', undefined, 1)).length > 0;
      const uri = StateDocuments.uri(process, elixir ? 'elixir' : 'erlang', label ?? processName({ pid: null, name: process }), node);
      // Opened again, the same document would show the earlier read: read it afresh.
      const open = vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString());
      const doc = await vscode.workspace.openTextDocument(uri);
      if (open) ctx.states.refresh(uri);
      await vscode.languages.setTextDocumentLanguage(doc, elixir ? 'elixir' : 'erlang').then(undefined, () => undefined);
      await vscode.window.showTextDocument(doc, { preview: true });
      void ctx;
      return doc;
    },
  },
  'beamLive.refresh': {
    run: (ctx) => () => {
      ctx.live.refresh();
      ctx.modules.refresh();
      const active = vscode.window.activeTextEditor?.document.uri;
      if (active?.scheme === STATE_SCHEME) ctx.states.refresh(active);
    },
  },
  'beamLive.getStarted': {
    // The walkthrough, from the palette as well as from the Welcome page.
    run: () => () => vscode.commands.executeCommand('workbench.action.openWalkthrough', 'beam-live.beam-live#gettingStarted', false),
  },
  'beamLive.showLog': {
    run: (ctx) => () => ctx.output.show(true),
  },
  'beamLive.loadMore': {
    needsNode: true,
    run: (ctx) => (more?: unknown) => more && ctx.live.loadMore(more as Extract<LiveNode, { kind: 'more' }>),
  },
};

export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, c]) => {
    const handler = c.run(ctx);
    return vscode.commands.registerCommand(id, (...args: unknown[]) => {
      if (c.needsNode && !ctx.status.attached) return notAttached();
      return handler(...args);
    });
  });
}
