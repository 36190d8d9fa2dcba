// epmd on loopback for the demo and the tests: started only if none answers, and stopped
// afterwards only if we started it (epmd -kill refuses while nodes are still registered).
import { spawnSync } from 'node:child_process';

export function ensureEpmd(env) {
  if (spawnSync('epmd', ['-names'], { env, stdio: 'ignore' }).status === 0) return () => {};
  spawnSync('epmd', ['-daemon', '-address', '127.0.0.1'], { env, stdio: 'inherit' });
  return () => spawnSync('epmd', ['-kill'], { env, stdio: 'ignore' });
}
