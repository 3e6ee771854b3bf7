/**
 * The Redis engine: messages in one stream per room, the bus on Redis
 * pub/sub, presence in RedisPresenceStore. Several nodes given the same
 * Redis form one cluster. Behaves exactly like the memory engine (the
 * shared conformance suite runs on both).
 *
 * Two connections per node:
 * - commands (append script, history, publish, presence), optionally
 *   auto-pipelined;
 * - subscriber (bus.ts), RESP3, which also runs the gap-fill reads so they
 *   are ordered with the pushed messages.
 *
 * Failures: no offline queue and no retries per request, so a command
 * issued while Redis is unreachable, or in flight when the connection drops,
 * rejects at once with ParleyError('UNAVAILABLE'); a command Redis does not
 * answer rejects after `commandTimeoutMs`. Both connections reconnect
 * forever with capped exponential backoff; the bus resubscribes and fills
 * gaps by itself. A heartbeat PING forces a reconnect of a connection that
 * stopped answering (a half-open TCP connection never closes by itself).
 * Requires Redis >= 6.2 (RESP3, exclusive stream ranges).
 *
 * Deployments (exactly one of url, sentinels, clusterNodes):
 * - one Redis (`url`) and Sentinel (`sentinels` + `sentinelName`: ioredis
 *   asks the sentinels for the primary and follows a switch) use the two
 *   connections above with PUBLISH/SUBSCRIBE;
 * - Redis Cluster (`clusterNodes`, Redis >= 7): one ioredis Cluster with
 *   `shardedSubscribers`; scripts publish with SPUBLISH (publishCommand), the
 *   bus SSUBSCRIBEs per room (bus.ts), each node connection is corked per
 *   event-loop turn, a command to a failed primary is retried by ioredis for
 *   about a second while the replica takes over, then answers UNAVAILABLE.
 * With ackReplicas > 0 a write's reply waits for WAIT (acknowledged()).
 */
import type { Cluster, Redis } from 'ioredis';
import { createConnections, isPermanentConnectError, noop, quit, withTimeout } from './connections.js';
import {
  defaultEngineOptions,
  type AppendResult,
  type BusEvent,
  type ControlListener,
  type ControlMessage,
  type Engine,
  type EngineOptions,
  type HistoryPage,
  type MessageDraft,
  type RoomListener,
  type SinceResult,
} from '../engine.js';
import type { PresenceLifecycle, PresenceStore } from '../presence-store.js';
import { RedisBus, type BusStats } from './bus.js';
import { toEngineError, type PublishCommand, type RedisCommands } from './client.js';
import { ErrorLogLimiter } from './log-limit.js';
import { CONTROL_CHANNEL, RoomNamesCache } from './keys.js';
import { RedisMessageWriter } from './redis-messages.js';
import { RedisLifecycleStore } from './lifecycle.js';
import type { ModerationStore } from '../moderation-store.js';
import type { WebhookQueue } from '../webhook-queue.js';
import { RedisMembershipStore } from './redis-memberships.js';
import { RedisModerationStore } from './redis-moderation.js';
import { RedisPresenceStore } from './redis-presence.js';
import { RedisWebhookQueue } from './redis-webhooks.js';
import { RedisNodeDirectory } from './redis-nodes.js';
import type { NodeDirectory } from '../node-directory.js';
import { mergeStateSizes, type StateSizes } from '../../state-sizes.js';

/** The subset of a pino logger the engine uses. */
export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A Redis server address. */
export interface HostPort {
  host: string;
  port: number;
}

/** The three deployments the engine runs on. */
export type RedisMode = 'single' | 'sentinel' | 'cluster';

