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
 */
import { messageFrame } from '../codec.js';
import { changesKey } from './lifecycle-keys.js';

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
}
