/**
 * Redis names of memberships, read markers and the room directory (see
 * docs/redis.md, "Memberships and read markers"). Room-scoped keys carry the
 * room's hash tag `{r:<room>}` (the slot of its log, so the append script can
 * move the sender's marker), user-scoped ones `{u:<user>}`, and the directory
 * is sharded into DIRECTORY_BUCKETS keys `{dir:<n>}` merged on read. Deleted
 * messages and changed messages' current state are the lifecycle store's keys
 * (lifecycle-keys.ts: `{r:<room>}:deleted`, `{r:<room>}:state`).
 *
 * | name | type | what |
 * | --- | --- | --- |
 * | `parley:{r:<room>}:seq` | string (integer) | sequence number of the room's newest message (INCR in the append script) |
 * | `parley:{r:<room>}:reads` | hash | user -> `<seq>\|<messageId>`: the user's read marker |
 * | `parley:{r:<room>}:memberships` | set | users with a stored membership of the room |
 * | `parley:{u:<user>}:memberships` | set | rooms the user is a member of |
 * | `parley:{dir:<n>}:recent` | sorted set | room -> ms time of its newest message (rooms hashed to bucket n; no `dm:` rooms) |
 * | `parley:{dir:<n>}:names` | sorted set, all scores 0 | the same rooms, for prefix queries (ZRANGEBYLEX) |
 */

/** Number of directory buckets (each its own Cluster slot). */
export const DIRECTORY_BUCKETS = 16;

/** Sequence number of the room's newest message. */
export function seqKey(room: string): string {
  return `parley:{r:${room}}:seq`;
}

/** The room's read markers: user -> `<seq>|<messageId>`. */
export function readsKey(room: string): string {
  return `parley:{r:${room}}:reads`;
}

/** Users with a membership of the room. */
export function roomMembershipsKey(room: string): string {
  return `parley:{r:${room}}:memberships`;
}

/** Rooms the user is a member of. */
export function userMembershipsKey(user: string): string {
  return `parley:{u:${user}}:memberships`;
}

/** FNV-1a of the room id: its directory bucket. */
export function directoryBucket(room: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) {
    h ^= room.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % DIRECTORY_BUCKETS;
}

/** Bucket n's rooms by the time of their newest message. */
export function directoryRecentKey(bucket: number): string {
  return `parley:{dir:${bucket}}:recent`;
}

/** Bucket n's rooms by name (lexicographic index). */
export function directoryNamesKey(bucket: number): string {
  return `parley:{dir:${bucket}}:names`;
}
