import { detectProject, guessBeamDirs } from '../compile/project';
import { clusterStatus } from '../runtime/cluster';
import { moduleName } from '../text/names';
import { readBeamDirs } from '../upgrade/beams';
import { NODE_OPTIONS, parse } from './args';
import { withSession } from './attach';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...NODE_OPTIONS, cluster: { type: 'boolean' }, project: { type: 'string' } });
  if (values.cluster) return clusterCommand(values);
  const status = await withSession(values, (s) => s.status());
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  console.log(`${status.node}  OTP ${status.otpRelease}  ${status.processCount} processes${status.elixir ? '  (Elixir)' : ''}`);
  for (const app of status.applications) console.log(`  ${app.name} ${app.vsn}`);
  return 0;
}

/** Every node the attached one sees, and the project's modules in other versions than on it (skew: exit 1). */
async function clusterCommand(values: Record<string, unknown>): Promise<number> {
  const dir = typeof values.project === 'string' ? values.project : process.cwd();
  // The project's built modules, without a compile; outside a project, no skew is looked for.
  let modules: string[] = [];
  try {
    modules = [...readBeamDirs(guessBeamDirs(detectProject(dir))).modules.keys()];
  } catch {
    modules = [];
  }
  const status = await withSession(values, (s) => clusterStatus(s, () => modules));
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return status.skew.length ? 1 : 0;
  }
  for (const n of status.nodes) {
    console.log(n.status ? `${n.node}  OTP ${n.status.otpRelease}  ${n.status.processCount} processes  ${n.status.applications.map((a) => `${a.name} ${a.vsn}`).join(', ')}` : `${n.node}  not reachable: ${n.error}`);
  }
  if (!modules.length) console.log(`(no built project in ${dir}: version skew not checked; give --project DIR)`);
  for (const s of status.skew) console.log(`VERSION SKEW  ${moduleName(s.module)}: ${s.node} runs ${s.md5 ?? 'nothing'}, ${status.nodes[0]!.node} runs ${s.expected ?? 'nothing'}`);
  return status.skew.length ? 1 : 0;
}
