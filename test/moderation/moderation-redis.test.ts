import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../support/client.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode } from '../support/server.js';
import { api, KEY, moderationSuite, uniq } from './moderation-suite.js';

let redis: RedisProcess | null = null;

moderationSuite('redis engine, two nodes', async () => {
  redis ??= await startRedis();
  const env = { PARLEY_API_KEY: KEY };
  const a = await startNode({ redisUrl: redis.url, env });
  const b = await startNode({ redisUrl: redis.url, env });
  return { nodes: [a, b], stop: async () => void (await Promise.all([a.stop(), b.stop()])) };
});

describe('moderation survives node restarts (redis)', () => {
  afterAll(async () => {
    await redis?.stop();
  });

  it('bans, mutes, slow mode and topic are still in force on a fresh node', async () => {
    redis ??= await startRedis();
    const env = { PARLEY_API_KEY: KEY };
    const room = uniq('restart');
    const bob = uniq('bob');
    const cat = uniq('cat');
    const first = await startNode({ redisUrl: redis.url, env });
    await api(first, 'PUT', `/api/rooms/${room}/bans/${bob}`, {});
    await api(first, 'PUT', `/api/rooms/${room}/mutes/${cat}`, {});
    await api(first, 'PUT', `/api/rooms/${room}/settings`, { topic: 'kept' });
    await first.stop();
    const second = await startNode({ redisUrl: redis.url, env });
    try {
      const b = await connect(`${second.wsUrl}?user=${bob}`);
      const c = await connect(`${second.wsUrl}?user=${cat}`);
      const r = await b.request({ type: 'join', room });
      expect(r.ok ? 'ok' : r.error.code).toBe('FORBIDDEN');
      expect((await c.ok<{ topic?: string }>({ type: 'join', room })).topic).toBe('kept');
      const s = await c.request({ type: 'send', room, text: 'x' });
      expect(s.ok ? 'ok' : s.error.code).toBe('FORBIDDEN');
      b.close();
      c.close();
    } finally {
      await second.stop();
    }
  });
});
