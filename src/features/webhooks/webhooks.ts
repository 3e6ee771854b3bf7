/**
 * Webhooks (docs/webhooks.md): message and presence events POSTed to
 * PARLEY_WEBHOOK_URL, signed, at least once, in order per room, with a
 * stable `id`. Events are queued in the engine (webhook-queue.ts) before the
 * command that caused them replies, and delivered by whichever node holds
 * the event's shard lease, so the death of any node loses nothing.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebhookConfig } from '../../config.js';
import type { Engine } from '../../engine/engine.js';
import { shardOf, type QueuedEvent } from '../../engine/webhook-queue.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { Message } from '../../protocol/frames.js';
import type { ChatHook } from '../chat/chat.js';
import { ShardWorker, type Delivery } from './shard-worker.js';
import type { StateSizes } from '../../state-sizes.js';

/** The event types a receiver gets. */
export type WebhookEventType =
  'message.created' | 'message.edited' | 'message.deleted' | 'user.online' | 'user.offline';

/**
 * `sha256=<hex HMAC-SHA256 of body>`, the `X-Parley-Signature` header.
 *
 * @example
 * signature('{"id":"1"}', 'secret') // 'sha256=...'
 */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Outcome of one attempt, as counted in parley_webhook_deliveries_total. */
export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'network_error';

/** Longest a wake-up for another node's shard waits to be sent with others, ms. */
const WAKE_MS = 5;

/** Most events a shard worker holds in memory (read but not delivered). */
const SHARD_BUFFER = 1000;

export class WebhookFeature {
  private readonly workers = new Map<number, ShardWorker>();
  /** Events whose enqueue failed (storage unreachable), retried in order. */
  private readonly unqueued: Array<{ partition: string; body: string }> = [];
  private leaseTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private ticking = false;
  private stopped = false;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private stats = { depth: 0, oldestQueuedAt: null as number | null };
  /** Until when this node surely holds the leases it renewed last (ms); see Delivery.leaseValid. */
  private leaseSafeUntil = 0;

  constructor(
    private readonly engine: Engine,
    private readonly cfg: WebhookConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    for (const outcome of ['success', 'http_error', 'timeout', 'network_error', 'dropped'])
      metrics.webhookDeliveries.inc({ outcome }, 0);
    metrics.gaugeFn('parley_webhook_queue_depth', 'Webhook events queued and not yet delivered (cluster-wide)', () =>
      Number(this.stats.depth),
    );
    metrics.gaugeFn(
      'parley_webhook_oldest_undelivered_seconds',
      'Age of the oldest undelivered webhook event (cluster-wide; 0 when none)',
      () => (this.stats.oldestQueuedAt === null ? 0 : Math.max(0, (Date.now() - this.stats.oldestQueuedAt) / 1000)),
    );
  }

  // ---- producing events ----

  /** The hook chat runs after a message is stored or changed. */
  chatHook(): ChatHook {
    return {
      // Stored with the message where the engine can (one Redis, Sentinel), so two nodes' messages keep their order;
      // not while earlier events wait for a retry (they go first).
      appendEvent: (draft) =>
        this.unqueued.length > 0
          ? undefined
          : {
              partition: draft.room,
              bodyPrefix: `{"id":"${randomUUID()}","type":"message.created","ts":${Date.now()},"room":${JSON.stringify(draft.room)},"message":`,
              bodySuffix: '}',
            },
      afterSend: (message, queued) =>
        queued
          ? this.wakeShardOf(message.room)
          : this.emit('message.created', message.room, { room: message.room, message }),
      afterChange: (kind, message) => {
        if (kind === 'reaction') return;
        return this.emit(kind === 'edited' ? 'message.edited' : 'message.deleted', message.room, {
          room: message.room,
          message,
        });
      },
    };
  }

  /** Presence told us a user came online or went offline cluster-wide. */
  userTransition(user: string, online: boolean): Promise<void> {
    return this.emit(online ? 'user.online' : 'user.offline', `u:${user}`, { user });
  }

  /** Builds the event (its `id` is fixed here, so every retry carries it) and queues it. */
  async emit(type: WebhookEventType, partition: string, fields: { room?: string; message?: Message; user?: string }) {
    const body = JSON.stringify({ id: randomUUID(), type, ts: Date.now(), ...fields });
    if (this.unqueued.length > 0) {
      this.unqueued.push({ partition, body }); // behind earlier ones, to keep the order
      return;
    }
    try {
      await this.engine.webhooks.enqueue(partition, body);
      this.wakeShardOf(partition);
    } catch (err) {
      // The event happened (the message is stored): keep it and retry rather than fail the command.
      this.log.warn({ err, type }, 'webhook enqueue failed; retrying');
      this.unqueued.push({ partition, body });
    }
  }

  /** A partition got a new event: wake its shard's worker, here or on the node holding it. */
  private wakeShardOf(partition: string): void {
    const shard = shardOf(partition, this.engine.webhooks.shards);
    const local = this.workers.get(shard);
    if (local) local.wake();
    else this.wakeHolder(shard);
  }

  /** Shards to wake on other nodes, sent together once per WAKE_MS. */
  private readonly toWake = new Set<number>();
  private wakeTimer: NodeJS.Timeout | null = null;

