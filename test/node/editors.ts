// What the Neovim and Emacs tests share: a real node of the sample app, the two texts the editor
// saves into its Counter (the tests' vsn "2" Counter, then one with a compile error), the text
// it saves into the Looper (whose process stays in old code), the editor run headless on them,
// and the JSON its driver wrote.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunResult, startNode, TestNode, tmp } from '../helpers';
import { COUNTER_V2 } from './sources';

export interface EditorRun {
  node: TestNode;
  /** The texts to save, and where the driver writes what it saw. */
  v2: string;
  broken: string;
  /** The Looper's file in the project, and the changed text to save into it. */
  looperFile: string;
  looper: string;
  outFile: string;
}

export async function driveEditor<T>(name: string, runEditor: (r: EditorRun) => Promise<RunResult>, check: (out: T, node: TestNode) => Promise<void>): Promise<void> {
  const node = await startNode({ name });
  try {
    const work = tmp(name);
    const looperFile = join(node.dir, 'lib', 'sample_app', 'looper.ex');
    const r: EditorRun = { node, v2: join(work, 'v2.ex'), broken: join(work, 'broken.ex'), looperFile, looper: join(work, 'looper.ex'), outFile: join(work, 'out.json') };
    writeFileSync(r.v2, COUNTER_V2);
    writeFileSync(r.looper, readFileSync(looperFile, 'utf8').replace('send(from, {:pong, n})', 'send(from, {:pong, n * 10})'));
    writeFileSync(r.broken, COUNTER_V2.replace('def value, do: GenServer.call(__MODULE__, :value)', 'def value, do: missing_fun()'));
    const done = await runEditor(r);
    let out: T;
    try {
      out = JSON.parse(readFileSync(r.outFile, 'utf8')) as T;
    } catch {
      throw new Error(`${name} wrote no result (exit ${done.code}): ${done.stderr}${done.stdout}`);
    }
    await check(out, node);
  } finally {
    await node.stop();
  }
}
