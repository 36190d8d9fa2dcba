// Attaching from the command line: the same NodeGateway the language server uses.
import { NodeGateway } from '../runtime/gateway';
import { nameType, requireNode } from './args';

export function attachFromArgs(values: Record<string, unknown>): Promise<NodeGateway> {
  return NodeGateway.attach({
    node: requireNode(values as { node?: string }),
    nameType: nameType(values['name-type']),
    cookieFile: values['cookie-file'] as string | undefined,
    confirmed: values.yes === true,
    log: process.env.BEAM_LIVE_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
  });
}

/** Runs `fn` with an attached session and always closes it. */
export async function withSession<T>(values: Record<string, unknown>, fn: (s: NodeGateway) => Promise<T>): Promise<T> {
  const session = await attachFromArgs(values);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