  /** Tells the holder of a shard (another node) to read it now; coalesced, so one control message covers a burst. */
  private wakeHolder(shard: number): void {
    this.toWake.add(shard);
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      const shards = [...this.toWake];
      this.toWake.clear();
      this.engine.publishControl({ kind: 'webhook-wake', shards }).catch(() => undefined); // the poll covers a loss
    }, WAKE_MS);
    this.wakeTimer.unref();
  }

  /** A `webhook-wake` control message: read these shards now if this node holds them. */
  wake(shards: number[]): void {
    for (const s of shards) this.workers.get(s)?.wake();
  }

  private async flushUnqueued(): Promise<void> {
    while (this.unqueued.length > 0 && !this.stopped) {
      const next = this.unqueued[0]!;
      await this.engine.webhooks.enqueue(next.partition, next.body);
      this.unqueued.shift();
    }
  }

  // ---- delivering ----

  /** Starts taking shard leases and delivering. */
  start(): void {
    if (this.leaseTimer) return;
    const leaseEvery = Math.max(100, Math.floor(this.engine.options.nodeTimeoutMs / 3));
    this.leaseTimer = setInterval(() => void this.tick(), leaseEvery);
    this.leaseTimer.unref();
    this.pollTimer = setInterval(() => {
      for (const w of this.workers.values()) w.wake();
    }, this.cfg.pollMs);
    this.pollTimer.unref();
    void this.tick();
  }

  /** Stops delivering and gives the shards back so another node takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.leaseTimer = this.pollTimer = this.wakeTimer = null;
    const shards = [...this.workers.keys()];
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
    for (const wake of this.waiting.splice(0)) wake();
    if (this.unqueued.length > 0)
      this.log.warn({ events: this.unqueued.length }, 'webhook events not queued at shutdown');
    await this.engine.webhooks.release(shards).catch(() => undefined);
  }

  /** Renews leases, starts/stops shard workers, refreshes the queue figures. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.unqueued.length > 0) await this.flushUnqueued().catch(() => undefined);
      const asked = Date.now();
      const held = new Set(await this.engine.webhooks.lease(this.engine.webhooks.shards));
      if (this.stopped) return;
      // The leases live nodeTimeoutMs from (at the latest) when we asked; keep a third as margin.
      this.leaseSafeUntil = asked + Math.floor((this.engine.options.nodeTimeoutMs * 2) / 3);
      for (const [shard, w] of this.workers) {
        if (held.has(shard)) continue;
        w.stop();
        this.workers.delete(shard);
      }
      for (const shard of held) {
        if (this.workers.has(shard)) continue;
        const w = new ShardWorker(shard, this.engine.webhooks, this.delivery(), SHARD_BUFFER);
        this.workers.set(shard, w);
        w.wake();
      }
      this.stats = await this.engine.webhooks.stats();
    } catch (err) {
      this.log.warn({ err }, 'webhook lease renewal failed');
    } finally {
      this.ticking = false;
    }
  }

  /** What a shard worker needs to deliver one event. */
  private delivery(): Delivery {
    return {
      attempt: (ev) => this.attempt(ev),
      backoffMs: (n) => {
        const base = Math.min(this.cfg.retryMaxMs, this.cfg.retryBaseMs * 2 ** Math.min(n, 30));
        return Math.floor(base / 2 + (Math.random() * base) / 2);
      },
      expired: (ev) => Date.now() - ev.queuedAt > this.cfg.retryForMs,
      dropped: (ev) => {
        this.metrics.webhookDeliveries.inc({ outcome: 'dropped' });
        this.log.error({ partition: ev.partition, queuedAt: ev.queuedAt }, 'webhook event dropped after retrying');
      },
      sleep: (ms, signal) => sleep(ms, undefined, { signal }),
      error: (err) => this.log.warn({ err }, 'webhook queue read/ack failed'),
      leaseValid: () => Date.now() < this.leaseSafeUntil,
      fenceWaitMs: Math.min(this.cfg.pollMs, 100),
    };
  }

  private async slot(): Promise<void> {
    while (this.inFlight >= this.cfg.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  /** One POST; true on 2xx. */
  private async attempt(ev: QueuedEvent): Promise<boolean> {
    await this.slot();
    let outcome: AttemptOutcome;
    try {
      const res = await fetch(this.cfg.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Parley-Signature': signature(ev.body, this.cfg.secret),
          'User-Agent': 'Parley-Webhook/1',
        },
        body: ev.body,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
      await res.arrayBuffer();
      outcome = res.status >= 200 && res.status < 300 ? 'success' : 'http_error';
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      outcome = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network_error';
    } finally {
      this.release();
    }
    this.metrics.webhookDeliveries.inc({ outcome });
    return outcome === 'success';
  }

  /** Shard workers, what they hold, and the local retry and wake-up queues (parley_state_entries). */
  stateSizes(): StateSizes {
    let held = 0;
    let partitions = 0;
    let acks = 0;
    for (const w of this.workers.values()) {
      const s = w.stateSizes();
      held += s.held;
      partitions += s.partitions;
      acks += s.acks;
    }
    return {
      'webhooks.workers': this.workers.size,
      'webhooks.heldEvents': held,
      'webhooks.partitions': partitions,
      'webhooks.pendingAcks': acks,
      'webhooks.unqueued': this.unqueued.length,
      'webhooks.toWake': this.toWake.size,
    };
  }
}
