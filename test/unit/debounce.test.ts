// The debouncer on mocked timers: the test moves the clock, so nothing here waits on a real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from '../../server/save/debounce';

/** Lets the promise callbacks that a timer set going run (setImmediate is not mocked). */
const settle = () => new Promise((r) => setImmediate(r));

test('a burst of triggers ("Save All") runs once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let runs = 0;
  const d = new Debouncer(30, async () => {
    runs++;
  });
  for (let i = 0; i < 10; i++) {
    d.trigger();
    t.mock.timers.tick(10);
  }
  await settle();
  assert.equal(runs, 0, 'still inside the burst');
  t.mock.timers.tick(30);
  await settle();
  assert.equal(runs, 1);
});

test('a trigger during a run schedules exactly one more run, never two at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const finish: Array<() => void> = [];
  const d = new Debouncer(5, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    runs++;
    await new Promise<void>((r) => finish.push(r));
    running--;
  });
  d.trigger();
  t.mock.timers.tick(5);
  await settle();
  assert.equal(runs, 1);
  // Three triggers while the first run is busy.
  d.trigger();
  d.trigger();
  t.mock.timers.tick(5);
  d.trigger();
  t.mock.timers.tick(5);
  await settle();
  assert.equal(runs, 1, 'not while the first runs');
  finish.shift()!();
  await settle();
  t.mock.timers.tick(5);
  await settle();
  assert.equal(runs, 2, 'exactly one more');
  finish.shift()!();
  await settle();
  t.mock.timers.tick(50);
  await settle();
  assert.equal(runs, 2);
  assert.equal(maxRunning, 1);
});

test('cancel drops a pending run', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let runs = 0;
  const d = new Debouncer(20, async () => {
    runs++;
  });
  d.trigger();
  d.cancel();
  t.mock.timers.tick(50);
  await settle();
  assert.equal(runs, 0);
});
