// The UI walk-through: the packaged .vsix in code-server, driven through its real UI by
// Chromium, a screenshot at each step under test-results/ — what a user sees.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, codeServerEnv, installVsix, launchBrowser, makeRunDir, startCodeServer } from './codeServer.mjs';

const SHOTS = join(ROOT, 'test-results', 'ui');

export async function walkThrough({ dir, node, env }) {
  mkdirSync(SHOTS, { recursive: true });
  const pkg = spawnSync('npm', ['run', 'package', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (pkg.status !== 0) throw new Error('npm run package failed');
  const dirs = makeRunDir('ui');
  const csEnv = codeServerEnv(dirs, { ...pickErlEnv(env), HOME: env.HOME });
  await installVsix(dirs, join(ROOT, 'beam-live.vsix'), csEnv);
  const server = await startCodeServer(dirs, dir, csEnv);
  const browser = await launchBrowser(dirs);
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const page = browser.pages()[0] ?? (await browser.newPage());
  // What the workbench itself reports (a provider's failure shows only in its console).
  page.on('console', (m) => m.type() === 'error' && /beam|lens|codeLens/i.test(m.text()) && console.error(`ui: browser console: ${m.text().slice(0, 500)}`));
  let passed = 0;
  let failed = 0;
  let n = 0;
  const step = async (name, fn) => {
    n++;
    try {
      await fn();
      passed++;
      console.log(`ui: ok ${n} ${name}`);
    } catch (e) {
      failed++;
      console.error(`ui: FAILED ${n} ${name}: ${e.message}`);
    } finally {
      await page.screenshot({ path: join(SHOTS, `${String(n).padStart(2, '0')}-${name.replace(/\W+/g, '-').toLowerCase()}.png`) }).catch(() => undefined);
    }
  };
  const palette = async (command) => {
    // A key press can land while a webview-like page (the walkthrough) holds the focus and be
    // lost: press again, as a user would, up to three times.
    for (let i = 0; ; i++) {
      await page.keyboard.press('F1');
      const open = await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 5_000 }).then(() => true, () => false);
      if (open) break;
      if (i === 2) throw new Error(`the command palette did not open for ${command}`);
      await page.keyboard.press('Escape');
      await page.locator('.part.titlebar').first().click().catch(() => undefined);
    }
    await page.keyboard.type(`>${command}`, { delay: 5 });
    await page.waitForTimeout(400);
    await page.keyboard.press('Enter');
  };
  const sideRows = () => page.locator('.part.sidebar .monaco-list-row');
  /** Back to counter.ex's tab, with the focus in its text. */
  const focusCounter = async () => {
    await page.locator('.tabs-container .tab', { hasText: 'counter.ex' }).first().click();
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  };
  /** Replaces the active editor's text through the clipboard, as a user pastes, and saves. */
  const pasteAndSave = async (text) => {
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Control+V');
    await page.waitForTimeout(300);
    await page.keyboard.press('Control+S');
  };
  const waitText = (sel, text, timeout = 30_000) => page.locator(sel, { hasText: text }).first().waitFor({ timeout });

  const original = readFileSync(join(dir, 'lib', 'sample_app', 'counter.ex'), 'utf8');
  try {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(dir)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.waitForTimeout(2000);

    await step('open the BEAM Live container', async () => {
      // The walkthrough first, as a new user meets it: VS Code records its steps' events from
      // the moment the walkthrough (or the Welcome page) was first shown in the window.
      await palette('BEAM Live: Get Started');
      await waitText('.part.editor', 'Launch or attach to a node', 20_000);
      // Closed by its tab's close button, and gone: left open, it takes the focus back from the
      // quick pick of the next step, which then hides without a pick.
      const tab = page.locator('.tabs-container .tab', { hasText: 'Walkthrough' }).first();
      await tab.hover();
      await tab.locator('.tab-actions .action-label').first().click();
      await tab.waitFor({ state: 'detached', timeout: 10_000 });
      await page.locator('.part.activitybar [aria-label^="BEAM Live"]').first().click();
      await waitText('.part.sidebar', 'Not attached to a node');
    });

    await step('attach from the command palette: the picker lists the node with its real host part', async () => {
      // A quick pick hides when something else takes the focus, and its command then does
      // nothing (as for a user, who opens it again): up to three tries.
      for (let i = 0; ; i++) {
        await palette('BEAM Live: Attach to Node');
        // Started with --sname and no host: epmd knows the bare name, the picker the full one.
        await waitText('.quick-input-widget .monaco-list-row', node, 15_000);
        await page.keyboard.type(node.split('@')[0], { delay: 5 });
        await page.waitForTimeout(300);
        const stillOpen = await page.locator('.quick-input-widget .monaco-list-row', { hasText: node }).first().isVisible();
        if (stillOpen) await page.keyboard.press('Enter');
        const attached = stillOpen && (await waitText('.part.sidebar .monaco-list-row', node, 20_000).then(() => true, () => false));
        if (attached) break;
        if (i === 2) throw new Error(`the Live view never showed ${node} after three picks`);
        await page.keyboard.press('Escape');
      }
      await waitText('.part.statusbar', `BEAM: ${node}`);
    });

    await step('expand the supervision tree', async () => {
      // Give the Live view the room: fold the Modules view.
      const modules = page.locator('.part.sidebar .pane-header', { hasText: 'Modules' }).first();
      if ((await modules.getAttribute('aria-expanded')) === 'true') await modules.click();
      await sideRows().filter({ hasText: 'sample_app' }).first().click();
      await waitText('.part.sidebar .monaco-list-row', 'SampleApp.Supervisor');
      await sideRows().filter({ hasText: 'SampleApp.Supervisor' }).first().click();
      await waitText('.part.sidebar .monaco-list-row', 'SampleApp.Counter');
      // The group is the node's last child, below every application: reach it as a user
      // would with the keyboard (End), and expand it (Right).
      await page.keyboard.press('End');
      await waitText('.part.sidebar .monaco-list-row.focused', 'Outside supervision trees');
      await page.keyboard.press('ArrowRight');
      await page.waitForTimeout(800);
      await page.keyboard.press('End'); // down to its children, scrolling the view
      await waitText('.part.sidebar .monaco-list-row', 'SampleApp.Hidden');
    });

    await step('edit and save the GenServer: the node upgrades', async () => {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input');
      await page.keyboard.type('counter.ex', { delay: 5 });
      await page.waitForTimeout(600);
      await page.keyboard.press('Enter');
      await page.waitForSelector('.editor-instance .monaco-editor', { timeout: 15_000 });
      await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
      const source = readFileSync(join(dir, 'lib', 'sample_app', 'counter.ex'), 'utf8')
        .replace('@vsn "1"', '@vsn "2"')
        .replace('defstruct count: 0', 'defstruct count: 0, upgraded_from: nil')
        .replace('  @impl true\n  def init', '  @impl true\n  def code_change(old_vsn, state, _extra), do: {:ok, Map.put(state, :upgraded_from, old_vsn)}\n\n  @impl true\n  def init');
      await pasteAndSave(source);
      await waitText('.part.statusbar', 'Upgraded 1 module', 60_000);
    });

    await step('open the Upgrades entry', async () => {
      const header = page.locator('.part.sidebar .pane-header', { hasText: 'Upgrades' }).first();
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      await waitText('.part.sidebar .monaco-list-row', 'Upgraded 1 module');
      await sideRows().filter({ hasText: 'Upgraded 1 module' }).first().click();
      await waitText('.part.sidebar .monaco-list-row', 'code_change: ok');
    });

    await step('the code lens above defmodule follows the node', async () => {
      // Back in the editor, as a user reads it: VS Code cancels a lens request while the editor
      // has no focus (the Upgrades view had it) and asks again when it gets it.
      await focusCounter();
      await waitText('.editor-instance .monaco-editor .codelens-decoration', 'running vsn "2" · saved vsn "2"', 30_000);
    });

    await step('inspect the state from the palette', async () => {
      await palette('BEAM Live: Inspect Process State');
      await page.waitForTimeout(800);
      await page.keyboard.type('SampleApp.Counter', { delay: 5 });
      await page.keyboard.press('Enter');
      await waitText('.tabs-container .tab.active', 'SampleApp.Counter', 20_000);
      await waitText('.editor-instance .view-lines', '%SampleApp.Counter{', 20_000);
      await waitText('.editor-instance .view-lines', 'upgraded_from: "1"', 20_000);
    });

    await step('roll back: an entry in Upgrades says what it did, and a note points at the file', async () => {
      await palette('BEAM Live: Roll Back Last Upgrade');
      await waitText('.part.sidebar .monaco-list-row', 'Rolled back 1 module', 60_000);
      await waitText('.notifications-toasts', 'still holds the new code', 20_000);
      await waitText('.part.statusbar', 'Rolled back', 20_000);
    });

    await step('a failed upgrade on save: a notification, an error where it raised, the error colour', async () => {
      await focusCounter();
      const source = readFileSync(join(dir, 'lib', 'sample_app', 'counter.ex'), 'utf8')
        .replace('@vsn "2"', '@vsn "3"')
        .replace(/def code_change\(old_vsn, state, _extra\), do: .*\n/, 'def code_change(_old_vsn, _state, _extra) do\n    raise "migration bug"\n  end\n');
      await pasteAndSave(source);
      await waitText('.notifications-toasts', 'migration bug', 60_000);
      await waitText('.part.statusbar', 'Upgrade failed', 20_000);
      await page.keyboard.press('Control+Shift+M');
      await waitText('.part.panel', 'migration bug', 20_000);
    });

    await step('a risky save is held: the notification offers Upgrade Anyway, the finding is in Problems', async () => {
      await page.keyboard.press('Escape');
      await focusCounter();
      // The node runs vsn "1": a new struct field without a vsn bump changes the state's shape.
      const source = original.replace('defstruct count: 0', 'defstruct count: 0, step: 1');
      await pasteAndSave(source);
      await waitText('.notifications-toasts', 'Held, nothing pushed', 60_000);
      await waitText('.part.panel', 'vsn-not-bumped', 20_000);
      await page.screenshot({ path: join(SHOTS, `${String(n).padStart(2, '0')}-held-notification.png`) });
      await page.locator('.notifications-toasts .monaco-button', { hasText: 'Upgrade Anyway' }).first().click();
      await waitText('.part.statusbar', 'Upgraded 1 module', 60_000);
      await waitText('.part.panel', 'without :step', 30_000);
    });

    await step("the status item's quick pick offers what applies now", async () => {
      await page.locator('.part.statusbar [aria-label^="BEAM Live:"]').first().click();
      await waitText('.quick-input-widget .monaco-list-row', 'Upgrade Now', 15_000);
      await waitText('.quick-input-widget .monaco-list-row', 'Roll Back Last Upgrade');
      await page.waitForTimeout(300);
    });
    await page.keyboard.press('Escape');

    await step('the Get started walkthrough lists its four steps', async () => {
      await palette('BEAM Live: Get Started');
      for (const title of ['Open an Elixir or Erlang project', 'Launch or attach to a node', 'Save a module and watch the Upgrades view', 'Read a pitfall']) {
        await waitText('.part.editor', title, 20_000);
      }
      // What the walk-through did since ticked the steps off: attached, a save upgraded, Problems opened.
      for (const id of ['attach', 'save', 'pitfall']) {
        const ticked = page.locator(`button.getting-started-step[data-step-id$="#${id}"][aria-checked="true"]`).first();
        await ticked.waitFor({ timeout: 10_000 }).catch(async () => {
          const seen = await page.$$eval('button.getting-started-step', (bs) => bs.map((b) => `${b.getAttribute('data-step-id')}=${b.getAttribute('aria-checked')}`));
          throw new Error(`the ${id} step is not ticked: ${seen.join(', ')}`);
        });
      }
    });
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
  }
  return { passed, failed };
}

function pickErlEnv(env) {
  const out = {};
  for (const k of ['ERL_EPMD_ADDRESS', 'ERL_AFLAGS', 'ERL_CRASH_DUMP_SECONDS', 'MIX_ENV', 'BEAM_LIVE_CACHE']) if (env[k]) out[k] = env[k];
  return out;
}
