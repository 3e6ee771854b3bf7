/**
 * The Lua scripts of the Redis presence store and the shapes of their
 * replies. Every script touches only keys of one hash tag (one Cluster
 * slot), except the single-Redis status + index script, which is never used
 * on Cluster. Replies never contain a Lua nil inside a table (that would cut
 * the array): missing fields are `false`.
 */
import type { ChainableCommander } from 'ioredis';
import type { ChosenStatus } from '../../protocol/frames.js';
import type { UserState } from '../presence-store.js';
import type { RedisCommands } from './client.js';
import { INDEX_KEY_COUNT } from './keys.js';

/** Fields of the user hash every state-returning script and read uses, in this order. */
export const STATE_FIELDS = ['name', 'status', 'text', 'lastSeen', 'conns', 'v'] as const;

/**
 * connect. KEYS: user hash, user conns. ARGV: connId, nodeId, name ('' = none, else '=' .. name),
 * status to restore when the hash has none ('' = none), its text ('' = none).
 * Idempotent: a connection already registered changes nothing. Clears the
 * retention TTL the last disconnect set on the user hash.
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
redis.call('PERSIST', u)
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
 * ARGV: connId, lastSeen (ms), retention (ms; the user hash expires that long after the
 * last connection ends, '0' = never). Idempotent: an unknown connection changes nothing.
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
    if ARGV[3] ~= '0' then
      redis.call('PEXPIRE', u, ARGV[3])
      redis.call('PEXPIRE', urooms, ARGV[3])
    end
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

/**
 * Drops from one bucket of the status index the users whose last-seen time
 * is at or before a cutoff (offline for longer than the retention; online
 * users score 0 and are never taken). KEYS: the bucket's users, version.
 * ARGV: cutoff (ms), how many at most. Returns how many were dropped.
 * One slot: both keys carry the bucket's hash tag.
 */
const TRIM_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 1, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #ids
`;

/**
 * users: the state fields of many user hashes in one call, for one Redis or
 * Sentinel (on a Cluster the hashes live in different slots: one HMGET each).
 * KEYS: the user hashes. ARGV: the fields (STATE_FIELDS). Returns one array per key.
 */
const USERS_LUA = `
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('HMGET', k, unpack(ARGV))
end
return out
`;

export type Field = string | null;
export type StateFields = [name: Field, status: Field, text: Field, lastSeen: Field, conns: Field, v: Field];

export interface PresenceCommands {
  parleyPresenceConnect(...args: string[]): Promise<[number, ...StateFields]>;
  parleyPresenceDisconnect(...args: string[]): Promise<[number, number, ...StateFields, string[]]>;
  parleyPresenceJoin(...args: string[]): Promise<number>;
  parleyPresenceLeave(...args: string[]): Promise<number>;
  parleyPresenceRoomDec(...args: string[]): Promise<number>;
  parleyPresenceStatus(...args: string[]): Promise<[...StateFields, string[]]>;
  parleyPresenceStatusIndex(...args: string[]): Promise<[...StateFields, string[]]>;
  parleyPresenceIndex(...args: string[]): Promise<number>;
  parleyPresenceTrim(...args: string[]): Promise<number>;
  /** numKeys, the user hashes, then the fields. */
  parleyPresenceUsers(...args: string[]): Promise<Field[][]>;
}

/** The client with the presence scripts defined (definePresenceScripts). */
export type PresenceClient = RedisCommands & PresenceCommands;
/** A batch (client.ts batch()) that also chains the presence scripts. */
export type Batch = ChainableCommander & { [K in keyof PresenceCommands]: (...args: string[]) => Batch };

/** A user's state as read from the user hash, with what the store needs besides. */
export interface RawState {
  state: UserState;
  conns: number;
  version: number;
}

/** Reads the user hash fields (STATE_FIELDS order) into a state. */
export function parseState(user: string, f: StateFields | Field[]): RawState {
  const [name, status, text, lastSeen, conns, v] = f;
  const n = conns == null ? 0 : Number(conns);
  const s: UserState = { user, status: (status ?? 'online') as ChosenStatus, online: n > 0 };
  if (name != null) s.name = name;
  if (text != null) s.text = text;
  if (!s.online && lastSeen != null) s.lastSeen = Number(lastSeen);
  return { state: s, conns: n, version: v == null ? 0 : Number(v) };
}

/** Registers every presence script on the client (defineCommand: EVALSHA, EVAL after NOSCRIPT). */
export function definePresenceScripts(redis: RedisCommands): PresenceClient {
  const define = (name: keyof PresenceCommands, numberOfKeys: number, lua: string): void => {
    redis.defineCommand(name, { numberOfKeys, lua });
  };
  define('parleyPresenceConnect', 2, CONNECT_LUA);
  define('parleyPresenceDisconnect', 4, DISCONNECT_LUA);
  define('parleyPresenceJoin', 2, JOIN_LUA);
  define('parleyPresenceLeave', 2, LEAVE_LUA);
  define('parleyPresenceRoomDec', 1, ROOM_DEC_LUA);
  define('parleyPresenceStatus', 2, STATUS_LUA);
  define('parleyPresenceStatusIndex', 2 + INDEX_KEY_COUNT, STATUS_INDEX_LUA);
  define('parleyPresenceIndex', INDEX_KEY_COUNT, INDEX_LUA);
  define('parleyPresenceTrim', 2, TRIM_LUA);
  redis.defineCommand('parleyPresenceUsers', { lua: USERS_LUA }); // numKeys given per call
  return redis as PresenceClient;
}
