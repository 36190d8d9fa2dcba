// The cluster's pure parts: what counts as version skew, and the one line a cluster upgrade sums up to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterNodeResult, ClusterReport } from '../../server/protocol';
import { skewOf } from '../../server/runtime/cluster';
import { clusterSummary } from '../../server/upgrade/report';

test('skew: both nodes loaded the module, in different versions; a module one node has not loaded yet is not skew', () => {
  const attached = new Map<string, string | null>([['A', 'aa'], ['B', 'bb'], ['C', null], ['D', 'dd']]);
  const here = new Map<string, string | null>([['A', 'aa'], ['B', 'xx'], ['C', 'cc'], ['D', null]]);
  assert.deepEqual(skewOf('n@h', ['A', 'B', 'C', 'D', 'E'], here, attached), [{ module: 'B', node: 'n@h', md5: 'xx', expected: 'bb' }]);
});

const node = (n: string, outcome: ClusterNodeResult['outcome']): ClusterNodeResult => ({ node: n, outcome, error: null, skew: [], invalid: [], reach: 0, kills: [], pitfalls: [], report: null, rollback: null, runs: null });
const cluster = (phase: ClusterReport['phase'], nodes: ClusterNodeResult[], unreachable: ClusterReport['unreachable'] = []): ClusterReport => ({ order: 'parallel', phase, nodes, unreachable, timings: { prepareMs: 0, commitMs: 0, abortMs: 0 } });

test('the cluster summary says where it stopped and who is where', () => {
  assert.equal(clusterSummary(cluster('done', [node('a', 'upgraded'), node('b', 'upgraded')])), 'Cluster of 2: upgraded on every node (parallel)');
  assert.equal(clusterSummary(cluster('prepare', [node('a', 'not_committed'), node('b', 'refused')], [{ node: 'c', error: 'x' }])), 'Cluster of 2: nothing changed on any node; b, c stopped it in prepare');
  assert.equal(
    clusterSummary(cluster('done', [node('a', 'rolled_back'), node('b', 'failed'), node('c', 'unknown'), node('d', 'not_committed')])),
    'Cluster of 4: failed: b; rolled back: a; unknown: c; not committed: d',
  );
});
