/**
 * Redis presence store: cluster-wide presence with the same behaviour as the
 * memory store (the shared conformance suite runs on both). docs/redis.md
 * documents every key below for people who read Redis with redis-cli.
 *
 * Keys (hash tags keep each Lua script on one Redis Cluster slot):
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `parley:{u:<user>}` | hash | name, status (chosen; absent = online), text, lastSeen (ms), conns (live connections), v (version) |
 * | `parley:{u:<user>}:conns` | hash | connId -> nodeId of every live connection of the user |
 * | `parley:{u:<user>}:rooms` | hash | room -> how many of the user's connections joined it |
 * | `parley:{u:<user>}:c:<connId>` | set | rooms one connection joined |
 * | `parley:{r:<room>}:members` | sorted set | user -> how many of the user's connections joined the room |
 * | `parley:{presence}:users` | sorted set | the seed's model: every user seen; score 0 = online now, else last-seen ms |
 * | `parley:{presence}:status:<s>` | sorted set | online users whose chosen status is s, score = ms since |
 * | `parley:{presence}:version` | hash | user -> version of the user's entry in the two index keys above |
 * | `parley:node:<id>` | string, PX lease | the node's lease: value = its incarnation token |
 * | `parley:node:<id>:conns` | hash | connId -> user of every connection of the node |
 * | `parley:node:<id>:claim` | string, PX | the sweeper removing a dead node's connections |
 * | `parley:nodes` | sorted set | node id -> time of its last heartbeat (ms, the node's clock) |
 *
 * Write order makes a crash at any point recoverable by the sweep: a
 * connection is added to its node's hash first and removed from it last, so
 * whatever a dead node left half-done is found there and finished by the
 * (idempotent) disconnect script. The status index is written after the
 * user's script with the user's version, and an older version never
 * overwrites a newer one, so index writes from several nodes may arrive in
 * any order. (On a single Redis, where a script may span slots, a status
 * change writes the user and the index in one script.)
 *
 * Liveness: every node renews its lease (TTL nodeTimeoutMs / 2) every
 * nodeTimeoutMs / 6; the feature sweeps every nodeTimeoutMs / 3. A node
 * whose lease is gone (by Redis's clock, so node clocks may disagree) is
 * claimed with SET NX by one sweeper, which removes its connections. A dead
 * node's users are therefore offline within about 5/6 of nodeTimeoutMs plus
 * the sweep work.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { ChosenStatus } from '../../protocol/frames.js';
import { StatusValues } from '../../protocol/frames.js';
import type { EngineOptions } from '../engine.js';
import type {
  ArrivalTransition,
  ConnectionInfo,
  DepartureTransition,
  PresenceLifecycle,
  PresenceStore,
  SweepResult,
  UserState,
} from '../presence-store.js';
import { batch, call, run, type RedisCommands } from './client.js';

// ---- key names ---------------------------------------------------------------

/** Every presence key name, in one place (docs/redis.md mirrors this). */
export const presenceKeys = {
  user: (user: string): string => `parley:{u:${user}}`,
  userConns: (user: string): string => `parley:{u:${user}}:conns`,
  userRooms: (user: string): string => `parley:{u:${user}}:rooms`,
  connRooms: (user: string, connId: string): string => `parley:{u:${user}}:c:${connId}`,
  roomMembers: (room: string): string => `parley:{r:${room}}:members`,
  /** The seed's sorted set: score 0 = online, otherwise the last-seen time in ms. */
  users: 'parley:{presence}:users',
  status: (status: ChosenStatus): string => `parley:{presence}:status:${status}`,
  version: 'parley:{presence}:version',
  lease: (node: string): string => `parley:node:${node}`,
  nodeConns: (node: string): string => `parley:node:${node}:conns`,
  claim: (node: string): string => `parley:node:${node}:claim`,
  nodes: 'parley:nodes',
} as const;

