/**
 * The subscriber side of the Redis bus: one dedicated connection per node,
 * one SUBSCRIBE per room per node, gap fill after reconnects.
 *
 * Channel payloads (written by the append script and RedisEngine.publish):
 *
 *     m<id>|<frame>          a stored message: its stream id, then the complete `message` frame
 *     c<changeId>|<frame>    an edit, delete or reaction: its change-log id, then the `edited`/`deleted`/`reaction` frame
 *     e<skipUser>|<frame>    an ephemeral event; skipUser is empty when unset
 *
 * Ids and user ids never contain `|`, so the first `|` ends the header and
 * a payload is decoded with one indexOf and two slices, never JSON.parse.
 *
 * Ordering and gap fill. The connection speaks RESP3, where a subscribed
 * connection may still run ordinary commands and their replies are ordered
 * with the pushed messages. So reads made on this connection right after a
 * SUBSCRIBE see exactly the messages that were published before they ran:
 *
 * - subscribe(): SUBSCRIBE + `XREVRANGE log + - COUNT 1` pipelined; the
 *   reply gives the baseline id (everything up to it is "already seen").
 * - every room remembers the last message id it delivered and drops any
 *   message event with an id at or below it.
 * - after a reconnect (Redis restart, killed connection) the `ready` event
 *   triggers resync(): the room events are buffered, one SUBSCRIBE for the
 *   control channel and every room, then per room `XRANGE log (<lastId> +`
 *   delivers what was missed in order, then the buffer is replayed (the
 *   last-id filter drops what the fill already delivered).
 *
 * Change events follow the same scheme with their own ids: the baseline is
 * the newest entry of the room's change log, each room drops change events
 * at or below its last change id, and the gap fill replays the change log
 * (field `f` is the frame) after the messages.
 *
 * Messages published while the connection was down and trimmed from the
 * stream before the fill are lost; control messages published while it was
 * down are lost too (they are advisory: kicks, user frames).
 *
 * On Redis Cluster (sharded pub/sub) ioredis owns one subscriber connection
 * per master and pushes are not ordered with reads, which go to the masters
 * through the command client. So subscribe() waits for the SSUBSCRIBE
 * acknowledgement before it reads the baseline (a message stored after the
 * baseline read is pushed; one stored before is covered by the reader's own
 * read, which also runs after subscribe() resolved), and a resync (ioredis
 * `subscribersReady`: a failover or a subscriber that reconnected) works
 * room by room: buffer, SSUBSCRIBE again (a no-op at Redis, but its reply
 * proves the subscription is live on the new master), fill from the stream,
 * replay. A room whose shard is still down keeps buffering and is retried
 * every second; rooms of other shards are not held up by it.
 */
import type { Cluster, Redis } from 'ioredis';
import { compareMessageIds } from '../../protocol/ids.js';
import { idTime, messageJson } from '../codec.js';
import type { BusEvent, ControlListener, ControlMessage, RoomListener } from '../engine.js';
import { CONTROL_CHANNEL, type RoomNames, type RoomNamesCache } from './keys.js';
import type { StateSizes } from '../../state-sizes.js';

const CHAR_M = 109; // 'm'
const CHAR_C = 99; // 'c'
const CHAR_DASH = 45; // '-'
const CHAR_0 = 48; // '0'

/** Counters for metrics and tests. */
export interface BusStats {
  /** Completed resubscriptions after a reconnect. */
  resyncs: number;
  /** Messages delivered by a gap fill (read from the stream, not received live). */
  filled: number;
  /** Live message events dropped because their id was already delivered. */
  dropped: number;
  /** Exceptions thrown by listeners (caught, reported through onError). */
  listenerErrors: number;
}

export interface BusOptions {
  /** Where errors that have no caller go (listener exceptions, failed resyncs). */
  onError(err: unknown, context: string): void;
  /** Maps a command failure to the error the caller sees. */
  toEngineError(err: unknown): Error;
  /** XRANGE page size during gap fill. */
  fillBatch?: number;
}

