/**
 * The shard worker on the memory queue with a scripted delivery: order per
 * partition, a failing partition holds back only itself, acknowledged events
 * leave the queue, no attempt while the lease is in doubt.
 */
import { describe, expect, it } from 'vitest';
import { MemoryWebhookQueue } from '../../src/engine/memory/memory-webhooks.js';
import { shardOf, type QueuedEvent } from '../../src/engine/webhook-queue.js';
import { ShardWorker, type Delivery } from '../../src/features/webhooks/shard-worker.js';
import { waitFor } from '../support/ports.js';

/** Two partition names that land in the same shard. */
function sameShard(shards: number): [string, string] {
  const first = 'p-0';
  for (let i = 1; ; i++) if (shardOf(`p-${i}`, shards) === shardOf(first, shards)) return [first, `p-${i}`];
}

function delivery(overrides: Partial<Delivery> & Pick<Delivery, 'attempt'>): Delivery {
  return {
    backoffMs: () => 1,
    expired: () => false,
    dropped: () => undefined,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    error: (err) => {
      throw err;
    },
    leaseValid: () => true,
    fenceWaitMs: 1,
    ...overrides,
  };
}

describe('webhook shard worker', () => {
  it('keeps each partition in order while a failing partition holds back only itself', async () => {
    const q = new MemoryWebhookQueue();
    const [good, bad] = sameShard(q.shards);
    const shard = shardOf(good, q.shards);
    for (let i = 0; i < 5; i++) {
      await q.enqueue(bad, `${bad}:${i}`);
      await q.enqueue(good, `${good}:${i}`);
    }
    const delivered: string[] = [];
    let badFails = 3;
    const w = new ShardWorker(
      shard,
      q,
      delivery({
        attempt: async (ev: QueuedEvent) => {
          if (ev.partition === bad && badFails > 0) {
            badFails--;
            return false;
          }
          delivered.push(ev.body);
          return true;
        },
      }),
      100,
    );
    w.wake();
    await waitFor(() => delivered.length === 10, 5000, 'all delivered');
    const goodOrder = delivered.filter((b) => b.startsWith(`${good}:`));
    const badOrder = delivered.filter((b) => b.startsWith(`${bad}:`));
    expect(goodOrder).toEqual([0, 1, 2, 3, 4].map((i) => `${good}:${i}`));
    expect(badOrder).toEqual([0, 1, 2, 3, 4].map((i) => `${bad}:${i}`));
    // The good partition was not held back by the bad one's retries.
    expect(delivered.indexOf(`${good}:4`)).toBeLessThan(delivered.indexOf(`${bad}:0`));
    await waitFor(async () => (await q.stats()).depth === 0, 5000, 'acks');
    w.stop();
  });

  it('makes no attempt while the lease is in doubt, and resumes when it is renewed', async () => {
    const q = new MemoryWebhookQueue();
    await q.enqueue('room', 'one');
    let valid = false;
    let checks = 0;
    const attempts: string[] = [];
    const w = new ShardWorker(
      shardOf('room', q.shards),
      q,
      delivery({
        attempt: async (ev) => {
          attempts.push(ev.body);
          return true;
        },
        leaseValid: () => {
          checks++;
          return valid;
        },
      }),
      100,
    );
    w.wake();
    await waitFor(() => checks >= 5, 5000, 'fence checks');
    expect(attempts).toEqual([]);
    valid = true;
    await waitFor(() => attempts.length === 1, 5000, 'the attempt');
    w.stop();
  });

  it('drops an event that expired, and stops at once when told', async () => {
    const q = new MemoryWebhookQueue();
    await q.enqueue('r', 'old');
    await q.enqueue('r', 'new');
    const dropped: string[] = [];
    const attempts: string[] = [];
    const w = new ShardWorker(
      shardOf('r', q.shards),
      q,
      delivery({
        attempt: async (ev) => {
          attempts.push(ev.body);
          return false; // never succeeds
        },
        expired: (ev) => ev.body === 'old',
        dropped: (ev) => dropped.push(ev.body),
        backoffMs: () => 60_000,
      }),
      100,
    );
    w.wake();
    await waitFor(() => attempts.length === 1, 5000, 'attempt of the second event');
    expect(dropped).toEqual(['old']);
    expect(attempts).toEqual(['new']);
    w.stop(); // aborts the 60 s backoff
    expect(w.stopped).toBe(true);
    await waitFor(async () => (await q.stats()).depth === 1, 5000, 'the dropped one acknowledged');
  });
});
