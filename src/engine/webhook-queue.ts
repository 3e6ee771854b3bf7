/**
 * The durable webhook queue behind the engine seam. Events are appended to
 * one of `shards` queues chosen by their partition (a room or a user), so
 * one partition's events stay in one queue, in order. Each shard is
 * delivered by one node at a time: the node holding the shard's lease. A
 * node that dies stops renewing its leases; another node takes the shards
 * over and delivers what is still queued (entries are removed only after
 * delivery, so a crash in between delivers again: at least once).
 */

/** One queued event. */
export interface QueuedEvent {
  /** Queue position (increasing within a shard). */
  seq: string;
  /** The room or user whose order this event keeps. */
  partition: string;
  /** The JSON body to POST, exactly as it will be signed and sent. */
  body: string;
  /** Ms time the event was queued. */
  queuedAt: number;
}

export interface WebhookQueueStats {
  /** Events queued and not yet delivered, all shards. */
  depth: number;
  /** Ms time of the oldest undelivered event, or null when the queue is empty. */
  oldestQueuedAt: number | null;
}

export interface WebhookQueue {
  /** Number of shards (fixed for a deployment). */
  readonly shards: number;
  /** Appends an event to its partition's shard. */
  enqueue(partition: string, body: string): Promise<void>;
  /**
   * Renews this node's shard leases and takes free shards, up to `max` in
   * all; returns the shards this node holds now. A lease lives for the
   * engine's node timeout unless renewed.
   */
  lease(max: number): Promise<number[]>;
  /** Gives the shards up at once (clean shutdown), so another node takes them without waiting. */
  release(shards: number[]): Promise<void>;
  /** Up to `count` events of a shard after position `after` (from the start when null), oldest first. */
  read(shard: number, after: string | null, count: number): Promise<QueuedEvent[]>;
  /** Removes delivered (or given up) events. */
  ack(shard: number, seqs: string[]): Promise<void>;
  /** Depth and age of the queue, for metrics. */
  stats(): Promise<WebhookQueueStats>;
}

/** Default number of shards: enough to spread a Redis Cluster's slots and nodes' work. */
export const WEBHOOK_SHARDS = 16;

/**
 * The shard of a partition (FNV-1a of its name).
 *
 * @example
 * shardOf('lobby', 16) // a number in 0..15, the same on every node
 */
export function shardOf(partition: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < partition.length; i++) {
    h ^= partition.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}
