// beam-live rehearse --from OLD --to NEW: install the release upgrade for real on a throw-away
// node, and the downgrade after it; exit 0 only if both worked, nothing was lost, and the
// outcome is what BEAM Live's plan predicted.
import { rehearse } from '../release/rehearse';
import { oldVsnText, processName } from '../text/names';
import { parse, UsageError } from './args';

export async function rehearseCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { from: { type: 'string' }, to: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'boolean' } });
  if (typeof values.from !== 'string' || typeof values.to !== 'string') throw new UsageError('rehearse needs --from OLD_RELEASE and --to NEW_RELEASE (folders or tarballs)');
  const r = await rehearse({ from: values.from, to: values.to, warmup: typeof values.warmup === 'string' ? values.warmup : undefined });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 1;
  }
  console.log(r.summary);
  for (const w of r.warnings) console.log(`systools warning: ${w}`);
  for (const p of r.processes) {
    const cc = (c: { oldVsn: string; result: string } | null) => (c ? `code_change(${oldVsnText(c.oldVsn, p.module)}) ${c.result}` : 'no code_change');
    console.log(`  ${processName(p)}${p.predicted ? '' : ' (not in the plan)'}: up ${cc(p.up.codeChange)}${p.up.after.alive ? '' : ', died'}; down ${cc(p.down.codeChange)}${p.down.after.alive ? '' : ', died'}`);
  }
  for (const d of r.differences) console.log(`  DIFFERENCE: ${d}`);
  return r.ok ? 0 : 1;
}
