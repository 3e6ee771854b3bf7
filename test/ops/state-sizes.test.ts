/**
 * parley_state_entries{map} on /metrics: the sizes of a node's per-room and
 * per-connection structures go up when real sockets join rooms and come back
 * to where they were when they leave and close (what the soak benchmark
 * watches for leaks), on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from '../support/client.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';

/** The parley_state_entries series of one scrape: map label -> value. */
async function stateEntries(node: RunningNode): Promise<Record<string, number>> {
  const res = await fetch(`${node.url}/metrics`);
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^parley_state_entries\{map="([^"]+)"\} (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * Caches and stored data: they may keep what the load brought (bounded by
 * their own limits, or history by design), so they are not expected back at
 * the baseline.
 */
const KEPT = new Set([
  'roomNames.cached',
  'moderation.cache',
  'moderation.generation',
  'redisMemberships.touched',
  'redisErrors.sources',
  'memoryEngine.rooms',
  'memoryEngine.messages',
  'memoryEngine.dedupe',
  'memoryPresence.users',
  'memoryMemberships.rooms',
  'memoryMemberships.users',
  'memoryMemberships.members',
  'memoryLifecycle.rooms',
  'memoryLifecycle.overlays',
  'memoryNodes.nodes',
]);

/** Per-engine series that must count the connections and rooms opened below. */
const ENGINE_SERIES = {
  redis: { conns: 'redisPresence.localConns', connRooms: 'redisPresence.localConnRooms', rooms: 'bus.rooms' },
  memory: { conns: 'memoryPresence.conns', connRooms: 'memoryPresence.roomMembers', rooms: 'memoryEngine.listeners' },
} as const;

function suite(kind: 'redis' | 'memory'): void {
  describe(`parley_state_entries on the ${kind} engine`, () => {
    let redis: RedisProcess | null = null;
    let node: RunningNode;
    const clients: TestClient[] = [];
    const series = ENGINE_SERIES[kind];
    beforeAll(async () => {
      if (kind === 'redis') redis = await startRedis();
      node = await startNode(redis ? { redisUrl: redis.url } : {});
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await node.stop();
      await redis?.stop();
    });

    it('reports every structure as a non-negative integer under <owner>.<name>', async () => {
      const s = await stateEntries(node);
      for (const name of ['sessions.connections', 'fanout.rooms', 'fanout.members', 'ws.ipConnections', series.conns]) {
        expect(s[name], name).toBe(0);
      }
      if (kind === 'redis') expect(s['bus.chains']).toBe(0);
      for (const [name, n] of Object.entries(s)) {
        expect(name).toMatch(/^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/);
        expect(Number.isInteger(n) && n >= 0, `${name}=${n}`).toBe(true);
      }
    });

    it('goes up with joins and back down after leaves and closes', async () => {
      const before = await stateEntries(node);
      const users = ['ann', 'bob', 'cid', 'dee'];
      for (const u of users) clients.push(await node.client(`${kind}-${u}`));
      // Two rooms: everyone in `a`, ann and bob also in `b`.
      for (const c of clients) await c.ok({ type: 'join', room: 'a' });
      for (const c of clients.slice(0, 2)) await c.ok({ type: 'join', room: 'b' });
      await clients[0]!.ok({ type: 'send', room: 'a', text: 'hello' });
      await clients[3]!.waitFor((f) => f.type === 'message' && f.room === 'a');

      const up = await stateEntries(node);
      expect(up['sessions.connections']).toBe(4);
      expect(up['sessions.users']).toBe(4);
      expect(up['sessions.rooms']).toBe(6);
      expect(up['sessions.heldEvents']).toBe(0);
      expect(up['fanout.rooms']).toBe(2);
      expect(up['fanout.members']).toBe(6);
      expect(up['ws.ipConnections']).toBe(4);
      expect(up['ws.ips']).toBe(1);
      expect(up[series.conns]).toBe(4);
      expect(up[series.connRooms]).toBe(6);
      expect(up[series.rooms]).toBe(2);
      if (kind === 'redis') expect(up['bus.channels']).toBe(2);

      // Leaving room b ends its local subscription.
      for (const c of clients.slice(0, 2)) await c.ok({ type: 'leave', room: 'b' });
      const left = await stateEntries(node);
      expect(left['fanout.rooms']).toBe(1);
      expect(left['fanout.members']).toBe(4);
      expect(left['sessions.rooms']).toBe(4);
      expect(left[series.connRooms]).toBe(4);
      await expect.poll(async () => (await stateEntries(node))[series.rooms], { timeout: 5000 }).toBe(1);

      // Closing every socket brings every per-connection and per-room series back to where it started.
      for (const c of clients.splice(0)) {
        c.close();
        await c.closed;
      }
      await expect
        .poll(async () => (await stateEntries(node))['sessions.connections'], { timeout: 5000 })
        .toBe(before['sessions.connections']);
      await expect
        .poll(
          async () => {
            const after = await stateEntries(node);
            return Object.keys(after)
              .filter((name) => !KEPT.has(name) && after[name] !== before[name])
              .map((name) => `${name}: ${before[name]} -> ${after[name]}`);
          },
          { timeout: 5000 },
        )
        .toEqual([]);
    });

    it('stays flat when the same users reconnect and rejoin again and again', async () => {
      const base = await stateEntries(node);
      for (let round = 0; round < 5; round++) {
        const c = await node.client(`${kind}-churn`);
        await c.ok({ type: 'join', room: 'churn' });
        await c.ok({ type: 'send', room: 'churn', text: `round ${round}` });
        c.close();
        await c.closed;
      }
      await expect
        .poll(
          async () => {
            const after = await stateEntries(node);
            return Object.keys(after)
              .filter((name) => !KEPT.has(name) && after[name] !== base[name])
              .map((name) => `${name}: ${base[name]} -> ${after[name]}`);
          },
          { timeout: 5000 },
        )
        .toEqual([]);
    });
  });
}

suite('redis');
suite('memory');
