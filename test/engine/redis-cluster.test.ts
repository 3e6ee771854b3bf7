/**
 * The Redis engine on a real 6-node Redis Cluster (3 masters + 3 replicas)
 * and on a Sentinel-managed primary: the same conformance suite as on one
 * Redis, plus what only a cluster shows (sharded pub/sub per slot, rooms on
 * every shard, readiness of the whole deployment).
 */
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent, EngineOptions } from '../../src/engine/engine.js';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { startRedisCluster, type RedisClusterProcess } from '../support/redis-cluster.js';
import { waitFor } from '../support/ports.js';
import { engineConformance } from './conformance.js';

let cluster: RedisClusterProcess;
let admin: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = new Cluster(cluster.seeds, { lazyConnect: true });
  await admin.connect();
}, 60_000);
afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

let n = 0;
const makeEngine = async (options?: Partial<EngineOptions>): Promise<RedisEngine> => {
  const e = new RedisEngine({ clusterNodes: cluster.seeds, nodeId: `cluster-test-${process.pid}-${++n}`, ...options });
  await e.start();
  return e;
};

engineConformance('redis cluster', { multiNode: true, make: makeEngine });

describe('redis engine on a cluster', () => {
  const engines: RedisEngine[] = [];
  const make = async (options?: Partial<EngineOptions>): Promise<RedisEngine> => {
    const e = await makeEngine(options);
    engines.push(e);
    return e;
  };
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it('runs in cluster mode with SPUBLISH, and is ready only while every master answers', async () => {
    const e = await make();
    expect(e.mode).toBe('cluster');
    expect(e.publishCommand).toBe('SPUBLISH');
    expect(await e.ready()).toBe(true);
  });

  it('coalesces the commands of one event-loop turn into one socket write per cluster node', async () => {
    const e = await make();
    // The engine's Cluster client (private): its master connections' sockets are counted.
    const cmd = (e as unknown as { cmd: Cluster }).cmd;
    const rooms = Array.from({ length: 60 }, (_, i) => `cork-${process.pid}-${i}`);
    // Warm up: every master has the script cached (a first EVALSHA may answer NOSCRIPT and be resent).
    await Promise.all(rooms.map((r) => e.append({ room: r, from: 'u', text: 'warm' })));
    let writes = 0;
    for (const node of cmd.nodes('master')) {
      const socket = (node as unknown as { stream: Record<string, (...a: unknown[]) => unknown> }).stream;
      for (const k of ['_write', '_writev']) {
        const f = socket[k]!.bind(socket);
        socket[k] = (...a: unknown[]) => {
          writes++;
          return f(...a);
        };
      }
    }
    await Promise.all(rooms.map((r) => e.append({ room: r, from: 'u', text: 'x' })));
    // 60 appends over 3 shards in one turn: one write per master (not 60).
    expect(writes).toBeLessThanOrEqual(3);
  });

  it('spreads rooms over the three shards and delivers each on its own shard channel', async () => {
    const a = await make();
    const b = await make();
    const rooms = Array.from({ length: 12 }, (_, i) => `spread-${process.pid}-${i}`);
    const owners = new Set(await Promise.all(rooms.map((r) => cluster.masterOf(`parley:{r:${r}}:log`))));
    expect(owners.size).toBe(3);
    const got = new Map<string, string[]>();
    await Promise.all(
      rooms.map((r) =>
        b.subscribe(r, (ev: BusEvent) => {
          if (ev.kind === 'message') got.set(r, [...(got.get(r) ?? []), ev.id]);
        }),
      ),
    );
    const sent = await Promise.all(rooms.map((r) => a.append({ room: r, from: 'u', text: r })));
    await waitFor(() => rooms.every((r) => (got.get(r) ?? []).length === 1), 5000, 'one delivery per room');
    rooms.forEach((r, i) => expect(got.get(r)).toEqual([sent[i]!.message.id]));
    // Sharded channels: the room's channel is counted by SHARDNUMSUB on its own shard, not by classic NUMSUB.
    const port = await cluster.masterOf(`parley:{r:${rooms[0]}}`);
    const node = admin.nodes('master').find((m) => m.options.port === port)!;
    const counts = (await node.call('PUBSUB', 'SHARDNUMSUB', `parley:{r:${rooms[0]}}`)) as [string, number];
    expect(counts[1]).toBe(1);
  });
});
