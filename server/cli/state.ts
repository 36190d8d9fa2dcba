import { NODE_OPTIONS, UsageError, parse, positiveInt } from './args';
import { withSession } from './attach';

export async function stateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...NODE_OPTIONS, syntax: { type: 'string' }, 'max-bytes': { type: 'string' } }, true);
  const who = positionals[0];
  if (!who) throw new UsageError('give a registered name or a pid, e.g. beam-live state --node app@localhost Elixir.MyApp.Counter');
  const syntax = values.syntax ?? 'elixir';
  if (syntax !== 'elixir' && syntax !== 'erlang') throw new UsageError(`--syntax must be elixir or erlang, not ${syntax}`);
  const st = await withSession(values, (s) => s.processState(who, { syntax, maxBytes: positiveInt(values['max-bytes'], '--max-bytes') }));
  if (values.json) console.log(JSON.stringify(st, null, 2));
  else if (st.ok) console.log(`${st.text}${st.truncated ? `\n… truncated at ${st.text.length} of ${st.bytes} bytes` : ''}`);
  else console.error(`beam-live state: ${who}: ${st.error}`);
  return st.ok ? 0 : 1;
}
