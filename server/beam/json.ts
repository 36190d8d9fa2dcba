// Turns the agent's answers into plain JSON. The agent sends text as binaries and names as
// atoms, so both become strings here; module names keep their atom form (Elixir.MyApp.Counter).
import { formatTerm } from './format';
import { Atom, Charlist, ErlMap, Float, Term } from './term';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function termToJson(t: Term): Json {
  if (typeof t === 'number') return t;
  if (typeof t === 'bigint') return t.toString();
  if (Buffer.isBuffer(t)) return t.toString('utf8');
  if (t instanceof Atom) {
    if (t.name === 'true') return true;
    if (t.name === 'false') return false;
    if (t.name === 'undefined' || t.name === 'nil') return null;
    return t.name;
  }
  if (t instanceof Float) return t.value;
  if (t instanceof Charlist) return t.value;
  if (Array.isArray(t)) return t.map(termToJson);
  if (t instanceof ErlMap) {
    const o: { [key: string]: Json } = {};
    for (const [k, v] of t.entries) o[k instanceof Atom ? camel(k.name) : formatTerm(k)] = termToJson(v);
    return o;
  }
  return formatTerm(t);
}

/** The agent speaks Erlang (otp_release); JSON reports speak camelCase (otpRelease). */
function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
