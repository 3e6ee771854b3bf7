/**
 * The black-box chat suite on two nodes over a real Redis Cluster (3 masters
 * + 3 replicas, rooms on every shard) and over a Sentinel-managed primary.
 */
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';
import { startNode } from '../support/server.js';
import { chatSuite } from './chat-suite.js';

chatSuite('redis cluster, two nodes (clients alternate between them)', async () => {
  const cluster = await startRedisCluster();
  const a = await startNode({ env: cluster.env });
  const b = await startNode({ env: cluster.env });
  return {
    nodes: [a, b],
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await cluster.stop();
    },
  };
});

chatSuite('redis sentinel, two nodes (clients alternate between them)', async () => {
  const sentinel = await startRedisSentinel();
  const a = await startNode({ env: sentinel.env });
  const b = await startNode({ env: sentinel.env });
  return {
    nodes: [a, b],
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await sentinel.stop();
    },
  };
});
