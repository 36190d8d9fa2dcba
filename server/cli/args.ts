// Argument parsing shared by the CLI commands; wrong arguments exit with status 2.
import { parseArgs, ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Options = ParseArgsConfig['options'];

export const NODE_OPTIONS = {
  node: { type: 'string' },
  'cookie-file': { type: 'string' },
  'name-type': { type: 'string' },
  json: { type: 'boolean' },
  yes: { type: 'boolean' },
} as const satisfies Options;

export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: options as O & {}, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function requireNode(values: { node?: string | boolean | undefined }): string {
  if (typeof values.node !== 'string' || !values.node) throw new UsageError('--node NAME is required, e.g. --node app@localhost');
  return values.node;
}

export function nameType(v: unknown): 'sname' | 'name' | undefined {
  if (v === undefined) return undefined;
  if (v === 'sname' || v === 'name') return v;
  throw new UsageError(`--name-type must be sname or name, not ${String(v)}`);
}

export function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, not ${String(v)}`);
  return n;
}
