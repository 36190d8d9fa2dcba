// Prints a term the way Erlang's `io_lib:format("~p", [T])` does for the short terms we show
// (vsns, reasons, ids), so that what the user reads matches what the node would print.
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

const RESERVED = new Set(
  'after and andalso band begin bnot bor bsl bsr bxor case catch cond div end fun if let not of or orelse receive rem try when xor maybe else'.split(' '),
);

export function formatAtom(name: string): string {
  if (/^[a-z][a-zA-Z0-9_@]*$/.test(name) && !RESERVED.has(name)) return name;
  return `'${escapeChars(name, "'")}'`;
}

const ESCAPES: Record<number, string> = { 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 8: '\\b', 12: '\\f', 27: '\\e', 127: '\\d' };

function escapeChars(s: string, quote: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ESCAPES[c]) out += ESCAPES[c];
    else if (c < 32) out += '\\^' + String.fromCharCode(c + 64);
    else out += ch;
  }
  return out;
}

/** io_lib:printable_latin1_list/1, the test ~p applies to lists and binaries. */
function printable(codes: ArrayLike<number>): boolean {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (!((c >= 32 && c <= 126) || (c >= 160 && c <= 255) || (c >= 8 && c <= 13) || c === 27)) return false;
  }
  return true;
}

function formatFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1).replace(/\.0+$/, '.0');
  const s = String(v);
  const m = /^(-?\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m) return `${m[1]}.${m[2] ?? '0'}e${Number(m[3])}`;
  return s;
}

export function formatTerm(t: Term): string {
  if (typeof t === 'number' || typeof t === 'bigint') return String(t);
  if (Buffer.isBuffer(t)) {
    if (t.length > 0 && printable(t)) return `<<"${escapeChars(t.toString('latin1'), '"')}">>`;
    return `<<${Array.from(t).join(',')}>>`;
  }
  if (Array.isArray(t)) {
    if (t.length > 0 && t.every((c) => typeof c === 'number') && printable(t as number[])) {
      return `"${escapeChars(String.fromCharCode(...(t as number[])), '"')}"`;
    }
    return `[${t.map(formatTerm).join(',')}]`;
  }
  if (t instanceof Charlist) return printable(t.codes()) ? `"${escapeChars(t.value, '"')}"` : `[${t.codes().join(',')}]`;
  if (t instanceof Atom) return formatAtom(t.name);
  if (t instanceof Float) return formatFloat(t.value);
  if (t instanceof Tuple) return `{${t.elements.map(formatTerm).join(',')}}`;
  if (t instanceof ImproperList) return `[${t.elements.map(formatTerm).join(',')}|${formatTerm(t.tail)}]`;
  if (t instanceof ErlMap) return `#{${t.entries.map(([k, v]) => `${formatTerm(k)} => ${formatTerm(v)}`).join(',')}}`;
  if (t instanceof BitString) {
    const full = Array.from(t.bytes.subarray(0, -1));
    const last = t.bytes[t.bytes.length - 1]! >> (8 - t.lastBits);
    return `<<${[...full.map(String), `${last}:${t.lastBits}`].join(',')}>>`;
  }
  if (t instanceof Pid) return `<${t.node.name}.${t.id}.${t.serial}>`;
  if (t instanceof Port) return `#Port<${t.node.name}.${t.id}>`;
  if (t instanceof Ref) return `#Ref<${t.node.name}.${[...t.ids].reverse().join('.')}>`;
  if (t instanceof ExportFun) return `fun ${formatAtom(t.module.name)}:${formatAtom(t.fn.name)}/${t.arity}`;
  if (t instanceof Fun) return `#Fun<${t.module.name}.${t.oldIndex}.${t.oldUniq}>`;
  return String(t);
}
