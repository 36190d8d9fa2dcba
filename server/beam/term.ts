// The TypeScript model of an Erlang term. Every kind that Erlang keeps apart stays apart here:
// an atom is not a string, a binary is not a charlist, a tuple is not a list, 1 is not 1.0.

export class Atom {
  constructor(readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

/** An Erlang float; plain JS numbers are always Erlang integers. */
export class Float {
  constructor(readonly value: number) {}
}

export class Tuple {
  constructor(readonly elements: Term[]) {}
}

/** A list that does not end in `[]`, e.g. `[a | b]`. */
export class ImproperList {
  constructor(
    readonly elements: Term[],
    readonly tail: Term,
  ) {}
}

/** A list of bytes as `term_to_binary` sends it (STRING_EXT): a charlist such as `"1.0"`. */
export class Charlist {
  constructor(readonly value: string) {}
  codes(): number[] {
    return Array.from(this.value, (c) => c.charCodeAt(0));
  }
}

/** A bitstring whose last byte holds only `lastBits` bits (1..8). */
export class BitString {
  constructor(
    readonly bytes: Buffer,
    readonly lastBits: number,
  ) {}
}

export class ErlMap {
  constructor(readonly entries: Array<[Term, Term]>) {}
  /** Looks a key up by atom name, the usual key of maps the agent sends. */
  get(key: string): Term | undefined {
    for (const [k, v] of this.entries) if (k instanceof Atom && k.name === key) return v;
    return undefined;
  }
}

export class Pid {
  constructor(
    readonly node: Atom,
    readonly id: number,
    readonly serial: number,
    readonly creation: number,
  ) {}
}

export class Port {
  constructor(
    readonly node: Atom,
    readonly id: bigint,
    readonly creation: number,
  ) {}
}

export class Ref {
  constructor(
    readonly node: Atom,
    readonly creation: number,
    readonly ids: number[],
  ) {}
}

/** A local fun (NEW_FUN_EXT). */
export class Fun {
  constructor(
    readonly arity: number,
    readonly uniq: Buffer,
    readonly index: number,
    readonly module: Atom,
    readonly oldIndex: number,
    readonly oldUniq: number,
    readonly pid: Pid,
    readonly freeVars: Term[],
  ) {}
}

/** `fun M:F/A`. */
export class ExportFun {
  constructor(
    readonly module: Atom,
    readonly fn: Atom,
    readonly arity: number,
  ) {}
}

export type Term =
  | number
  | bigint
  | Float
  | Atom
  | Buffer
  | BitString
  | Tuple
  | Term[]
  | ImproperList
  | Charlist
  | ErlMap
  | Pid
  | Port
  | Ref
  | Fun
  | ExportFun;

export const atom = (name: string): Atom => new Atom(name);
export const tuple = (...elements: Term[]): Tuple => new Tuple(elements);

export function isAtom(t: unknown, name?: string): t is Atom {
  return t instanceof Atom && (name === undefined || t.name === name);
}

/** Structural equality, the way `=:=` compares. */
export function termEquals(a: Term, b: Term): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof a === 'bigint') {
    return (typeof b === 'number' || typeof b === 'bigint') && BigInt(a) === BigInt(b);
  }
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a)) {
    if (b instanceof Charlist) return termEquals(a, b.codes());
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => termEquals(x, b[i]!));
  }
  if (a instanceof Charlist) {
    if (b instanceof Charlist) return a.value === b.value;
    return Array.isArray(b) && termEquals(a.codes(), b);
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b) || Buffer.isBuffer(b)) return false;
  if (a.constructor !== b.constructor) return false;
  if (a instanceof Atom) return a.name === (b as Atom).name;
  if (a instanceof Float) return a.value === (b as Float).value;
  if (a instanceof Tuple) return termEquals(a.elements, (b as Tuple).elements);
  if (a instanceof ImproperList) {
    const o = b as ImproperList;
    return termEquals(a.elements, o.elements) && termEquals(a.tail, o.tail);
  }
  if (a instanceof BitString) {
    const o = b as BitString;
    return a.lastBits === o.lastBits && a.bytes.equals(o.bytes);
  }
  if (a instanceof ErlMap) {
    const o = b as ErlMap;
    return (
      a.entries.length === o.entries.length &&
      a.entries.every(([k, v]) => o.entries.some(([k2, v2]) => termEquals(k, k2) && termEquals(v, v2)))
    );
  }
  if (a instanceof Pid) {
    const o = b as Pid;
    return a.node.name === o.node.name && a.id === o.id && a.serial === o.serial && a.creation === o.creation;
  }
  if (a instanceof Port) {
    const o = b as Port;
    return a.node.name === o.node.name && a.id === o.id && a.creation === o.creation;
  }
  if (a instanceof Ref) {
    const o = b as Ref;
    return a.node.name === o.node.name && a.creation === o.creation && termEquals(a.ids, o.ids);
  }
  if (a instanceof ExportFun) {
    const o = b as ExportFun;
    return a.module.name === o.module.name && a.fn.name === o.fn.name && a.arity === o.arity;
  }
  if (a instanceof Fun) {
    const o = b as Fun;
    return a.uniq.equals(o.uniq) && a.index === o.index && a.module.name === o.module.name && termEquals(a.freeVars, o.freeVars);
  }
  return false;
}

/** Text of a charlist, binary or atom; undefined for anything else. */
export function text(t: Term | undefined): string | undefined {
  if (t === undefined) return undefined;
  if (Buffer.isBuffer(t)) return t.toString('utf8');
  if (t instanceof Charlist) return t.value;
  if (t instanceof Atom) return t.name;
  if (Array.isArray(t) && t.length === 0) return '';
  if (Array.isArray(t) && t.every((c) => typeof c === 'number')) return String.fromCodePoint(...(t as number[]));
  return undefined;
}
