// The README's pictures, made by the UI walk-through: the chosen steps' screenshots copied to
// media/screenshots/ (committed; `npm run screenshots` makes them anew), and the save →
// upgraded sequence assembled into an animated GIF with ImageMagick where it is installed.
// Checked for presence and size, not pixels.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './codeServer.mjs';

const SHOTS = join(ROOT, 'test-results', 'ui');
const OUT = join(ROOT, 'media', 'screenshots');

/** README picture ← the walk-through step whose screenshot it is (by the step file's name). */
export const PICTURES = {
  'live-tree.png': 'expand-the-supervision-tree',
  'upgrades.png': 'open-the-upgrades-entry',
  'pitfall-lens.png': 'held-notification',
  'held-save.png': 'a-risky-save-is-held',
  'walkthrough.png': 'walkthrough-lists',
};
const SEQUENCE = ['expand-the-supervision-tree', 'edit-and-save-the-genserver', 'open-the-upgrades-entry'];

const shot = (part) => readdirSync(SHOTS).find((f) => f.includes(part) && f.endsWith('.png'));

/** Copies and checks; returns the failures (an empty list when every picture is there and sane). */
export function publishScreenshots() {
  const failures = [];
  mkdirSync(OUT, { recursive: true });
  for (const [name, part] of Object.entries(PICTURES)) {
    const from = existsSync(SHOTS) ? shot(part) : undefined;
    if (!from) {
      failures.push(`no screenshot for ${name} (a step with "${part}")`);
      continue;
    }
    copyFileSync(join(SHOTS, from), join(OUT, name));
    const size = statSync(join(OUT, name)).size;
    if (size < 20_000 || size > 1_500_000) failures.push(`${name} is ${size} bytes: not a screenshot of the window`);
  }
  const convert = spawnSync('convert', ['-version'], { stdio: 'ignore' }).status === 0;
  const frames = SEQUENCE.map((p) => (existsSync(SHOTS) ? shot(p) : undefined));
  if (convert && frames.every(Boolean)) {
    const gif = join(OUT, 'save-to-upgraded.gif');
    const r = spawnSync('convert', ['-delay', '180', '-loop', '0', ...frames.map((f) => join(SHOTS, f)), '-resize', '900x', '-layers', 'Optimize', gif], { stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(gif) || statSync(gif).size < 20_000) failures.push('the save → upgraded GIF was not made');
  } else if (!convert) {
    console.log('screenshots: ImageMagick (convert) is not installed: the GIF is left as it was');
  }
  return failures;
}
