// Bundles the three entry points and ships the agent/bridge Erlang sources beside them:
// they are compiled on the user's machine with the user's erlc (see server/runtime/erlangBuild.ts).
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};
const builds = [
  { entryPoints: ['extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['server/main.ts'], outfile: 'dist/server.js' },
  { entryPoints: ['server/cli/main.ts'], outfile: 'dist/cli.js' },
];

mkdirSync('dist/erlang', { recursive: true });
cpSync('server/erlang', 'dist/erlang', { recursive: true, filter: (f) => !f.endsWith('.beam') });
cpSync('server/elixir', 'dist/elixir', { recursive: true });

if (watch) {
  for (const b of builds) await (await esbuild.context({ ...common, ...b })).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}
