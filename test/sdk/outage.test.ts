/**
 * A send made while Redis is briefly unreachable: the server answers
 * UNAVAILABLE (nothing stored), the SDK retries with the same clientMsgId,
 * and the message ends up stored exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../../src/sdk/index.js';
import { sleep } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';
import { WireLog, sdkClient } from './helpers.js';

describe('SDK send during a short Redis outage', () => {
  let redis: RedisProcess;
  let node: RunningNode;
  let client: ParleyClient;
  const wire = new WireLog();

  beforeAll(async () => {
    redis = await startRedis();
    node = await startNode({ redisUrl: redis.url });
    client = sdkClient(node.url, { user: 'olga', requestTimeoutMs: 15_000, WebSocket: wire.WebSocket });
    await client.connect();
  });
  afterAll(async () => {
    client.close();
    await node.stop();
    await redis.stop();
  });

  it('retries UNAVAILABLE sends and stores them once', async () => {
    await client.join('outage-sdk');
    await redis.kill();
    const pending = client.send('outage-sdk', 'sent while redis was down');
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(400);
    expect(settled).toBe(false); // retried, not failed
    await redis.restart();
    const message = await pending;
    expect(message.text).toBe('sent while redis was down');
    const page = await client.history('outage-sdk');
    expect(page.messages.filter((m) => m.text === 'sent while redis was down')).toHaveLength(1);

    // What went on the wire: refused with UNAVAILABLE at least once, retransmitted each time with the
    // same clientMsgId (so a retry can never store a second copy), and the last transmission stored it.
    const sends = wire.commands('send').filter((f) => f.text === 'sent while redis was down');
    const replies = wire.repliesTo(sends);
    const refused = replies.filter((r) => r.ok === false);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.every((r) => (r.error as { code: string }).code === 'UNAVAILABLE')).toBe(true);
    expect(sends).toHaveLength(refused.length + 1);
    expect(new Set(sends.map((f) => f.clientMsgId)).size).toBe(1);
    expect(sends[0]!.clientMsgId).toBe(message.clientMsgId);
    expect(replies.filter((r) => r.ok === true)).toHaveLength(1);
  });
});
