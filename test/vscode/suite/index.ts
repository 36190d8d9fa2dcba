// The integration suite's entry, as @vscode/test-electron expects: run(): Promise<void>.
// Mocha runs inside the extension host against the real vscode API.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 120_000, color: false, reporter: 'spec' });
  for (const f of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(join(__dirname, f));
  return new Promise((resolve, reject) => {
    let passed = 0;
    let failed = 0;
    const failures: string[] = [];
    const runner = mocha.run((n) => {
      const file = process.env.BEAM_LIVE_TEST_RESULTS;
      if (file) writeFileSync(file, JSON.stringify({ passed, failed, failures }));
      if (n > 0) reject(new Error(`${n} integration test(s) failed`));
      else resolve();
    });
    runner.on('pass', () => passed++);
    runner.on('fail', (t, err) => {
      failed++;
      failures.push(`${t.fullTitle()}: ${(err as Error).message}`);
    });
  });
}
