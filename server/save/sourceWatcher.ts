// Hears saves of a project's upgrade sources from a terminal (beam-live watch).
// Node 20's recursive fs.watch on Linux puts a watch on every file and folder of the tree,
// _build and deps included, and re-lists folders as the compile writes into them. One inotify
// watch per source folder, set up before the constructor returns, hears each save at once;
// folders made later are watched as they appear.
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { isUpgradeSource } from '../compile/project';

// Build output and dependencies are written by the compile itself, never saved by the developer.
const SKIP = new Set(['_build', 'deps', 'ebin', 'node_modules', 'cover', 'doc']);

const skipped = (name: string) => SKIP.has(name) || name.startsWith('.');

export class SourceWatcher {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly root: string,
    private readonly onSave: (relPath: string) => void,
  ) {
    this.add('');
  }

  /** Folders watched, relative to the project ('' is the project itself). */
  folders(): string[] {
    return [...this.watchers.keys()].sort();
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private add(rel: string): void {
    if (this.watchers.has(rel)) return;
    const abs = join(this.root, rel);
    let w: FSWatcher;
    try {
      w = watch(abs, (_event, name) => name && this.heard(rel, name.toString()));
    } catch {
      return; // gone between the listing and the watch
    }
    w.on('error', () => this.drop(rel));
    this.watchers.set(rel, w);
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !skipped(e.name)) this.add(rel ? `${rel}/${e.name}` : e.name);
  }

  private drop(rel: string): void {
    for (const [k, w] of this.watchers) {
      if (k === rel || k.startsWith(`${rel}/`)) {
        w.close();
        this.watchers.delete(k);
      }
    }
  }

  private heard(dir: string, name: string): void {
    const rel = dir ? `${dir}/${name}` : name;
    if (isUpgradeSource(rel)) return this.onSave(rel);
    if (skipped(name)) return;
    let isDir = false;
    try {
      isDir = statSync(join(this.root, rel)).isDirectory();
    } catch {
      // removed: forget its watches
    }
    if (isDir) this.add(rel);
    else if (this.watchers.has(rel)) this.drop(rel);
  }
}
