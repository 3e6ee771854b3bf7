/**
 * Redis going away under connected clients: commands fail fast with
 * UNAVAILABLE, connections stay open, and everything works again (including
 * delivery to rooms joined before the outage) once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import { sleep } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';

describe('redis outage with connected clients (two nodes)', () => {
  let redis: RedisProcess;
  let a: RunningNode;
  let b: RunningNode;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    a = await startNode({ redisUrl: redis.url });
    b = await startNode({ redisUrl: redis.url });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  });

  it('a leave that failed with UNAVAILABLE can be retried: the retry succeeds and the leave event goes out', async () => {
    const room = `leave-retry-${process.pid}`;
    const watcher = await b.client('watch-l');
    const leaver = await a.client('leaver-l');
    clients.push(watcher, leaver);
    await watcher.ok({ type: 'join', room });
    await leaver.ok({ type: 'join', room });
    const isLeave = (f: { type: string; event?: unknown; member?: unknown }) =>
      f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === 'leaver-l';
    await watcher.waitFor(
      (f) => f.type === 'presence' && f.event === 'join' && (f.member as { user: string }).user === 'leaver-l',
    );

    await redis.kill();
    const failed = await leaver.request({ type: 'leave', room }, 10_000);
    expect(failed).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    await redis.restart();
    // The client retries as the error tells it to, until storage answers.
    let left = false;
    for (let i = 0; i < 100 && !left; i++) {
      const r = await leaver.request({ type: 'leave', room }, 10_000);
      if (r.ok) left = true;
      else {
        expect(r).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } }); // never NOT_JOINED
        await sleep(200);
      }
    }
    expect(left).toBe(true);
    await watcher.waitFor(isLeave, 10_000, 'the leave event');
    // Left for real: a second leave is NOT_JOINED.
    expect(await leaver.request({ type: 'leave', room })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
  });

  it('answers UNAVAILABLE within a bounded time, keeps sockets, recovers by itself', async () => {
    const ann = await a.client('ann-f');
    const bob = await b.client('bob-f');
    clients.push(ann, bob);
    await ann.ok({ type: 'join', room: 'outage' });
    await bob.ok({ type: 'join', room: 'outage' });
    const before = (await ann.ok<{ message: Message }>({ type: 'send', room: 'outage', text: 'before' })).message;
    await bob.waitFor((f) => f.type === 'message' && (f.message as Message).id === before.id);

    await redis.kill();
    // Bounded: the request gives up after 10 s (the node's command timeout is far shorter), so an answer at all is the check.
    const failed = await ann.request({ type: 'send', room: 'outage', text: 'during', clientMsgId: 'd1' }, 10_000);
    expect(failed).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    const hist = await bob.request({ type: 'history', room: 'outage' }, 10_000);
    expect(hist).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    const ready = await fetch(`${a.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ann.ok({ type: 'ping' })).toEqual({}); // the socket is still there

    await redis.restart();
    // The node reconnects and resubscribes by itself; retry until storage answers.
    let sent: Message | null = null;
    for (let i = 0; i < 100 && !sent; i++) {
      const r = await ann.request<{ message: Message }>(
        { type: 'send', room: 'outage', text: 'after', clientMsgId: 'd1' },
        10_000,
      );
      if (r.ok) sent = r.data.message;
      else await sleep(200);
    }
    expect(sent).not.toBeNull();
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    // bob's node was subscribed before the outage and still delivers, once.
    await bob.waitFor(
      (f) => f.type === 'message' && (f.message as Message).id === sent!.id,
      10_000,
      'message after restart',
    );
    await sleep(200);
    expect(bob.messages('outage').filter((m) => m.id === sent!.id)).toHaveLength(1);
    // The room's storage was reset (no persistence): a reconnecting client is told so.
    const late = await b.client('carl-f');
    clients.push(late);
    const j = await late.ok<{ recovered: boolean }>({ type: 'join', room: 'outage', since: before.id });
    expect(j.recovered).toBe(false);
  });
});
