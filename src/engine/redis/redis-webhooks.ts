/**
 * The webhook queue in Redis: WEBHOOK_SHARDS streams, each with its own
 * hash tag (`{wh:<n>}`), and one lease key per shard naming the node that
 * delivers it. Delivered events are XDELeted; a new lease holder reads the
 * shard from its start, so whatever a dead node had not finished is
 * delivered again (same body, same event id).
 */
import { call, type RedisCommands } from './client.js';
import {
  shardOf,
  WEBHOOK_SHARDS,
  type QueuedEvent,
  type WebhookQueue,
  type WebhookQueueStats,
} from '../webhook-queue.js';
import { webhookLeaseKey, webhookQueueKey } from './moderation-keys.js';
import type { StateSizes } from '../../state-sizes.js';

/** lease: renew our lease or take a free one. KEYS[1] lease; ARGV[1] node id, ARGV[2] ttl ms. Returns 1 when held. */
const LEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;

/** release: delete our lease only. KEYS[1] lease; ARGV[1] node id. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface WebhookCommands {
  parleyWhLease(key: string, node: string, ttl: string): Promise<number>;
  parleyWhRelease(key: string, node: string): Promise<number>;
}

type Client = RedisCommands & WebhookCommands;
type StreamEntry = [id: string, fields: string[]];

function toEvent([seq, fields]: StreamEntry): QueuedEvent {
  let partition = '';
  let body = '';
  let queuedAt = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    if (fields[i] === 'p') partition = v;
    else if (fields[i] === 'b') body = v;
    else if (fields[i] === 't') queuedAt = Number(v);
  }
  return { seq, partition, body, queuedAt };
}

export class RedisWebhookQueue implements WebhookQueue {
  readonly shards = WEBHOOK_SHARDS;
  private readonly redis: Client;
  private readonly held = new Set<number>();

  /**
   * @param nodeId names this node's leases
   * @param leaseMs how long a lease lives without renewal (the node timeout)
   */
  constructor(
    redis: RedisCommands,
    private readonly nodeId: string,
    private readonly leaseMs: number,
    /** Waits for PARLEY_ACK_REPLICAS on a written key: a queued event of an answered write survives a failover. */
    private readonly acknowledged: (key: string) => Promise<void> = async () => {},
  ) {
    redis.defineCommand('parleyWhLease', { numberOfKeys: 1, lua: LEASE_LUA });
    redis.defineCommand('parleyWhRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.redis = redis as Client;
  }

  async enqueue(partition: string, body: string): Promise<void> {
    const key = webhookQueueKey(shardOf(partition, this.shards));
    await call(this.redis.xadd(key, '*', 'p', partition, 'b', body, 't', String(Date.now())));
    await this.acknowledged(key);
  }

  /** Renews held shards first, then tries free ones until `max` are held. */
  async lease(max: number): Promise<number[]> {
    const ttl = String(this.leaseMs);
    // Renewals of held shards in one batch; losing one (lease expired and taken) drops it.
    const renewals = await call(
      Promise.all([...this.held].map((i) => this.redis.parleyWhLease(webhookLeaseKey(i), this.nodeId, ttl))),
    );
    [...this.held].forEach((i, k) => {
      if (renewals[k] !== 1) this.held.delete(i);
    });
    // Free shards, starting at a node-dependent offset so nodes do not all race for shard 0 first.
    const start = shardOf(this.nodeId, this.shards);
    for (let k = 0; k < this.shards && this.held.size < max; k++) {
      const i = (start + k) % this.shards;
      if (this.held.has(i)) continue;
      if ((await call(this.redis.parleyWhLease(webhookLeaseKey(i), this.nodeId, ttl))) === 1) this.held.add(i);
    }
    return [...this.held].sort((a, b) => a - b);
  }

  async release(shards: number[]): Promise<void> {
    await call(Promise.all(shards.map((i) => this.redis.parleyWhRelease(webhookLeaseKey(i), this.nodeId))));
    for (const i of shards) this.held.delete(i);
  }

  async read(shard: number, after: string | null, count: number): Promise<QueuedEvent[]> {
    const entries = (await call(
      this.redis.xrange(webhookQueueKey(shard), after === null ? '-' : `(${after}`, '+', 'COUNT', count),
    )) as StreamEntry[];
    return entries.map(toEvent);
  }

  async ack(shard: number, seqs: string[]): Promise<void> {
    if (seqs.length > 0) await call(this.redis.xdel(webhookQueueKey(shard), ...seqs));
  }

  async stats(): Promise<WebhookQueueStats> {
    const keys = Array.from({ length: this.shards }, (_, i) => webhookQueueKey(i));
    const [lens, firsts] = await call(
      Promise.all([
        Promise.all(keys.map((k) => this.redis.xlen(k))),
        Promise.all(keys.map((k) => this.redis.xrange(k, '-', '+', 'COUNT', 1) as Promise<StreamEntry[]>)),
      ]),
    );
    let oldest: number | null = null;
    for (const f of firsts) {
      const e = f[0];
      if (!e) continue;
      const t = toEvent(e).queuedAt;
      if (oldest === null || t < oldest) oldest = t;
    }
    return { depth: lens.reduce((a, b) => a + b, 0), oldestQueuedAt: oldest };
  }

  /** Shards whose lease this node holds (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'redisWebhooks.heldShards': this.held.size };
  }
}
