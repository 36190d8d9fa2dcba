// beam-live relup --from OLD --to NEW: the relup between two built releases, by systools.
import { relative } from 'node:path';
import { makeRelup } from '../release/relup';
import { parse, UsageError } from './args';

export async function relupCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } });
  if (typeof values.from !== 'string' || typeof values.to !== 'string') throw new UsageError('relup needs --from OLD_RELEASE_DIR and --to NEW_RELEASE_DIR');
  const r = await makeRelup(values.from, values.to);
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 1;
  }
  for (const a of r.appups) console.log(`Wrote ${relative(values.to, a.path)}: ${a.app} ${a.fromVsn} -> ${a.toVsn}, ${a.modules.length} module(s).`);
  for (const w of r.warnings) console.log(`systools warning: ${w}`);
  if (!r.ok) {
    console.error(`systools:make_relup failed: ${r.error}`);
    return 1;
  }
  console.log(`Wrote ${relative(values.to, r.relup!)}: ${r.from} -> ${r.to} and back.`);
  return 0;
}
