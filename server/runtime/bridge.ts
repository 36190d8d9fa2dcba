// Starts the hidden bridge node and talks to it: attach, then calls into the agent on the target.
import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, Encodable } from '../beam/etf';
import { Atom, Charlist, ErlMap, Term, Tuple, atom, isAtom, text, tuple } from '../beam/term';
import { formatTerm } from '../beam/format';
import { cacheDir, ensureErlangBeams, which, installHint, ToolchainError } from './erlangBuild';
import { NodeError, callError, connectError } from './errors';
import { FrameReader, frame } from './frames';
import type { ErlangCompileRequest } from '../compile/compile';

export type NameType = 'sname' | 'name';

export interface AttachOptions {
  node: string;
  nameType?: NameType;
  /** Defaults to ~/.erlang.cookie. */
  cookieFile?: string;
  /** The whole attach, bridge start included. */
  timeoutMs?: number;
  /** Receives the bridge's stderr and our own notes; never the cookie. */
  log?: (line: string) => void;
  /** Receives a line per frame to and from the bridge: its kind and size, never its content. */
  trace?: (line: string) => void;
  /** The user agreed to attach to a node that does not look like a development node. */
  confirmed?: boolean;
}

export interface Attached {
  node: string;
  otpRelease: string;
}

const AGENT = atom('beam_live_agent');

export function defaultCookieFile(): string {
  return join(homedir(), '.erlang.cookie');
}

export function readCookie(file: string): string {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NodeError(
      'cookie-file',
      code === 'ENOENT'
        ? `No cookie file at ${file}. Pass --cookie-file (setting beamLive.cookieFile) pointing at the file that holds the node's cookie.`
        : `Cannot read the cookie file ${file} (${code}). Check its permissions.`,
    );
  }
  const cookie = raw.trim();
  if (!cookie) throw new NodeError('cookie-file', `The cookie file ${file} is empty. Put the node's cookie in it.`);
  return cookie;
}

export function inferNameType(node: string): NameType {
  const host = node.split('@')[1] ?? '';
  return host.includes('.') || host.includes(':') ? 'name' : 'sname';
}

export function validNodeName(node: string): boolean {
  return /^[A-Za-z0-9_.\-]+@[A-Za-z0-9_.\-:]+$/.test(node);
}

/** One hidden bridge node attached to one target node. */
export class Bridge extends EventEmitter {
  private nextId = 1;
  private pending = new Map<number, { resolve: (t: Term) => void; reject: (e: Error) => void; what: string }>();
  private exited = false;
  /** Bytes received from the bridge so far: what crossed the wire, for the benchmarks. */
  bytesIn = 0;
  /** Calls made on the node so far (the bridge's own work, a compile or a consult, not counted). */
  nodeCalls = 0;
  /** Nodes whose connection went down since they were connected (nodedown). */
  readonly down = new Set<string>();

