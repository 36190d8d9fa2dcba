// Reads a .beam file the way beam_lib does: IFF chunks, atoms, exports, attributes, compile info,
// and the module MD5 exactly as `beam_lib:md5/1` (and so `Mod:module_info(md5)`) computes it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { decode, EtfError } from './etf';
import { formatTerm } from './format';
import { Atom, Charlist, Term, Tuple, isAtom } from './term';

export class BeamError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'BeamError';
  }
}

export interface BeamInfo {
  module: string;
  /** Lower-case hex, as `beam_lib:md5/1`. */
  md5: string;
  /** The vsn attribute unwrapped as `release_handler_1:get_vsn/1` does. */
  vsn: Term | undefined;
  exports: Array<[string, number]>;
  /** The modules it calls (its import table), in table order, each once. */
  imports: string[];
  attributes: Array<[string, Term]>;
  behaviours: string[];
  compileInfo: Array<[string, Term]>;
  chunkIds: string[];
  /** The raw debug info chunk (read by ./debugInfo.ts when a check needs it). */
  dbgi: Buffer | undefined;
}

// beam_lib:md5_chunks/0, in the order beam_lib feeds them to erlang:md5.
const MD5_CHUNKS = ['Atom', 'AtU8', 'Code', 'StrT', 'ImpT', 'ExpT', 'FunT', 'LitT', 'Meta'];
const MANDATORY = ['Code', 'ExpT', 'ImpT', 'StrT'];

export function readBeamFile(file: string): BeamInfo {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new BeamError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return readBeam(data, file);
}

export function readBeam(raw: Buffer, file = '<binary>'): BeamInfo {
  const chunks = splitChunks(maybeGunzip(raw, file), file);
  for (const id of MANDATORY) if (!chunks.has(id)) throw new BeamError(file, `not a complete BEAM file: no "${id}" chunk`);
  const atoms = readAtoms(chunks, file);
  const module = atoms[0];
  if (module === undefined) throw new BeamError(file, 'the atom table is empty');
  const exports = readExports(chunks.get('ExpT')!, atoms, file);
  const imports = [...new Set(readImports(chunks.get('ImpT')!, atoms, file))];
  const attributes = readKeyList(chunks.get('Attr'), file, 'Attr');
  const compileInfo = readKeyList(chunks.get('CInf'), file, 'CInf');
  const behaviours: string[] = [];
  for (const [k, v] of attributes) {
    if ((k === 'behaviour' || k === 'behavior') && Array.isArray(v)) {
      for (const b of v) if (b instanceof Atom) behaviours.push(b.name);
    }
  }
  const vsnAttr = attributes.find(([k]) => k === 'vsn')?.[1];
  return {
    module,
    md5: md5Of(chunks),
    vsn: vsnAttr === undefined ? undefined : unwrapVsn(vsnAttr),
    exports,
    imports,
    attributes,
    behaviours,
    compileInfo,
    chunkIds: [...chunks.keys()],
    dbgi: chunks.get('Dbgi'),
  };
}

/** release_handler_1:get_vsn/1: a string stays as it is, `[V]` gives V, anything else stays. */
export function unwrapVsn(v: Term): Term {
  if (v instanceof Charlist && v.value.length > 0 && v.codes().every((c) => c >= 32 && c <= 255)) return v;
  if (Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'number' && c >= 32 && c <= 255)) return v;
  if (Array.isArray(v) && v.length === 1) return v[0]!;
  if (v instanceof Charlist && v.value.length === 1) return v.value.charCodeAt(0);
  return v;
}

/** The vsn as the CLI and reports print it: Erlang's `~p`. */
export function formatVsn(v: Term | undefined): string | undefined {
  return v === undefined ? undefined : formatTerm(v);
}

function maybeGunzip(raw: Buffer, file: string): Buffer {
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw, { maxOutputLength: 512 * 1024 * 1024 });
    } catch (e) {
      throw new BeamError(file, `corrupt gzip-compressed BEAM file: ${(e as Error).message}`);
    }
  }
  return raw;
}

function splitChunks(b: Buffer, file: string): Map<string, Buffer> {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'FOR1' || b.toString('latin1', 8, 12) !== 'BEAM') {
    throw new BeamError(file, 'not a BEAM file (no FOR1/BEAM header)');
  }
  const declared = b.readUInt32BE(4);
  if (declared + 8 > b.length) throw new BeamError(file, `truncated BEAM file: header says ${declared + 8} bytes, file has ${b.length}`);
  const end = declared + 8;
  const chunks = new Map<string, Buffer>();
  let pos = 12;
  while (pos + 8 <= end) {
    const id = b.toString('latin1', pos, pos + 4);
    const size = b.readUInt32BE(pos + 4);
    if (pos + 8 + size > end) throw new BeamError(file, `chunk "${id}" at byte ${pos} runs past the end of the file`);
    if (!chunks.has(id)) chunks.set(id, b.subarray(pos + 8, pos + 8 + size));
    pos += 8 + size + ((4 - (size % 4)) % 4);
  }
  return chunks;
}

