/**
 * The Redis engine on a Sentinel-managed primary (1 primary, 1 replica, 3
 * sentinels): the conformance suite, plus durable acks (WAIT) against the
 * real replica.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineOptions } from '../../src/engine/engine.js';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { ParleyError } from '../../src/protocol/errors.js';
import { startRedisSentinel, type RedisSentinelProcess } from '../support/redis-sentinel.js';
import { engineConformance } from './conformance.js';

let sentinel: RedisSentinelProcess;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
}, 60_000);
afterAll(async () => {
  await sentinel?.stop();
});

let n = 0;
const makeEngine = async (
  options?: Partial<EngineOptions> & { ackReplicas?: number; ackTimeoutMs?: number },
): Promise<RedisEngine> => {
  const e = new RedisEngine({
    sentinels: sentinel.sentinels,
    sentinelName: sentinel.name,
    nodeId: `sentinel-test-${process.pid}-${++n}`,
    ...options,
  });
  await e.start();
  return e;
};

engineConformance('redis sentinel', { multiNode: true, make: makeEngine });
// Every write acknowledged by the replica: the same behaviour, only slower.
engineConformance('redis sentinel, PARLEY_ACK_REPLICAS=1', {
  multiNode: true,
  make: (options) => makeEngine({ ...options, ackReplicas: 1 }),
});

describe('redis engine on sentinel', () => {
  const engines: RedisEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it('runs in sentinel mode on the primary the sentinels name', async () => {
    const e = await makeEngine();
    engines.push(e);
    expect(e.mode).toBe('sentinel');
    expect(e.publishCommand).toBe('PUBLISH');
    expect(await e.ready()).toBe(true);
  });

  it('answers UNAVAILABLE when fewer replicas than PARLEY_ACK_REPLICAS confirm, and the retry finds the message once', async () => {
    const e = await makeEngine({ ackReplicas: 2, ackTimeoutMs: 200 });
    engines.push(e);
    const room = `ack-${process.pid}`;
    const draft = { room, from: 'ann', text: 'hello', clientMsgId: 'c1' };
    const err = await e.append(draft).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('UNAVAILABLE');
    // Stored anyway (only one replica exists): the retry returns it as a duplicate, never a second copy.
    const one = await makeEngine({ ackReplicas: 1 });
    engines.push(one);
    const again = await one.append(draft);
    expect(again.duplicate).toBe(true);
    expect((await one.history(room, { limit: 10 })).messages.map((m) => m.text)).toEqual(['hello']);
  });

  it('waits for PARLEY_ACK_REPLICAS on the other answered writes too: bans, settings, read markers, memberships, webhooks', async () => {
    const e = await makeEngine({ ackReplicas: 2, ackTimeoutMs: 200 });
    engines.push(e);
    const room = `ack-all-${process.pid}`;
    const unavailable = { code: 'UNAVAILABLE' };
    await expect(e.moderation.restrict(room, 'ban', 'bob', 0)).rejects.toMatchObject(unavailable);
    await expect(e.moderation.lift(room, 'ban', 'bob')).rejects.toMatchObject(unavailable);
    await expect(e.moderation.updateSettings(room, { topic: 'hi' })).rejects.toMatchObject(unavailable);
    await expect(e.memberships.join('ann', room)).rejects.toMatchObject(unavailable);
    await expect(e.webhooks.enqueue(room, '{}')).rejects.toMatchObject(unavailable);
    // With the one replica there is, the same writes are answered.
    const one = await makeEngine({ ackReplicas: 1 });
    engines.push(one);
    const { message } = await one.append({ room, from: 'cat', text: 'hello' });
    await one.memberships.join('ann', room);
    await expect(one.memberships.read('ann', room, message.id)).resolves.toMatchObject({ lastReadId: message.id });
    await expect(one.moderation.restrict(room, 'mute', 'bob', 0)).resolves.toBeUndefined();
    // A marker move waits too.
    await expect(e.memberships.read('ann', room, message.id)).resolves.toMatchObject({ moved: false });
    const later = await one.append({ room, from: 'cat', text: 'later' });
    await expect(e.memberships.read('ann', room, later.message.id)).rejects.toMatchObject(unavailable);
  });
});
