// The attached node's cluster as the views and `status --cluster` show it: every visible node
// it is connected to, each one's status, and the project modules that run different MD5s on
// different nodes (version skew). The peers are reached through the attached node's bridge.
import type { ClusterStatus, VersionSkew } from '../protocol';
import type { NodeGateway } from './gateway';
import type { LoadedInfo } from './replies';

/** What each module runs, by MD5 (null: not loaded). */
export function md5sOf(infos: Map<string, LoadedInfo>): Map<string, string | null> {
  return new Map([...infos].map(([m, i]) => [m, i.md5 ?? null]));
}

/**
 * The modules both nodes have loaded, in different versions. A module one node has not loaded
 * yet (interactive mode loads on first call: a consolidated protocol, a module nobody called)
 * is not skew: its first call there loads the build's.
 */
export function skewOf(node: string, modules: string[], here: Map<string, string | null>, attached: Map<string, string | null>): VersionSkew[] {
  return modules.flatMap((module) => {
    const md5 = here.get(module) ?? null;
    const expected = attached.get(module) ?? null;
    return md5 && expected && md5 !== expected ? [{ module, node, md5, expected }] : [];
  });
}

/**
 * `projectModules` is asked only when the node sees others: a node alone has no skew, and the
 * Live view asks this at every refresh.
 */
export async function clusterStatus(gw: NodeGateway, projectModules: () => string[]): Promise<ClusterStatus> {
  const { peers, failed } = await gw.peers('all');
  const all = [gw, ...peers.sort((a, b) => a.node.localeCompare(b.node))];
  const modules = peers.length ? projectModules() : [];
  const seen = await Promise.all(
    all.map(async (g) => {
      try {
        const [status, infos] = await Promise.all([g.status(), g.moduleInfos(modules)]);
        return { node: g.node, status, error: null, md5s: md5sOf(infos) };
      } catch (e) {
        return { node: g.node, status: null, error: (e as Error).message, md5s: undefined };
      }
    }),
  );
  const own = seen[0]!.md5s;
  const skew: VersionSkew[] = own ? seen.slice(1).flatMap((n) => (n.md5s ? skewOf(n.node, modules, n.md5s, own) : [])) : [];
  return { nodes: [...seen.map(({ node, status, error }) => ({ node, status, error })), ...failed.map((f) => ({ node: f.node, status: null, error: f.error }))], skew };
}
