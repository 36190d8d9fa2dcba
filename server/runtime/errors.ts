// Every way attaching or talking to a node can fail, each with a message that names the cause
// and what to do. No message ever includes the cookie.
import { formatTerm } from '../beam/format';
import { Atom, Term, Tuple, isAtom, text } from '../beam/term';

export type NodeErrorCode =
  | 'bad-argument'
  | 'cookie-file'
  | 'cookie-rejected'
  | 'wrong-name'
  | 'not-running'
  | 'epmd-unreachable'
  | 'distribution'
  | 'agent-load'
  | 'timeout'
  | 'node-down'
  | 'bridge-exit'
  | 'toolchain'
  | 'remote-error'
  | 'needs-confirmation';

export class NodeError extends Error {
  override name = 'NodeError';
  constructor(
    readonly code: NodeErrorCode,
    message: string,
    /** For wrong-name: the name the node really has. */
    readonly realName?: string,
  ) {
    super(message);
  }
}

function startHint(node: string): string {
  const [name, host] = node.split('@');
  const flag = host && host.includes('.') ? '--name' : '--sname';
  return `Start it with "iex ${flag} ${name} -S mix" (or "elixir ${flag} ${name} -S mix run --no-halt") and try again.`;
}

/** Turns the bridge's `{error, Reason}` for a connect into a NodeError. */
export function connectError(node: string, reason: Term): NodeError {
  const r = reason instanceof Tuple ? reason.elements : [reason];
  const tag = r[0];
  if (isAtom(tag, 'wrong_host')) {
    const real = r[2] instanceof Atom ? r[2].name : String(text(r[2]) ?? '');
    const short = node.split('@')[0];
    return new NodeError(
      'wrong-name',
      `epmd on this machine knows ${short}, but its node is ${real}, not ${node}: attach to ${real}. ` +
        `(A node started with --sname ${short} takes this machine's host name.)`,
      real,
    );
  }
  if (isAtom(tag, 'connection_rejected')) {
    const others = Array.isArray(r[2]) ? (r[2] as Term[]).flatMap((t) => (t instanceof Atom ? [t.name] : [])) : [];
    const maybe = others.length ? `If it was started with --sname or --name and no host, its name may be ${others.join(' or ')}, but those refused too. ` : '';
    return new NodeError(
      'cookie-rejected',
      `Node ${node} is running but refused the connection: the cookie is probably wrong. ${maybe}` +
        `Point --cookie-file (setting beamLive.cookieFile) at the file holding the node's cookie, or store it in VS Code with BEAM Live: Set Cookie for Node…. ` +
        `If the node was started with ${node.includes('.') ? '--sname' : '--name'} instead, set the name type to match.`,
    );
  }
  if (isAtom(tag, 'needs_confirmation')) {
    return new NodeError(
      'needs-confirmation',
      `${node} does not look like a development node: ${text(r[1]) ?? 'it is not on this machine'}. ` +
        `BEAM Live loads an agent into the nodes it attaches to and can suspend their processes; confirm to attach anyway (CLI: --yes).`,
    );
  }
  if (isAtom(tag, 'not_running')) {
    const names = Array.isArray(r[2]) ? r[2].map((n) => text(n)).filter(Boolean) : [];
    const known = names.length ? ` epmd knows ${names.join(', ')}.` : ' No node is registered with epmd there.';
    return new NodeError('not-running', `Node ${node} is not running.${known} ${startHint(node)}`);
  }
  if (isAtom(tag, 'epmd_unreachable')) {
    const host = text(r[1]) ?? 'the host';
    return new NodeError(
      'epmd-unreachable',
      `Could not reach epmd on ${host}, so no node is running there (or epmd listens elsewhere: check ERL_EPMD_PORT). ${startHint(node)}`,
    );
  }
  if (isAtom(tag, 'distribution_failed')) {
    return new NodeError(
      'distribution',
      `Could not start Erlang distribution to reach ${node}: ${formatTerm(r[1] ?? reason)}. Check that the name type (sname/name) matches the node's.`,
    );
  }
  if (isAtom(tag, 'agent_load_failed')) {
    return new NodeError(
      'agent-load',
      `Connected to ${node} but could not load BEAM Live's agent into it: ${formatTerm(r[1] ?? reason)}. ` +
        `The node's OTP may be older than the erlc on PATH; use the same Erlang for both.`,
    );
  }
  return new NodeError('distribution', `Could not attach to ${node}: ${formatTerm(reason)}`);
}

/** Turns the bridge's `{error, Reason}` for a call into a NodeError. */
export function callError(node: string, what: string, reason: Term): NodeError {
  if (isAtom(reason, 'not_attached')) return new NodeError('node-down', `Not attached to ${node}. Attach first.`);
  if (reason instanceof Tuple && isAtom(reason.elements[0], 'too_large')) {
    const mb = (n: Term | undefined) => `${Math.round(Number(n) / 2 ** 20)} MB`;
    return new NodeError('remote-error', `${node} answered ${what} with ${mb(reason.elements[1])}, over the ${mb(reason.elements[2])} limit: refused. Ask for less (a page, a smaller beamLive.state.maxBytes).`);
  }
  if (reason instanceof Tuple && isAtom(reason.elements[0], 'erpc')) {
    const why = reason.elements[1];
    if (isAtom(why, 'noconnection')) {
      return new NodeError('node-down', `Lost the connection to ${node} during ${what}. Is the node still running? Attach again once it is.`);
    }
    if (isAtom(why, 'timeout')) return new NodeError('timeout', `${node} did not answer ${what} in time.`);
  }
  return new NodeError('remote-error', `${what} failed on ${node}: ${describeException(reason)}`);
}

/**
 * `{exception, Reason, Stack}` as one readable line: the reason and where it was raised, never
 * the arguments (they can hold whole binaries, or process state).
 */
function describeException(reason: Term): string {
  const parts = reason instanceof Tuple ? reason.elements : [reason];
  const why = parts.length >= 2 ? parts[1]! : reason;
  const stack = parts[2];
  let where = '';
  if (Array.isArray(stack) && stack[0] instanceof Tuple) {
    const [m, f, a] = stack[0].elements;
    const arity = Array.isArray(a) ? a.length : typeof a === 'number' ? a : '?';
    if (m instanceof Atom && f instanceof Atom) where = ` in ${m.name}:${f.name}/${arity}`;
  }
  return `${truncate(formatTerm(why), 500)}${where}`;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}
