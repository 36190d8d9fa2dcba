import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from '../../server/save/debounce';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a burst of triggers ("Save All") runs once', async () => {
  let runs = 0;
  const d = new Debouncer(30, async () => {
    runs++;
  });
  for (let i = 0; i < 10; i++) d.trigger();
  await tick(80);
  assert.equal(runs, 1);
});

test('a trigger during a run schedules exactly one more run, never two at once', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const d = new Debouncer(5, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    runs++;
    await tick(40);
    running--;
  });
  d.trigger();
  await tick(15);
  d.trigger();
  d.trigger();
  await tick(10);
  d.trigger();
  await tick(150);
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2);
});

test('cancel drops a pending run', async () => {
  let runs = 0;
  const d = new Debouncer(20, async () => {
    runs++;
  });
  d.trigger();
  d.cancel();
  await tick(50);
  assert.equal(runs, 0);
});
