/**
 * Rooms that remember you: stored memberships (a join adds one, `leave
 * {forget:true}` ends it), read markers that never move back with `read`
 * events, unread counts in `rooms` and in the join reply, DM rooms that make
 * both users members on a message, and the room directory. Facts live in the
 * engine's membership store; this feature plugs into chat through its hooks.
 */
import { canAccessRoom, type Identity } from '../../auth/identity.js';
import type { Engine } from '../../engine/engine.js';
import type { MembershipState } from '../../engine/membership-store.js';
import { ParleyError } from '../../protocol/errors.js';
import type {
  DirectoryResult,
  LeaveResult,
  ReadEvent,
  ReadResult,
  RoomEntry,
  RoomsResult,
} from '../../protocol/frames.js';
import { compareMessageIds, dmUsers } from '../../protocol/ids.js';
import type { Handler, Handlers } from '../../session/commands.js';
import type { Session } from '../../session/session.js';
import type { ChatFeature } from '../chat/chat.js';

/** Most rooms a `directory` reply lists. */
export const DIRECTORY_LIMIT = 100;

/** Another feature's part in `rooms` entries (e.g. the room topic), so this feature does not import it. */
export interface RoomsHook {
  /** Extra fields for the entries of these rooms, by room; awaited before the reply. */
  entryFields?(rooms: string[]): Promise<Map<string, Partial<RoomEntry>>>;
}

/** The literal part of a `rooms` claim pattern before its first `*` (the whole pattern without one). */
function literalPrefix(pattern: string): string {
  const star = pattern.indexOf('*');
  return star < 0 ? pattern : pattern.slice(0, star);
}

/** Drops prefixes that another one in the list already covers. */
function minimalPrefixes(prefixes: string[]): string[] {
  const unique = [...new Set(prefixes)].sort();
  return unique.filter((p, i) => !unique.some((q, j) => j !== i && p.startsWith(q) && q !== p));
}

/**
 * Literal prefixes every room a directory query may return starts with: from
 * the request's `prefix` and the identity's `rooms` patterns. Null when any
 * room may match; an empty list when none can.
 *
 * @example
 * directoryPrefixes('team-r', ['team-*', 'ops']) // ['team-r']
 */
export function directoryPrefixes(prefix: string | undefined, patterns: string[] | undefined): string[] | null {
  const lits = patterns?.map(literalPrefix);
  if (prefix === undefined || prefix === '') {
    if (lits === undefined || lits.includes('')) return null;
    return minimalPrefixes(lits);
  }
  if (lits === undefined) return [prefix];
  const out: string[] = [];
  for (const lp of lits) {
    if (lp.startsWith(prefix)) out.push(lp);
    else if (prefix.startsWith(lp)) out.push(prefix);
  }
  return minimalPrefixes(out);
}

/** Newest last message first; rooms without messages last, by name. */
function byRecentMessage(a: MembershipState, b: MembershipState): number {
  const x = a.lastMessage;
  const y = b.lastMessage;
  if (x && y) return y.ts - x.ts || (x.id === y.id ? 0 : compareMessageIds(y.id, x.id)) || (a.room < b.room ? -1 : 1);
  if (x) return -1;
  if (y) return 1;
  return a.room < b.room ? -1 : a.room > b.room ? 1 : 0;
}

export class RoomsFeature {
  private readonly hooks: RoomsHook[] = [];

  /** Registers the feature's chat hooks (join reply fields, DM memberships). */
  constructor(
    private readonly engine: Engine,
    chat: ChatFeature,
  ) {
    const store = engine.memberships;
    chat.use({
      joinFields: (session, room) => store.join(session.user, room),
      // Not async: a message outside a DM awaits nothing here.
      afterSend: (message) => {
        const pair = dmUsers(message.room);
        return pair ? store.addMembers(message.room, pair) : undefined;
      },
    });
  }

  /** Adds another feature's part in `rooms` entries (see RoomsHook). */
  use(hook: RoomsHook): void {
    this.hooks.push(hook);
  }

