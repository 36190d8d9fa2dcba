// Two real `mix release`s of the sample app, 0.1.0 and 0.2.0, where Counter's code (and its
// @vsn) changed: the relup and rehearse tests' starting point.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, loopbackEnv, run, tmp } from '../helpers';

async function release(dir: string, into: string): Promise<void> {
  const r = await run('mix', ['release', '--overwrite', '--quiet'], { cwd: dir, env: loopbackEnv({ MIX_ENV: 'prod' }) });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  cpSync(join(dir, '_build/prod/rel/sample_app'), into, { recursive: true });
}

/**
 * `broken`: the new Counter's code_change has a clause for vsn "5" only, not for the running "1".
 * `wide`: more kinds change too: the gen_statem, the DynamicSupervisor's workers, the process
 * outside the tree, a comment only, a module added and one removed.
 */
export async function twoReleases(prefix: string, o: { broken?: boolean; wide?: boolean } = {}): Promise<{ root: string; v1: string; v2: string }> {
  const root = tmp(prefix);
  const dir = join(root, 'sample_app');
  cpSync(join(FIXTURES, 'sample_app'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  if (o.wide) writeFileSync(join(dir, 'lib/sample_app/legacy.ex'), 'defmodule SampleApp.Legacy do\n  def old, do: :old\nend\n');
  await release(dir, join(root, 'v1'));
  if (o.wide) {
    const touch = (rel: string, f: (s: string) => string) => writeFileSync(join(dir, rel), f(readFileSync(join(dir, rel), 'utf8')));
    const addFn = (src: string) => src.replace(/\nend\s*$/, '\n  def release, do: 2\nend\n');
    touch('lib/sample_app/machine.ex', (src) => addFn(src.replace('@vsn "1"', '@vsn "2"')));
    touch('lib/sample_app/worker.ex', addFn);
    touch('lib/sample_app/looper.ex', addFn);
    touch('lib/sample_app/store.ex', (src) => `# a comment only\n${src}`);
    writeFileSync(join(dir, 'lib/sample_app/added.ex'), 'defmodule SampleApp.Added do\n  def new, do: :new\nend\n');
    rmSync(join(dir, 'lib/sample_app/legacy.ex'));
  }
  const counter = join(dir, 'lib/sample_app/counter.ex');
  // @vsn alone is not part of the MD5: the code changes too.
  const extra = o.broken ? '\n  @impl true\n  def code_change("5", state, _extra), do: {:ok, state}' : '';
  writeFileSync(counter, readFileSync(counter, 'utf8').replace('@vsn "1"', '@vsn "2"').replace(/\nend\s*$/, `\n  def release, do: 2${extra}\nend\n`));
  writeFileSync(join(dir, 'mix.exs'), readFileSync(join(dir, 'mix.exs'), 'utf8').replace('version: "0.1.0"', 'version: "0.2.0"'));
  await release(dir, join(root, 'v2'));
  return { root, v1: join(root, 'v1'), v2: join(root, 'v2') };
}