const INDEX_KEYS = [presenceKeys.users, presenceKeys.version, ...StatusValues.map((s) => presenceKeys.status(s))];

// ---- Lua ---------------------------------------------------------------------
// Every script touches only keys of one hash tag. Replies never contain a Lua
// nil inside a table (that would cut the array): missing fields are `false`.

/** Fields of the user hash every state-returning script and read uses, in this order. */
const STATE_FIELDS = ['name', 'status', 'text', 'lastSeen', 'conns', 'v'] as const;

/**
 * connect. KEYS: user hash, user conns. ARGV: connId, nodeId, name ('' = none, else '=' .. name),
 * status to restore when the hash has none ('' = none), its text ('' = none).
 * Idempotent: a connection already registered changes nothing.
 * Returns {wentOnline, name, status, text, lastSeen, conns, v}.
 */
const CONNECT_LUA = `
local u, conns = KEYS[1], KEYS[2]
local added = redis.call('HSETNX', conns, ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', u, 'name', string.sub(ARGV[3], 2)) end
if ARGV[4] ~= '' and redis.call('HEXISTS', u, 'status') == 0 then
  redis.call('HSET', u, 'status', ARGV[4])
  if ARGV[5] ~= '' then redis.call('HSET', u, 'text', ARGV[5]) end
end
local n = redis.call('HLEN', conns)
local went = 0
if added == 1 then
  redis.call('HSET', u, 'conns', n)
  if n == 1 then
    went = 1
    redis.call('HINCRBY', u, 'v', 1)
  end
end
local f = redis.call('HMGET', u, 'name', 'status', 'text', 'lastSeen', 'conns', 'v')
return {went, f[1], f[2], f[3], f[4], f[5], f[6]}
`;

/**
 * disconnect. KEYS: user hash, user conns, user rooms, the connection's room set.
 * ARGV: connId, lastSeen (ms). Idempotent: an unknown connection changes nothing.
 * Returns {found, wentOffline, name, status, text, lastSeen, conns, v, rooms}.
 */
const DISCONNECT_LUA = `
local u, conns, urooms, crooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local found = redis.call('HDEL', conns, ARGV[1])
local rooms = {}
local off = 0
if found == 1 then
  rooms = redis.call('SMEMBERS', crooms)
  for _, r in ipairs(rooms) do
    if redis.call('HINCRBY', urooms, r, -1) <= 0 then redis.call('HDEL', urooms, r) end
  end
  redis.call('DEL', crooms)
  local n = redis.call('HLEN', conns)
  redis.call('HSET', u, 'conns', n)
  if n == 0 then
    off = 1
    redis.call('HSET', u, 'lastSeen', ARGV[2])
    redis.call('HINCRBY', u, 'v', 1)
  end
end
local f = redis.call('HMGET', u, 'name', 'status', 'text', 'lastSeen', 'conns', 'v')
return {found, off, f[1], f[2], f[3], f[4], f[5], f[6], rooms}
`;

/** join (user side). KEYS: the connection's room set, user rooms. ARGV: room. Returns 1 when newly joined. */
const JOIN_LUA = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
`;

/** leave (user side). KEYS: the connection's room set, user rooms. ARGV: room. Returns 1 when it was joined. */
const LEAVE_LUA = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`;

/**
 * One connection fewer in a room. KEYS: room members. ARGV: user.
 * Returns 1 when it was the user's last connection there (the member is removed).
 */
const ROOM_DEC_LUA = `
local n = tonumber(redis.call('ZINCRBY', KEYS[1], -1, ARGV[1]))
if n <= 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`;

/**
 * status. KEYS: user hash, user rooms. ARGV: status, text ('' = none).
 * Returns {name, status, text, lastSeen, conns, v (after), rooms} with the fields as they were before.
 */