  /**
   * The user's memberships, most recent message first (the `rooms` command
   * and `GET /api/users/:user/rooms`). With an identity, rooms it may no
   * longer open (a narrower JWT `rooms` claim) are left out.
   *
   * @example
   * const { rooms } = await roomsFeature.list('ann');
   * rooms[0]; // { room: 'dm:ann:bob', lastMessage: {...}, lastReadId: null, unread: 2 }
   */
  async list(user: string, identity?: Identity): Promise<RoomsResult> {
    let states = await this.engine.memberships.rooms(user);
    if (identity) states = states.filter((s) => canAccessRoom(identity, s.room));
    states.sort(byRecentMessage);
    const rooms: RoomEntry[] = states.map((s) => ({
      room: s.room,
      lastMessage: s.lastMessage,
      lastReadId: s.lastReadId,
      unread: s.unread,
    }));
    if (this.hooks.length > 0 && rooms.length > 0) {
      const names = rooms.map((r) => r.room);
      const parts = await Promise.all(this.hooks.map((h) => h.entryFields?.(names)));
      for (const part of parts) {
        if (!part) continue;
        for (const entry of rooms) {
          const extra = part.get(entry.room);
          if (extra) Object.assign(entry, extra);
        }
      }
    }
    return { rooms };
  }

  /** Moves the session user's marker; tells their other connections and (unless invisible) the room. */
  async read(session: Session, room: string, messageId: string): Promise<ReadResult> {
    if (!canAccessRoom(session.identity, room)) throw new ParleyError('FORBIDDEN', `you may not open room "${room}"`);
    const [outcome, states] = await Promise.all([
      this.engine.memberships.read(session.user, room, messageId),
      this.engine.presence.users([session.user]),
    ]);
    if (outcome.moved) {
      const event: ReadEvent = { type: 'read', room, user: session.user, messageId: outcome.lastReadId };
      const frame = JSON.stringify(event);
      const sends = [
        this.engine.publishControl({ kind: 'user-frame', user: session.user, frame, skipConn: session.connId }),
      ];
      // An invisible user's marker is theirs alone: it would show them reading.
      if (states[0]?.status !== 'invisible') {
        sends.push(this.engine.publish(room, { kind: 'event', frame, skipUser: session.user }));
      }
      await Promise.all(sends);
    }
    return { lastReadId: outcome.lastReadId };
  }

  /** Up to DIRECTORY_LIMIT rooms with messages the identity may join (no `dm:`), most recent first. */
  async directory(identity: Identity, prefix: string | undefined): Promise<DirectoryResult> {
    const prefixes = directoryPrefixes(prefix, identity.rooms);
    if (prefixes !== null && prefixes.length === 0) return { rooms: [] };
    const rooms = await this.engine.memberships.directory({
      prefixes,
      limit: DIRECTORY_LIMIT,
      accept: (room) =>
        !room.startsWith('dm:') && (prefix === undefined || room.startsWith(prefix)) && canAccessRoom(identity, room),
    });
    return { rooms };
  }

  /** `leave` with `forget: true` also ends the membership, even from a connection that has not joined. */
  private async leave(
    chatLeave: Handler<'leave'>,
    ...[session, cmd, ctx]: Parameters<Handler<'leave'>>
  ): Promise<LeaveResult> {
    if (cmd.forget !== true) return chatLeave(session, cmd, ctx);
    const had = await this.engine.memberships.forget(session.user, cmd.room);
    if (session.rooms.has(cmd.room) || !had) return chatLeave(session, cmd, ctx);
    return {};
  }

  /** The feature's commands; `leave` wraps chat's own. */
  handlers(chatLeave: Handler<'leave'>): Pick<Handlers, 'read' | 'rooms' | 'directory' | 'leave'> {
    return {
      read: (s, c) => this.read(s, c.room, c.messageId),
      rooms: (s) => this.list(s.user, s.identity),
      directory: (s, c) => this.directory(s.identity, c.prefix),
      leave: (s, c, ctx) => this.leave(chatLeave, s, c, ctx),
    };
  }
}
