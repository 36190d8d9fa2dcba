// The save policy and the fold, as pure logic: an engine stand-in that records what it was
// handed and when its compile takes the noted files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WAIT_MS, QUIET_MS, SaveHandler } from '../../server/save/saveHandler';

function harness(policy: 'never' | 'manual' | 'always' = 'always') {
  const noted: string[] = [];
  const runs: string[][] = [];
  let release: (() => void) | undefined;
  const h = new SaveHandler({
    root: '/p',
    upgradeOnSave: () => policy,
    attached: () => true,
    note: (files) => noted.push(...files),
    uncompiled: () => noted.length > 0,
    // The compile takes everything noted so far, then the run waits until the test lets it end.
    run: () => {
      runs.push(noted.splice(0));
      return new Promise<void>((res) => (release = res));
    },
  });
  return { h, noted, runs, end: () => release?.() };
}

test('a save starts its upgrade at once: no debounce', () => {
  const { h, runs } = harness();
  assert.equal(h.onSave('/p/lib/a.ex'), 'upgrade');
  assert.deepEqual(runs, [['lib/a.ex']]);
});

const tick = () => new Promise((res) => setImmediate(res));

test('saves during a run are handed to it, and one more run takes what its compile missed once the saves pause', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { h, runs, noted, end } = harness();
  h.onSave('/p/lib/a.ex');
  h.onSave('/p/lib/b.ex');
  h.onSave('/p/lib/c.ex');
  assert.equal(runs.length, 1, 'one run while the first is going');
  assert.deepEqual(noted, ['lib/b.ex', 'lib/c.ex'], 'handed to the engine at once');
  end();
  await tick();
  assert.equal(runs.length, 1, 'the next waits for a pause');
  t.mock.timers.tick(QUIET_MS);
  await tick();
  assert.deepEqual(runs, [['lib/a.ex'], ['lib/b.ex', 'lib/c.ex']]);
  end();
  await h.idle();
  assert.equal(runs.length, 2);
});

test('a burst of saves makes its next upgrade wait no longer than MAX_WAIT_MS', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { h, runs, end } = harness();
  h.onSave('/p/lib/a.ex');
  end();
  // A save every 100 ms, never a pause of QUIET_MS.
  for (let ms = 0; ms < MAX_WAIT_MS; ms += 100) {
    h.onSave('/p/lib/b.ex');
    await tick();
    t.mock.timers.tick(100);
    await tick();
  }
  assert.equal(runs.length, 2, 'the second run started at MAX_WAIT_MS');
  end();
});

test('a save folded into the running compile starts nothing more', async () => {
  const { h, runs, noted, end } = harness();
  h.onSave('/p/lib/a.ex');
  h.onSave('/p/lib/b.ex');
  // The running compile saw the second save (its loop compiles again) and took it.
  noted.splice(0);
  end();
  await h.idle();
  assert.equal(runs.length, 1);
});

test('manual: a save after a delay or on focus out does not upgrade; an editor without willSave does', () => {
  const { h, runs } = harness('manual');
  h.willSave('/p/lib/a.ex', 2);
  assert.equal(h.onSave('/p/lib/a.ex'), 'auto-save');
  h.willSave('/p/lib/a.ex', 3);
  assert.equal(h.onSave('/p/lib/a.ex'), 'auto-save');
  assert.equal(runs.length, 0);
  assert.equal(h.onSave('/p/lib/a.ex'), 'upgrade');
  assert.equal(runs.length, 1);
});

test('never, config, and files outside the project', () => {
  assert.equal(harness('never').h.onSave('/p/lib/a.ex'), 'off');
  const { h } = harness();
  assert.equal(h.onSave('/p/config/dev.exs'), 'config');
  assert.equal(h.onSave('/elsewhere/a.ex'), 'ignored');
  assert.equal(h.onSave('/p/README.md'), 'ignored');
});