const STATUS_LUA = `
local u = KEYS[1]
local f = redis.call('HMGET', u, 'name', 'status', 'text', 'lastSeen', 'conns', 'v')
redis.call('HSET', u, 'status', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', u, 'text') else redis.call('HSET', u, 'text', ARGV[2]) end
local v = f[6]
if (f[2] or 'online') ~= ARGV[1] then v = redis.call('HINCRBY', u, 'v', 1) end
return {f[1], f[2], f[3], f[4], f[5], v or false, redis.call('HKEYS', KEYS[2])}
`;

/**
 * status and index in one script, for a single Redis (not Cluster: the keys
 * span the `{u:<user>}` and `{presence}` slots). Saves a round trip and a
 * command per status change. KEYS: user hash, user rooms, then the index keys
 * (users, version, status:online, :away, :busy, :invisible). ARGV: status,
 * text ('' = none), user, position of the status among the status keys (1-4), now (ms).
 * Returns what the status script returns; the index is written when the user
 * is online and the status changed (with the new version, so a separate
 * index write of an older version arriving later is ignored).
 */
const STATUS_INDEX_LUA = `
local u = KEYS[1]
local f = redis.call('HMGET', u, 'name', 'status', 'text', 'lastSeen', 'conns', 'v')
redis.call('HSET', u, 'status', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', u, 'text') else redis.call('HSET', u, 'text', ARGV[2]) end
local v = f[6]
if (f[2] or 'online') ~= ARGV[1] then
  v = redis.call('HINCRBY', u, 'v', 1)
  if tonumber(f[5] or '0') > 0 then
    local user = ARGV[3]
    redis.call('HSET', KEYS[4], user, v)
    redis.call('ZADD', KEYS[3], 0, user)
    local mine = 4 + tonumber(ARGV[4])
    for i = 5, #KEYS do
      if i == mine then redis.call('ZADD', KEYS[i], 'NX', ARGV[5], user) else redis.call('ZREM', KEYS[i], user) end
    end
  end
end
return {f[1], f[2], f[3], f[4], f[5], v or false, redis.call('HKEYS', KEYS[2])}
`;

/**
 * The status index, written after a user script with that user's version.
 * KEYS: users, version, status:online, status:away, status:busy, status:invisible.
 * ARGV: user, version, online (1/0), position of the status among the status keys (1-4),
 * lastSeen (ms), now (ms).
 * An older version than the one applied last is ignored (returns 0).
 */
const INDEX_LUA = `
local user, v = ARGV[1], tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[2], user) or '-1')
if v < cur then return 0 end
redis.call('HSET', KEYS[2], user, ARGV[2])
local mine = -1
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], 0, user)
  mine = 2 + tonumber(ARGV[4])
else
  redis.call('ZADD', KEYS[1], ARGV[5], user)
end
for i = 3, #KEYS do
  if i == mine then redis.call('ZADD', KEYS[i], 'NX', ARGV[6], user) else redis.call('ZREM', KEYS[i], user) end
end
return 1
`;

type Field = string | null;
type StateFields = [name: Field, status: Field, text: Field, lastSeen: Field, conns: Field, v: Field];

interface PresenceCommands {
  parleyPresenceConnect(...args: string[]): Promise<[number, ...StateFields]>;
  parleyPresenceDisconnect(...args: string[]): Promise<[number, number, ...StateFields, string[]]>;
  parleyPresenceJoin(...args: string[]): Promise<number>;
  parleyPresenceLeave(...args: string[]): Promise<number>;
  parleyPresenceRoomDec(...args: string[]): Promise<number>;
  parleyPresenceStatus(...args: string[]): Promise<[...StateFields, string[]]>;
  parleyPresenceStatusIndex(...args: string[]): Promise<[...StateFields, string[]]>;
  parleyPresenceIndex(...args: string[]): Promise<number>;
}

type Client = RedisCommands & PresenceCommands;
type Batch = ChainableCommander & { [K in keyof PresenceCommands]: (...args: string[]) => Batch };

