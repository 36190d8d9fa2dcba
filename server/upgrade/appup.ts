// A project's own .appup wins over the default instructions (OTP_SEMANTICS §2.5). Pure: the
// terms come from file:consult on the bridge.
import { Atom, Term, Tuple, isAtom, text } from '../beam/term';
import type { Instruction } from '../protocol';

export interface AppupEntry {
  instruction: Instruction;
  /** Extra for code_change: [] by default, {M, F, A} for an Agent, anything the appup says. */
  extra: Term;
}

/**
 * The up-instructions for the running application vsn (or, when none names it, the first
 * up-entry: in development the app vsn rarely changes), by module.
 */
export function appupInstructions(terms: Term[], runningAppVsn: string | null): Map<string, AppupEntry> {
  const out = new Map<string, AppupEntry>();
  const top = terms[0];
  if (!(top instanceof Tuple) || top.elements.length !== 3 || !Array.isArray(top.elements[1])) return out;
  const ups = (top.elements[1] as Term[]).filter((u): u is Tuple => u instanceof Tuple && u.elements.length === 2);
  const chosen = ups.find((u) => runningAppVsn !== null && text(u.elements[0]) === runningAppVsn) ?? ups[0];
  if (!chosen || !Array.isArray(chosen.elements[1])) return out;
  for (const i of chosen.elements[1] as Term[]) {
    if (!(i instanceof Tuple) || !(i.elements[0] instanceof Atom) || !(i.elements[1] instanceof Atom)) continue;
    const [tag, mod, ...rest] = i.elements as [Atom, Atom, ...Term[]];
    const m = mod.name;
    switch (tag.name) {
      case 'update': {
        // {update, M}, {update, M, supervisor}, {update, M, Change[, DepMods]},
        // {update, M, ModType, Change, PrePurge, PostPurge, DepMods}
        if (rest.length >= 1 && isAtom(rest[0], 'supervisor')) {
          out.set(m, { instruction: 'supervisor', extra: [] });
          break;
        }
        const change = rest.length >= 5 ? rest[1] : rest[0];
        const extra = change instanceof Tuple && isAtom(change.elements[0], 'advanced') ? change.elements[1]! : [];
        out.set(m, { instruction: 'update', extra });
        break;
      }
      case 'load_module':
        out.set(m, { instruction: 'load_module', extra: [] });
        break;
      case 'add_module':
        out.set(m, { instruction: 'add_module', extra: [] });
        break;
      case 'delete_module':
        out.set(m, { instruction: 'delete_module', extra: [] });
        break;
    }
  }
  return out;
}

/** The `modules` list of an `.app` file's `{application, App, Props}`; undefined when it has none. */
export function appModules(terms: Term[]): string[] | undefined {
  const top = terms[0];
  if (!(top instanceof Tuple) || top.elements.length !== 3 || !Array.isArray(top.elements[2])) return undefined;
  for (const prop of top.elements[2] as Term[]) {
    if (prop instanceof Tuple && isAtom(prop.elements[0], 'modules') && Array.isArray(prop.elements[1])) {
      return (prop.elements[1] as Term[]).flatMap((m) => (m instanceof Atom ? [m.name] : []));
    }
  }
  return undefined;
}
