/**
 * Stored memberships and read markers behind the engine seam: which rooms a
 * user belongs to (across devices and sessions), where their read marker is
 * in each, how many messages they have not read, and the directory of rooms
 * that have messages.
 *
 * Unread counts are never computed by scanning a room's log: every stored
 * message gets a per-room sequence number when it is appended (1, 2, 3, …),
 * a marker remembers the sequence number of its message, and
 *
 *     unread = min(UNREAD_CAP, lastSeq - markerSeq - deletedAfter(markerSeq))
 *
 * which is exact because sending moves the sender's marker to the new message
 * (atomically with the append): every message after a user's marker is from
 * someone else. Deleted messages are the ones the lifecycle store records
 * (lifecycle-store.ts): on Redis `deletedAfter` is one ordered-set count in
 * the room's slot, by the marker's id.
 */
import type { Message } from '../protocol/frames.js';

/** A user's read state in one room. */
export interface ReadState {
  /** Id of the last message the user has read (their marker), or null. */
  lastReadId: string | null;
  /** Messages after the marker from other users, not deleted, capped at UNREAD_CAP. */
  unread: number;
}

/** One membership with its room's newest message. */
export interface MembershipState extends ReadState {
  room: string;
  /** The room's newest message (current state), or null when it has none. */
  lastMessage: Message | null;
}

/** Result of moving a marker. */
export interface ReadOutcome {
  /** The marker after the call: `messageId`, or a later message it already pointed at. */
  lastReadId: string;
  /** True when the marker moved (then the other devices and members are told). */
  moved: boolean;
}

/** One room of the directory. */
export interface DirectoryRoom {
  room: string;
  /** Number of stored memberships. */
  members: number;
  lastMessage: Message | null;
}

export interface DirectoryQuery {
  /**
   * Literal prefixes that every acceptable room starts with (from the
   * request's `prefix` and the JWT `rooms` patterns), so the store can use a
   * name index instead of walking every room; null when any room may match.
   */
  prefixes: string[] | null;
  /** The final say on a room (prefix, permissions, no `dm:`). */
  accept(room: string): boolean;
  /** Most rooms returned. */
  limit: number;
}

export interface MembershipStore {
  /** Adds the user's membership of the room (idempotent) and returns their read state there. */
  join(user: string, room: string): Promise<ReadState>;
  /** Adds memberships without a join (both users of a `dm:` room on a message). Idempotent. */
  addMembers(room: string, users: string[]): Promise<void>;
  /** Ends a membership; true when there was one. The marker is kept (a later join resumes it). */
  forget(user: string, room: string): Promise<boolean>;
  /**
   * Moves the user's marker to `messageId` unless it already points at a
   * later message (markers never move back). Rejects with NOT_JOINED without
   * a membership and NOT_FOUND for a message the room does not hold.
   */
  read(user: string, room: string, messageId: string): Promise<ReadOutcome>;
  /** Every membership of the user with its state, in no particular order. */
  rooms(user: string): Promise<MembershipState[]>;
  /** Rooms that have messages, most recent message first, as filtered by the query. */
  directory(query: DirectoryQuery): Promise<DirectoryRoom[]>;
}
