// The old binaries (docs/otp-rules.md): before a compile overwrites a beam the node runs, its
// bytes are kept here, keyed by MD5, so that a rollback can load them back. On disk, so that a
// `plan` in one process and an `upgrade` in the next share them; in memory when the disk
// refuses (full, read-only), so that this process can still roll back.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../runtime/erlangBuild';

export class BinaryStore {
  private readonly unsaved = new Map<string, Buffer>();

  constructor(
    readonly dir = join(cacheDir(), 'binaries'),
    private readonly maxFiles = 2000,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      // put() keeps what it cannot write in memory.
    }
  }

  has(md5: string): boolean {
    return this.unsaved.has(md5) || existsSync(this.path(md5));
  }

  get(md5: string): Buffer | undefined {
    const kept = this.unsaved.get(md5);
    if (kept) return kept;
    try {
      return readFileSync(this.path(md5));
    } catch {
      return undefined;
    }
  }

  put(md5: string, binary: Buffer): void {
    if (this.has(md5)) return;
    // The key must be the content's: a beam whose MD5 we misread is not kept under another's name.
    if (!/^[0-9a-f]{32}$/.test(md5)) return;
    const tmp = `${this.path(md5)}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, binary);
      renameSync(tmp, this.path(md5));
    } catch {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing was written
      }
      this.unsaved.set(md5, Buffer.from(binary));
      return;
    }
    this.trim();
  }

  private path(md5: string): string {
    return join(this.dir, `${md5}.beam`);
  }

  /** Oldest first out, so a long session does not fill the disk. */
  private trim(): void {
    const files = readdirSync(this.dir).filter((f) => f.endsWith('.beam'));
    if (files.length <= this.maxFiles) return;
    const byAge = files.map((f) => ({ f, t: statSync(join(this.dir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { f } of byAge.slice(0, files.length - this.maxFiles)) {
      try {
        unlinkSync(join(this.dir, f));
      } catch {
        // Another process trimmed it first.
      }
    }
  }
}

