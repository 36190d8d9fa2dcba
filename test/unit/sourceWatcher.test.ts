import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceWatcher } from '../../server/save/sourceWatcher';

// Waits for inotify's answer, not a fixed time: the test asserts what was heard, never how fast.
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('the watcher hears saves in every source folder, new folders included, and never the build output', async () => {
  const root = mkdtempSync(join(tmpdir(), 'beam-live-watch-'));
  mkdirSync(join(root, 'lib/app'), { recursive: true });
  mkdirSync(join(root, '_build/dev/lib/app/ebin'), { recursive: true });
  mkdirSync(join(root, 'deps/dep/lib'), { recursive: true });
  const heard: string[] = [];
  const w = new SourceWatcher(root, (rel) => heard.push(rel));
  try {
    assert.deepEqual(w.folders(), ['', 'lib', 'lib/app']);
    // Saved right after the constructor returns: nothing may be missed.
    writeFileSync(join(root, 'lib/app/counter.ex'), 'defmodule A do end');
    writeFileSync(join(root, 'deps/dep/lib/dep.ex'), 'defmodule D do end');
    writeFileSync(join(root, '_build/dev/lib/app/ebin/x.ex'), '');
    writeFileSync(join(root, 'lib/app/notes.txt'), '');
    await until(() => heard.includes('lib/app/counter.ex'));
    assert.deepEqual([...new Set(heard)], ['lib/app/counter.ex']);

    mkdirSync(join(root, 'src'));
    await until(() => w.folders().includes('src'));
    writeFileSync(join(root, 'src/mod.erl'), '-module(mod).');
    await until(() => heard.includes('src/mod.erl'));
    assert.ok(heard.includes('src/mod.erl'), `heard: ${heard.join(' ')}`);

    rmSync(join(root, 'lib/app'), { recursive: true });
    await until(() => !w.folders().includes('lib/app'));
    assert.deepEqual(w.folders(), ['', 'lib', 'src']);
  } finally {
    w.close();
    rmSync(root, { recursive: true, force: true });
  }
});
