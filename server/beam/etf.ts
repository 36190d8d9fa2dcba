// Erlang's external term format (erts/emulator/internal_doc, "External Term Format"), as OTP 25
// writes it. The decoder trusts nothing: every length is checked against the bytes left, nesting
// and decompression are bounded, and every failure is an EtfError — never another exception.
import { inflateSync, deflateSync } from 'node:zlib';
import {
  Atom,
  BitString,
  Charlist,
  ErlMap,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  Term,
  Tuple,
} from './term';

const VERSION = 131;
const enum Tag {
  Compressed = 80,
  NewFloat = 70,
  BitBinary = 77,
  AtomCacheRef = 82,
  NewPid = 88,
  NewPort = 89,
  NewerReference = 90,
  SmallInteger = 97,
  Integer = 98,
  OldFloat = 99,
  AtomLatin1 = 100,
  Reference = 101,
  OldPort = 102,
  OldPid = 103,
  SmallTuple = 104,
  LargeTuple = 105,
  Nil = 106,
  String = 107,
  List = 108,
  Binary = 109,
  SmallBig = 110,
  LargeBig = 111,
  NewFun = 112,
  Export = 113,
  NewReference = 114,
  SmallAtomLatin1 = 115,
  Map = 116,
  OldFun = 117,
  AtomUtf8 = 118,
  SmallAtomUtf8 = 119,
  V4Port = 120,
}

export class EtfError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'EtfError';
  }
}

export interface DecodeLimits {
  /** Largest size a compressed term may inflate to. */
  maxInflatedBytes?: number;
  /** Deepest nesting of tuples, lists and maps. */
  maxDepth?: number;
}

const DEFAULT_LIMITS: Required<DecodeLimits> = { maxInflatedBytes: 256 * 1024 * 1024, maxDepth: 1000 };

/** Decodes `term_to_binary` output (starting with the version byte 131). */
export function decode(buf: Uint8Array, limits: DecodeLimits = {}): Term {
  try {
    return decodeTop(buf, limits);
  } catch (e) {
    // The depth limit should stop recursion first; this is the backstop for small stacks.
    if (e instanceof RangeError) throw new EtfError('term nested too deeply for the stack', 0);
    throw e;
  }
}

function decodeTop(buf: Uint8Array, limits: DecodeLimits): Term {
  const data = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const lim = { ...DEFAULT_LIMITS, ...limits };
  if (data.length < 1 || data[0] !== VERSION) throw new EtfError('not an external term: missing version byte 131', 0);
  if (data.length >= 2 && data[1] === Tag.Compressed) {
    if (data.length < 6) throw new EtfError('truncated compressed term', 1);
    const size = data.readUInt32BE(2);
    if (size > lim.maxInflatedBytes) throw new EtfError(`compressed term inflates to ${size} bytes, over the limit`, 2);
    let inflated: Buffer;
    try {
      inflated = inflateSync(data.subarray(6), { maxOutputLength: Math.max(size, 1) });
    } catch (e) {
      throw new EtfError(`corrupt compressed term: ${(e as Error).message}`, 6);
    }
    if (inflated.length !== size) throw new EtfError(`compressed term inflated to ${inflated.length} bytes, header says ${size}`, 2);
    const r = new Reader(inflated, lim.maxDepth);
    const t = r.term(0);
    r.end();
    return t;
  }
  const r = new Reader(data, lim.maxDepth, 1);
  const t = r.term(0);
  r.end();
  return t;
}

class Reader {
  constructor(
    private readonly b: Buffer,
    private readonly maxDepth: number,
    private pos = 0,
  ) {}

