import type { ProcessInfo, ProcessesReport, TreeNode } from '../protocol';
import { isMd5Vsn, moduleName, processLabel, vsnText } from '../text/names';
import { NODE_OPTIONS, parse, positiveInt } from './args';
import { withSession } from './attach';

export async function processesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...NODE_OPTIONS, limit: { type: 'string' }, app: { type: 'string', multiple: true } });
  const limit = positiveInt(values.limit, '--limit');
  const report = await withSession(values, (s) => s.processes({ limit, apps: values.app }));
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printProcesses(report);
  return 0;
}

/** A process, its module and the module's vsn, as the module's language writes them (an MD5 vsn reads "no @vsn"). */
function describe(p: ProcessInfo): string {
  const vsn = p.vsn === null || p.module === null ? '' : `  ${isMd5Vsn(p.vsn) ? '' : 'vsn '}${vsnText(p.vsn, p.module, { short: true })}`;
  return `${processLabel(p)}  ${p.module === null ? '?' : moduleName(p.module)}${vsn}`;
}

export function printProcesses(r: ProcessesReport, out: (l: string) => void = console.log): void {
  out(r.node);
  for (const app of r.applications) {
    if (!app.supervisor) continue;
    out(`  ${app.application} ${app.vsn ?? ''}`);
    printTree(app.supervisor, '    ', out);
  }
  if (r.unsupervised.length) {
    out('  Outside supervision trees (a release upgrade will not suspend them or call their code_change):');
    for (const p of r.unsupervised) out(`    ${describe(p)}  started by ${p.parent ? moduleName(p.parent) : (p.startedBy === 'spawn' ? 'a plain spawn' : 'an unknown process')}`);
  }
  if (r.truncated) out('  … truncated (raise --limit to see more)');
}

function printTree(n: TreeNode, indent: string, out: (l: string) => void): void {
  const status = n.pid === null ? `  (${n.status})` : n.status === 'suspended' ? '  (suspended)' : '';
  out(`${indent}${n.type === 'supervisor' ? '▾ ' : '• '}${describe(n)}${status}`);
  for (const c of n.children) printTree(c, indent + '  ', out);
}
