// beam-live relup --from OLD --to NEW: the relup between two built releases, by systools.
import { relative } from 'node:path';
import { makeRelup } from '../release/relup';
import { isTarball } from '../release/tarball';
import { parse, UsageError } from './args';

export async function relupCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } });
  if (typeof values.from !== 'string' || typeof values.to !== 'string') throw new UsageError('relup needs --from OLD_RELEASE and --to NEW_RELEASE (folders or tarballs)');
  const to = values.to;
  const r = await makeRelup(values.from, to);
  // A tarball's paths read TARBALL:PATH already.
  const shown = (p: string) => (isTarball(to) ? p : relative(to, p));
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 1;
  }
  for (const a of r.appups) console.log(`Wrote ${shown(a.path)}: ${a.app} ${a.fromVsn} -> ${a.toVsn}, ${a.modules.length} module(s).`);
  for (const w of r.warnings) console.log(`systools warning: ${w}`);
  if (!r.ok) {
    console.error(`systools:make_relup failed: ${r.error}`);
    return 1;
  }
  console.log(`Wrote ${shown(r.relup!)}: ${r.from} -> ${r.to} and back.`);
  return 0;
}
