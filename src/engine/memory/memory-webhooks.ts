/** The webhook queue in process memory: one node holds every shard; lost with the process (no other node exists). */
import {
  shardOf,
  WEBHOOK_SHARDS,
  type QueuedEvent,
  type WebhookQueue,
  type WebhookQueueStats,
} from '../webhook-queue.js';
import { sumSizes, type StateSizes } from '../../state-sizes.js';

export class MemoryWebhookQueue implements WebhookQueue {
  readonly shards = WEBHOOK_SHARDS;
  private readonly queues: QueuedEvent[][] = Array.from({ length: WEBHOOK_SHARDS }, () => []);
  private seq = 0;

  async enqueue(partition: string, body: string): Promise<void> {
    const ev: QueuedEvent = { seq: `${++this.seq}-0`, partition, body, queuedAt: Date.now() };
    this.queues[shardOf(partition, this.shards)]!.push(ev);
  }

  /** The only node holds every shard, whatever `max` says. */
  async lease(): Promise<number[]> {
    return Array.from({ length: this.shards }, (_, i) => i);
  }

  async release(): Promise<void> {}

  async read(shard: number, after: string | null, count: number): Promise<QueuedEvent[]> {
    const q = this.queues[shard] ?? [];
    const from = after === null ? 0 : q.findIndex((e) => seqNumber(e.seq) > seqNumber(after));
    return from < 0 ? [] : q.slice(from, from + count);
  }

  async ack(shard: number, seqs: string[]): Promise<void> {
    const q = this.queues[shard];
    if (!q) return;
    const drop = new Set(seqs);
    let w = 0;
    for (const e of q) if (!drop.has(e.seq)) q[w++] = e;
    q.length = w;
  }

  async stats(): Promise<WebhookQueueStats> {
    let depth = 0;
    let oldest: number | null = null;
    for (const q of this.queues) {
      depth += q.length;
      const first = q[0];
      if (first && (oldest === null || first.queuedAt < oldest)) oldest = first.queuedAt;
    }
    return { depth, oldestQueuedAt: oldest };
  }

  /** Events queued, over all shards (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'memoryWebhooks.queued': sumSizes(this.queues) };
  }
}

function seqNumber(seq: string): number {
  return Number(seq.slice(0, seq.indexOf('-')));
}