function readAtoms(chunks: Map<string, Buffer>, file: string): string[] {
  const utf8 = chunks.get('AtU8');
  const c = utf8 ?? chunks.get('Atom');
  if (!c) throw new BeamError(file, 'no atom table (AtU8/Atom chunk)');
  if (c.length < 4) throw new BeamError(file, 'truncated atom table');
  let count = c.readInt32BE(0);
  // OTP 28 writes a negative count when atom lengths are compact-encoded.
  const compact = count < 0;
  if (compact) count = -count;
  if (count > c.length) throw new BeamError(file, 'corrupt atom table: count exceeds chunk size');
  const atoms: string[] = [];
  let pos = 4;
  for (let i = 0; i < count; i++) {
    let len: number;
    if (!compact) {
      if (pos >= c.length) throw new BeamError(file, 'truncated atom table');
      len = c[pos++]!;
    } else {
      const [v, n] = compactLength(c, pos, file);
      len = v;
      pos = n;
    }
    if (pos + len > c.length) throw new BeamError(file, 'truncated atom table');
    atoms.push(c.toString(utf8 ? 'utf8' : 'latin1', pos, pos + len));
    pos += len;
  }
  return atoms;
}

function compactLength(c: Buffer, pos: number, file: string): [number, number] {
  const b = c[pos];
  if (b === undefined) throw new BeamError(file, 'truncated atom table');
  if ((b & 0x08) === 0) return [b >> 4, pos + 1];
  if ((b & 0x10) === 0) {
    const b2 = c[pos + 1];
    if (b2 === undefined) throw new BeamError(file, 'truncated atom table');
    return [((b & 0xe0) << 3) | b2, pos + 2];
  }
  throw new BeamError(file, 'unsupported atom length encoding');
}

/** A table of three 32-bit words per entry (ExpT: function, arity, label; ImpT: module, function, arity). */
function readTriples(c: Buffer, file: string, what: string): Array<[number, number, number]> {
  if (c.length < 4) throw new BeamError(file, `truncated ${what} table`);
  const n = c.readUInt32BE(0);
  if (4 + n * 12 > c.length) throw new BeamError(file, `truncated ${what} table`);
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) out.push([c.readUInt32BE(4 + i * 12), c.readUInt32BE(8 + i * 12), c.readUInt32BE(12 + i * 12)]);
  return out;
}

function atomAt(atoms: string[], index: number, file: string, what: string): string {
  const name = atoms[index - 1];
  if (name === undefined) throw new BeamError(file, `${what} table names an atom that does not exist`);
  return name;
}

function readExports(c: Buffer, atoms: string[], file: string): Array<[string, number]> {
  return readTriples(c, file, 'export').map(([f, arity]) => [atomAt(atoms, f, file, 'export'), arity]);
}

/** The modules the import table calls. */
function readImports(c: Buffer, atoms: string[], file: string): string[] {
  return readTriples(c, file, 'import').map(([m]) => atomAt(atoms, m, file, 'import'));
}

function readKeyList(c: Buffer | undefined, file: string, id: string): Array<[string, Term]> {
  if (!c || c.length === 0) return [];
  let t: Term;
  try {
    t = decode(c);
  } catch (e) {
    if (e instanceof EtfError) throw new BeamError(file, `corrupt "${id}" chunk: ${e.message}`);
    throw e;
  }
  if (!Array.isArray(t)) throw new BeamError(file, `corrupt "${id}" chunk: not a list`);
  const out: Array<[string, Term]> = [];
  for (const e of t) {
    if (e instanceof Tuple && e.elements.length === 2 && isAtom(e.elements[0])) {
      out.push([e.elements[0].name, e.elements[1]!]);
    }
  }
  return out;
}

function md5Of(chunks: Map<string, Buffer>): string {
  const h = createHash('md5');
  for (const id of MD5_CHUNKS) {
    const c = chunks.get(id);
    if (!c) continue;
    h.update(id === 'FunT' ? zeroOldUniq(c) : c);
  }
  return h.digest('hex');
}

/** beam_lib:filter_funtab/1: the OldUniq word of each FunT entry does not count. */
function zeroOldUniq(c: Buffer): Buffer {
  const out = Buffer.from(c);
  for (let pos = 4; pos + 24 <= out.length; pos += 24) out.writeUInt32BE(0, pos + 20);
  return out;
}