/** Options of the Redis engine: the common EngineOptions plus connection settings. */
export interface RedisEngineOptions extends Partial<EngineOptions> {
  /** This node's id, unique in the cluster (also names its Redis connections). */
  nodeId: string;
  /** One Redis: `redis://[user:password@]host:port[/db]` or `rediss://...`. Exactly one of url, clusterNodes, sentinels. */
  url?: string;
  /** Seed nodes of a Redis Cluster (Redis >= 7: sharded pub/sub). */
  clusterNodes?: HostPort[];
  /** Sentinels of a Sentinel-managed primary. */
  sentinels?: HostPort[];
  /** The primary's name at the sentinels. Default `mymaster`. */
  sentinelName?: string;
  /** Replicas that must hold a write before it is acknowledged (WAIT). Default 0. */
  ackReplicas?: number;
  /** How long WAIT may take before the write answers UNAVAILABLE, ms. Default 1000. */
  ackTimeoutMs?: number;
  /** A command Redis does not answer within this rejects with UNAVAILABLE. Default 2000. */
  commandTimeoutMs?: number;
  /** start() rejects when Redis cannot be reached within this. Default 10000. */
  startTimeoutMs?: number;
  /** ready() answers false when PING takes longer. Default 1000. */
  readyTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. Default 2000. */
  maxReconnectDelayMs?: number;
  /** PING interval on both connections; 0 disables. Default 5000. */
  heartbeatMs?: number;
  /** Batch the commands issued in one event-loop turn into one write. Default true. */
  autoPipelining?: boolean;
  /** Connection state changes and errors nobody awaits. Default: silent. */
  log?: EngineLogger;
}

export class RedisEngine implements Engine {
  readonly kind = 'redis' as const;
  readonly options: EngineOptions;
  readonly presence: PresenceStore;
  readonly memberships: RedisMembershipStore;
  readonly lifecycle: RedisLifecycleStore;
  readonly moderation: ModerationStore;
  readonly webhooks: WebhookQueue;
  readonly nodes: NodeDirectory;
  /** Bus counters (resyncs, gap-filled messages, dropped duplicates) for metrics. */
  readonly busStats: BusStats;
  /**
   * The command scripts use to publish on a room's channel: pass it as an
   * ARGV to every script that publishes (`redis.call(ARGV[n], channel, payload)`).
   */
  readonly publishCommand: PublishCommand = 'PUBLISH';

  /** Which deployment this engine talks to. */
  readonly mode: RedisMode;
  /** Replicas a write must reach before its reply (PARLEY_ACK_REPLICAS). */
  readonly ackReplicas: number;

  private readonly where: string;
  private readonly cmd: RedisCommands;
  private readonly messages: RedisMessageWriter;
  /** The bus connection; null on Cluster (ioredis owns one sharded subscriber per master). */
  private readonly sub: Redis | null;
  private readonly bus: RedisBus;
  private readonly names = new RoomNamesCache();
  private readonly log: EngineLogger | undefined;
  private readonly errors: ErrorLogLimiter;
  private readonly startTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly ackTimeoutMs: number;
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Set once start() reached Redis; before, connection errors are start()'s to report (in one line). */
  private reachedOnce = false;
  private presenceStarted = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly down = { cmd: false, sub: false };
  /** A failed directory update only makes the directory order stale until the room's next message. */
  private readonly touchFailed = (err: unknown): void => {
    if (this.down.cmd || this.closing) return; // the outage is logged once already
    this.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis engine: directory update failed');
  };

