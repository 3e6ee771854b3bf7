/**
 * A send made while Redis is briefly unreachable: the server answers
 * UNAVAILABLE (nothing stored), the SDK retries with the same clientMsgId
 * (seen on the wire), and the message ends up stored exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../../src/sdk/index.js';
import WebSocket from 'ws';
import { waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';
import { sdkClient } from './helpers.js';

/** Every frame the SDK writes, parsed. */
const sent: Array<{ type?: string; text?: string; clientMsgId?: string }> = [];

/** `ws` that records what the SDK sends (the SDK takes its WebSocket class as an option). */
class Recording extends WebSocket {
  override send(data: unknown, ...rest: unknown[]): void {
    if (typeof data === 'string') sent.push(JSON.parse(data) as (typeof sent)[number]);
    (super.send as (...args: unknown[]) => void)(data, ...rest);
  }
}

describe('SDK send during a short Redis outage', () => {
  let redis: RedisProcess;
  let node: RunningNode;
  let client: ParleyClient;

  beforeAll(async () => {
    redis = await startRedis();
    node = await startNode({ redisUrl: redis.url });
    client = sdkClient(node.url, { user: 'olga', requestTimeoutMs: 15_000, WebSocket: Recording });
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
    const text = 'sent while redis was down';
    const attempts = () => sent.filter((f) => f.type === 'send' && f.text === text);
    const pending = client.send('outage-sdk', text);
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The first attempt is answered UNAVAILABLE; the SDK sends it again instead of failing.
    await waitFor(() => attempts().length >= 2, 15_000, 'the SDK to retry the send');
    expect(settled).toBe(false);
    await redis.restart();
    const message = await pending;
    expect(message.text).toBe(text);
    const tries = attempts();
    expect(tries.length).toBeGreaterThanOrEqual(2);
    // Every attempt carried the same idempotency key, so a retry after a lost reply cannot store it twice.
    expect(tries[0]!.clientMsgId).toBeTypeOf('string');
    expect(new Set(tries.map((f) => f.clientMsgId))).toEqual(new Set([tries[0]!.clientMsgId]));
    expect(message.clientMsgId).toBe(tries[0]!.clientMsgId);
    const page = await client.history('outage-sdk');
    expect(page.messages.filter((m) => m.text === text)).toHaveLength(1);
  });
});
