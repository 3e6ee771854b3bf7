/**
 * Webhooks on two Redis nodes run as processes: events queued while the
 * receiver fails survive a kill -9 of the node delivering them; the other
 * node takes the shards over and delivers everything, in order per room,
 * with the ids the first node had already tried.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { WEBHOOK_SHARDS } from '../../src/engine/webhook-queue.js';
import type { TestClient } from '../support/client.js';
import { waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { spawnNode, type NodeProcess } from '../support/server.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-redis';

describe('webhooks on two Redis nodes', () => {
  let redis: RedisProcess;
  let admin: Redis;
  let receiver: WebhookReceiver;
  const procs: NodeProcess[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    admin.on('error', () => undefined);
    receiver = new WebhookReceiver(SECRET);
    await receiver.start();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.kill()));
    admin?.disconnect();
    await receiver?.stop();
    await redis?.stop();
  });

  const leases = async (): Promise<Array<string | null>> =>
    Promise.all(Array.from({ length: WEBHOOK_SHARDS }, (_, i) => admin.get(`parley:{wh:${i}}:lease`)));

  const spawn = async (id: string, extra: Record<string, string> = {}): Promise<NodeProcess> => {
    const p = await spawnNode({
      redisUrl: redis.url,
      env: {
        PARLEY_NODE_ID: id,
        PARLEY_NODE_TIMEOUT_MS: '1000',
        PARLEY_WEBHOOK_URL: receiver.url,
        PARLEY_WEBHOOK_SECRET: SECRET,
        PARLEY_WEBHOOK_TIMEOUT_MS: '300',
        PARLEY_WEBHOOK_RETRY_BASE_MS: '50',
        PARLEY_WEBHOOK_RETRY_MAX_MS: '200',
        PARLEY_WEBHOOK_POLL_MS: '50',
        LOG_LEVEL: 'warn',
        ...extra,
      },
    });
    procs.push(p);
    return p;
  };

  it('a node killed with -9 loses nothing: the other one delivers its shards, in order, same ids', async () => {
    receiver.mode = 'fail';
    const a = await spawn('wh-a');
    await waitFor(async () => (await leases()).every((l) => l === 'wh-a'), 10_000, 'node a to hold every shard');
    const b = await spawn('wh-b');
    const rooms = ['hooks-1', 'hooks-2', 'hooks-3'];
    const ca = await a.client('alice');
    const cb = await b.client('bruno');
    clients.push(ca, cb);
    for (const r of rooms) for (const c of [ca, cb]) await c.ok({ type: 'join', room: r });
    const sent: Record<string, string[]> = {};
    for (let i = 0; i < 10; i++) {
      for (const r of rooms) {
        // Alternate the node that stores (and queues) each message of a room.
        const c = i % 2 === 0 ? ca : cb;
        const { message } = await c.ok<{ message: Message }>({ type: 'send', room: r, text: `${r}:${i}` });
        (sent[r] ??= []).push(message.id);
      }
    }
    await waitFor(() => receiver.requests.length >= 5, 10_000, 'failing attempts by node a');
    expect((await leases()).every((l) => l === 'wh-a')).toBe(true);
    const triedByA = new Map(receiver.requests.map((r) => [r.body, r.event.id]));
    await a.kill();
    receiver.mode = 'ok';
    for (const r of rooms) {
      await waitFor(
        () => receiver.delivered().filter((x) => x.event.type === 'message.created' && x.event.room === r).length >= 10,
        20_000,
        `room ${r} delivered after the kill`,
      );
    }
    expect((await leases()).every((l) => l === 'wh-b')).toBe(true);
    for (const r of rooms) {
      const got = receiver.delivered().filter((x) => x.event.type === 'message.created' && x.event.room === r);
      // At least once: a duplicate may come, but the first deliveries follow the room's order.
      const firsts = [...new Map(got.map((x) => [x.event.id, x.event.message!.id])).values()];
      expect(firsts).toEqual(sent[r]);
      for (const x of got) expect(x.signed).toBe(true);
    }
    // What node a had tried is delivered by node b with the same id (same body).
    for (const [body, id] of triedByA) {
      const later = receiver.delivered().find((x) => x.body === body);
      expect(later?.event.id).toBe(id);
    }
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/parley_webhook_deliveries_total\{outcome="success"\} [1-9]/);
    await waitFor(
      async () => /parley_webhook_queue_depth 0\b/.test(await (await fetch(`${b.url}/metrics`)).text()),
      10_000,
      'queue drained',
    );
  });

  it('messages stored at the same moment through two nodes are delivered in their stored order', async () => {
    receiver.mode = 'ok';
    // Senders go as fast as their replies come: the per-connection send limit must not stop them.
    const fast = { PARLEY_SEND_RATE: '1000', PARLEY_SEND_BURST: '1000' };
    const [a, b] = [await spawn('wh-c', fast), await spawn('wh-d', fast)];
    const room = 'hooks-race';
    // Four senders per node, all sending at once: the stores interleave across nodes.
    const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).client(`racer${i}`)));
    clients.push(...senders);
    for (const c of senders) await c.ok({ type: 'join', room });
    const ids: string[] = [];
    await Promise.all(
      senders.map(async (c, i) => {
        for (let k = 0; k < 25; k++) {
          const { message } = await c.ok<{ message: Message }>({ type: 'send', room, text: `${i}:${k}` });
          ids.push(message.id);
        }
      }),
    );
    const created = (): string[] => [
      ...new Set(
        receiver
          .delivered()
          .filter((x) => x.event.type === 'message.created' && x.event.room === room)
          .map((x) => x.event.message!.id),
      ),
    ];
    await waitFor(() => created().length >= ids.length, 20_000, 'every message.created delivered');
    const stored = [...ids].sort((x, y) => {
      const [xm, xs] = x.split('-').map(Number) as [number, number];
      const [ym, ys] = y.split('-').map(Number) as [number, number];
      return xm - ym || xs - ys;
    });
    expect(created()).toEqual(stored);
  });
});
