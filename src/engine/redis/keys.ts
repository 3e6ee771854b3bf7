/**
 * Every Redis key and channel name Parley's message engine uses, in one place.
 *
 * Everything that belongs to a room carries the hash tag `{r:<room>}`, so a
 * room's stream, dedupe keys and channel live in one Redis Cluster slot and
 * the append script may touch them together. Room ids cannot contain `{` or
 * `}` (protocol/ids.ts), so the tag always ends where the room ends.
 *
 * | name | type | what |
 * | --- | --- | --- |
 * | `parley:{r:<room>}:log` | stream | the room's messages; field `d` = body fragment (codec.encodeBody), id = message id |
 * | `parley:{r:<room>}:dedupe:<user>:<clientMsgId>` | string, PX dedupe window | the stored message JSON of a `clientMsgId` |
 * | `parley:{r:<room>}` | pub/sub channel | the room's bus (payload format in bus.ts) |
 * | `parley:control` | pub/sub channel | cluster-wide control messages (JSON) |
 *
 * Edits, deletes and reactions: lifecycle-keys.ts (same hash tag).
 *
 * Presence (`presenceKeys`; docs/redis.md has the full table):
 *
 * | name | type | what |
 * | --- | --- | --- |
 * | `parley:{u:<user>}` | hash | name, status (chosen; absent = online), text, lastSeen (ms), conns (live connections), v (version) |
 * | `parley:{u:<user>}:conns` | hash | connId -> nodeId of every live connection of the user |
 * | `parley:{u:<user>}:rooms` | hash | room -> how many of the user's connections joined it |
 * | `parley:{u:<user>}:c:<connId>` | set | rooms one connection joined |
 * | `parley:{r:<room>}:members` | sorted set | user -> how many of the user's connections joined the room |
 * | `parley:{presence:<b>}:users` | sorted set | bucket b (0-15) of the seed's model: every user seen; score 0 = online now, else last-seen ms |
 * | `parley:{presence:<b>}:status:<s>` | sorted set | bucket b of the online users whose chosen status is s, score = ms since |
 * | `parley:{presence:<b>}:version` | hash | user -> version of the user's entry in the two index keys above |
 * | `parley:node:<id>` | string, PX lease | the node's lease: value = its incarnation token |
 * | `parley:node:<id>:conns` | hash | connId -> user of every connection of the node |
 * | `parley:node:<id>:claim` | string, PX | the sweeper removing a dead node's connections |
 * | `parley:nodes` | sorted set | node id -> time of its last heartbeat (ms, the node's clock) |
 *
 * A user's index entries live in bucket `presenceBucket(user)`: 16 slots
 * instead of one, so on Redis Cluster status changes spread over the shards
 * instead of funnelling into one hot slot; readers merge the buckets.
 */
import { StatusValues, type ChosenStatus } from '../../protocol/frames.js';
import { messageFrame } from '../codec.js';
import { changesKey } from './lifecycle-keys.js';
import type { StateSizes } from '../../state-sizes.js';

/** The channel every node subscribes to for control messages. */
export const CONTROL_CHANNEL = 'parley:control';

/** The room's message stream. */
export function logKey(room: string): string {
  return `parley:{r:${room}}:log`;
}

/** The room's pub/sub channel. */
export function roomChannel(room: string): string {
  return `parley:{r:${room}}`;
}

/**
 * The dedupe key of a (room, user, clientMsgId). User ids may contain `:`,
 * which would make `a:b` + `c` and `a` + `b:c` collide, so `:` in the user
 * segment is written `%3A` (`%` is not allowed in ids, so this is unambiguous).
 */
export function dedupeKey(room: string, user: string, clientMsgId: string): string {
  const u = user.includes(':') ? user.replaceAll(':', '%3A') : user;
  return `parley:{r:${room}}:dedupe:${u}:${clientMsgId}`;
}

/** Per-room names and frame pieces, computed once per room instead of once per message. */
export interface RoomNames {
  room: string;
  log: string;
  /** The room's change log (lifecycle-keys.ts), read by the bus's gap fill. */
  changes: string;
  channel: string;
  /** `messageFrame(room, json)` is `framePrefix + json + frameSuffix`. */
  framePrefix: string;
  frameSuffix: string;
}

/** Splits codec.messageFrame around the message JSON, so the frame layout has one owner (codec.ts). */
function frameParts(room: string): { prefix: string; suffix: string } {
  const marker = '\u0000';
  const whole = messageFrame(room, marker);
  const at = whole.indexOf(marker);
  return { prefix: whole.slice(0, at), suffix: whole.slice(at + 1) };
}

/** Builds the names of a room. */
export function roomNames(room: string): RoomNames {
  const { prefix, suffix } = frameParts(room);
  return {
    room,
    log: logKey(room),
    changes: changesKey(room),
    channel: roomChannel(room),
    framePrefix: prefix,
    frameSuffix: suffix,
  };
}

/**
 * A bounded cache of RoomNames. Cleared wholesale when full: rebuilding a
 * few strings is cheap, an unbounded map keyed by client-chosen rooms is not.
 */
export class RoomNamesCache {
  private readonly map = new Map<string, RoomNames>();

  constructor(private readonly max = 10_000) {}

  get(room: string): RoomNames {
    let names = this.map.get(room);
    if (names === undefined) {
      if (this.map.size >= this.max) this.map.clear();
      names = roomNames(room);
      this.map.set(room, names);
    }
    return names;
  }

  /** Rooms whose key names are cached (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'roomNames.cached': this.map.size };
  }
}

/** How many buckets the cluster-wide presence index is split into. */
export const PRESENCE_BUCKETS = 16;

/** The index bucket of a user (FNV-1a of the id): the same on every node. */
export function presenceBucket(user: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) {
    h ^= user.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % PRESENCE_BUCKETS;
}

/** Every presence key name, in one place (docs/redis.md mirrors this). */
export const presenceKeys = {
  user: (user: string): string => `parley:{u:${user}}`,
  userConns: (user: string): string => `parley:{u:${user}}:conns`,
  userRooms: (user: string): string => `parley:{u:${user}}:rooms`,
  connRooms: (user: string, connId: string): string => `parley:{u:${user}}:c:${connId}`,
  roomMembers: (room: string): string => `parley:{r:${room}}:members`,
  /** Bucket b of the seed's sorted set: score 0 = online, otherwise the last-seen time in ms. */
  users: (bucket: number): string => `parley:{presence:${bucket}}:users`,
  status: (bucket: number, status: ChosenStatus): string => `parley:{presence:${bucket}}:status:${status}`,
  version: (bucket: number): string => `parley:{presence:${bucket}}:version`,
  lease: (node: string): string => `parley:node:${node}`,
  nodeConns: (node: string): string => `parley:node:${node}:conns`,
  claim: (node: string): string => `parley:node:${node}:claim`,
  nodes: 'parley:nodes',
} as const;

/** Number of KEYS of the index script: users, version, then one status set per status. */
export const INDEX_KEY_COUNT = 2 + StatusValues.length;

const indexKeyCache = new Map<number, string[]>();

/** The index keys of a user's bucket, in the order the index scripts take them (users, version, status:*). */
export function indexKeys(user: string): string[] {
  const b = presenceBucket(user);
  let keys = indexKeyCache.get(b);
  if (keys === undefined) {
    keys = [presenceKeys.users(b), presenceKeys.version(b), ...StatusValues.map((s) => presenceKeys.status(b, s))];
    indexKeyCache.set(b, keys);
  }
  return keys;
}
