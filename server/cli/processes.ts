import type { ProcessInfo, ProcessesReport, TreeNode } from '../protocol';
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

export function describe(p: ProcessInfo): string {
  const who = p.name ? `${p.name} ${p.pid}` : (p.pid ?? '-');
  const vsn = p.vsn === null ? '' : `  vsn ${p.vsn}`;
  return `${who}  ${p.module ?? '?'}${vsn}`;
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
    for (const p of r.unsupervised) out(`    ${describe(p)}  started by ${p.parent ?? (p.startedBy === 'spawn' ? 'a plain spawn' : 'an unknown process')}`);
  }
  if (r.truncated) out('  … truncated (raise --limit to see more)');
}

function printTree(n: TreeNode, indent: string, out: (l: string) => void): void {
  const status = n.pid === null ? `  (${n.status})` : n.status === 'suspended' ? '  (suspended)' : '';
  out(`${indent}${n.type === 'supervisor' ? '▾ ' : '• '}${describe(n)}${status}`);
  for (const c of n.children) printTree(c, indent + '  ', out);
}
