// Real parts for the tests: real erl/elixir processes on loopback, started and stopped by pid.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export const ROOT = resolve(__dirname, '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const CLI = join(ROOT, 'bin', 'beam-live');

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `beam-live-${prefix}-`));
}

/** The environment every Erlang process of the tests gets: epmd on loopback only. */
export function loopbackEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ERL_EPMD_ADDRESS: '127.0.0.1', ERL_CRASH_DUMP_SECONDS: '0', ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env ?? loopbackEnv(), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** Runs bin/beam-live. */
export function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { env });
}

/** Evaluates Erlang expressions in a fresh `erl` and returns what it printed. */
export async function erlEval(code: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run('erl', ['-noshell', '-eval', `${code}, halt().`], { env });
  if (r.code !== 0) throw new Error(`erl failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface TestNode {
  name: string;
  cookieFile: string;
  /** A HOME whose .erlang.cookie is the node's: an erl started with it can connect. */
  home: string;
  dir: string;
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** A cookie in a file of its own, as a user's ~/.erlang.cookie: never on a command line. */
export type CookieHome = { home: string; cookieFile: string; cookie: string };

export function makeCookieHome(): CookieHome {
  const home = tmp('home');
  const cookie = randomBytes(12).toString('hex').toUpperCase();
  const cookieFile = join(home, '.erlang.cookie');
  writeFileSync(cookieFile, cookie);
  chmodSync(cookieFile, 0o400);
  return { home, cookieFile, cookie };
}

/** Copies a fixture mix project to a temp folder and compiles it there. */
export async function prepareProject(fixture = 'sample_app'): Promise<string> {
  const dir = join(tmp('proj'), fixture);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true, filter: (src) => !src.includes('/_build') && !src.includes('/deps') });
  const r = await run('mix', ['compile'], { cwd: dir, env: loopbackEnv({ MIX_ENV: 'dev' }) });
  if (r.code !== 0) throw new Error(`mix compile failed in ${dir}: ${r.stdout}${r.stderr}`);
  return dir;
}

/** Starts a mix project as a node named NAME@localhost on loopback, and waits until its app runs. */
/**
 * Starts a mix project as a node on loopback, and waits until its app runs. Named NAME@localhost,
 * or, with `hostless`, started as users do (`--sname NAME`): NAME@<this machine's short name>.
 */
export async function startNode(opts: { dir?: string; name?: string; env?: Record<string, string>; hostless?: boolean; cookie?: CookieHome } = {}): Promise<TestNode> {
  const dir = opts.dir ?? (await prepareProject());
  return launchNode(opts.name ?? 'bltest', dir, (name) => [
    'elixir',
    ['--sname', opts.hostless ? name.split('@')[0]! : name, '--erl', '-kernel inet_dist_use_interface {127,0,0,1}', '-S', 'mix', 'run', '--no-halt', '-e', 'IO.puts("beam-live-test-ready")'],
  ], { MIX_ENV: 'dev', ...opts.env }, opts.hostless ? hostname().split('.')[0] : 'localhost', opts.cookie);
}

/** Copies a rebar3 fixture, builds it with rebar3, and starts its application as a plain Erlang node. */
export async function startRebarNode(fixture: string, app: string, name = 'rebar'): Promise<TestNode> {
  const dir = join(tmp('rebar'), fixture);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true, filter: (src) => !src.includes('/_build') });
  const r = await run('rebar3', ['compile'], { cwd: dir, env: loopbackEnv({ REBAR_COLOR: 'none' }) });
  if (r.code !== 0) throw new Error(`rebar3 compile failed in ${dir}: ${r.stdout}${r.stderr}`);
  return launchNode(name, dir, (n) => [
    'erl',
    ['-sname', n, '-kernel', 'inet_dist_use_interface', '{127,0,0,1}', '-noshell', '-pa', ...readdirSync(join(dir, '_build', 'default', 'lib')).map((a) => join(dir, '_build', 'default', 'lib', a, 'ebin')),
     '-eval', `{ok, _} = application:ensure_all_started(${app}), io:format("beam-live-test-ready~n")`],
  ]);
}

/** `cookie`: a HOME shared with other nodes, so that they can form a cluster. */
async function launchNode(prefix: string, dir: string, command: (name: string) => [string, string[]], env: Record<string, string> = {}, host = 'localhost', cookie = makeCookieHome()): Promise<TestNode> {
  const name = `${prefix}_${randomBytes(3).toString('hex')}@${host}`;
  const { home, cookieFile } = cookie;
  mkdirSync(join(home, '.mix'), { recursive: true });
  const [cmd, args] = command(name);
  const proc = spawn(cmd, args, { cwd: dir, env: loopbackEnv({ HOME: home, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  // Whatever happens to this process, its node goes with it (by pid, never by name).
  const reap = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', reap);
  proc.once('exit', () => process.removeListener('exit', reap));
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`node ${name} did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('beam-live-test-ready')) {
        clearTimeout(t);
        res();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`node ${name} exited (${code}) while starting:\n${out}`));
    });
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return { name, cookieFile, home, dir, proc, output: () => out, stop };
}

/**
 * Evaluates Erlang expressions on the test node itself, from an independent hidden erl that
 * reads the cookie from its HOME: the tests' check on what our agent reports.
 */
