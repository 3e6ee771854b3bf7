/**
 * Per-room moderation state behind the engine seam: bans, mutes, slow mode
 * and the topic. Stored in the engine (cluster-wide, survives node restarts);
 * the moderation feature caches a room's state per node and invalidates it
 * with a control message when a moderator changes it.
 */

/** What a moderator may impose on a user in a room. */
export type RestrictionKind = 'ban' | 'mute';

/** A room's moderation state as stored. */
export interface RoomModeration {
  /** User -> ms time the ban ends; 0 = until lifted. Expired entries may still be listed: use `isRestricted`. */
  bans: Map<string, number>;
  /** User -> ms time the mute ends; 0 = until lifted. */
  mutes: Map<string, number>;
  /** One message per this many seconds per non-moderator; 0 = off. */
  slowModeSeconds: number;
  /** The room's topic; null when unset. */
  topic: string | null;
}

/** A settings change: fields left out keep their value; 0 / "" turn a setting off. */
export interface RoomSettingsPatch {
  slowModeSeconds?: number;
  topic?: string;
}

/** The settings after a change. */
export interface RoomSettings {
  slowModeSeconds: number;
  topic: string | null;
}

export interface ModerationStore {
  /** The room's whole moderation state (one read). */
  room(room: string): Promise<RoomModeration>;
  /** Bans or mutes `user` in `room` until `until` (ms; 0 = until lifted), replacing an earlier one. */
  restrict(room: string, kind: RestrictionKind, user: string, until: number): Promise<void>;
  /** Lifts a ban or mute (nothing happens when there is none). */
  lift(room: string, kind: RestrictionKind, user: string): Promise<void>;
  /** Applies a settings patch atomically and returns the settings after it. */
  updateSettings(room: string, patch: RoomSettingsPatch): Promise<RoomSettings>;
  /** Topics of several rooms, in the order asked (null when unset). */
  topics(rooms: string[]): Promise<Array<string | null>>;
  /**
   * Slow mode: takes the user's send slot in the room for `seconds`. False
   * when the user already took it within that time, unless `token` (the
   * send's clientMsgId) is the one that took it (a retry of the same send).
   */
  takeSlowSlot(room: string, user: string, seconds: number, token: string | undefined): Promise<boolean>;
}

/**
 * Whether a ban or mute map restricts `user` at time `now`.
 *
 * @example
 * isRestricted(new Map([['bob', 0]]), 'bob', Date.now()) // true: until lifted
 */
export function isRestricted(map: ReadonlyMap<string, number>, user: string, now: number): boolean {
  if (map.size === 0) return false;
  const until = map.get(user);
  return until !== undefined && (until === 0 || until > now);
}

/** A room with nothing set: the state of every room nobody moderated. */
export function emptyModeration(): RoomModeration {
  return { bans: new Map(), mutes: new Map(), slowModeSeconds: 0, topic: null };
}
