/**
 * Read markers and unread counts per room, as this client knows them: set
 * from the server (`join` reply, `rooms` entries, `read` replies and events)
 * and kept current between those from the live events of joined rooms.
 */
import type { Message } from '../protocol/frames.js';
import { compareMessageIds } from '../protocol/ids.js';
import type { UnreadInfo } from './types.js';

/**
 * The protocol's `UNREAD_CAP` (frames.ts): repeated here because importing a
 * value from frames.ts would bundle TypeBox into the browser SDK.
 */
export const UNREAD_CAP = 999;

interface Entry {
  lastReadId: string | null;
  unread: number;
  /** Messages up to this id are already in `unread` (the server counted them). */
  floor: string | null;
}

const later = (a: string | null, b: string | null): boolean =>
  a !== null && (b === null || compareMessageIds(a, b) > 0);

export class ReadState {
  private readonly rooms = new Map<string, Entry>();

  constructor(private readonly changed: (info: UnreadInfo) => void) {}

  /** The read state of `room`, if known. */
  get(room: string): UnreadInfo | undefined {
    const e = this.rooms.get(room);
    return e ? { room, lastReadId: e.lastReadId, unread: e.unread } : undefined;
  }

  /** Every room whose read state is known. */
  all(): UnreadInfo[] {
    return [...this.rooms.keys()].map((room) => this.get(room)!);
  }

  /** The server's view (join reply or `rooms` entry); `floor` = the newest message it counted. */
  set(room: string, lastReadId: string | null, unread: number, floor: string | null): void {
    const prev = this.rooms.get(room);
    this.rooms.set(room, { lastReadId, unread, floor });
    if (!prev || prev.unread !== unread || prev.lastReadId !== lastReadId) this.emit(room);
  }

  /** A live message in a joined room: someone else's counts, my own moves my marker (as on the server). */
  onMessage(m: Message, me: string | undefined): void {
    const e = this.rooms.get(m.room);
    if (!e) return;
    if (m.from === me) {
      if (later(m.id, e.lastReadId)) {
        e.lastReadId = m.id;
        e.unread = 0;
        e.floor = m.id;
        this.emit(m.room);
      }
      return;
    }
    if (m.deleted || !later(m.id, e.floor) || !later(m.id, e.lastReadId)) return;
    e.floor = m.id;
    e.unread = Math.min(UNREAD_CAP, e.unread + 1);
    this.emit(m.room);
  }

  /**
   * My marker moved to `messageId` (a `read` reply or event). `held` are the
   * room's messages this client holds: the unread count is what is after the
   * marker among them, never more than before.
   */
  onRead(room: string, messageId: string, held: Message[], me: string | undefined): void {
    const e = this.rooms.get(room) ?? { lastReadId: null, unread: 0, floor: null };
    if (!later(messageId, e.lastReadId)) return;
    e.lastReadId = messageId;
    let after = 0;
    for (const m of held) if (m.from !== me && !m.deleted && compareMessageIds(m.id, messageId) > 0) after++;
    e.unread = later(e.floor, messageId) ? Math.min(e.unread, after) : 0;
    if (e.unread === 0 && later(messageId, e.floor)) e.floor = messageId;
    this.rooms.set(room, e);
    this.emit(room);
  }

  /** A message was deleted: it no longer counts as unread. */
  onDeleted(before: Message, me: string | undefined): void {
    const e = this.rooms.get(before.room);
    if (!e || before.deleted || before.from === me || e.unread === 0) return;
    if (!later(before.id, e.lastReadId) || later(before.id, e.floor)) return;
    e.unread -= 1;
    this.emit(before.room);
  }

  /** The membership ended (leave with forget): nothing to count any more. */
  forget(room: string): void {
    if (this.rooms.delete(room)) this.changed({ room, lastReadId: null, unread: 0 });
  }

  private emit(room: string): void {
    this.changed(this.get(room)!);
  }
}
