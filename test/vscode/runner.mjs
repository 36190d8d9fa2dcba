#!/usr/bin/env node
// The "VS Code executable" that @vscode/test-electron runs here: it takes the desktop flags
// (--extensionDevelopmentPath=…, --extensionTestsPath=…, the folder; the rest is ignored),
// runs the same tests in code-server through headless Chromium, and exits with their code.
import { resolve } from 'node:path';
import { format } from 'node:util';
import { codeServerEnv, launchBrowser, makeRunDir, startCodeServer } from './codeServer.mjs';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].slice(name.length + 1) : args[i + 1];
};
const devPath = resolve(flag('--extensionDevelopmentPath'));
const testsPath = resolve(flag('--extensionTestsPath'));
const folder = resolve(args.filter((a) => !a.startsWith('-') && a !== flag('--extensionDevelopmentPath') && a !== flag('--extensionTestsPath')).pop());

const dirs = makeRunDir('itest');
const env = codeServerEnv(dirs, { HOME: process.env.BEAM_LIVE_TEST_HOME ?? dirs.home });
const server = await startCodeServer(dirs, folder, env);
const browser = await launchBrowser(dirs);
let exitCode = 1;
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const done = new Promise((res) => {
    page.exposeFunction('codeAutomationExit', (code) => res(code)).catch(() => undefined);
  });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    console.log(format(...(args ?? [])));
  });
  const remote = (p) => `vscode-remote://remote${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(devPath)],
    ['extensionTestsPath', remote(testsPath)],
  ]);
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`);
  const timeout = new Promise((res) => setTimeout(() => res('timeout'), 15 * 60_000));
  const r = await Promise.race([done, timeout]);
  if (r === 'timeout') console.error('the integration tests did not finish in 15 min');
  else exitCode = Number(r);
} finally {
  await browser.close().catch(() => undefined);
  await server.stop();
}
process.exit(exitCode);
