/**
 * Redis key names of message edits, deletes and reactions (docs/redis.md,
 * "Edits, deletes, reactions"). All carry the room's hash tag `{r:<room>}`,
 * so every lifecycle script touches one Cluster slot, the same as the
 * room's message stream.
 *
 * | name | type | what |
 * | --- | --- | --- |
 * | `parley:{r:<room>}:state` | hash | message id -> current message JSON, for changed messages only (history reads `HMGET` the page's ids) |
 * | `parley:{r:<room>}:changes` | stream | the room's change log: id = change id, `m` = message id, `f` = the event frame |
 * | `parley:{r:<room>}:changes:trimmed` | string | the oldest change id kept after the change log was last trimmed |
 * | `parley:{r:<room>}:changed` | sorted set | message id, score = its ms: changed messages, to drop their state once the stream trimmed them |
 * | `parley:{r:<room>}:deleted` | sorted set | message id, score = its ms: deleted messages (unread counts leave them out) |
 * | `parley:{r:<room>}:rx:<id>` | sorted set, all scores 0 | `<emoji>\0<seq, 12 digits>\0<user>`: one message's reactions in order, by emoji (a lex range per emoji) |
 * | `parley:{r:<room>}:rxu:<id>` | hash | `<emoji>\0<user>` -> its member in `rx:<id>`; field `#` = the reaction counter |
 */

/** Prefix of every key of a room (what the scripts append `rx:<id>` etc. to). */
export function roomPrefix(room: string): string {
  return `parley:{r:${room}}:`;
}

/** Current state of a room's changed messages. */
export function stateKey(room: string): string {
  return `${roomPrefix(room)}state`;
}

/** The room's change log (a stream). */
export function changesKey(room: string): string {
  return `${roomPrefix(room)}changes`;
}

/** The oldest change id kept after the last trim of the change log. */
export function changesTrimmedKey(room: string): string {
  return `${roomPrefix(room)}changes:trimmed`;
}

/** Changed message ids by time, for cleaning up after the message stream trims them. */
export function changedIndexKey(room: string): string {
  return `${roomPrefix(room)}changed`;
}

/** Deleted message ids by time (score = the id's ms part). */
export function deletedKey(room: string): string {
  return `${roomPrefix(room)}deleted`;
}

/** One message's reactions, ordered per emoji. */
export function reactionsKey(room: string, messageId: string): string {
  return `${roomPrefix(room)}rx:${messageId}`;
}

/** One message's reactors: `<emoji>\0<user>` -> member of reactionsKey. */
export function reactorsKey(room: string, messageId: string): string {
  return `${roomPrefix(room)}rxu:${messageId}`;
}
