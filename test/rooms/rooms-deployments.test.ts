/**
 * The black-box memberships and read-state suite on two nodes over a real
 * Redis Cluster (3 masters + 3 replicas: rooms, users and directory buckets
 * on every shard) and over a Sentinel-managed primary.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { startRedisCluster, type RedisClusterProcess } from '../support/redis-cluster.js';
import { startRedisSentinel, type RedisSentinelProcess } from '../support/redis-sentinel.js';
import { startNode } from '../support/server.js';
import { JWT_ENV, SUITE_ENV, roomsSuite, type RoomsCluster } from './rooms-suite.js';

/** Two nodes on the deployment `env()` names (read when the suite starts them). */
const twoNodes =
  (deployment: () => Record<string, string>, env: Record<string, string>) => async (): Promise<RoomsCluster> => {
    const a = await startNode({ env: { ...deployment(), ...env } });
    const b = await startNode({ env: { ...deployment(), ...env } });
    return { nodes: [a, b], stop: () => Promise.all([a.stop(), b.stop()]).then(() => undefined) };
  };

describe('on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const env = (): Record<string, string> => cluster.env;
  roomsSuite('redis cluster, two nodes', twoNodes(env, SUITE_ENV), twoNodes(env, JWT_ENV));
});

describe('on a Sentinel-managed primary', () => {
  let sentinel: RedisSentinelProcess;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  });
  afterAll(async () => {
    await sentinel?.stop();
  });
  const env = (): Record<string, string> => sentinel.env;
  roomsSuite('redis sentinel, two nodes', twoNodes(env, SUITE_ENV), twoNodes(env, JWT_ENV));
});