/** A user's state as read from the user hash, with what the store needs besides. */
interface RawState {
  state: UserState;
  conns: number;
  version: number;
}

function parseState(user: string, f: StateFields | Field[]): RawState {
  const [name, status, text, lastSeen, conns, v] = f;
  const n = conns == null ? 0 : Number(conns);
  const s: UserState = { user, status: (status ?? 'online') as ChosenStatus, online: n > 0 };
  if (name != null) s.name = name;
  if (text != null) s.text = text;
  if (!s.online && lastSeen != null) s.lastSeen = Number(lastSeen);
  return { state: s, conns: n, version: v == null ? 0 : Number(v) };
}

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How many connections one sweep or shutdown removes concurrently. */
const CHUNK = 500;

export class RedisPresenceStore implements PresenceStore, PresenceLifecycle {
  private readonly redis: Client;
  private readonly node: string;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly claimMs: number;
  /** This run's lease value: a lease holding anything else was lost (or taken by a duplicate node id). */
  private readonly token = randomUUID();
  private readonly local = new Map<string, LocalConn>();
  private readonly localUsers = new Map<string, LocalUser>();
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  /** Set by removeAllLocal: the node has left the cluster until it gets a connection again. */
  private left = false;
  private pending: SweepResult = { departures: [], arrivals: [] };
  /** Users whose status index write failed: rewritten by the next sweep. */
  private readonly repairs = new Set<string>();
  /** Local connections whose removal failed (Redis out of reach): retried by the next sweep. */
  private retries: Array<{ connId: string; user: string; lastSeen: number }> = [];
  /** A local connection could not be registered: the next successful heartbeat registers them all. */
  private dirty = false;

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
    this.redis = redis as Client;
    this.cluster = settings.cluster ?? false;
    this.clusterForced = settings.cluster !== undefined;
    this.node = options.nodeId;
    const timeout = Math.max(300, options.nodeTimeoutMs);
    this.leaseMs = Math.floor(timeout / 2);
    this.heartbeatMs = Math.max(50, Math.floor(timeout / 6));
    this.claimMs = Math.max(timeout, 5000);
    const define = (name: keyof PresenceCommands, numberOfKeys: number, lua: string): void => {
      this.redis.defineCommand(name, { numberOfKeys, lua });
    };
    define('parleyPresenceConnect', 2, CONNECT_LUA);
    define('parleyPresenceDisconnect', 4, DISCONNECT_LUA);
    define('parleyPresenceJoin', 2, JOIN_LUA);
    define('parleyPresenceLeave', 2, LEAVE_LUA);
    define('parleyPresenceRoomDec', 1, ROOM_DEC_LUA);
    define('parleyPresenceStatus', 2, STATUS_LUA);
    define('parleyPresenceStatusIndex', 2 + INDEX_KEYS.length, STATUS_INDEX_LUA);
    define('parleyPresenceIndex', INDEX_KEYS.length, INDEX_LUA);
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
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
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
    const b = this.batch().del(presenceKeys.lease(this.node));
    if (this.local.size === 0 && this.retries.length === 0) {
      b.del(presenceKeys.nodeConns(this.node)).zrem(presenceKeys.nodes, this.node);
    }
    await run(b);
  }

  private beat(): Promise<void> {
    if (this.beating || this.stopped || this.left) return this.beating ?? Promise.resolve();
    this.beating = this.renew()
      .catch(() => undefined) // Redis unreachable: the next beat tries again
      .finally(() => {
        this.beating = null;
      });
    return this.beating;
  }

  /** Renews the lease; when it had been lost, re-registers every local connection. */
  private async renew(): Promise<void> {
    const [prev] = await run(
      this.batch()
        .set(presenceKeys.lease(this.node), this.token, 'PX', this.leaseMs, 'GET')
        .zadd(presenceKeys.nodes, Date.now(), this.node),
    );
    if ((prev === this.token && !this.dirty) || !this.started || this.stopped) return;
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
    const end = Date.now() + this.claimMs;
    while (Date.now() < end && (await call(this.redis.exists(presenceKeys.claim(this.node)))) === 1) {
      await sleep(50);
      await this.holdLease();
    }
    await call(this.redis.zadd(presenceKeys.nodes, Date.now(), this.node));
    const conns = [...this.local.entries()];
    for (let i = 0; i < conns.length; i += CHUNK) {
      const arrivals = await Promise.all(conns.slice(i, i + CHUNK).map(([id, c]) => this.restoreConn(id, c)));
      for (const a of arrivals) if (a) this.pending.arrivals.push(a);
      await this.holdLease();
    }
  }

  private async holdLease(): Promise<void> {
    await call(this.redis.set(presenceKeys.lease(this.node), this.token, 'PX', this.leaseMs));
  }

  private async restoreConn(connId: string, c: LocalConn): Promise<ArrivalTransition | null> {
    const known = this.localUsers.get(c.user);
    const { state, wentOnline } = await this.register(connId, c, known?.status, known?.text);
    const joined: string[] = [];
    await Promise.all(
      [...c.rooms].map(async (room) => {
        const added = await call(
          this.redis.parleyPresenceJoin(presenceKeys.connRooms(c.user, connId), presenceKeys.userRooms(c.user), room),
        );
        if (added !== 1) return;
        const n = await call(this.redis.zincrby(presenceKeys.roomMembers(room), 1, c.user));
        if (Number(n) === 1) joined.push(room);
      }),
    );
    // The socket closed or left rooms while this ran: undo what came back in after the fact.
    if (this.local.get(connId) !== c) {
      await this.removeConn(this.node, connId, c.user, Date.now());
      return null;
    }
    await Promise.all(joined.filter((room) => !c.rooms.has(room)).map((room) => this.leave(connId, c.user, room)));
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
      const { state, wentOnline } = await this.register(conn.connId, c);
      return { wentOnline, state };
    } catch (err) {
      // Redis out of reach: the socket stays open, so the connection stays
      // known here and the next successful heartbeat registers it.
      this.dirty = true;
      throw err;
    }
  }

  /** Node hash first (so a crash leaves a trace for the sweep), then the user, then the index. */
  private async register(
    connId: string,
    c: LocalConn,
    restoreStatus?: ChosenStatus,
    restoreText?: string,
  ): Promise<{ state: UserState; wentOnline: boolean }> {
    const b = this.batch();
    const nodeConns = presenceKeys.nodeConns(this.node);
    // On Cluster the two keys live on different nodes: the node hash must be written first.
    if (this.cluster) await call(this.redis.hset(nodeConns, connId, c.user));
    else b.hset(nodeConns, connId, c.user);
    const replies = await run(
      b.parleyPresenceConnect(
        presenceKeys.user(c.user),
        presenceKeys.userConns(c.user),
        connId,
        this.node,
        c.name === undefined ? '' : `=${c.name}`,
        restoreStatus ?? '',
        restoreText ?? '',
      ),
    );
    const [went, ...fields] = replies[replies.length - 1] as [number, ...StateFields];
    const raw = parseState(c.user, fields);
    this.remember(c.user, raw.state);
    if (went === 1) await this.writeIndex(raw);
    return { state: raw.state, wentOnline: went === 1 };
  }

  async disconnect(connId: string): Promise<DepartureTransition | null> {
    const c = this.forget(connId);
    if (!c) return null;
    const lastSeen = Date.now();
    try {
      return await this.removeConn(this.node, connId, c.user, lastSeen);
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

  /**
   * Removes one connection of `node` everywhere: the user's script, then the
   * rooms (one slot each) and the index in one round trip, then the node's hash.
   * Null when the connection was not registered (someone removed it already).
   */
  private async removeConn(
    node: string,
    connId: string,
    user: string,
    lastSeen: number,
  ): Promise<DepartureTransition | null> {
    const [found, off, name, status, text, seen, conns, v, rooms] = await call(
      this.redis.parleyPresenceDisconnect(
        presenceKeys.user(user),
        presenceKeys.userConns(user),
        presenceKeys.userRooms(user),
        presenceKeys.connRooms(user, connId),
        connId,
        String(lastSeen),
      ),
    );
    const raw = parseState(user, [name, status, text, seen, conns, v]);
    let leftRooms: string[] = [];
    if (found === 1) {
      const b = this.batch();
      for (const room of rooms) b.parleyPresenceRoomDec(presenceKeys.roomMembers(room), user);
      if (off === 1) this.indexInto(b, raw);
      const res = await run(b);
      leftRooms = rooms.filter((_, i) => res[i] === 1);
    } else if (!raw.state.online) {
      // Already removed by someone else; make sure the index agrees (repairs a crash between the two writes).
      await this.writeIndex(raw);
    }
    await call(this.redis.hdel(presenceKeys.nodeConns(node), connId));
    if (found !== 1) return null;
    return { user, leftRooms, wentOffline: off === 1, state: raw.state };
  }

  async joinRoom(connId: string, user: string, room: string): Promise<{ first: boolean }> {
    const c = this.local.get(connId);
    if (!c || c.rooms.has(room)) return { first: false };
    c.rooms.add(room);
    try {
      const [, n] = await run(
        this.batch()
          .parleyPresenceJoin(presenceKeys.connRooms(user, connId), presenceKeys.userRooms(user), room)
          .zincrby(presenceKeys.roomMembers(room), 1, user),
      );
      return { first: Number(n) === 1 };
    } catch (err) {
      c.rooms.delete(room);
      throw err;
    }
  }

  async leaveRoom(connId: string, user: string, room: string): Promise<{ last: boolean }> {
    const c = this.local.get(connId);
    if (!c || !c.rooms.delete(room)) return { last: false };
    return { last: await this.leave(connId, user, room) };
  }

  /**
   * The user side first, and the room's count only when the connection was
   * really in the room there: a connection a sweeper removed meanwhile (this
   * node had lost its lease) must not take a count that belongs to another.
   */
  private async leave(connId: string, user: string, room: string): Promise<boolean> {
    const was = await call(
      this.redis.parleyPresenceLeave(presenceKeys.connRooms(user, connId), presenceKeys.userRooms(user), room),
    );
    if (was !== 1) return false;
    return (await call(this.redis.parleyPresenceRoomDec(presenceKeys.roomMembers(room), user))) === 1;
  }

  // ---- statuses ----------------------------------------------------------------

  async setStatus(
    user: string,
    status: ChosenStatus,
    text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[]; connections: number }> {
    const t = text === undefined || text === '' ? undefined : text;
    const keys = [presenceKeys.user(user), presenceKeys.userRooms(user)];
    const [name, old, oldText, lastSeen, conns, v, rooms] = await call(
      this.cluster
        ? this.redis.parleyPresenceStatus(...keys, status, t ?? '')
        : this.redis.parleyPresenceStatusIndex(
            ...keys,
            ...INDEX_KEYS,
            status,
            t ?? '',
            user,
            String(StatusValues.indexOf(status) + 1),
            String(Date.now()),
          ),
    );
    const before = parseState(user, [name, old, oldText, lastSeen, conns, v]);
    const after: UserState = { ...before.state, status };
    if (t === undefined) delete after.text;
    else after.text = t;
    this.remember(user, after);
    if (this.cluster && after.online && before.state.status !== status) {
      // Not awaited: the events the caller publishes next go out on the same
      // connection after it (so whoever reacts to them reads the new index),
      // and the caller saves a round trip. A failed write is redone by the next sweep.
      this.writeIndex({ state: after, conns: before.conns, version: Number(v) }).catch(() => this.repairs.add(user));
    }
    return { before: before.state, after, rooms, connections: before.conns };
  }

  /** Removes the local connections whose disconnect failed; their departures go out with the next sweep. */
  private async retryRemovals(): Promise<void> {
    const todo = this.retries;
    this.retries = [];
    for (let i = 0; i < todo.length; i += CHUNK) {
      const res = await Promise.allSettled(
        todo.slice(i, i + CHUNK).map((r) => this.removeConn(this.node, r.connId, r.user, r.lastSeen)),
      );
      res.forEach((x, k) => {
        if (x.status === 'rejected') this.retries.push(todo[i + k]!);
        else if (x.value) this.pending.departures.push(x.value);
      });
    }
  }

  /** Rewrites the index entries of users whose index write failed, from their hashes. */
  private async repairIndex(): Promise<void> {
    if (this.repairs.size === 0) return;
    const users = [...this.repairs].slice(0, CHUNK);
    for (const u of users) this.repairs.delete(u);
    try {
      const raws = await this.rawUsers(users);
      await Promise.all(raws.map((r) => this.writeIndex(r)));
    } catch (err) {
      for (const u of users) this.repairs.add(u);
      throw err;
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

  private indexInto(b: Batch, raw: RawState): Batch {
    const s = raw.state;
    return b.parleyPresenceIndex(
      ...INDEX_KEYS,
      s.user,
      String(raw.version),
      s.online ? '1' : '0',
      String(StatusValues.indexOf(s.status) + 1),
      String(s.lastSeen ?? Date.now()),
      String(Date.now()),
    );
  }

  private async writeIndex(raw: RawState): Promise<void> {
    const s = raw.state;
    await call(
      this.redis.parleyPresenceIndex(
        ...INDEX_KEYS,
        s.user,
        String(raw.version),
        s.online ? '1' : '0',
        String(StatusValues.indexOf(s.status) + 1),
        String(s.lastSeen ?? Date.now()),
        String(Date.now()),
      ),
    );
  }

  // ---- reads -------------------------------------------------------------------

  /** One HMGET per user, all in one pipeline: one round trip for up to 500 ids. */
  async users(ids: string[]): Promise<UserState[]> {
    return (await this.rawUsers(ids)).map((r) => r.state);
  }

  private async rawUsers(ids: string[]): Promise<RawState[]> {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      const id = ids[0]!;
      return [parseState(id, (await call(this.redis.hmget(presenceKeys.user(id), ...STATE_FIELDS))) as Field[])];
    }
    const b = this.batch();
    for (const id of ids) b.hmget(presenceKeys.user(id), ...STATE_FIELDS);
    const res = (await run(b)) as Field[][];
    return ids.map((id, i) => parseState(id, res[i]!));
  }

  /** A sorted set's exact size and its first `limit` members, in one round trip. */
  private async countAndFirst(key: string, limit: number): Promise<{ n: number; count: number; ids: string[] }> {
    const n = Math.max(0, Math.floor(limit));
    const [count, ids] = (await run(
      this.batch()
        .zcard(key)
        .zrange(key, '0', String(n - 1)),
    )) as [number, string[]];
    return { n, count, ids };
  }

  /** Exact count (ZCARD) and the first `limit` members (ZRANGE), then their states. */
  async roomMembers(room: string, limit: number): Promise<{ members: UserState[]; count: number }> {
    const { n, count, ids } = await this.countAndFirst(presenceKeys.roomMembers(room), limit);
    const members = n === 0 ? [] : await this.users(ids);
    return { members, count };
  }

  /**
   * Users online with a chosen status, from the status index (ZCARD + ZRANGE),
   * checked against the users' own hashes: an entry the index got wrong (a
   * node died between its two writes) is left out and repaired on the way.
   */
  async listByStatus(status: ChosenStatus, limit: number): Promise<{ users: UserState[]; count: number }> {
    const { n, count, ids } = await this.countAndFirst(presenceKeys.status(status), limit);
    if (n === 0) return { users: [], count };
    const raws = await this.rawUsers(ids);
    const users: UserState[] = [];
    const stale: RawState[] = [];
    for (const r of raws) {
      if (r.state.online && r.state.status === status) users.push(r.state);
      else stale.push(r);
    }
    if (stale.length > 0) {
      const b = this.batch();
      for (const r of stale) this.indexInto(b, r);
      await run(b);
    }
    return { users, count: count - stale.length };
  }

  // ---- dead nodes and shutdown ---------------------------------------------------

  async sweep(): Promise<SweepResult> {
    await this.repairIndex();
    await this.retryRemovals();
    const out = this.pending;
    this.pending = { departures: [], arrivals: [] };
    const reply = (await call(this.redis.zrange(presenceKeys.nodes, '0', '-1', 'WITHSCORES'))) as unknown[];
    const beats = new Map<string, number>();
    const flat = reply.flat() as string[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] !== this.node) beats.set(flat[i]!, Number(flat[i + 1]));
    if (beats.size === 0) return out;
    const b = this.batch();
    for (const node of beats.keys()) b.exists(presenceKeys.lease(node));
    const alive = await run(b);
    const dead = [...beats.keys()].filter((_, i) => alive[i] === 0);
    for (const node of dead) out.departures.push(...(await this.sweepNode(node, beats.get(node)!)));
    return out;
  }

  /** Claims a dead node (one sweeper wins) and removes its connections; lastSeen = its last heartbeat. */
  private async sweepNode(node: string, lastBeat: number): Promise<DepartureTransition[]> {
    const claim = presenceKeys.claim(node);
    const won = await call(this.redis.set(claim, this.node, 'PX', this.claimMs, 'NX'));
    if (won !== 'OK') return [];
    try {
      // Claimed: check the lease again, it may have come back meanwhile.
      if ((await call(this.redis.exists(presenceKeys.lease(node)))) === 1) return [];
      const lastSeen = Number.isFinite(lastBeat) && lastBeat > 0 ? Math.min(lastBeat, Date.now()) : Date.now();
      const out = await this.removeNodeConns(node, lastSeen, claim);
      // Unregister unless the node came back while we worked.
      if ((await call(this.redis.exists(presenceKeys.lease(node)))) === 0) {
        await run(this.batch().del(presenceKeys.nodeConns(node)).zrem(presenceKeys.nodes, node));
      }
      return out;
    } finally {
      await call(this.redis.del(claim)).catch(() => undefined);
    }
  }

  /** Removes every connection listed in a node's hash, CHUNK at a time (renewing the claim between chunks). */
  private async removeNodeConns(node: string, lastSeen: number, claim?: string): Promise<DepartureTransition[]> {
    const out: DepartureTransition[] = [];
    const key = presenceKeys.nodeConns(node);
    let cursor = '0';
    do {
      const [next, flat] = await call(this.redis.hscan(key, cursor, 'COUNT', CHUNK));
      cursor = next;
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
      const res = await Promise.all(pairs.map(([connId, user]) => this.removeConn(node, connId, user, lastSeen)));
      for (const t of res) if (t) out.push(t);
      if (claim) await call(this.redis.pexpire(claim, this.claimMs));
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
        conns.slice(i, i + CHUNK).map(([id, c]) => this.removeConn(this.node, id, c.user, now)),
      );
      for (const t of res) {
        if (t.status === 'rejected') failed++;
        else if (t.value) out.push(t.value);
      }
    }
    await this.beating;
    // Connections that could not be removed stay listed under this node: with
    // the lease gone, the other nodes sweep them at their next sweep.
    const b = this.batch().del(presenceKeys.lease(this.node));
    if (failed === 0) b.del(presenceKeys.nodeConns(this.node)).zrem(presenceKeys.nodes, this.node);
    await run(b);
    return out;
  }
}
