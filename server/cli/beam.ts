import { readBeamFile, BeamError, formatVsn } from '../beam/beamFile';
import type { BeamReport } from '../protocol';
import { UsageError, parse } from './args';
import { moduleName, vsnText } from '../text/names';

export function beamReport(file: string): BeamReport {
  try {
    const b = readBeamFile(file);
    return {
      file,
      module: b.module,
      md5: b.md5,
      vsn: formatVsn(b.vsn) ?? null,
      exports: b.exports.map(([f, a]) => `${f}/${a}`),
      behaviours: b.behaviours,
    };
  } catch (e) {
    if (e instanceof BeamError) return { file, error: `${e.reason}. Rebuild it (mix compile / erlc) or remove it.` };
    throw e;
  }
}

export async function beamCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, true);
  if (positionals.length === 0) throw new UsageError('give at least one .beam file');
  let status = 0;
  for (const file of positionals) {
    const r = beamReport(file);
    if ('error' in r) status = 2;
    if (values.json) console.log(JSON.stringify(r));
    else if ('error' in r) console.error(`${file}: ${r.error}`);
    else console.log(`${moduleName(r.module)}  md5 ${r.md5}  vsn ${vsnText(r.vsn, r.module)}${r.behaviours.length ? `  behaviours ${r.behaviours.map(moduleName).join(',')}` : ''}\n  exports ${r.exports.join(' ')}`);
  }
  return status;
}
