import { NODE_OPTIONS, parse } from './args';
import { withSession } from './attach';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, NODE_OPTIONS);
  const status = await withSession(values, (s) => s.status());
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  console.log(`${status.node}  OTP ${status.otpRelease}  ${status.processCount} processes${status.elixir ? '  (Elixir)' : ''}`);
  for (const app of status.applications) console.log(`  ${app.name} ${app.vsn}`);
  return 0;
}
