/**
 * The moderation suite on two nodes over a real Redis Cluster (moderation
 * state in each room's slot, the ban's control message across the cluster).
 */
import { startRedisCluster } from '../support/redis-cluster.js';
import { startNode } from '../support/server.js';
import { KEY, moderationSuite } from './moderation-suite.js';

moderationSuite('redis cluster, two nodes', async () => {
  const cluster = await startRedisCluster();
  const env = { ...cluster.env, PARLEY_API_KEY: KEY };
  const a = await startNode({ env });
  const b = await startNode({ env });
  return {
    nodes: [a, b],
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await cluster.stop();
    },
  };
});