  /**
   * Creates the engine; nothing connects before start().
   *
   * @example
   * const engine = new RedisEngine({ url: 'redis://127.0.0.1:6380', nodeId: 'node-1' });
   * const onCluster = new RedisEngine({ clusterNodes: [{ host: '10.0.0.1', port: 7000 }], nodeId: 'node-2' });
   * await engine.start();
   */
  constructor(opts: RedisEngineOptions) {
    this.options = {
      nodeId: opts.nodeId,
      historyMax: opts.historyMax ?? defaultEngineOptions.historyMax,
      dedupeWindowMs: opts.dedupeWindowMs ?? defaultEngineOptions.dedupeWindowMs,
      nodeTimeoutMs: opts.nodeTimeoutMs ?? defaultEngineOptions.nodeTimeoutMs,
    };
    if (opts.presenceRetentionMs !== undefined) this.options.presenceRetentionMs = opts.presenceRetentionMs;
    const given = [opts.url, opts.clusterNodes, opts.sentinels].filter((x) => x !== undefined).length;
    if (given !== 1) throw new Error('RedisEngine: give exactly one of url, clusterNodes, sentinels');
    this.mode = opts.clusterNodes ? 'cluster' : opts.sentinels ? 'sentinel' : 'single';
    this.log = opts.log;
    this.errors = new ErrorLogLimiter(opts.log);
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.ackReplicas = Math.max(0, Math.floor(opts.ackReplicas ?? 0));
    this.ackTimeoutMs = Math.max(1, Math.floor(opts.ackTimeoutMs ?? 1000));

    const clients = createConnections({
      ...opts,
      // WAIT may take ackTimeoutMs: the command timeout must not cut it short.
      commandTimeoutMs: Math.max(opts.commandTimeoutMs ?? 2000, this.ackReplicas > 0 ? this.ackTimeoutMs + 500 : 0),
    });
    this.where = clients.where;
    this.cmd = clients.cmd;
    this.sub = clients.sub;
    if (this.mode === 'cluster') this.publishCommand = 'SPUBLISH';
    this.watch(this.cmd, 'cmd');
    if (this.sub) this.watch(this.sub, 'sub');

    this.bus = new RedisBus(
      this.sub ? { kind: 'connection', sub: this.sub } : { kind: 'sharded', cluster: this.cmd as Cluster },
      this.names,
      {
        toEngineError,
        onError: (err, context) => {
          // Resyncs fail every second while a shard is down: rate-limited. Listener exceptions are bugs: always.
          if (context.startsWith('bus resync')) this.errors.report('bus', err, context);
          else this.log?.error({ err, context }, 'redis engine: unhandled error');
        },
      },
    );
    this.busStats = this.bus.stats;
    this.presence = new RedisPresenceStore(this.cmd, this.options, { cluster: this.mode === 'cluster' });
    this.memberships = new RedisMembershipStore(this.cmd, this.touchFailed, (key) => this.acknowledged(key));
    this.messages = new RedisMessageWriter(this.cmd, this.names, this.memberships, {
      historyMax: this.options.historyMax,
      dedupeWindowMs: this.options.dedupeWindowMs,
      publishCommand: this.publishCommand,
      ackReplicas: this.ackReplicas,
      queueEvents: this.mode !== 'cluster',
      acknowledged: (key) => this.acknowledged(key),
    });
    this.lifecycle = new RedisLifecycleStore(this.cmd, this.names, {
      historyMax: this.options.historyMax,
      publishCommand: () => this.publishCommand,
      acknowledged: (key) => this.acknowledged(key),
    });
    this.moderation = new RedisModerationStore(this.cmd, (key) => this.acknowledged(key));
    this.nodes = new RedisNodeDirectory(this.cmd);
    this.webhooks = new RedisWebhookQueue(this.cmd, this.options.nodeId, this.options.nodeTimeoutMs, (key) =>
      this.acknowledged(key),
    );
  }