export async function onNode(node: TestNode, body: string): Promise<string> {
  const probe = `probe_${randomBytes(3).toString('hex')}@localhost`;
  const r = await run(
    'erl',
    ['-sname', probe, '-hidden', '-noshell', '-dist_listen', 'false', '-eval',
     `R = rpc:call('${node.name}', erlang, apply, [fun() -> ${body} end, []]),
      io:put_chars(try iolist_to_binary(R) catch _:_ -> io_lib:format("~0p", [R]) end), halt().`],
    { env: loopbackEnv({ HOME: node.home }) },
  );
  if (r.code !== 0) throw new Error(`probe on ${node.name} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Rewrites a file of a project copy. */
export function writeSource(dir: string, rel: string, text: string): void {
  writeFileSync(join(dir, rel), text);
}

/** `sys:get_state` of a registered process, as the node prints it (~p on one line). */
export async function stateOf(node: TestNode, name: string): Promise<string> {
  return onNode(node, `io_lib:format("~0p", [sys:get_state('${name}', 2000)])`);
}

/** The loaded module's MD5, lower-case hex, from the node. */
export async function loadedMd5(node: TestNode, mod: string): Promise<string> {
  return onNode(node, `[io_lib:format("~2.16.0b", [X]) || <<X>> <= erlang:get_module_info('${mod}', md5)]`);
}

/**
 * The sample app's processes that are suspended right now, by sys:get_status on each process
 * of its supervision tree and the unsupervised Hidden, from the node itself.
 */
export async function suspendedInSampleApp(node: TestNode): Promise<string> {
  return onNode(
    node,
    `Walk = fun W(Sup) -> [case T of supervisor -> [P | W(P)]; _ -> [P] end || {_, P, T, _} <- supervisor:which_children(Sup), is_pid(P)] end,
     Pids = lists:flatten(Walk(whereis('Elixir.SampleApp.Supervisor'))) ++ [whereis('Elixir.SampleApp.Hidden')],
     Sus = [P || P <- Pids, is_pid(P), (catch lists:nth(2, element(4, sys:get_status(P, 2000)))) =/= running],
     io_lib:format("~p", [Sus])`,
  );
}

export interface LspClient {
  conn: import('vscode-jsonrpc/node').MessageConnection;
  server: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * The language server as another editor runs it (`node dist/server.js --stdio`), initialized on
 * a project folder. `setup` registers handlers before the connection listens.
 */
export async function startLsp(
  dir: string,
  opts: { capabilities?: object; initializationOptions?: object; setup?: (conn: LspClient['conn']) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<LspClient> {
  const { createMessageConnection, StreamMessageReader, StreamMessageWriter } = await import('vscode-jsonrpc/node');
  const { pathToFileURL } = await import('node:url');
  const server = spawn(process.execPath, [join(ROOT, 'dist', 'server.js'), '--stdio'], { env: opts.env ?? loopbackEnv(), stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  if (process.env.BEAM_LIVE_DEBUG) conn.onNotification('window/logMessage', (m: { message: string }) => console.error('[server]', m.message));
  opts.setup?.(conn);
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(dir).toString(),
    workspaceFolders: [{ uri: pathToFileURL(dir).toString(), name: 'project' }],
    capabilities: opts.capabilities ?? {},
    initializationOptions: opts.initializationOptions,
  });
  await conn.sendNotification('initialized', {});
  const stop = async () => {
    try {
      await conn.sendRequest('shutdown');
      await conn.sendNotification('exit');
    } catch {
      // already gone
    }
    conn.dispose();
    server.kill();
  };
  return { conn, server, stop };
}

export interface Upgrading {
  /** What `beam-live upgrade --json` printed so far, stdout and stderr apart. */
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** `beam-live upgrade --json` in the background, with the fault-injection hooks in `env`. */
export function startUpgrade(node: TestNode, env: Record<string, string>): Upgrading {
  const child = spawn(process.execPath, [CLI, 'upgrade', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json'], {
    env: loopbackEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  return { out: () => out, err: () => err, exited: new Promise<number | null>((r) => child.once('exit', r)) };
}

/**
 * Runs `fn` against a node of the sample app with sources added and its application edited
 * (`application`: the new application.ex from the old), stopped afterwards whatever happens.
 */
export async function withSampleVariant(
  name: string,
  files: Record<string, string>,
  application: (old: string) => string,
  fn: (node: TestNode) => Promise<void>,
): Promise<void> {
  const dir = await prepareProject();
  for (const [rel, text] of Object.entries(files)) writeSource(dir, rel, text);
  const app = join(dir, 'lib', 'sample_app', 'application.ex');
  writeFileSync(app, application(readFileSync(app, 'utf8')));
  const node = await startNode({ name, dir });
  try {
    await fn(node);
  } finally {
    await node.stop();
  }
}

/** Runs `fn` against a fresh sample-app node, stopped afterwards whatever happens. */
export async function withTestNode(name: string, fn: (node: TestNode) => Promise<void>): Promise<void> {
  const node = await startNode({ name });
  try {
    await fn(node);
  } finally {
    await node.stop();
  }
}

/**
 * Waits until `f` gives a value. The deadline is only there to end a hung test: a CI machine
 * running two test files and their VMs on two cores can take many seconds for a compile.
 */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Watching {
  /** Everything `beam-live watch` printed so far, stdout and stderr. */
  output: () => string;
  /** Ctrl-C; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/** `beam-live watch` on a test node, resolved once it says it is watching. */
export async function startWatch(node: TestNode, extra: string[] = [], env: Record<string, string> = {}): Promise<Watching> {
  const w = spawn(process.execPath, [CLI, 'watch', '--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, ...extra], {
    env: loopbackEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  w.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  w.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((r) => w.once('exit', (c) => r(c)));
  const stop = () => {
    if (w.exitCode === null && w.signalCode === null) w.kill('SIGINT');
    return exited;
  };
  try {
    await Promise.race([until('beam-live watch to start', () => out.includes('Watching')), exited.then(() => Promise.reject(new Error(`watch exited: ${out}`)))]);
  } catch (e) {
    w.kill('SIGKILL');
    throw e;
  }
  return { output: () => out, stop };
}
