// Names and vsns as the module's own language writes them, for what a person reads: an Elixir
// module is MyApp.Counter with vsn "2", an Erlang module keeps its atom and its "1.0". JSON
// and LSP messages keep the atom form; only text goes through here. Imports nothing, so the
// CLI, the language server and the extension share it.

const ELIXIR = 'Elixir.';

/** `Elixir.MyApp.Counter` → `MyApp.Counter`; an Erlang module or name as it is. */
export function moduleName(m: string): string {
  return m.startsWith(ELIXIR) ? m.slice(ELIXIR.length) : m;
}

type Named = { pid: string | null; name: string | null; via?: { registry: string; key: string } | null };

/**
 * A process as people name it: its registered name (in the module's language), or the key it
 * registered under in an Elixir Registry, else its pid.
 */
export function processName(p: Named): string {
  if (p.name) return moduleName(p.name);
  if (p.via) return p.via.key;
  return p.pid ?? '?';
}

/** The same, with the pid beside a name: `MyApp.Counter <0.152.0>`. */
export function processLabel(p: Named): string {
  return (p.name || p.via) && p.pid ? `${processName(p)} ${p.pid}` : processName(p);
}

/** How the name was given, for a tooltip: `{:via, Registry, {Todo.ProcessRegistry, {Todo.Server, "bob"}}}`. */
export function viaText(v: { registry: string; key: string }): string {
  return `{:via, Registry, {${moduleName(v.registry)}, ${v.key}}}`;
}

/** A vsn without @vsn/-vsn is the module's MD5 as an integer: too long to read, and not chosen. */
export function isMd5Vsn(vsn: string | null): boolean {
  return vsn !== null && /^\d{20,}$/.test(vsn);
}

/**
 * A vsn as ~p prints it, in the module's language: Elixir's `<<"2">>` is `"2"`. With `short`, an
 * MD5 vsn reads "no @vsn" (or "no -vsn").
 */
export function vsnText(vsn: string | null, module: string, opts: { short?: boolean } = {}): string {
  if (vsn === null) return '-';
  const elixir = module.startsWith(ELIXIR);
  if (opts.short && isMd5Vsn(vsn)) return elixir ? 'no @vsn' : 'no -vsn';
  if (!elixir) return vsn;
  const bin = /^<<"(.*)">>$/.exec(vsn);
  return bin ? `"${bin[1]}"` : vsn;
}

/** code_change's OldVsn as ~p printed it (a vsn, or {down, Vsn}), in the module's language. */
export function oldVsnText(v: string, module: string): string {
  const down = /^\{down,(.*)\}$/.exec(v);
  if (!down) return vsnText(v, module);
  return module.startsWith(ELIXIR) ? `{:down, ${vsnText(down[1]!, module)}}` : `{down,${down[1]}}`;
}

/** Replaces the atom-form module names and binary vsns inside a message written by the node. */
export function elixirText(text: string): string {
  return text.replace(/'?Elixir\.([A-Z][\w.]*)'?/g, '$1');
}

/** What happens to a killed process, by its child spec's restart type. */
export function restartText(k: { restart?: string; restarted?: string | null }): string {
  switch (k.restart) {
    case 'permanent':
    case 'transient':
      return `${k.restart}: restarted${k.restarted ? ` as ${k.restarted}` : ''} on the new code`;
    case 'temporary':
      return 'temporary: not restarted';
    case 'none':
      return 'no supervisor: not restarted';
    default:
      return 'restart unknown';
  }
}

/** `Todo.Metrics, temporary: not restarted`. */
export function killText(k: Named & { pid: string; module: string; restart?: string; restarted?: string | null }): string {
  return `${k.name || k.via ? processName(k) : `${k.pid} (${moduleName(k.module)})`}, ${restartText(k)}`;
}

/** One line of at most `max` characters, for a status bar or a lens. */
export function shorten(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 3)}…` : s;
}