  /**
   * Connects both connections, subscribes the control channel and starts
   * the presence store. Rejects with a clear error when Redis cannot be
   * reached within `startTimeoutMs` (the engine is then closed).
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.closing) throw new Error('the Redis engine is closed');
    const synced = this.bus.whenSynced();
    const clients: RedisCommands[] = this.sub ? [this.cmd, this.sub] : [this.cmd];
    for (const c of clients) c.connect().catch(noop);
    const lastError: { err?: unknown } = {};
    let permanent: (err: unknown) => void = noop;
    const failed = new Promise<never>((_, reject) => (permanent = reject));
    failed.catch(noop);
    const onError = (err: unknown): void => {
      lastError.err = err;
      // One Redis that does not exist or refuses will not come by waiting: fail at once (Cluster and
      // Sentinel seed lists may have other members, so they wait for the timeout).
      if (this.mode === 'single' && isPermanentConnectError(err)) permanent(err);
    };
    for (const c of clients) c.on('error', onError);
    try {
      const up = Promise.all([this.readyOnce(this.cmd), synced]);
      await withTimeout(Promise.race([up, failed]), this.startTimeoutMs, 'connecting');
      if (this.mode === 'cluster') await withTimeout(this.waitClusterOk(), this.startTimeoutMs, 'cluster_state:ok');
    } catch {
      const err = lastError.err;
      const cause = err instanceof Error ? `: ${err.message}` : '';
      await this.close();
      const when = this.mode === 'single' && isPermanentConnectError(err) ? '' : ` within ${this.startTimeoutMs} ms`;
      throw new Error(`cannot reach ${this.where}${when}${cause}`, { cause: err });
    } finally {
      for (const c of clients) c.off('error', onError);
    }
    if (this.closing) throw new Error('the Redis engine was closed while starting');
    this.reachedOnce = true;
    const lifecycle = this.presence as PresenceStore & PresenceLifecycle;
    if (typeof lifecycle.start === 'function') await lifecycle.start();
    this.presenceStarted = true;
    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /** Polls until the cluster serves every slot (a node may start while a failover is running). */
  private async waitClusterOk(): Promise<void> {
    while (!this.closing) {
      if (await this.clusterOk()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `cluster_state:ok` with every slot served (none on a failed primary) and every master answering PING. */
  private async clusterOk(): Promise<boolean> {
    const cluster = this.cmd as Cluster;
    try {
      const masters = cluster.nodes('master');
      if (masters.length === 0) return false;
      const [info] = await Promise.all([
        masters[0]!.cluster('INFO') as Promise<string>,
        ...masters.map((m) => m.ping()),
      ]);
      return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384\b/.test(info);
    } catch {
      return false;
    }
  }

  /** Stops the presence store and the heartbeat, then quits both connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.memberships.close();
    const lifecycle = this.presence as PresenceStore & PresenceLifecycle;
    if (this.presenceStarted && typeof lifecycle.stop === 'function') {
      try {
        await lifecycle.stop();
      } catch (err) {
        this.log?.warn({ err }, 'redis engine: presence store did not stop cleanly');
      }
    }
    this.bus.close();
    await Promise.all([quit(this.cmd), this.sub ? quit(this.sub) : undefined]);
  }

  /**
   * True when the whole deployment serves: PING on the primary (one Redis,
   * Sentinel), or `cluster_state:ok` and a PING answered by every master
   * (Cluster), within `readyTimeoutMs`. Never throws. (The bus connection
   * reconnects on its own schedule and gap-fills, so it does not gate
   * readiness.)
   */
  async ready(): Promise<boolean> {
    if (this.closing) return false;
    try {
      if (this.mode === 'cluster') return await withTimeout(this.clusterOk(), this.readyTimeoutMs, 'cluster check');
      await withTimeout(this.cmd.ping(), this.readyTimeoutMs, 'PING');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * With `ackReplicas` > 0: WAIT on the connection that wrote `key` (the
   * node that owns its slot on Cluster) until that many replicas hold every
   * write made so far on it; UNAVAILABLE when they do not confirm within
   * `ackTimeoutMs` (the write stays: a retry with the same clientMsgId finds
   * it). Stores call it after a write whose reply must survive a failover.
   * Resolves at once when ackReplicas is 0.
   */
  async acknowledged(key: string): Promise<void> {
    if (this.ackReplicas === 0) return;
    let acked: number;
    try {
      if (this.mode === 'cluster') {
        // A pipeline goes to the one node that owns the key's slot; WAIT rides along.
        const res = await this.cmd.pipeline().exists(key).wait(this.ackReplicas, this.ackTimeoutMs).exec();
        const w = res?.[1];
        if (!w || w[0]) throw w?.[0] ?? new Error('WAIT aborted');
        acked = Number(w[1]);
      } else {
        acked = await this.cmd.wait(this.ackReplicas, this.ackTimeoutMs);
      }
    } catch (err) {
      throw toEngineError(err);
    }
    if (acked < this.ackReplicas) {
      throw toEngineError(new Error(`only ${acked} of ${this.ackReplicas} replicas confirmed the write`));
    }
  }

  // ---- messages ----

  /** One script call: dedupe check, XADD, trim, PUBLISH, remember the clientMsgId (redis-messages.ts). */
  append(draft: MessageDraft): Promise<AppendResult> {
    return this.messages.append(draft);
  }

  /** A page in current state: XREVRANGE plus the page's changed messages, one script (lifecycle.ts). */
  history(room: string, opts: { before?: string; limit: number }): Promise<HistoryPage> {
    return this.lifecycle.history(room, opts);
  }

  /** The messages after `since` and the older ones changed since, read atomically (lifecycle.ts). */
  since(room: string, since: string, max: number): Promise<SinceResult> {
    return this.lifecycle.since(room, since, max);
  }

  /** Id of the newest entry of the room's stream, or null. */
  lastMessageId(room: string): Promise<string | null> {
    return this.messages.lastMessageId(room);
  }

  // ---- bus ----

  /** See Engine.subscribe; rejects with UNAVAILABLE when Redis is unreachable. */
  subscribe(room: string, listener: RoomListener): Promise<void> {
    return this.bus.subscribe(room, listener);
  }

  /** See Engine.unsubscribe; never rejects. */
  unsubscribe(room: string): Promise<void> {
    return this.bus.unsubscribe(room);
  }

  /** PUBLISH (SPUBLISH on Cluster) `e<skipUser>|<frame>` on the room's channel. */
  async publish(room: string, event: Extract<BusEvent, { kind: 'event' }>): Promise<void> {
    const channel = this.names.get(room).channel;
    const payload = `e${event.skipUser ?? ''}|${event.frame}`;
    try {
      if (this.sub === null) await this.cmd.spublish(channel, payload);
      else await this.cmd.publish(channel, payload);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** PUBLISH (SPUBLISH on Cluster) the JSON of `msg` on the control channel (every node, this one included). */
  async publishControl(msg: ControlMessage): Promise<void> {
    try {
      if (this.sub === null) await this.cmd.spublish(CONTROL_CHANNEL, JSON.stringify(msg));
      else await this.cmd.publish(CONTROL_CHANNEL, JSON.stringify(msg));
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** Sets the one listener for control messages. */
  onControl(listener: ControlListener): void {
    this.bus.onControl(listener);
  }

  // ---- connection upkeep ----

  /**
   * Listens to a connection's errors (ioredis prints unhandled ones) and logs
   * each outage once; repeated errors (ioredis emits about 100 a second while
   * a shard is down) are summed up, at most one line per 5 s.
   */
  private watch(client: RedisCommands, which: 'cmd' | 'sub'): void {
    client.on('error', (err: Error) => {
      if (this.closing || !this.reachedOnce) return;
      // While down, every reconnect attempt fails the same way: say it once.
      if (this.down[which]) this.errors.count(which);
      else this.errors.report(which, err, 'connection error');
    });
    if (this.mode === 'cluster') {
      client.on('node error', (err: Error, node: string) => {
        if (!this.closing) this.errors.report('cluster node', err, node);
      });
    }
    client.on('close', () => {
      if (!this.reachedOnce || this.closing || this.down[which]) return;
      this.down[which] = true;
      this.log?.warn({ connection: which, mode: this.mode }, 'redis engine: connection lost, reconnecting');
    });
    client.on('ready', () => {
      if (!this.down[which]) return;
      this.down[which] = false;
      this.log?.info({ connection: which, mode: this.mode }, 'redis engine: connection restored');
    });
  }

  /** PINGs both connections; one that is up but does not answer is dropped and reconnects. */
  private beat(): void {
    if (this.sub === null) return; // Cluster: ioredis refreshes the slots and reconnects nodes itself
    for (const client of [this.cmd as Redis, this.sub]) {
      if (client.status !== 'ready') continue;
      client.ping().catch((err: unknown) => {
        if (this.closing || client.status !== 'ready') return;
        if (err instanceof Error && err.message.includes('timed out')) client.disconnect(true);
      });
    }
  }

  private readyOnce(client: RedisCommands): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => client.once('ready', () => resolve()));
  }

  /** The engine's in-memory state: bus, caches, and what each store keeps locally (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      ...this.bus.stateSizes(),
      ...this.names.stateSizes(),
      ...this.errors.stateSizes(),
      ...mergeStateSizes([this.presence, this.memberships, this.lifecycle, this.moderation, this.webhooks, this.nodes]),
    };
  }
}