/**
 * Where the bus subscribes and reads: one dedicated RESP3 connection (one
 * Redis, Sentinel), or the Cluster client with sharded subscribers.
 */
export type BusLink = { kind: 'connection'; sub: Redis } | { kind: 'sharded'; cluster: Cluster };

/** Most raw payloads a room holds while it waits for its shard; beyond, the stream fill covers the messages. */
const MAX_BUFFER = 10_000;

interface RoomSub {
  readonly names: RoomNames;
  listener: RoomListener;
  /** SUBSCRIBE acknowledged and baseline known: resync() resubscribes and fills it. */
  active: boolean;
  /** Last delivered (or baseline) message id, null when the stream was empty at subscribe. */
  lastId: string | null;
  lastMs: number;
  lastSeq: number;
  /** Last delivered (or baseline) change id, null when the change log was empty at subscribe. */
  lastChange: string | null;
  /** Raw payloads held back while a gap fill runs, else null. */
  buffer: string[] | null;
}

type StreamEntry = [id: string, fields: string[]];

const noop = (): void => {};

export class RedisBus {
  readonly stats: BusStats = { resyncs: 0, filled: 0, dropped: 0, listenerErrors: 0 };
  private readonly rooms = new Map<string, RoomSub>();
  private readonly byChannel = new Map<string, RoomSub>();
  /** Tail of each room's queue of subscribe/unsubscribe operations. */
  private readonly chains = new Map<string, Promise<void>>();
  private controlListener: ControlListener | null = null;
  private generation = 0;
  private syncedOnce = false;
  private syncWaiters: Array<() => void> = [];
  private closed = false;
  private readonly fillBatch: number;
  /** The client the subscriptions and the reads go through (the connection, or the Cluster). */
  private readonly sub: Redis | Cluster;
  private readonly sharded: boolean;
  private retryTimer: NodeJS.Timeout | null = null;

  /**
   * @param link a dedicated connection (RESP3, autoResubscribe off: the bus
   *   owns its subscriptions and resubscribes itself on every `ready`), or a
   *   Cluster created with `shardedSubscribers: true`.
   */
  constructor(
    private readonly link: BusLink,
    private readonly names: RoomNamesCache,
    private readonly opts: BusOptions,
  ) {
    this.fillBatch = opts.fillBatch ?? 1000;
    this.sharded = link.kind === 'sharded';
    this.sub = link.kind === 'sharded' ? link.cluster : link.sub;
    if (link.kind === 'sharded') {
      link.cluster.on('smessage', this.onMessage);
      link.cluster.on('ready', this.onReady);
      link.cluster.on('subscribersReady', this.onReady);
    } else {
      link.sub.on('message', this.onMessage);
      link.sub.on('ready', this.onReady);
    }
  }

  private get live(): boolean {
    return this.sub.status === 'ready';
  }

  private subscribeChannel(channel: string): Promise<unknown> {
    return this.sharded ? this.sub.ssubscribe(channel) : this.sub.subscribe(channel);
  }

