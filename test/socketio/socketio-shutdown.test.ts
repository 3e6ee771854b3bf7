/**
 * SIGTERM closes Socket.IO clients too: the transport is closed (not the
 * socket), so socket.io-client reconnects by itself (behind a balancer:
 * elsewhere); the node removes their presence and exits 0. Runs the built
 * server (dist/, `npm run build`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild } from '../ops/proc.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { spawnNode, startNode, type RunningNode } from '../support/server.js';
import { sioConnect, type Transport } from '../support/sio.js';

describe('Socket.IO clients on SIGTERM', () => {
  let redis: RedisProcess;
  let other: RunningNode;

  beforeAll(async () => {
    requireBuild();
    redis = await startRedis();
    other = await startNode({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await other.stop();
    await redis.stop();
  });

  it.each<Transport>(['websocket', 'polling'])(
    'closes %s clients so they reconnect, removes their presence and exits 0',
    async (transport) => {
      const node = await spawnNode({ redisUrl: redis.url });
      const room = `term-${transport}`;
      const user = `leaving-${transport}`;
      const sio = await sioConnect(node.url, transport, { user }, { reconnection: true, reconnectionDelay: 50 });
      const watcher = await other.client(`watch-${transport}`);
      try {
        await watcher.ok({ type: 'join', room });
        await sio.ok('join', { room });
        await watcher.waitFor((f) => f.type === 'presence' && f.event === 'join', 5000, 'presence join');
        const code = await node.terminate();
        expect(code, node.output()).toBe(0);
        await sio.until(() => sio.disconnects.length > 0, 10_000, 'disconnect');
        // The `closing` notice rides the websocket; a polling client between two polls may not get it
        // (the HTTP server stops taking requests first), but it reconnects all the same.
        if (transport === 'websocket') {
          expect(sio.events.find((f) => f.type === 'closing')).toMatchObject({ code: 1001 });
        }
        // Not "io server disconnect": socket.io-client keeps reconnecting on its own.
        expect(sio.disconnects[0]).toMatch(/^transport (close|error)$/);
        expect(sio.socket.active).toBe(true);
        const left = await watcher.waitFor(
          (f) => f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === user,
          10_000,
          'presence leave',
        );
        expect(left).toMatchObject({ room, member: { status: 'offline' } });
      } finally {
        sio.close();
        watcher.close();
        await node.kill();
      }
    },
  );
});