  private constructor(
    private readonly proc: ChildProcess,
    readonly node: string,
    private readonly log: (line: string) => void,
    private readonly trace?: (line: string) => void,
  ) {
    super();
    const reader = new FrameReader();
    proc.stdout!.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        // The stream can no longer be trusted: end this bridge, and say why to every waiter.
        this.log(`[bridge] ${(e as Error).message}; closing the bridge`);
        this.failAll(new NodeError('bridge-exit', `The bridge to ${node} sent ${(e as Error).message}: refused. Attach again.`));
        proc.kill('SIGKILL');
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => {
      for (const line of s.split('\n')) if (line.trim()) this.log(`[bridge] ${line}`);
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      const err = new NodeError('bridge-exit', `The bridge to ${node} exited (${signal ?? `code ${code}`}). Attach again.`);
      this.failAll(err);
      this.emit('exit', err);
    });
    proc.stdin!.on('error', () => {
      // EPIPE after the bridge died: the exit handler reports it.
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Starts a bridge and attaches it to `opts.node`; throws a NodeError that says what to do. */
  static async attach(opts: AttachOptions): Promise<{ bridge: Bridge; attached: Attached }> {
    const log = opts.log ?? (() => {});
    if (!validNodeName(opts.node)) {
      throw new NodeError('bad-argument', `"${opts.node}" is not a node name. Use name@host, e.g. app@localhost.`);
    }
    const cookie = readCookie(opts.cookieFile ?? defaultCookieFile());
    const erl = which('erl');
    if (!erl) throw new NodeError('toolchain', installHint('erl was not found on PATH'));
    let ebin: string;
    try {
      ebin = ensureErlangBeams();
    } catch (e) {
      throw new NodeError('toolchain', e instanceof ToolchainError ? e.message : String(e));
    }
    // The bridge gets a HOME of its own, so that starting distribution never reads or creates
    // a cookie file in the user's home: the only cookie it knows is the one we send.
    const home = join(cacheDir(), 'bridge-home');
    mkdirSync(home, { recursive: true });
    const proc = spawn(
      erl,
      ['-hidden', '-noshell', '-noinput', '-dist_listen', 'false', '-pa', ebin, '-run', 'beam_live_bridge', 'main'],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: home } },
    );
    const bridge = new Bridge(proc, opts.node, log, opts.trace);
    const nameType = opts.nameType ?? inferNameType(opts.node);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    try {
      const reply = await bridge.request(
        tuple(
          atom('connect'),
          encodeMap({
            target: atom(opts.node),
            name_type: atom(nameType === 'name' ? 'longnames' : 'shortnames'),
            cookie: Buffer.from(cookie, 'utf8'),
            confirmed: atom(opts.confirmed ? 'true' : 'false'),
          }),
        ),
        timeoutMs,
        `attaching to ${opts.node}`,
      );
      const ok = unwrapResult(reply);
      if (!ok.ok) throw connectError(opts.node, ok.value);
      const info = ok.value as ErlMap;
      return { bridge, attached: { node: opts.node, otpRelease: text(info.get('otp_release')) ?? '?' } };
    } catch (e) {
      bridge.close();
      if (e instanceof NodeError && e.code === 'timeout') {
        throw new NodeError(
          'timeout',
          `Attaching to ${opts.node} took longer than ${timeoutMs / 1000} s. Is the host reachable, and is the node's distribution port open?`,
        );
      }
      throw e;
    }
  }

  /** Calls `beam_live_agent:fn(args...)` on `node` (the target or a connected peer). */
  agent(fn: string, args: Encodable[], timeoutMs = 15_000, node = this.node): Promise<Term> {
    return this.call(AGENT, atom(fn), args, timeoutMs, `beam_live_agent:${fn}`, false, node);
  }

  /**
   * Calls mod:fn(args...) on `node`. `watched` calls pass the bridge-side caller in the
   * request map (the first argument), so that the agent's watchdog can see the bridge vanish.
   */
  async call(mod: Atom, fn: Atom, args: Encodable[], timeoutMs: number, what = `${mod.name}:${fn.name}`, watched = false, node = this.node): Promise<Term> {
    this.nodeCalls++;
    const t = performance.now();
    // The bridge's own erpc timeout fires first; ours only catches a wedged bridge.
    const reply = await this.request(tuple(atom(watched ? 'call_watched' : 'call'), atom(node), mod, fn, args as Term[], timeoutMs), timeoutMs + 2000, what);
    const r = unwrapResult(reply);
    this.log(`${what} on ${node}: ${r.ok ? 'ok' : 'error'} in ${(performance.now() - t).toFixed(1)} ms`);
    if (!r.ok) throw callError(node, what, r.value);
    return r.value;
  }