  end(): void {
    if (this.pos !== this.b.length) throw new EtfError(`${this.b.length - this.pos} trailing bytes after the term`, this.pos);
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.b.length) throw new EtfError(`truncated term: needs ${n} more bytes`, this.pos);
  }
  private u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  private u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.b.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return Buffer.from(v);
  }
  /** Each element takes at least one byte, so a count larger than what is left is a lie. */
  private count(n: number, perItem: number): number {
    if (n * perItem > this.b.length - this.pos) throw new EtfError(`length ${n} exceeds the bytes left`, this.pos);
    return n;
  }

  private atomText(tag: number): string {
    switch (tag) {
      case Tag.AtomLatin1:
        return this.bytes(this.u16()).toString('latin1');
      case Tag.SmallAtomLatin1:
        return this.bytes(this.u8()).toString('latin1');
      case Tag.AtomUtf8:
        return this.bytes(this.u16()).toString('utf8');
      case Tag.SmallAtomUtf8:
        return this.bytes(this.u8()).toString('utf8');
      default:
        throw new EtfError(`expected an atom, got tag ${tag}`, this.pos - 1);
    }
  }
  private atom(): Atom {
    return new Atom(this.atomText(this.u8()));
  }
  private pid(): Pid {
    const t = this.term(this.maxDepth);
    if (!(t instanceof Pid)) throw new EtfError('expected a pid', this.pos);
    return t;
  }
  private integer(): number {
    const t = this.term(this.maxDepth);
    if (typeof t === 'number') return t;
    if (typeof t === 'bigint') return Number(t);
    throw new EtfError('expected an integer', this.pos);
  }
  private big(n: number): number | bigint {
    const sign = this.u8();
    const digits = this.bytes(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(digits[i]!);
    if (sign) v = -v;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  term(depth: number): Term {
    if (depth > this.maxDepth) throw new EtfError('term nested too deeply', this.pos);
    const at = this.pos;
    const tag = this.u8();
    switch (tag) {
      case Tag.SmallInteger:
        return this.u8();
      case Tag.Integer:
        return this.i32();
      case Tag.NewFloat: {
        this.need(8);
        const v = this.b.readDoubleBE(this.pos);
        this.pos += 8;
        return new Float(v);
      }
      case Tag.OldFloat: {
        const s = this.bytes(31).toString('latin1').replace(/\0.*$/s, '');
        const v = Number.parseFloat(s);
        if (Number.isNaN(v)) throw new EtfError('bad FLOAT_EXT text', at);
        return new Float(v);
      }
      case Tag.AtomLatin1:
      case Tag.SmallAtomLatin1:
      case Tag.AtomUtf8:
      case Tag.SmallAtomUtf8:
        return new Atom(this.atomText(tag));
      case Tag.SmallTuple:
        return new Tuple(this.terms(this.count(this.u8(), 1), depth));
      case Tag.LargeTuple:
        return new Tuple(this.terms(this.count(this.u32(), 1), depth));
      case Tag.Nil:
        return [];
      case Tag.String:
        return new Charlist(this.bytes(this.u16()).toString('latin1'));
      case Tag.List: {
        const elements = this.terms(this.count(this.u32(), 1), depth);
        const tail = this.term(depth + 1);
        if (Array.isArray(tail) && tail.length === 0) return elements;
        return new ImproperList(elements, tail);
      }
      case Tag.Binary:
        return this.bytes(this.u32());
      case Tag.BitBinary: {
        const len = this.u32();
        const bits = this.u8();
        if (bits < 1 || bits > 8 || len === 0) throw new EtfError('bad BIT_BINARY_EXT', at);
        return new BitString(this.bytes(len), bits);
      }
      case Tag.SmallBig:
        return this.big(this.u8());
      case Tag.LargeBig:
        return this.big(this.count(this.u32(), 1));
      case Tag.Map: {
        const n = this.count(this.u32(), 2);
        const entries: Array<[Term, Term]> = [];
        for (let i = 0; i < n; i++) entries.push([this.term(depth + 1), this.term(depth + 1)]);
        return new ErlMap(entries);
      }
      case Tag.OldPid: {
        const node = this.atom();
        return new Pid(node, this.u32(), this.u32(), this.u8());
      }
      case Tag.NewPid: {
        const node = this.atom();
        return new Pid(node, this.u32(), this.u32(), this.u32());
      }
      case Tag.OldPort: {
        const node = this.atom();
        return new Port(node, BigInt(this.u32()), this.u8());
      }
      case Tag.NewPort: {
        const node = this.atom();
        return new Port(node, BigInt(this.u32()), this.u32());
      }
      case Tag.V4Port: {
        const node = this.atom();
        this.need(8);
        const id = this.b.readBigUInt64BE(this.pos);
        this.pos += 8;
        return new Port(node, id, this.u32());
      }
      case Tag.Reference: {
        const node = this.atom();
        const id = this.u32();
        return new Ref(node, this.u8(), [id]);
      }
      case Tag.NewReference:
      case Tag.NewerReference: {
        const n = this.u16();
        if (n > 5) throw new EtfError(`reference with ${n} id words`, at);
        const node = this.atom();
        const creation = tag === Tag.NewReference ? this.u8() : this.u32();
        const ids: number[] = [];
        for (let i = 0; i < n; i++) ids.push(this.u32());
        return new Ref(node, creation, ids);
      }
      case Tag.Export: {
        const module = this.atom();
        const fn = this.atom();
        return new ExportFun(module, fn, this.integer());
      }
      case Tag.NewFun: {
        const size = this.u32();
        const start = this.pos;
        this.need(size - 4);
        const arity = this.u8();
        const uniq = this.bytes(16);
        const index = this.u32();
        const numFree = this.count(this.u32(), 1);
        const module = this.atom();
        const oldIndex = this.integer();
        const oldUniq = this.integer();
        const pid = this.pid();
        const freeVars = this.terms(numFree, depth);
        if (this.pos - start !== size - 4) throw new EtfError('NEW_FUN_EXT size does not match its contents', at);
        return new Fun(arity, uniq, index, module, oldIndex, oldUniq, pid, freeVars);
      }
      case Tag.OldFun:
        throw new EtfError('FUN_EXT (pre-R13 funs) is not supported', at);
      case Tag.AtomCacheRef:
        throw new EtfError('ATOM_CACHE_REF only appears inside distribution messages', at);
      case Tag.Compressed:
        throw new EtfError('a compressed term may only appear at the top level', at);
      default:
        throw new EtfError(`unknown tag ${tag}`, at);
    }
  }

  private terms(n: number, depth: number): Term[] {
    const out: Term[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.term(depth + 1);
    return out;
  }
}

// ---- encoding -------------------------------------------------------------------------------

/** What `encode` accepts: the term model, plus JS strings as UTF-8 binaries and booleans/null as atoms. */
export type Encodable = Term | string | boolean | null | Encodable[] | { [key: string]: Encodable };

export function encode(t: Encodable, opts: { compressed?: boolean } = {}): Buffer {
  const w = new Writer();
  w.term(t);
  const body = w.done();
  if (!opts.compressed) return Buffer.concat([Buffer.from([VERSION]), body]);
  const head = Buffer.alloc(6);
  head[0] = VERSION;
  head[1] = Tag.Compressed;
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, deflateSync(body)]);
}

