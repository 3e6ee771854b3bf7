/**
 * Node liveness for the Redis presence store: this node's lease and
 * heartbeat, and the claim-based sweep of dead nodes.
 *
 * Every node renews its lease (`parley:node:<id>`, TTL nodeTimeoutMs / 2)
 * every nodeTimeoutMs / 6 and writes its heartbeat time to `parley:nodes`.
 * A node whose lease is gone (by Redis's clock) and whose last heartbeat is
 * older than the lease (by the sweeper's clock: on Cluster the lease and
 * `parley:nodes` may live on different shards, and a failover of the lease's
 * shard must not make a live node look dead while its heartbeats still
 * arrive) is claimed with SET NX by one sweeper, which removes its connections (the
 * store's work) and unregisters it. The lease, the node hash and the claim
 * are single-key commands, so on Cluster each goes to its own slot.
 */
import { randomUUID } from 'node:crypto';
import { call, run } from './client.js';
import { presenceKeys } from './keys.js';
import type { Batch, PresenceClient } from './presence-scripts.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class NodeLease {
  /** This run's lease value: a lease holding anything else was lost (or taken by a duplicate node id). */
  readonly token = randomUUID();
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly claimMs: number;

  constructor(
    private readonly redis: PresenceClient,
    private readonly batch: () => Batch,
    readonly node: string,
    nodeTimeoutMs: number,
  ) {
    const timeout = Math.max(300, nodeTimeoutMs);
    this.leaseMs = Math.floor(timeout / 2);
    this.heartbeatMs = Math.max(50, Math.floor(timeout / 6));
    this.claimMs = Math.max(timeout, 5000);
  }

  /** Sets the lease and the heartbeat time; returns the value the lease held before (null: none). */
  async renew(): Promise<string | null> {
    const [prev] = await run(
      this.batch()
        .set(presenceKeys.lease(this.node), this.token, 'PX', this.leaseMs, 'GET')
        .zadd(presenceKeys.nodes, Date.now(), this.node),
    );
    return (prev as string | null) ?? null;
  }

  /** Extends the lease (during long work that must keep it). */
  async hold(): Promise<void> {
    await call(this.redis.set(presenceKeys.lease(this.node), this.token, 'PX', this.leaseMs));
  }

  /**
   * Waits (holding the lease) while a sweeper's claim on this node exists,
   * at most claimMs, then writes the heartbeat time again.
   */
  async waitUnclaimed(): Promise<void> {
    const end = Date.now() + this.claimMs;
    while (Date.now() < end && (await call(this.redis.exists(presenceKeys.claim(this.node)))) === 1) {
      await sleep(50);
      await this.hold();
    }
    await call(this.redis.zadd(presenceKeys.nodes, Date.now(), this.node));
  }

  /**
   * Other nodes whose lease is gone and whose last heartbeat is older than a
   * lease, with that heartbeat time (ms). (Clock skew between nodes can only
   * delay a sweep by the skew, never start one early: the lease must be gone too.)
   */
  async deadNodes(): Promise<Map<string, number>> {
    const reply = (await call(this.redis.zrange(presenceKeys.nodes, '0', '-1', 'WITHSCORES'))) as unknown[];
    const beats = new Map<string, number>();
    const flat = reply.flat() as string[];
    const stale = Date.now() - this.leaseMs;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const beat = Number(flat[i + 1]);
      if (flat[i] !== this.node && !(beat > stale)) beats.set(flat[i]!, beat);
    }
    if (beats.size === 0) return beats;
    const b = this.batch();
    for (const node of beats.keys()) b.exists(presenceKeys.lease(node));
    const alive = await run(b);
    const nodes = [...beats.keys()];
    for (const [i, node] of nodes.entries()) if (alive[i] !== 0) beats.delete(node);
    return beats;
  }

  /**
   * Claims a dead node (one sweeper wins) and, while its lease stays gone,
   * runs `remove` (lastSeen = its last heartbeat; renewClaim extends the
   * claim between chunks), then unregisters it unless it came back.
   */
  async sweep<T>(
    node: string,
    lastBeat: number,
    remove: (lastSeen: number, renewClaim: () => Promise<void>) => Promise<T[]>,
  ): Promise<T[]> {
    const claim = presenceKeys.claim(node);
    const won = await call(this.redis.set(claim, this.node, 'PX', this.claimMs, 'NX'));
    if (won !== 'OK') return [];
    try {
      // Claimed: check the lease again, it may have come back meanwhile.
      if ((await call(this.redis.exists(presenceKeys.lease(node)))) === 1) return [];
      const lastSeen = Number.isFinite(lastBeat) && lastBeat > 0 ? Math.min(lastBeat, Date.now()) : Date.now();
      const out = await remove(lastSeen, async () => {
        await call(this.redis.pexpire(claim, this.claimMs));
      });
      // Unregister unless the node came back while we worked.
      if ((await call(this.redis.exists(presenceKeys.lease(node)))) === 0) {
        await run(this.batch().del(presenceKeys.nodeConns(node)).zrem(presenceKeys.nodes, node));
      }
      return out;
    } finally {
      await call(this.redis.del(claim)).catch(() => undefined);
    }
  }

  /**
   * Gives the lease up so that others sweep what is left at once (its
   * heartbeat is set to 0: no longer fresh); `unregister` drops the node hash
   * and entry instead.
   */
  async release(unregister: boolean): Promise<void> {
    const b = this.batch().del(presenceKeys.lease(this.node));
    if (unregister) b.del(presenceKeys.nodeConns(this.node)).zrem(presenceKeys.nodes, this.node);
    else b.zadd(presenceKeys.nodes, 0, this.node);
    await run(b);
  }
}
