// Two real `mix release`s of the sample app, 0.1.0 and 0.2.0, where Counter's code (and its
// @vsn) changed; and two `rebar3 release`s of the Erlang pool whose #state{} record grows: the
// relup and rehearse tests' starting points.
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // Mix and rebar3 compare whole-second mtimes: edits in the second of the first build would look built.
  rmSync(join(dir, '_build/prod/lib/sample_app'), { recursive: true, force: true });
  await release(dir, join(root, 'v2'));
  return { root, v1: join(root, 'v1'), v2: join(root, 'v2') };
}

/**
 * The rebar3 fixture released twice by relx (with sasl, and its tarball beside): 0.2.0's pool
 * adds a `served` field to its #state{}, and its code_change moves the record both ways.
 */
export async function twoRebarReleases(prefix: string): Promise<{ root: string; dir: string; v1: string; v2: string; tar1: string; tar2: string }> {
  const root = tmp(prefix);
  const dir = join(root, 'rebar_pool');
  cpSync(join(FIXTURES, 'rebar_pool'), dir, { recursive: true, filter: (s) => !s.includes('/_build') });
  const relx = (vsn: string) => `{relx, [{release, {rebar_pool, "${vsn}"}, [sasl, rebar_pool]}, {dev_mode, false}, {include_erts, false}, {include_src, false}]}.\n`;
  const config = readFileSync(join(dir, 'rebar.config'), 'utf8');
  const build = async (vsn: string) => {
    writeFileSync(join(dir, 'rebar.config'), config + relx(vsn));
    for (const task of ['release', 'tar']) {
      const r = await run('rebar3', [task], { cwd: dir, env: loopbackEnv() });
      assert.equal(r.code, 0, r.stderr + r.stdout);
    }
    const out = join(dir, '_build/default/rel/rebar_pool');
    cpSync(join(out, `rebar_pool-${vsn}.tar.gz`), join(root, `rebar_pool-${vsn}.tar.gz`));
    rmSync(join(out, `rebar_pool-${vsn}.tar.gz`));
    cpSync(out, join(root, vsn), { recursive: true });
    rmSync(out, { recursive: true });
  };
  await build('0.1.0');
  const edit = (rel: string, f: (s: string) => string) => writeFileSync(join(dir, rel), f(readFileSync(join(dir, rel), 'utf8')));
  edit('src/rebar_pool.app.src', (s) => s.replace('{vsn, "0.1.0"}', '{vsn, "0.2.0"}'));
  edit('include/rebar_pool.hrl', (s) => s.replace('checked_out = [] :: [reference()]}', 'checked_out = [] :: [reference()],\n                served = 0 :: non_neg_integer()}'));
  edit('src/rebar_pool.erl', (s) =>
    s
      .replace('-vsn("1").', '-vsn("2").')
      .replace(
        'code_change(_OldVsn, St, _Extra) -> {ok, St}.',
        [
          'code_change("1", {state, S, M, O, Out}, _Extra) -> {ok, #state{size = S, max_overflow = M, overflow = O, checked_out = Out, served = length(Out)}};',
          'code_change({down, "1"}, #state{size = S, max_overflow = M, overflow = O, checked_out = Out}, _Extra) -> {ok, {state, S, M, O, Out}};',
          'code_change(_OldVsn, St, _Extra) -> {ok, St}.',
        ].join('\n'),
      ),
  );
  rmSync(join(dir, '_build/default/lib/rebar_pool'), { recursive: true, force: true });
  await build('0.2.0');
  return { root, dir, v1: join(root, '0.1.0'), v2: join(root, '0.2.0'), tar1: join(root, 'rebar_pool-0.1.0.tar.gz'), tar2: join(root, 'rebar_pool-0.2.0.tar.gz') };
}

/** The beam.smp processes running a release from under these folders (ours all live in a fresh temp folder). */
/** The beam.smp processes running from under this folder. */
export async function vmsUnder(folder: string): Promise<string> {
  const r = await run('ps', ['-eo', 'pid,args']);
  return r.stdout.split('\n').filter((l) => l.includes('beam.smp') && l.includes(folder)).join('\n');
}

/** The rehearsal's temporary folders go under `root`: its processes are then told from any other test's. */
export const rehearsingIn = (root: string): NodeJS.ProcessEnv => loopbackEnv({ TMPDIR: root });

/** Every command line under `root` that passes a cookie, polled until stopped. */
export function watchForCookieArgs(root: string): { stop(): Promise<string[]> } {
  const seen = new Set<string>();
  let rehearsalSeen = false;
  const poll = setInterval(() => {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      const line = argv.join(' ');
      if (!line.includes(`${root}/beam-live-rehearse-`)) continue;
      rehearsalSeen = true;
      // A cookie given as an argument: the flag as a word of its own (the release's start script
      // greps its vm.args for `^-setcookie`, which names no cookie).
      if (argv.some((a) => a === '-setcookie' || a === '--cookie' || a.startsWith('--cookie='))) seen.add(line);
    }
  }, 50);
  // A test that fails before stop() must not keep the test file running.
  poll.unref();
  return {
    stop: async () => {
      clearInterval(poll);
      assert.ok(rehearsalSeen, 'the rehearsal node was never seen');
      return [...seen];
    },
  };
}
