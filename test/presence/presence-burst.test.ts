/**
 * Status changes in bursts, through real sockets (real Sessions): every
 * change is acknowledged, a watcher on another node gets every room `update`
 * event, exactly once and in order, and the states are right afterwards.
 * Throughput is not measured here: the benchmark does that (`npm run bench`,
 * its presence part: status changes per second across two nodes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from '../support/client.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';
import { uniq } from './presence-suite.js';

const USERS = 20;
const CHANGES = 20; // even: every user ends online

// The per-connection command rate limit is not what is checked here.
const env = { PARLEY_COMMAND_RATE: '100000', PARLEY_COMMAND_BURST: '100000' };

function burstSuite(name: string, makeNodes: () => Promise<{ a: RunningNode; b: RunningNode; stop(): Promise<void> }>) {
  describe(`presence bursts: ${name}`, () => {
    let nodes: { a: RunningNode; b: RunningNode; stop(): Promise<void> };
    const clients: TestClient[] = [];
    beforeAll(async () => {
      nodes = await makeNodes();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await nodes?.stop();
    });

    it('every change is acknowledged and every update event arrives, once, in order', async () => {
      const users = Array.from({ length: USERS }, (_, i) => uniq(`burst${i}`));
      const rooms = users.map((u) => `room-${u}`);
      const watcher = await nodes.b.client(uniq('watcher'));
      clients.push(watcher);
      for (const room of rooms) await watcher.ok({ type: 'join', room });
      const sockets = await Promise.all(users.map((u) => nodes.a.client(u)));
      clients.push(...sockets);
      await Promise.all(sockets.map((c, i) => c.ok({ type: 'join', room: rooms[i]! })));

      // All users at once, each with its changes pipelined (no waiting for one reply before the next send).
      const replies = await Promise.all(
        sockets.map((c) =>
          Promise.all(
            Array.from({ length: CHANGES }, (_, k) =>
              c.request({ type: 'status', status: k % 2 === 0 ? 'away' : 'online' }, 20_000),
            ),
          ),
        ),
      );
      expect(replies.flat().filter((r) => !r.ok)).toEqual([]);
      // A later message in each room is the marker: one room has one order, so the updates are all in by then.
      await Promise.all(sockets.map((c, i) => c.ok({ type: 'send', room: rooms[i]!, text: 'done' })));
      for (const room of rooms) {
        await watcher.waitFor((f) => f.type === 'message' && f.room === room, 20_000, `the marker of ${room}`);
      }
      for (const [i, room] of rooms.entries()) {
        const updates = watcher.events
          .filter((f) => f.type === 'presence' && f.room === room && f.event === 'update')
          .map((f) => f.member as { user: string; status: string });
        expect(updates.map((u) => u.user)).toEqual(Array(CHANGES).fill(users[i]));
        expect(updates.map((u) => u.status)).toEqual(
          Array.from({ length: CHANGES }, (_, k) => (k % 2 === 0 ? 'away' : 'online')),
        );
      }
      const seen = await watcher.ok<{ users: Array<{ user: string; status: string }> }>({
        type: 'presence',
        users,
      });
      expect(seen.users.map((u) => u.status)).toEqual(users.map(() => 'online'));
    });
  });
}

burstSuite('memory engine, one node', async () => {
  const a = await startNode({ env });
  return { a, b: a, stop: () => a.stop() };
});

let redis: RedisProcess | null = null;
burstSuite('redis engine, two nodes', async () => {
  redis = await startRedis();
  const a = await startNode({ redisUrl: redis.url, env });
  const b = await startNode({ redisUrl: redis.url, env });
  return {
    a,
    b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis?.stop();
    },
  };
});
