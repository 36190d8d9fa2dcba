// Attaching from the command line: the same NodeSession the language server uses.
import { NodeSession } from '../runtime/session';
import { nameType, requireNode } from './args';

export function attachFromArgs(values: Record<string, unknown>): Promise<NodeSession> {
  return NodeSession.attach({
    node: requireNode(values as { node?: string }),
    nameType: nameType(values['name-type']),
    cookieFile: values['cookie-file'] as string | undefined,
    confirmed: values.yes === true,
    log: process.env.BEAM_LIVE_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
  });
}

/** Runs `fn` with an attached session and always closes it. */
export async function withSession<T>(values: Record<string, unknown>, fn: (s: NodeSession) => Promise<T>): Promise<T> {
  const session = await attachFromArgs(values);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