class Writer {
  private chunks: Buffer[] = [];
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
  private u8(v: number): void {
    this.chunks.push(Buffer.from([v]));
  }
  private u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.chunks.push(b);
  }
  private u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.chunks.push(b);
  }
  private raw(b: Buffer): void {
    this.chunks.push(b);
  }

  private atom(name: string): void {
    const b = Buffer.from(name, 'utf8');
    if (b.length < 256) {
      this.u8(Tag.SmallAtomUtf8);
      this.u8(b.length);
    } else {
      this.u8(Tag.AtomUtf8);
      this.u16(b.length);
    }
    this.raw(b);
  }

  private integer(v: number | bigint): void {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new TypeError(`${v} is not an integer; wrap floats in Float`);
    if (v >= 0 && v < 256) {
      this.u8(Tag.SmallInteger);
      this.u8(Number(v));
    } else if (v >= -2147483648 && v <= 2147483647) {
      this.u8(Tag.Integer);
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(v));
      this.raw(b);
    } else {
      let n = BigInt(v);
      const sign = n < 0n ? 1 : 0;
      if (sign) n = -n;
      const digits: number[] = [];
      while (n > 0n) {
        digits.push(Number(n & 0xffn));
        n >>= 8n;
      }
      if (digits.length < 256) {
        this.u8(Tag.SmallBig);
        this.u8(digits.length);
      } else {
        this.u8(Tag.LargeBig);
        this.u32(digits.length);
      }
      this.u8(sign);
      this.raw(Buffer.from(digits));
    }
  }

  private list(elements: Encodable[], tail: Encodable | null): void {
    if (elements.length === 0 && tail === null) return this.u8(Tag.Nil);
    this.u8(Tag.List);
    this.u32(elements.length);
    for (const e of elements) this.term(e);
    if (tail === null) this.u8(Tag.Nil);
    else this.term(tail);
  }

  term(t: Encodable): void {
    if (typeof t === 'number' || typeof t === 'bigint') return this.integer(t);
    if (typeof t === 'string') {
      const b = Buffer.from(t, 'utf8');
      this.u8(Tag.Binary);
      this.u32(b.length);
      return this.raw(b);
    }
    if (typeof t === 'boolean') return this.atom(String(t));
    if (t === null) return this.atom('undefined');
    if (Buffer.isBuffer(t)) {
      this.u8(Tag.Binary);
      this.u32(t.length);
      return this.raw(t);
    }
    if (Array.isArray(t)) return this.list(t, null);
    if (t instanceof Atom) return this.atom(t.name);
    if (t instanceof Float) {
      this.u8(Tag.NewFloat);
      const b = Buffer.alloc(8);
      b.writeDoubleBE(t.value);
      return this.raw(b);
    }
    if (t instanceof Tuple) {
      const n = t.elements.length;
      if (n < 256) {
        this.u8(Tag.SmallTuple);
        this.u8(n);
      } else {
        this.u8(Tag.LargeTuple);
        this.u32(n);
      }
      for (const e of t.elements) this.term(e);
      return;
    }
    if (t instanceof Charlist) {
      const codes = t.codes();
      if (codes.length > 0 && codes.length < 65536 && codes.every((c) => c < 256)) {
        this.u8(Tag.String);
        this.u16(codes.length);
        return this.raw(Buffer.from(codes));
      }
      return this.list(codes, null);
    }
    if (t instanceof ImproperList) return this.list(t.elements, t.tail);
    if (t instanceof BitString) {
      this.u8(Tag.BitBinary);
      this.u32(t.bytes.length);
      this.u8(t.lastBits);
      return this.raw(t.bytes);
    }
    if (t instanceof ErlMap) {
      this.u8(Tag.Map);
      this.u32(t.entries.length);
      for (const [k, v] of t.entries) {
        this.term(k);
        this.term(v);
      }
      return;
    }
    if (t instanceof Pid) {
      this.u8(Tag.NewPid);
      this.atom(t.node.name);
      this.u32(t.id);
      this.u32(t.serial);
      return this.u32(t.creation);
    }
    if (t instanceof Port) {
      if (t.id > 0xffffffffn) {
        this.u8(Tag.V4Port);
        this.atom(t.node.name);
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(t.id);
        this.raw(b);
      } else {
        this.u8(Tag.NewPort);
        this.atom(t.node.name);
        this.u32(Number(t.id));
      }
      return this.u32(t.creation);
    }
    if (t instanceof Ref) {
      this.u8(Tag.NewerReference);
      this.u16(t.ids.length);
      this.atom(t.node.name);
      this.u32(t.creation);
      for (const id of t.ids) this.u32(id);
      return;
    }
    if (t instanceof ExportFun) {
      this.u8(Tag.Export);
      this.atom(t.module.name);
      this.atom(t.fn.name);
      return this.integer(t.arity);
    }
    if (t instanceof Fun) {
      const inner = new Writer();
      inner.u8(t.arity);
      inner.raw(t.uniq);
      inner.u32(t.index);
      inner.u32(t.freeVars.length);
      inner.atom(t.module.name);
      inner.integer(t.oldIndex);
      inner.integer(t.oldUniq);
      inner.term(t.pid);
      for (const v of t.freeVars) inner.term(v);
      const body = inner.done();
      this.u8(Tag.NewFun);
      this.u32(body.length + 4);
      return this.raw(body);
    }
    // A plain object encodes as a map with atom keys: the shape the agent's requests take.
    const entries = Object.entries(t as { [key: string]: Encodable }).filter(([, v]) => v !== undefined);
    this.u8(Tag.Map);
    this.u32(entries.length);
    for (const [k, v] of entries) {
      this.atom(k);
      this.term(v);
    }
  }
}
