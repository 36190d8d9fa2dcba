// Ready to publish: what `vsce` packs is only what the extension needs, the .vsix stays under
// 1 MB, the marketplace fields are there, the walkthrough's steps each have their page and a
// completion event, and CHANGELOG follows Keep a Changelog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, tmp } from '../helpers';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const vsce = join(ROOT, 'node_modules', '.bin', 'vsce');

/** Each file the .vsix may hold; anything else is a leak (sources, tests, screenshots, caches). */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^CHANGELOG\.md$/,
  /^LICENSE$/,
  /^media\/icon\.png$/,
  /^media\/walkthrough\/[a-z]+\.md$/,
  /^bin\/beam-live$/,
  /^dist\/(extension|server|cli)\.js$/,
  /^dist\/erlang\/beam_live(_[a-z]+)?\.(erl|hrl)$/,
  /^dist\/elixir\/beam_live_mix\.exs$/,
];
const REQUIRED = ['package.json', 'README.md', 'dist/extension.js', 'dist/server.js', 'dist/cli.js', 'bin/beam-live', 'media/icon.png', 'dist/erlang/beam_live_agent.erl', 'dist/elixir/beam_live_mix.exs'];

test('vsce ls lists only what the extension needs, and all of it; the .vsix is at most 1 MB', { timeout: 180_000 }, async () => {
  const ls = await run(vsce, ['ls', '--no-dependencies'], { cwd: ROOT });
  assert.equal(ls.code, 0, ls.stderr);
  const files = ls.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  assert.deepEqual(files.filter((f) => !ALLOWED.some((r) => r.test(f))), [], 'files that should not be packed');
  for (const f of REQUIRED) assert.ok(files.includes(f), `${f} is not packed`);
  for (const step of pkg.contributes.walkthroughs[0].steps) assert.ok(files.includes(step.media.markdown), `${step.media.markdown} is not packed`);

  const out = join(tmp('vsix'), 'beam-live.vsix');
  const p = await run(vsce, ['package', '--no-dependencies', '-o', out], { cwd: ROOT, timeoutMs: 170_000 });
  assert.equal(p.code, 0, p.stderr + p.stdout);
  assert.ok(statSync(out).size <= 1024 * 1024, `the .vsix is ${statSync(out).size} bytes`);
});

test('the marketplace fields: repository, bugs, homepage, banner, no Q&A, keywords', () => {
  assert.match(pkg.repository?.url ?? '', /^https:\/\//);
  assert.match(pkg.bugs?.url ?? '', /^https:\/\//);
  assert.match(pkg.homepage ?? '', /^https:\/\//);
  assert.ok(pkg.galleryBanner?.color && pkg.galleryBanner?.theme);
  assert.equal(pkg.qna, false);
  assert.ok(pkg.keywords.length >= 5 && pkg.keywords.length <= 30, 'the marketplace takes up to 30 keywords');
});

test('the walkthrough: open a project, launch or attach, save and watch, read a pitfall; each with its page and a completion event', () => {
  const [w] = pkg.contributes.walkthroughs;
  assert.deepEqual(w.steps.map((s: { id: string }) => s.id), ['open', 'attach', 'save', 'pitfall']);
  for (const s of w.steps) {
    assert.ok(s.completionEvents?.length, `${s.id} has no completion event`);
    assert.ok(existsSync(join(ROOT, s.media.markdown)), `${s.media.markdown} is missing`);
  }
  // The debug configuration snippet the attach step shows is the one the debugger contributes.
  assert.match(readFileSync(join(ROOT, w.steps[1].media.markdown), 'utf8'), /"type": "beam-live"/);
});

test('CHANGELOG follows Keep a Changelog', () => {
  const log = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
  assert.match(log, /^# Changelog\n/);
  assert.match(log, /\[Keep a Changelog\]\(https:\/\/keepachangelog\.com\/en\/1\.1\.0\/\)/);
  assert.match(log, /^## \[Unreleased\]$/m);
  const kinds = [...log.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
  assert.ok(kinds.length > 0);
  for (const k of kinds) assert.ok(['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'].includes(k!), `### ${k} is not a Keep a Changelog section`);
});
