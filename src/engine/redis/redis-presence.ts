/**
 * Redis presence store: cluster-wide presence with the same behaviour as the
 * memory store (the shared conformance suite runs on both). docs/redis.md
 * documents every key (names in keys.ts `presenceKeys`).
 *
 * Modules: presence-scripts.ts (Lua, reply shapes), presence-index.ts (the
 * bucketed status index), presence-lease.ts (lease, heartbeat, dead-node
 * sweep), presence-writes.ts (the writes of a connection and a status change,
 * in crash-safe order), presence-reads.ts (users, room members, who is
 * online); this file keeps what this node knows of its connections and users
 * (restored after a lost lease), and the sweep and shutdown.
 *
 * Liveness: presence-lease.ts; the feature sweeps every nodeTimeoutMs / 3. A
 * dead node's users are offline within about 5/6 of nodeTimeoutMs plus the
 * sweep work.
 */
import type { ChosenStatus } from '../../protocol/frames.js';
import { DEFAULT_PRESENCE_RETENTION_MS, type EngineOptions } from '../engine.js';
import type {
  ArrivalTransition,
  ConnectionInfo,
  DepartureTransition,
  PresenceLifecycle,
  PresenceStore,
  SweepResult,
  UserState,
} from '../presence-store.js';
import { batch, call, type RedisCommands } from './client.js';
import { presenceKeys } from './keys.js';
import { StatusIndex } from './presence-index.js';
import { NodeLease } from './presence-lease.js';
import { PresenceReads } from './presence-reads.js';
import { definePresenceScripts, type Batch, type PresenceClient } from './presence-scripts.js';
import { PresenceWrites } from './presence-writes.js';
import type { StateSizes } from '../../state-sizes.js';

export { presenceKeys } from './keys.js';

interface LocalConn {
  user: string;
  name?: string;
  rooms: Set<string>;
}

/** What this node last knew of a local user's chosen status, to restore it if Redis lost it. */
interface LocalUser {
  conns: number;
  status?: ChosenStatus;
  text?: string;
}

/** How many connections one sweep or shutdown removes concurrently. */
const CHUNK = 500;
/** The status index is trimmed of long-offline users at most this often, ms. */
const TRIM_EVERY_MS = 60_000;

export class RedisPresenceStore implements PresenceStore, PresenceLifecycle {
  private readonly redis: PresenceClient;
  private readonly node: string;
  private readonly lease: NodeLease;
  private readonly index: StatusIndex;
  private readonly writes: PresenceWrites;
  private readonly reads: PresenceReads;
  private readonly local = new Map<string, LocalConn>();
  private readonly localUsers = new Map<string, LocalUser>();
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  /** Set by removeAllLocal: the node has left the cluster until it gets a connection again. */
  private left = false;
  private pending: SweepResult = { departures: [], arrivals: [] };
  /** Local connections whose removal failed (Redis out of reach): retried by the next sweep. */
  private retries: Array<{ connId: string; user: string; lastSeen: number }> = [];
  /** A local connection could not be registered: the next successful heartbeat registers them all. */
  private dirty = false;
  /** The user hash of a user offline this long expires (PEXPIRE), ms, as a script argument. */
  private readonly retention: string;
  /** When the status index was last trimmed (ms). */
  private trimmedAt = 0;

  /**
   * True on Redis Cluster: every script stays on one slot, so a status change
   * is two scripts (user, then index). On a single Redis (detected at start)
   * one script does both.
   */
  private cluster: boolean;
  private readonly clusterForced: boolean;

