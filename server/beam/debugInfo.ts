// The facts of a module's code, from its compiled debug info (the Dbgi chunk): Elixir's
// elixir_v1 map or Erlang's abstract code. Where a definition is, what its code_change clauses
// match, which struct or record fields the state has, and (Erlang) the children init/1 returns.
import { decode } from './etf';
import { formatTerm } from './format';
import { Atom, Charlist, ErlMap, ImproperList, Term, Tuple, isAtom, text } from './term';

/** What a code_change clause's first argument matches. */
export type ArgPattern = { kind: 'any' } | { kind: 'literal'; text: string } | { kind: 'down' } | { kind: 'other' };

export interface FunctionFacts {
  name: string;
  arity: number;
  line: number;
  /** Injected by a macro (use GenServer's default code_change), not written in this module. */
  injected: boolean;
  clauses: Array<{ line: number; first: ArgPattern }>;
}

export interface ChildFacts {
  line: number;
  column?: number;
  module: string | null;
  text: string;
  function?: string;
}

export interface DebugFacts {
  language: 'elixir' | 'erlang';
  module: string;
  file: string | null;
  /** defmodule / -module line. */
  line: number;
  /** The -vsn line (Erlang); Elixir's @vsn line comes from the parsed source. */
  vsnLine: number | null;
  /** Set by @vsn / -vsn; without it the vsn is the MD5. */
  explicitVsn: boolean;
  /** Has an on_load function (a NIF loader, typically): it runs again at every load. */
  onLoad: boolean;
  /** Elixir: the struct's fields; Erlang: each record's fields. */
  structFields: string[] | null;
  records: Record<string, string[]>;
  /** Erlang: the line of each -record. */
  recordLines?: Record<string, number>;
  functions: FunctionFacts[];
  /** Erlang supervisors: the child specs init/1 returns. */
  children: ChildFacts[];
}

/** By chunk: the build's beams are read once and kept while unchanged, and each is asked several times a save. */
const read = new WeakMap<Buffer, DebugFacts | null>();

export function readDebugInfo(dbgi: Buffer | undefined, module: string): DebugFacts | null {
  if (!dbgi || dbgi.length === 0) return null;
  if (read.has(dbgi)) return read.get(dbgi)!;
  const facts = parseDebugInfo(dbgi, module);
  read.set(dbgi, facts);
  return facts;
}

function parseDebugInfo(dbgi: Buffer, module: string): DebugFacts | null {
  let t: Term;
  try {
    t = decode(dbgi);
  } catch {
    return null;
  }
  if (!(t instanceof Tuple) || !isAtom(t.elements[0], 'debug_info_v1')) return null;
  const [, backend, data] = t.elements;
  if (isAtom(backend, 'elixir_erl') && data instanceof Tuple && isAtom(data.elements[0], 'elixir_v1') && data.elements[1] instanceof ErlMap) {
    return elixirFacts(data.elements[1], module);
  }
  if (isAtom(backend, 'erl_abstract_code') && data instanceof Tuple && Array.isArray(data.elements[0])) {
    return erlangFacts(data.elements[0], module);
  }
  return null;
}

// ---- Elixir ---------------------------------------------------------------------------------

function kw(list: Term | undefined, key: string): Term | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const e of list) if (e instanceof Tuple && isAtom(e.elements[0], key)) return e.elements[1];
  return undefined;
}

function elixirFacts(m: ErlMap, module: string): DebugFacts {
  const defs = Array.isArray(m.get('definitions')) ? (m.get('definitions') as Term[]) : [];
  const functions: FunctionFacts[] = [];
  for (const d of defs) {
    if (!(d instanceof Tuple) || !(d.elements[0] instanceof Tuple)) continue;
    const [na, , meta, clauses] = d.elements;
    const [name, arity] = (na as Tuple).elements;
    const injected = kw(meta, 'context') !== undefined || kw(meta, 'file') !== undefined;
    functions.push({
      name: text(name) ?? '?',
      arity: Number(arity),
      line: Number(kw(meta, 'line') ?? 0),
      injected,
      clauses: (Array.isArray(clauses) ? clauses : []).map((c) => {
        const [cmeta, args] = c instanceof Tuple ? c.elements : [];
        const first = Array.isArray(args) && args.length ? elixirPattern(args[0]!) : ({ kind: 'any' } as ArgPattern);
        return { line: Number(kw(cmeta, 'line') ?? 0), first };
      }),
    });
  }
  const struct = m.get('struct');
  return {
    language: 'elixir',
    module,
    file: text(m.get('file')) ?? null,
    line: Number(m.get('line') ?? 1),
    vsnLine: null,
    explicitVsn: kw(m.get('attributes'), 'vsn') !== undefined,
    onLoad: kw(m.get('attributes'), 'on_load') !== undefined,
    structFields: Array.isArray(struct)
      ? struct.map((f) => (f instanceof ErlMap ? text(f.get('field')) ?? '?' : '?'))
      : null,
    records: {},
    functions,
    children: [],
  };
}

