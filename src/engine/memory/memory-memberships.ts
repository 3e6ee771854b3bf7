/**
 * Memberships and read markers of the memory engine: the executable
 * specification of the Redis implementation (same conformance suite).
 * The engine calls `noteAppend` synchronously inside `append`, so a
 * message, its sequence number and the sender's marker move together.
 * Deleted messages are the lifecycle store's (it records them).
 */
import { ParleyError } from '../../protocol/errors.js';
import { UNREAD_CAP, type Message } from '../../protocol/frames.js';
import { compareMessageIds } from '../../protocol/ids.js';
import type {
  DirectoryQuery,
  DirectoryRoom,
  MembershipState,
  MembershipStore,
  ReadOutcome,
  ReadState,
} from '../membership-store.js';
import type { StateSizes } from '../../state-sizes.js';

interface Marker {
  seq: number;
  id: string;
}

interface RoomReads {
  /** Ids of the retained messages, oldest first; `ids[i]` has sequence number `firstSeq + i`. */
  ids: string[];
  firstSeq: number;
  lastSeq: number;
  /** user -> marker (kept after a membership ends; sending sets it). */
  marks: Map<string, Marker>;
  /** Users with a stored membership. */
  members: Set<string>;
  /** Ms time of the newest message (0: none yet). */
  lastTs: number;
}

/** What the store reads from the rest of the memory engine. */
export interface MembershipHost {
  /** The room's newest message in its current state, or null. */
  lastMessage(room: string): Message | null;
  /** Ids of deleted messages after `afterId` (all when null), at most `max` (the lifecycle store's). */
  deletedAfter(room: string, afterId: string | null, max: number): Promise<string[]>;
}

/** Index of `id` in the sorted ids, or -1. */
function indexOfId(ids: string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareMessageIds(ids[mid]!, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo < ids.length && ids[lo] === id ? lo : -1;
}

export class MemoryMembershipStore implements MembershipStore {
  private readonly byRoom = new Map<string, RoomReads>();
  private readonly byUser = new Map<string, Set<string>>();

  /** @param historyMax messages the engine keeps per room (ids are trimmed the same way) */
  constructor(
    private readonly historyMax: number,
    private readonly host: MembershipHost,
  ) {}

  /** Called by the engine inside append: next sequence number, sender's marker, directory time. */
  noteAppend(message: Message): void {
    const st = this.state(message.room);
    const seq = ++st.lastSeq;
    st.ids.push(message.id);
    const max = this.historyMax;
    if (st.ids.length > max + Math.max(1, Math.floor(max / 10))) {
      const cut = st.ids.length - max;
      st.ids.splice(0, cut);
      st.firstSeq += cut;
    }
    st.marks.set(message.from, { seq, id: message.id });
    st.lastTs = message.ts;
  }

  /**
   * The engine evicted the room's messages: their ids go, sequence numbers
   * go on (so unread counts stay right); memberships and markers stay.
   */
  dropMessages(room: string): void {
    const st = this.byRoom.get(room);
    if (!st) return;
    st.ids = [];
    st.firstSeq = st.lastSeq + 1;
  }

  async join(user: string, room: string): Promise<ReadState> {
    const st = this.state(room);
    st.members.add(user);
    this.userRooms(user).add(room);
    return this.readState(room, st, user);
  }

  async addMembers(room: string, users: string[]): Promise<void> {
    const st = this.state(room);
    for (const u of users) {
      st.members.add(u);
      this.userRooms(u).add(room);
    }
  }

  async forget(user: string, room: string): Promise<boolean> {
    const rooms = this.byUser.get(user);
    const had = rooms?.delete(room) ?? false;
    if (rooms && rooms.size === 0) this.byUser.delete(user);
    const st = this.byRoom.get(room);
    return (st?.members.delete(user) ?? false) || had;
  }

  async read(user: string, room: string, messageId: string): Promise<ReadOutcome> {
    const st = this.byRoom.get(room);
    if (!st || !st.members.has(user)) {
      throw new ParleyError('NOT_JOINED', `you are not a member of room "${room}": join it first`);
    }
    const at = indexOfId(st.ids, messageId);
    if (at < 0) throw new ParleyError('NOT_FOUND', `room "${room}" has no message "${messageId}"`);
    const seq = st.firstSeq + at;
    const cur = st.marks.get(user);
    if (cur && cur.seq >= seq) return { lastReadId: cur.id, moved: false };
    st.marks.set(user, { seq, id: messageId });
    return { lastReadId: messageId, moved: true };
  }

  async rooms(user: string): Promise<MembershipState[]> {
    const out: MembershipState[] = [];
    for (const room of this.byUser.get(user) ?? []) {
      const st = this.state(room);
      out.push({ room, lastMessage: this.host.lastMessage(room), ...(await this.readState(room, st, user)) });
    }
    return out;
  }

  async directory(query: DirectoryQuery): Promise<DirectoryRoom[]> {
    const rooms: Array<[string, RoomReads]> = [];
    for (const entry of this.byRoom) {
      if (entry[1].lastTs > 0 && !entry[0].startsWith('dm:') && query.accept(entry[0])) rooms.push(entry);
    }
    // Newest first; ties (same ms) by name, descending like a Redis ZREVRANGE.
    rooms.sort((a, b) => b[1].lastTs - a[1].lastTs || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
    return rooms
      .slice(0, query.limit)
      .map(([room, st]) => ({ room, members: st.members.size, lastMessage: this.host.lastMessage(room) }));
  }

  private async readState(room: string, st: RoomReads, user: string): Promise<ReadState> {
    const mark = st.marks.get(user);
    let unread = st.lastSeq - (mark?.seq ?? 0);
    if (unread > 0) unread -= (await this.host.deletedAfter(room, mark?.id ?? null, unread)).length;
    return { lastReadId: mark?.id ?? null, unread: Math.max(0, Math.min(UNREAD_CAP, unread)) };
  }

  private state(room: string): RoomReads {
    let st = this.byRoom.get(room);
    if (!st) {
      st = { ids: [], firstSeq: 1, lastSeq: 0, marks: new Map(), members: new Set(), lastTs: 0 };
      this.byRoom.set(room, st);
    }
    return st;
  }

  private userRooms(user: string): Set<string> {
    let set = this.byUser.get(user);
    if (!set) {
      set = new Set();
      this.byUser.set(user, set);
    }
    return set;
  }

  /** Rooms with read state, users with memberships, memberships (parley_state_entries). */
  stateSizes(): StateSizes {
    let members = 0;
    for (const r of this.byRoom.values()) members += r.members.size;
    return {
      'memoryMemberships.rooms': this.byRoom.size,
      'memoryMemberships.users': this.byUser.size,
      'memoryMemberships.members': members,
    };
  }
}