  private unsubscribeChannel(channel: string): Promise<unknown> {
    return this.sharded ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel);
  }

  /** Resolves once the control channel (and every active room) is subscribed on a live connection. */
  whenSynced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Sets the one control listener. */
  onControl(listener: ControlListener): void {
    this.controlListener = listener;
  }

  /**
   * Subscribes the node to a room, or replaces the listener of an existing
   * subscription. Resolves after Redis acknowledged the SUBSCRIBE, so a read
   * made afterwards cannot miss a message the listener will not get.
   * Operations on one room run one after another.
   */
  subscribe(room: string, listener: RoomListener): Promise<void> {
    return this.serialize(room, async () => {
      if (this.closed) throw new Error('the engine is closed');
      const existing = this.rooms.get(room);
      if (existing !== undefined) {
        existing.listener = listener;
        return;
      }
      const names = this.names.get(room);
      const s: RoomSub = {
        names,
        listener,
        active: false,
        lastId: null,
        lastMs: 0,
        lastSeq: 0,
        lastChange: null,
        buffer: null,
      };
      // Registered before the SUBSCRIBE: messages may arrive in the same
      // socket read as its acknowledgement, before the await below resumes.
      this.rooms.set(room, s);
      this.byChannel.set(names.channel, s);
      try {
        let top: StreamEntry[];
        let topChange: StreamEntry[];
        if (this.sharded) {
          // Not ordered with the pushes: read only once the subscription is live.
          await this.sub.ssubscribe(names.channel);
          [top, topChange] = await Promise.all([
            this.sub.xrevrange(names.log, '+', '-', 'COUNT', 1),
            this.sub.xrevrange(names.changes, '+', '-', 'COUNT', 1),
          ]);
        } else {
          [, top, topChange] = await Promise.all([
            this.sub.subscribe(names.channel),
            this.sub.xrevrange(names.log, '+', '-', 'COUNT', 1),
            this.sub.xrevrange(names.changes, '+', '-', 'COUNT', 1),
          ]);
        }
        s.lastChange = topChange[0]?.[0] ?? null;
        // Everything published before the XREVRANGE ran has been delivered
        // already (same connection, ordered), so its result is a safe baseline.
        const last = top[0];
        if (last !== undefined) this.advance(s, last[0], 0, last[0].length);
        s.active = true;
      } catch (err) {
        if (this.rooms.get(room) === s) {
          this.rooms.delete(room);
          this.byChannel.delete(names.channel);
        }
        // The SUBSCRIBE may have taken effect (e.g. only the read timed out).
        if (this.live || this.sharded) this.unsubscribeChannel(names.channel).catch(noop);
        throw this.opts.toEngineError(err);
      }
    });
  }

  /**
   * Stops delivering the room's events at once and unsubscribes. Never
   * rejects: when Redis is unreachable the next resync simply leaves the room out.
   */
  unsubscribe(room: string): Promise<void> {
    return this.serialize(room, async () => {
      const s = this.rooms.get(room);
      if (s === undefined) return;
      this.rooms.delete(room);
      this.byChannel.delete(s.names.channel);
      // A Cluster remembers sharded channels to resubscribe them: always tell it.
      if (!this.live && !this.sharded) return;
      try {
        await this.unsubscribeChannel(s.names.channel);
      } catch {
        // Nothing is delivered for it locally any more; a reconnect drops it at Redis too.
      }
    });
  }

  /** Forgets every subscription and listener; later events are ignored. */
  close(): void {
    this.closed = true;
    this.rooms.clear();
    this.byChannel.clear();
    this.controlListener = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.link.kind === 'sharded') {
      this.link.cluster.off('smessage', this.onMessage);
      this.link.cluster.off('ready', this.onReady);
      this.link.cluster.off('subscribersReady', this.onReady);
    } else {
      this.link.sub.off('message', this.onMessage);
      this.link.sub.off('ready', this.onReady);
    }
    for (const wake of this.syncWaiters.splice(0)) wake();
  }

  /** Number of rooms this node is subscribed to. */
  get size(): number {
    return this.rooms.size;
  }

  // ---- delivery (hot path) ----

  private readonly onMessage = (channel: string, payload: string): void => {
    const s = this.byChannel.get(channel);
    if (s !== undefined) {
      if (s.buffer === null) this.deliver(s, payload);
      else if (s.buffer.length < MAX_BUFFER) s.buffer.push(payload);
    } else if (channel === CONTROL_CHANNEL) {
      this.deliverControl(payload);
    }
  };

  private deliver(s: RoomSub, payload: string): void {
    const bar = payload.indexOf('|');
    if (bar < 1) return;
    let event: BusEvent;
    if (payload.charCodeAt(0) === CHAR_M) {
      if (!this.advance(s, payload, 1, bar)) {
        this.stats.dropped++;
        return;
      }
      event = { kind: 'message', id: s.lastId as string, frame: payload.slice(bar + 1) };
    } else if (payload.charCodeAt(0) === CHAR_C) {
      const id = payload.slice(1, bar);
      if (!this.advanceChange(s, id)) {
        this.stats.dropped++;
        return;
      }
      event = { kind: 'change', id, frame: payload.slice(bar + 1) };
    } else if (bar === 1) {
      event = { kind: 'event', frame: payload.slice(2) };
    } else {
      event = { kind: 'event', frame: payload.slice(bar + 1), skipUser: payload.slice(1, bar) };
    }
    this.emit(s, event);
  }

  /**
   * Moves the room's last id forward to the id in text[from, to) when it is
   * newer; false (and nothing changes) when it is not. Parses in place: no
   * split, no Number() of slices.
   */
  private advance(s: RoomSub, text: string, from: number, to: number): boolean {
    let ms = 0;
    let i = from;
    for (; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === CHAR_DASH) break;
      ms = ms * 10 + (c - CHAR_0);
    }
    let seq = 0;
    for (i++; i < to; i++) seq = seq * 10 + (text.charCodeAt(i) - CHAR_0);
    if (s.lastId !== null && (ms < s.lastMs || (ms === s.lastMs && seq <= s.lastSeq))) return false;
    s.lastMs = ms;
    s.lastSeq = seq;
    s.lastId = from === 0 && to === text.length ? text : text.slice(from, to);
    return true;
  }

  /** Moves the room's last change id forward to `id` when it is newer; false when it is not. */
  private advanceChange(s: RoomSub, id: string): boolean {
    if (s.lastChange !== null && compareMessageIds(id, s.lastChange) <= 0) return false;
    s.lastChange = id;
    return true;
  }

  private emit(s: RoomSub, event: BusEvent): void {
    try {
      s.listener(event);
    } catch (err) {
      // A throwing listener must not tear down the connection's parser (ioredis rethrows).
      this.stats.listenerErrors++;
      this.opts.onError(err, `listener of room ${s.names.room}`);
    }
  }

  private deliverControl(payload: string): void {
    const listener = this.controlListener;
    if (listener === null) return;
    try {
      listener(JSON.parse(payload) as ControlMessage);
    } catch (err) {
      this.opts.onError(err, 'control listener');
    }
  }

  // ---- reconnects ----

  private readonly onReady = (): void => {
    if (this.sharded) void this.resyncSharded();
    else void this.resync();
  };

  /**
   * Cluster: the control channel and every room, each on its own (one slot
   * per SSUBSCRIBE): a room whose shard cannot answer yet stays buffered and
   * is retried a second later, the others go on at once. Never rejects.
   */
  private async resyncSharded(): Promise<void> {
    if (this.closed) return;
    const gen = ++this.generation;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const subs: RoomSub[] = [];
    for (const s of this.rooms.values()) {
      if (!s.active) continue;
      if (s.buffer === null) s.buffer = [];
      subs.push(s);
    }
    const results = await Promise.allSettled([
      this.sub.ssubscribe(CONTROL_CHANNEL),
      ...subs.map(async (s) => {
        await this.sub.ssubscribe(s.names.channel);
        await this.fill(s, gen);
      }),
    ]);
    if (this.closed || gen !== this.generation) return;
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === 0) {
      if (this.syncedOnce) this.stats.resyncs++;
      this.syncedOnce = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
      return;
    }
    if (results[0]!.status === 'fulfilled') {
      this.syncedOnce = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
    this.opts.onError((failed[0] as PromiseRejectedResult).reason, `bus resync (${failed.length} left, retrying)`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.resyncSharded();
    }, 1000);
    this.retryTimer.unref();
  }

  /** Resubscribes everything on a fresh connection and fills each room's gap. Never rejects. */
  private async resync(): Promise<void> {
    if (this.closed) return;
    const gen = ++this.generation;
    const subs: RoomSub[] = [];
    const channels = [CONTROL_CHANNEL];
    for (const s of this.rooms.values()) {
      if (!s.active) continue; // its own subscribe() is failing with the old connection
      if (s.buffer === null) s.buffer = [];
      subs.push(s);
      channels.push(s.names.channel);
    }
    try {
      await this.sub.subscribe(...channels);
      // Pipelined on this connection right after the SUBSCRIBE: each read sees
      // everything that was published before the room was resubscribed.
      await Promise.all(subs.map((s) => this.fill(s, gen)));
      if (gen !== this.generation || this.closed) return;
      if (this.syncedOnce) this.stats.resyncs++;
      this.syncedOnce = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    } catch (err) {
      if (this.closed || gen !== this.generation) return;
      this.opts.onError(err, 'bus resync');
      // Still connected (a timeout): rooms would stay buffered; start over on a new connection.
      if (this.live) this.sub.disconnect(true);
    }
  }

  /** Delivers the room's messages after its last id, then the events buffered meanwhile. */
  private async fill(s: RoomSub, gen: number): Promise<void> {
    const { names } = s;
    for (;;) {
      const start = s.lastId === null ? '-' : `(${s.lastId}`;
      const entries: StreamEntry[] = await this.sub.xrange(names.log, start, '+', 'COUNT', this.fillBatch);
      // Unsubscribed meanwhile, or a newer resync owns the room now.
      if (gen !== this.generation || this.rooms.get(names.room) !== s) return;
      for (const [id, fields] of entries) {
        const body = fields[1];
        if (body === undefined || !this.advance(s, id, 0, id.length)) continue;
        this.stats.filled++;
        const frame = names.framePrefix + messageJson(id, idTime(id), body) + names.frameSuffix;
        this.emit(s, { kind: 'message', id, frame });
      }
      if (entries.length < this.fillBatch) break;
    }
    // Then the changes (a change may concern a message the fill just delivered).
    for (;;) {
      const start = s.lastChange === null ? '-' : `(${s.lastChange}`;
      const entries: StreamEntry[] = await this.sub.xrange(names.changes, start, '+', 'COUNT', this.fillBatch);
      if (gen !== this.generation || this.rooms.get(names.room) !== s) return;
      for (const [id, fields] of entries) {
        const at = fields.indexOf('f');
        const frame = at >= 0 ? fields[at + 1] : undefined;
        if (frame === undefined || !this.advanceChange(s, id)) continue;
        this.stats.filled++;
        this.emit(s, { kind: 'change', id, frame });
      }
      if (entries.length < this.fillBatch) break;
    }
    const held = s.buffer;
    s.buffer = null;
    if (held !== null) for (const payload of held) this.deliver(s, payload);
  }

  /** Runs the room's operations one at a time, in call order. */
  private serialize(room: string, op: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(room);
    const run = prev === undefined ? op() : prev.then(op);
    const tail = run.then(noop, noop);
    this.chains.set(room, tail);
    void tail.then(() => {
      if (this.chains.get(room) === tail) this.chains.delete(room);
    });
    return run;
  }

  /**
   * Room subscriptions, their channel index, queued subscribe/unsubscribe
   * chains, payloads buffered during gap fills, waiters for the first sync
   * (parley_state_entries).
   */
  stateSizes(): StateSizes {
    let buffered = 0;
    for (const s of this.rooms.values()) buffered += s.buffer?.length ?? 0;
    return {
      'bus.rooms': this.rooms.size,
      'bus.channels': this.byChannel.size,
      'bus.chains': this.chains.size,
      'bus.buffered': buffered,
      'bus.syncWaiters': this.syncWaiters.length,
    };
  }
}
