/**
 * The message-lifecycle part of the engine: edits, deletes and reactions of
 * stored messages, applied atomically (one order of changes per message on
 * every node) and published on the room's bus as change events. Both
 * engines implement it; the memory one is the specification.
 *
 * Change ids: every applied change gets an id in the room's change log,
 * `<ms>-<seq>` like message ids and greater than the id of every message
 * stored before the change. So "changed after message S was stored" is
 * "change id > S.id" (a change made in the same millisecond just before S
 * may compare greater too: `changed` may then list a message one change
 * early, which is harmless because it carries state, not events).
 */
import type { Message } from '../protocol/frames.js';

/** The four kinds of change a client can ask for. */
export type ChangeKind = 'edit' | 'delete' | 'react' | 'unreact';

/** Who asks for a change: a user (possibly a moderator), or the server itself (HTTP API key). */
export type Actor = { user: string; moderator: boolean } | { server: true };

interface ChangeBase {
  room: string;
  messageId: string;
  by: Actor;
}

/** One change to apply (validated by the feature: text length, emoji shape). */
export type ChangeRequest =
  | (ChangeBase & { kind: 'edit'; text: string })
  | (ChangeBase & { kind: 'delete' })
  | (ChangeBase & { kind: 'react' | 'unreact'; emoji: string; by: { user: string; moderator: boolean } });

export interface ChangeResult {
  /** The message's state after the request (a tombstone after a delete). */
  message: Message;
  /** False when the request changed nothing (same emoji twice, same text): no event was published. */
  changed: boolean;
  /** The change's id in the room's change log (null when nothing changed). */
  changeId: string | null;
}

/** At most this many distinct emoji on one message (`LIMIT` beyond). */
export const MAX_DISTINCT_EMOJI = 20;
/** `reactions[emoji].users` lists at most this many reactors, the first ones. */
export const REACTION_USERS_SHOWN = 20;

export interface MessageLifecycleStore {
  /**
   * Applies one change atomically and publishes its event (`edited`,
   * `deleted` or `reaction`) on the room's bus, when something changed.
   * Rejects with NOT_FOUND (no such message, or deleted), FORBIDDEN (not the
   * author; for delete, not a moderator either) or LIMIT (a 21st emoji).
   */
  change(req: ChangeRequest): Promise<ChangeResult>;
  /** A stored message in its current state, or null when there is none (a tombstone is returned as such). */
  get(room: string, messageId: string): Promise<Message | null>;
  /**
   * Ids of the room's deleted messages sent after `afterId` (all retained
   * ones when null), oldest first, at most `max`: for unread counts that
   * leave deleted messages out.
   */
  deletedAfter(room: string, afterId: string | null, max: number): Promise<string[]>;
}