function elixirPattern(p: Term): ArgPattern {
  if (Buffer.isBuffer(p) || typeof p === 'number' || typeof p === 'bigint' || p instanceof Charlist) return { kind: 'literal', text: formatTerm(p) };
  if (p instanceof Atom) return { kind: 'literal', text: formatTerm(p) };
  if (Array.isArray(p) && p.every((x) => typeof x === 'number')) return { kind: 'literal', text: formatTerm(p) };
  if (p instanceof Tuple) {
    const [a, b, c] = p.elements;
    if (p.elements.length === 2 && isAtom(a, 'down')) return { kind: 'down' };
    // A variable: {name, meta, context-atom}.
    if (p.elements.length === 3 && a instanceof Atom && Array.isArray(b) && (c instanceof Atom)) {
      if (a.name === '=' ) return { kind: 'other' };
      return a.name.startsWith('{') || a.name === '%{}' || a.name === '%' || a.name === '<<>>' ? { kind: 'other' } : { kind: 'any' };
    }
    if (p.elements.length === 3 && isAtom(a, '=') && Array.isArray(c) && c.length === 2) {
      const l = elixirPattern(c[0]!);
      return l.kind === 'any' ? elixirPattern(c[1]!) : l;
    }
  }
  return { kind: 'other' };
}

// ---- Erlang ---------------------------------------------------------------------------------

function annoLine(a: Term | undefined): number {
  if (typeof a === 'number') return a;
  if (a instanceof Tuple && typeof a.elements[0] === 'number') return a.elements[0];
  const loc = kw(a, 'location');
  if (loc !== undefined) return annoLine(loc);
  return 0;
}

function erlangFacts(forms: Term[], module: string): DebugFacts {
  const facts: DebugFacts = { language: 'erlang', module, file: null, line: 1, vsnLine: null, explicitVsn: false, onLoad: false, structFields: null, records: {}, functions: [], children: [] };
  for (const f of forms) {
    if (!(f instanceof Tuple)) continue;
    const [tag, anno, a, b, c] = f.elements;
    if (isAtom(tag, 'attribute')) {
      if (isAtom(a, 'module')) facts.line = annoLine(anno);
      else if (isAtom(a, 'on_load')) facts.onLoad = true;
      else if (isAtom(a, 'vsn')) {
        facts.vsnLine = annoLine(anno);
        facts.explicitVsn = true;
      }
      else if (isAtom(a, 'file') && facts.file === null && b instanceof Tuple) facts.file = text(b.elements[0]) ?? null;
      else if (isAtom(a, 'record') && b instanceof Tuple) {
        const [name, fields] = b.elements;
        facts.records[text(name) ?? '?'] = (Array.isArray(fields) ? fields : []).map(recordField);
        (facts.recordLines ??= {})[text(name) ?? '?'] = annoLine(anno);
      }
    } else if (isAtom(tag, 'function')) {
      const name = text(a) ?? '?';
      const clauses = Array.isArray(c) ? c : [];
      facts.functions.push({
        name,
        arity: Number(b),
        line: annoLine(anno),
        injected: false,
        clauses: clauses.map((cl) => {
          const [, canno, pats] = cl instanceof Tuple ? cl.elements : [];
          return { line: annoLine(canno), first: Array.isArray(pats) && pats.length ? erlangPattern(pats[0]!) : { kind: 'any' } };
        }),
      });
      if (name === 'init' && Number(b) === 1) facts.children = erlangChildren(clauses);
    }
  }
  return facts;
}