  /**
   * @param settings.cluster force the one-slot-per-script mode (tests); by
   *   default start() asks Redis (`INFO cluster`).
   */
  constructor(
    redis: RedisCommands,
    readonly options: EngineOptions,
    settings: { cluster?: boolean } = {},
  ) {
    this.redis = definePresenceScripts(redis);
    this.cluster = settings.cluster ?? false;
    this.clusterForced = settings.cluster !== undefined;
    this.node = options.nodeId;
    this.retention = String(Math.max(0, Math.floor(options.presenceRetentionMs ?? DEFAULT_PRESENCE_RETENTION_MS)));
    const newBatch = (): Batch => this.batch();
    this.lease = new NodeLease(this.redis, newBatch, this.node, options.nodeTimeoutMs);
    this.index = new StatusIndex(this.redis, newBatch);
    this.writes = new PresenceWrites({
      redis: this.redis,
      batch: newBatch,
      index: this.index,
      node: this.node,
      retention: this.retention,
      cluster: () => this.cluster,
      remember: (user, state) => this.remember(user, state),
    });
    this.reads = new PresenceReads(this.redis, newBatch, this.index, () => this.cluster);
  }

  private batch(): Batch {
    return batch(this.redis) as unknown as Batch;
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Removes what a previous run with this node id left behind, takes the lease and starts heartbeats. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.clusterForced) this.cluster = /cluster_enabled:1/.test(await call(this.redis.info('cluster')));
    // A previous process with this node id died without cleaning up: its
    // connections are ours to remove (nothing of this run is connected yet).
    const old = await this.removeNodeConns(this.node, Date.now());
    this.pending.departures.push(...old);
    await this.renew();
    this.timer = setInterval(() => void this.beat(), this.lease.heartbeatMs);
    this.timer.unref();
  }

  /** Stops heartbeats and gives the lease up, so others sweep what is left at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    if (!this.started) return;
    await this.lease.release(this.local.size === 0 && this.retries.length === 0);
  }

  private beat(): Promise<void> {
    if (this.beating || this.stopped || this.left) return this.beating ?? Promise.resolve();
    this.beating = this.renew()
      .catch(() => {
        // Redis (or the lease's shard) unreachable: try again soon rather than
        // at the next beat, so the lease is renewed as soon as a failover ends.
        const retry = setTimeout(() => void this.beat(), Math.min(200, this.lease.heartbeatMs));
        retry.unref();
      })
      .finally(() => {
        this.beating = null;
      });
    return this.beating;
  }

  /** Renews the lease; when it had been lost, re-registers every local connection. */
  private async renew(): Promise<void> {
    const prev = await this.lease.renew();
    if ((prev === this.lease.token && !this.dirty) || !this.started || this.stopped) return;
    // First lease of this run, or lost while nothing was connected: nothing to restore.
    if (prev === null && this.local.size === 0) return;
    this.dirty = false;
    try {
      await this.restore();
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  /**
   * The lease had run out (or Redis lost its data): others may have swept
   * this node's connections. Waits for a running sweep of this node to end,
   * then registers every local connection again (all scripts are idempotent).
   */
  private async restore(): Promise<void> {
    // The lease is ours again (renew() just set it), and is kept while this
    // runs, so no new sweep of this node can start; a running one is waited for.
    await this.lease.waitUnclaimed();
    const conns = [...this.local.entries()];
    for (let i = 0; i < conns.length; i += CHUNK) {
      const arrivals = await Promise.all(conns.slice(i, i + CHUNK).map(([id, c]) => this.restoreConn(id, c)));
      for (const a of arrivals) if (a) this.pending.arrivals.push(a);
      await this.lease.hold();
    }
  }

  private async restoreConn(connId: string, c: LocalConn): Promise<ArrivalTransition | null> {
    const known = this.localUsers.get(c.user);
    const { state, wentOnline } = await this.writes.register(connId, c.user, c.name, known?.status, known?.text);
    const joined: string[] = [];
    await Promise.all(
      [...c.rooms].map(async (room) => {
        if (await this.writes.rejoinRoom(connId, c.user, room)) joined.push(room);
      }),
    );
    // The socket closed or left rooms while this ran: undo what came back in after the fact.
    if (this.local.get(connId) !== c) {
      await this.writes.removeConn(this.node, connId, c.user, Date.now());
      return null;
    }
    await Promise.all(
      joined.filter((room) => !c.rooms.has(room)).map((room) => this.writes.leave(connId, c.user, room)),
    );
    if (!wentOnline && joined.length === 0) return null;
    return { user: c.user, joinedRooms: joined.filter((room) => c.rooms.has(room)), state };
  }

  // ---- connections -------------------------------------------------------------

  async connect(conn: ConnectionInfo): Promise<{ wentOnline: boolean; state: UserState }> {
    const c: LocalConn = { user: conn.user, rooms: new Set() };
    if (conn.name !== undefined) c.name = conn.name;
    this.local.set(conn.connId, c);
    const lu = this.localUsers.get(conn.user);
    if (lu) lu.conns++;
    else this.localUsers.set(conn.user, { conns: 1 });
    if (this.left) this.left = false; // back in the cluster: the next beat takes the lease again
    try {
      const { state, wentOnline } = await this.writes.register(conn.connId, c.user, c.name);
      return { wentOnline, state };
    } catch (err) {
      // Redis out of reach: the socket stays open, so the connection stays
      // known here and the next successful heartbeat registers it.
      this.dirty = true;
      throw err;
    }
  }

  async disconnect(connId: string): Promise<DepartureTransition | null> {
    const c = this.forget(connId);
    if (!c) return null;
    const lastSeen = Date.now();
    try {
      return await this.writes.removeConn(this.node, connId, c.user, lastSeen);
    } catch (err) {
      // Redis out of reach: retried by the next sweep (its departure announced then), never left behind.
      this.retries.push({ connId, user: c.user, lastSeen });
      throw err;
    }
  }

  /** Forgets a local connection at once (so disconnect and removeAllLocal never both remove it). */
  private forget(connId: string): LocalConn | undefined {
    const c = this.local.get(connId);
    if (!c) return undefined;
    this.local.delete(connId);
    const lu = this.localUsers.get(c.user);
    if (lu && --lu.conns <= 0) this.localUsers.delete(c.user);
    return c;
  }

  async joinRoom(connId: string, user: string, room: string): Promise<{ first: boolean }> {
    const c = this.local.get(connId);
    if (!c || c.rooms.has(room)) return { first: false };
    c.rooms.add(room);
    try {
      return { first: await this.writes.joinRoom(connId, user, room) };
    } catch (err) {
      c.rooms.delete(room);
      throw err;
    }
  }

  async leaveRoom(connId: string, user: string, room: string): Promise<{ last: boolean }> {
    const c = this.local.get(connId);
    if (!c || !c.rooms.delete(room)) return { last: false };
    try {
      return { last: await this.writes.leave(connId, user, room) };
    } catch (err) {
      // Still in the room as far as this node knows: a retry runs the leave again.
      if (this.local.get(connId) === c) c.rooms.add(room);
      throw err;
    }
  }

  // ---- statuses ----------------------------------------------------------------

  async setStatus(
    user: string,
    status: ChosenStatus,
    text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[]; connections: number }> {
    return this.writes.setStatus(user, status, text);
  }

  /** Removes the local connections whose disconnect failed; their departures go out with the next sweep. */
  private async retryRemovals(): Promise<void> {
    const todo = this.retries;
    this.retries = [];
    for (let i = 0; i < todo.length; i += CHUNK) {
      const res = await Promise.allSettled(
        todo.slice(i, i + CHUNK).map((r) => this.writes.removeConn(this.node, r.connId, r.user, r.lastSeen)),
      );
      res.forEach((x, k) => {
        if (x.status === 'rejected') this.retries.push(todo[i + k]!);
        else if (x.value) this.pending.departures.push(x.value);
      });
    }
  }

  /** Keeps the chosen status of users connected here, to restore it should Redis lose it. */
  private remember(user: string, s: UserState): void {
    const lu = this.localUsers.get(user);
    if (!lu) return;
    lu.status = s.status;
    if (s.text === undefined) delete lu.text;
    else lu.text = s.text;
  }

  // ---- reads (presence-reads.ts) ------------------------------------------------

  /** One HMGET per user, all in one pipeline: one round trip for up to 500 ids. */
  users(ids: string[]): Promise<UserState[]> {
    return this.reads.users(ids);
  }

  /** Exact count (ZCARD) and the first `limit` members (ZRANGE), then their states. */
  roomMembers(room: string, limit: number): Promise<{ members: UserState[]; count: number }> {
    return this.reads.roomMembers(room, limit);
  }

  /** Users online with a chosen status, from the status index, checked against the users' own hashes. */
  listByStatus(status: ChosenStatus, limit: number): Promise<{ users: UserState[]; count: number }> {
    return this.reads.listByStatus(status, limit);
  }

  // ---- dead nodes and shutdown ---------------------------------------------------

  async sweep(): Promise<SweepResult> {
    await this.index.repair((ids) => this.reads.rawUsers(ids));
    await this.trimIndex();
    await this.retryRemovals();
    const out = this.pending;
    this.pending = { departures: [], arrivals: [] };
    const dead = await this.lease.deadNodes();
    for (const [node, lastBeat] of dead) {
      out.departures.push(
        ...(await this.lease.sweep(node, lastBeat, (lastSeen, renewClaim) =>
          this.removeNodeConns(node, lastSeen, renewClaim),
        )),
      );
    }
    return out;
  }

  /**
   * Drops users offline for longer than the retention from the status index
   * (their hashes expire by TTL), at most once a minute and 500 per bucket a
   * pass: any node may do it, the script is idempotent.
   */
  private async trimIndex(): Promise<void> {
    const now = Date.now();
    if (this.retention === '0' || now - this.trimmedAt < TRIM_EVERY_MS) return;
    this.trimmedAt = now;
    await this.index.trim(now - Number(this.retention));
  }

  /** Removes every connection listed in a node's hash, CHUNK at a time (renewing the claim between chunks). */
  private async removeNodeConns(
    node: string,
    lastSeen: number,
    renewClaim?: () => Promise<void>,
  ): Promise<DepartureTransition[]> {
    const out: DepartureTransition[] = [];
    const key = presenceKeys.nodeConns(node);
    let cursor = '0';
    do {
      const [next, flat] = await call(this.redis.hscan(key, cursor, 'COUNT', CHUNK));
      cursor = next;
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
      const res = await Promise.all(
        pairs.map(([connId, user]) => this.writes.removeConn(node, connId, user, lastSeen)),
      );
      for (const t of res) if (t) out.push(t);
      if (renewClaim) await renewClaim();
    } while (cursor !== '0');
    return out;
  }

  async removeAllLocal(): Promise<DepartureTransition[]> {
    const ids = [...this.local.keys()];
    const conns = ids.map((id) => [id, this.forget(id)!] as const);
    this.left = true;
    const out: DepartureTransition[] = [];
    const now = Date.now();
    let failed = 0;
    for (let i = 0; i < conns.length; i += CHUNK) {
      const res = await Promise.allSettled(
        conns.slice(i, i + CHUNK).map(([id, c]) => this.writes.removeConn(this.node, id, c.user, now)),
      );
      for (const t of res) {
        if (t.status === 'rejected') failed++;
        else if (t.value) out.push(t.value);
      }
    }
    await this.beating;
    // Connections that could not be removed stay listed under this node: with
    // the lease gone, the other nodes sweep them at their next sweep.
    await this.lease.release(failed === 0);
    return out;
  }

  /** This node's connections, users and their rooms, and the work queued for the next sweep (parley_state_entries). */
  stateSizes(): StateSizes {
    let rooms = 0;
    for (const c of this.local.values()) rooms += c.rooms.size;
    return {
      'redisPresence.localConns': this.local.size,
      'redisPresence.localUsers': this.localUsers.size,
      'redisPresence.localConnRooms': rooms,
      'redisPresence.retries': this.retries.length,
      'redisPresence.pendingDepartures': this.pending.departures.length,
      'redisPresence.pendingArrivals': this.pending.arrivals.length,
      ...this.index.stateSizes(),
    };
  }
}
