// The attached node's cluster as the views and `status --cluster` show it: every visible node
// it is connected to, each one's status, and the project modules that run different MD5s on
// different nodes (version skew). The peers are reached through the attached node's bridge.
import type { ClusterStatus, VersionSkew } from '../protocol';
import type { NodeGateway } from './gateway';

export async function clusterStatus(gw: NodeGateway, modules: string[]): Promise<{ status: ClusterStatus; peers: NodeGateway[] }> {
  const { peers, failed } = await gw.peers('all');
  const all = [gw, ...peers.sort((a, b) => a.node.localeCompare(b.node))];
  const seen = await Promise.all(
    all.map(async (g) => {
      try {
        const [status, infos] = await Promise.all([g.status(), g.moduleInfos(modules)]);
        return { node: g.node, status, error: null, md5s: new Map([...infos].map(([m, i]) => [m, i.md5 ?? null])) };
      } catch (e) {
        return { node: g.node, status: null, error: (e as Error).message, md5s: undefined };
      }
    }),
  );
  const own = seen[0]!.md5s;
  const skew: VersionSkew[] = own
    ? seen.slice(1).flatMap((n) => (n.md5s ? modules.filter((m) => (n.md5s!.get(m) ?? null) !== (own.get(m) ?? null)).map((module) => ({ module, node: n.node, md5: n.md5s!.get(module) ?? null, expected: own.get(module) ?? null })) : []))
    : [];
  return {
    status: { nodes: [...seen.map(({ node, status, error }) => ({ node, status, error })), ...failed.map((f) => ({ node: f.node, status: null, error: f.error }))], skew },
    peers,
  };
}