function recordField(f: Term): string {
  // {record_field, A, {atom, A, Name}[, Default]} possibly inside {typed_record_field, Field, Type}.
  if (f instanceof Tuple && isAtom(f.elements[0], 'typed_record_field')) return recordField(f.elements[1]!);
  if (f instanceof Tuple && f.elements[2] instanceof Tuple) return text(f.elements[2].elements[2]) ?? '?';
  return '?';
}

function erlangPattern(p: Term): ArgPattern {
  if (!(p instanceof Tuple)) return { kind: 'other' };
  const [tag, , v, w] = p.elements;
  if (isAtom(tag, 'var')) return { kind: 'any' };
  if (isAtom(tag, 'string')) return { kind: 'literal', text: formatTerm(v instanceof Charlist ? v : Array.isArray(v) && v.length === 0 ? [] : (v as Term)) };
  if (isAtom(tag, 'integer') || isAtom(tag, 'atom')) return { kind: 'literal', text: formatTerm(v as Term) };
  if (isAtom(tag, 'bin') && Array.isArray(v) && v.length === 1) {
    const el = v[0];
    if (el instanceof Tuple && el.elements[2] instanceof Tuple && isAtom(el.elements[2].elements[0], 'string')) {
      const s = el.elements[2].elements[2];
      return { kind: 'literal', text: formatTerm(Buffer.from(text(s) ?? '', 'latin1')) };
    }
  }
  if (isAtom(tag, 'tuple') && Array.isArray(v) && v.length === 2 && v[0] instanceof Tuple && isAtom(v[0].elements[0], 'atom') && isAtom(v[0].elements[2], 'down')) {
    return { kind: 'down' };
  }
  if (isAtom(tag, 'match')) {
    const l = erlangPattern(v as Term);
    return l.kind === 'any' ? erlangPattern(w as Term) : l;
  }
  return { kind: 'other' };
}

/** The child specs of `{ok, {Flags, [Child, ...]}}` or of a `Children = [...]` in init/1. */
function erlangChildren(clauses: Term[]): ChildFacts[] {
  const out: ChildFacts[] = [];
  const visit = (t: Term, inSpecList: boolean): void => {
    if (Array.isArray(t)) return t.forEach((x) => visit(x, inSpecList));
    if (t instanceof ImproperList) return;
    if (!(t instanceof Tuple)) return;
    const [tag, anno, a, b] = t.elements;
    if (isAtom(tag, 'match') && a instanceof Tuple && isAtom(a.elements[0], 'var') && /^(Children|ChildSpecs?|Specs)$/.test(text(a.elements[2]) ?? '')) {
      return collectList(b as Term);
    }
    if (isAtom(tag, 'tuple') && Array.isArray(a) && a.length === 2 && a[0] instanceof Tuple && isAtom(a[0].elements[2], 'ok')) {
      const inner = a[1];
      if (inner instanceof Tuple && isAtom(inner.elements[0], 'tuple') && Array.isArray(inner.elements[2]) && inner.elements[2].length === 2) {
        return collectList(inner.elements[2][1]!);
      }
    }
    void anno;
    for (const e of t.elements) visit(e, inSpecList);
  };
  const collectList = (l: Term): void => {
    let cur: Term | undefined = l;
    while (cur instanceof Tuple && isAtom(cur.elements[0], 'cons')) {
      const item = cur.elements[2]!;
      out.push({ line: annoLine((item as Tuple).elements?.[1]), module: erlangChildModule(item), text: '' });
      cur = cur.elements[3];
    }
  };
  visit(clauses, false);
  return out;
}

function erlangChildModule(item: Term): string | null {
  if (!(item instanceof Tuple)) return null;
  const [tag, , fields] = item.elements;
  const mfaModule = (mfa: Term | undefined): string | null =>
    mfa instanceof Tuple && isAtom(mfa.elements[0], 'tuple') && Array.isArray(mfa.elements[2]) && mfa.elements[2][0] instanceof Tuple && isAtom(mfa.elements[2][0].elements[0], 'atom')
      ? text(mfa.elements[2][0].elements[2]) ?? null
      : null;
  if (isAtom(tag, 'map') && Array.isArray(fields)) {
    for (const f of fields) {
      if (f instanceof Tuple && f.elements[2] instanceof Tuple && isAtom(f.elements[2].elements[2], 'start')) return mfaModule(f.elements[3]);
    }
  }
  if (isAtom(tag, 'tuple') && Array.isArray(fields) && fields.length >= 2) return mfaModule(fields[1]);
  return null;
}