  /**
   * Connects the other nodes of the target's cluster (all it sees, or these), with the same
   * cookie, the same confirmation rule, and the agent loaded; each with ok or why not.
   */
  async connectPeers(nodes: string[] | 'all'): Promise<Array<{ node: string; error: string | null }>> {
    const r = unwrapResult(await this.request(tuple(atom('connect_peers'), nodes === 'all' ? atom('all') : nodes.map(atom)), 30_000, 'connecting the cluster'));
    if (!r.ok) throw callError(this.node, 'connecting the cluster', r.value);
    return (r.value as Term[]).map((t) => {
      const m = t as ErlMap;
      const result = m.get('result');
      const node = text(m.get('node')) ?? '';
      if (isAtom(result, 'ok')) this.down.delete(node);
      return { node, error: isAtom(result, 'ok') ? null : formatTerm(result instanceof Tuple ? result.elements[1]! : result!) };
    });
  }

  /** Saved Erlang modules compiled in the bridge's VM, on this machine (beam_live_erlc). */
  async compileErl(req: ErlangCompileRequest): Promise<Term> {
    const r = unwrapResult(
      await this.request(
        tuple(atom('compile_erl'), {
          files: req.files.map((f) => new Charlist(f)),
          outdir: new Charlist(req.outdir),
          app_dir: new Charlist(req.appDir),
          root: new Charlist(req.root),
          lib_dirs: req.libDirs.map((f) => new Charlist(f)),
        } as never),
        60_000,
        'compiling the saved modules',
      ),
    );
    if (!r.ok) throw new NodeError('bad-argument', `The warm Erlang compile failed: ${formatTerm(r.value)}`);
    return r.value;
  }

  /** Erlang terms from a local file (file:consult on the bridge), e.g. an .appup. */
  async consult(path: string): Promise<Term[]> {
    const r = unwrapResult(await this.request(tuple(atom('consult'), new Charlist(path)), 10_000, `reading ${path}`));
    if (!r.ok) throw new NodeError('bad-argument', `Cannot read ${path}: ${formatTerm(r.value)}`);
    return r.value as Term[];
  }

  close(): void {
    if (this.exited) return;
    // Closing stdin makes the bridge halt; the kill is for a bridge that no longer reads.
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    t.unref();
    this.proc.once('exit', () => clearTimeout(t));
  }

  private request(req: Term, timeoutMs: number, what: string): Promise<Term> {
    if (this.exited) return Promise.reject(new NodeError('bridge-exit', `The bridge to ${this.node} is not running. Attach again.`));
    const id = this.nextId++;
    return new Promise<Term>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NodeError('timeout', `${this.node} did not answer ${what} within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        what,
      });
      const out = frame(encode(tuple(id, req)));
      // What and how big, never the frame itself: the connect frame holds the cookie.
      this.trace?.(`→ ${id} ${what} (${out.length} bytes)`);
      this.proc.stdin!.write(out);
    });
  }

  private onFrame(f: Buffer): void {
    this.bytesIn += f.length + 4;
    let msg: Term;
    try {
      msg = decode(f);
    } catch (e) {
      this.log(`[bridge] undecodable frame: ${(e as Error).message}`);
      return;
    }
    if (!(msg instanceof Tuple)) return;
    const [tag, a, b] = msg.elements;
    if (isAtom(tag, 'reply') && typeof a === 'number') {
      const p = this.pending.get(a);
      this.trace?.(`← ${a} ${p?.what ?? 'late reply'} (${f.length + 4} bytes)`);
      this.pending.delete(a);
      p?.resolve(b!);
    } else if (isAtom(tag, 'event') && a instanceof Atom) {
      if (a.name === 'nodedown') {
        this.log(`node ${text(b) ?? this.node} went down`);
        this.down.add(text(b) ?? this.node);
      }
      this.emit(a.name, b);
    }
  }
}

function unwrapResult(t: Term): { ok: true; value: Term } | { ok: false; value: Term } {
  if (t instanceof Tuple && t.elements.length === 2) {
    if (isAtom(t.elements[0], 'ok')) return { ok: true, value: t.elements[1]! };
    if (isAtom(t.elements[0], 'error')) return { ok: false, value: t.elements[1]! };
  }
  return { ok: false, value: t };
}

function encodeMap(o: Record<string, Term>): ErlMap {
  return new ErlMap(Object.entries(o).map(([k, v]) => [atom(k), v]));
}
