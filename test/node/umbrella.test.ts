// An Elixir umbrella with consolidated protocols (its own String.Chars implementation among
// Elixir's and IEx's): only the project's own modules, and the protocols the node runs, belong
// in a plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpgradePlan, UpgradeReport } from '../../server/protocol';
import { cli, onNode, prepareProject, startNode, writeSource } from '../helpers';

const BAG = 'apps/tally/lib/tally/bag.ex';
const SHELF = 'apps/shelf/lib/shelf/server.ex';

test('an umbrella: a comment-only edit changes nothing, no protocol is noise, a real change upgrades its one module', async () => {
  const node = await startNode({ dir: await prepareProject('umbrella'), name: 'umb' });
  try {
    const a = ['--node', node.name, '--cookie-file', node.cookieFile, '--project', node.dir, '--json'];
    const json = async <R>(cmd: string) => {
      const r = await cli([cmd, ...a]);
      return { code: r.code, r: JSON.parse(r.stdout) as R };
    };
    const quiet = await json<UpgradePlan>('plan');
    assert.deepEqual(quiet.r.modules, []);
    assert.deepEqual(quiet.r.added, []);
    const protocol = /^Elixir\.(Collectable|IEx\.Info|Enumerable|Inspect|List\.Chars|String\.Chars)$/;
    assert.deepEqual(quiet.r.notLoaded.filter((m) => protocol.test(m)), [], 'no protocol the node never loaded is listed');
    writeSource(node.dir, BAG, readFileSync(join(node.dir, BAG), 'utf8').replace('# An Agent holding counts.', '# An Agent holding the counts.'));
    const comment = await json<UpgradeReport>('upgrade');
    assert.equal(comment.code, 0);
    assert.match(comment.r.summary, /^No module changed/);
    writeSource(node.dir, SHELF, readFileSync(join(node.dir, SHELF), 'utf8').replace('{:reply, to_string(b), b}', '{:reply, "shelf: " <> to_string(b), b}'));
    const up = await json<UpgradeReport>('upgrade');
    assert.equal(up.code, 0, up.r.summary);
    assert.deepEqual(up.r.modules.map((m) => m.module), ['Elixir.Shelf.Server'], 'the one module that changed, and no protocol');
    assert.deepEqual(up.r.added, []);
    assert.equal(await onNode(node, `binary_to_list('Elixir.Shelf.Server':show())`), 'shelf: book dune');
  } finally {
    await node.stop();
  }
});
