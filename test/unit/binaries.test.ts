import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryStore } from '../../server/upgrade/binaries';

const MD5 = '0123456789abcdef0123456789abcdef';

test('old binaries are kept on disk and shared between stores', () => {
  const dir = mkdtempSync(join(tmpdir(), 'beam-live-bin-'));
  try {
    new BinaryStore(dir).put(MD5, Buffer.from('old code'));
    assert.equal(new BinaryStore(dir).get(MD5)?.toString(), 'old code');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a disk that refuses the write (full, read-only, not a folder) still leaves the binary for this process to roll back with', () => {
  const root = mkdtempSync(join(tmpdir(), 'beam-live-bin-'));
  const dir = join(root, 'binaries');
  try {
    const store = new BinaryStore(dir);
    // As root no permission stops a write; a file where the folder should be does.
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a folder');
    store.put(MD5, Buffer.from('old code'));
    assert.equal(store.has(MD5), true);
    assert.equal(store.get(MD5)?.toString(), 'old code');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
