import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, RoomEntry } from '../../src/protocol/frames.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode } from '../support/server.js';
import { JWT_ENV, SUITE_ENV, roomsSuite, uniq } from './rooms-suite.js';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const twoNodes = (env: Record<string, string>) => async () => {
  const a = await startNode({ redisUrl: redis.url, env });
  const b = await startNode({ redisUrl: redis.url, env });
  return { nodes: [a, b], stop: () => Promise.all([a.stop(), b.stop()]).then(() => undefined) };
};

roomsSuite('redis engine, two nodes', twoNodes(SUITE_ENV), twoNodes(JWT_ENV));

describe('memberships survive node restarts (redis)', () => {
  it('keeps memberships, markers and unread counts when every node is replaced', async () => {
    const room = uniq('r');
    const [ann, bob] = [uniq('ann'), uniq('bob')];
    const first = await startNode({ redisUrl: redis.url, env: SUITE_ENV });
    const a = await first.client(ann);
    const b = await first.client(bob);
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const sent: Message[] = [];
    for (let i = 0; i < 3; i++)
      sent.push((await b.ok<{ message: Message }>({ type: 'send', room, text: `t${i}` })).message);
    await a.ok({ type: 'read', room, messageId: sent[0]!.id });
    a.close();
    b.close();
    await first.stop();

    const second = await startNode({ redisUrl: redis.url, env: SUITE_ENV });
    try {
      const a2 = await second.client(ann);
      const { rooms } = await a2.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms).toEqual([{ room, lastMessage: sent[2], lastReadId: sent[0]!.id, unread: 2 }]);
      const r = await a2.request({ type: 'read', room, messageId: sent[2]!.id });
      expect(r.ok).toBe(true);
      expect(await a2.ok({ type: 'read', room, messageId: sent[1]!.id })).toEqual({ lastReadId: sent[2]!.id });
      a2.close();
    } finally {
      await second.stop();
    }
  });
});
