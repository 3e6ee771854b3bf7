/**
 * The presence suite on two nodes over a real Redis Cluster and over a
 * Sentinel-managed primary.
 */
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';
import { startNode } from '../support/server.js';
import { API_KEY, presenceSuite } from './presence-suite.js';

const env = { PARLEY_API_KEY: API_KEY };

presenceSuite('Redis Cluster, two nodes', async () => {
  const cluster = await startRedisCluster();
  const nodes = [
    await startNode({ env: { ...env, ...cluster.env } }),
    await startNode({ env: { ...env, ...cluster.env } }),
  ];
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await cluster.stop();
    },
  };
});

presenceSuite('Redis Sentinel, two nodes', async () => {
  const sentinel = await startRedisSentinel();
  const nodes = [
    await startNode({ env: { ...env, ...sentinel.env } }),
    await startNode({ env: { ...env, ...sentinel.env } }),
  ];
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await sentinel.stop();
    },
  };
});
