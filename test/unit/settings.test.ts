// The settings an editor without workspace/configuration pushes in didChangeConfiguration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Settings } from '../../server/lsp/settings';

test('pushed settings are merged over the seeded ones; a notification without beamLive changes nothing', async () => {
  // No pull: there is no connection to ask.
  const s = new Settings(undefined, false);
  s.seed({ upgradeOnSave: 'manual' });
  await s.refresh({ beamLive: { upgrade: { parallel: true } } });
  assert.equal(s.value.upgradeOnSave, 'manual');
  assert.equal(s.value.upgrade.parallel, true);
  assert.equal(s.value.upgrade.suspendTimeoutMs, 5000);
  await s.refresh({ other: { x: 1 } });
  await s.refresh(null);
  assert.equal(s.value.upgrade.parallel, true);
});
