/**
 * The HTTP API suite with the API on one node and clients on another, over a
 * real Redis Cluster and over a Sentinel-managed primary; /readyz and
 * parley_node_info name the deployment.
 */
import { describe, expect, it } from 'vitest';
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';
import { startNode } from '../support/server.js';
import { apiSuite, KEY } from './api-suite.js';

const env = { PARLEY_API_KEY: KEY, PARLEY_MAX_TEXT_CHARS: '100', PARLEY_MAX_FRAME_BYTES: '4096' };

async function readyAndMode(url: string): Promise<{ ready: number; mode: string | undefined }> {
  const ready = (await fetch(`${url}/readyz`)).status;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const mode = /parley_node_info\{[^}]*redis_mode="([a-z]+)"/.exec(metrics)?.[1];
  return { ready, mode };
}

apiSuite('redis cluster, API on one node, clients on another', async () => {
  const cluster = await startRedisCluster();
  const a = await startNode({ env: { ...env, ...cluster.env } });
  const b = await startNode({ env: { ...env, ...cluster.env } });
  return {
    api: a,
    ws: b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await cluster.stop();
    },
  };
});

apiSuite('redis sentinel, API on one node, clients on another', async () => {
  const sentinel = await startRedisSentinel();
  const a = await startNode({ env: { ...env, ...sentinel.env } });
  const b = await startNode({ env: { ...env, ...sentinel.env } });
  return {
    api: a,
    ws: b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await sentinel.stop();
    },
  };
});

describe('readiness and node info name the deployment', () => {
  it('cluster: ready while every shard has a primary, 503 while one has none', async () => {
    const cluster = await startRedisCluster();
    const node = await startNode({ env: cluster.env });
    try {
      expect(await readyAndMode(node.url)).toEqual({ ready: 200, mode: 'cluster' });
      const [victim] = await cluster.masters();
      await cluster.kill(victim!);
      // The shard has no primary until its replica is promoted (node timeout 2 s): not ready meanwhile.
      let sawNotReady = false;
      const end = Date.now() + 20_000;
      while (Date.now() < end) {
        const { ready } = await readyAndMode(node.url);
        if (ready === 503) sawNotReady = true;
        if (sawNotReady && ready === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sawNotReady).toBe(true);
      expect((await readyAndMode(node.url)).ready).toBe(200);
    } finally {
      await node.stop();
      await cluster.stop();
    }
  }, 60_000);
});
