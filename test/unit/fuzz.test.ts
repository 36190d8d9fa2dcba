import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz } from '../fuzz/fuzz';

test('5,000 mutated real inputs: the ETF decoder and the .beam reader decode or throw their typed error, never anything else', () => {
  const stats = fuzz(5000, 7);
  assert.deepEqual(stats.escaped, []);
  assert.equal(stats.decoded + stats.rejected, 5000);
  assert.ok(stats.rejected > 1000, 'the mutations do break inputs');
});
