/**
 * Redis keys of moderation and webhooks (next to their stores; the message
 * engine's keys are in keys.ts).
 *
 * | name | type | what |
 * | --- | --- | --- |
 * | `parley:{r:<room>}:mod` | hash | `b:<user>` / `m:<user>` = ms time a ban / mute ends (0 = until lifted), `slow` = slow mode seconds, `topic` |
 * | `parley:{r:<room>}:slow:<user>` | string, PX slow mode | the clientMsgId (or "") of the user's last send in slow mode |
 * | `parley:{wh:<n>}:q` | stream | webhook shard n: fields `p` (partition: room or user), `b` (JSON body), `t` (queued at, ms) |
 * | `parley:{wh:<n>}:lease` | string, PX node timeout | id of the node delivering shard n |
 *
 * Room keys carry the room's hash tag, so a room's moderation state lives in
 * the room's Cluster slot; each webhook shard has its own tag, so shards
 * spread over the Cluster instead of funnelling every event into one slot.
 */

/** The room's moderation hash. */
export function moderationKey(room: string): string {
  return `parley:{r:${room}}:mod`;
}

/** The user's slow mode slot in a room (`:` in user ids escaped as in keys.dedupeKey). */
export function slowSlotKey(room: string, user: string): string {
  const u = user.includes(':') ? user.replaceAll(':', '%3A') : user;
  return `parley:{r:${room}}:slow:${u}`;
}

/** Webhook shard n's stream. */
export function webhookQueueKey(shard: number): string {
  return `parley:{wh:${shard}}:q`;
}

/** Webhook shard n's delivery lease. */
export function webhookLeaseKey(shard: number): string {
  return `parley:{wh:${shard}}:lease`;
}
