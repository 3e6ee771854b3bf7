/**
 * The read-state calls of the SDK: moving your read marker, listing your
 * memberships with unread counts, and what a `read` event of your own
 * (another device) does to the local read state.
 */
import type { Message, RoomEntry } from '../protocol/frames.js';
import type { RequestQueue } from './requests.js';
import type { RoomSet } from './rooms.js';
import type { ReadChange, RequestOptions } from './types.js';
import type { ReadState } from './unread.js';

/** Read markers and memberships, for the facade. */
export class ReadCalls {
  constructor(
    private readonly queue: RequestQueue,
    private readonly roomSet: RoomSet,
    private readonly reads: ReadState,
    private readonly me: () => string | undefined,
  ) {}

  /** ParleyClient.read: resolves with your marker; the local unread count follows it. */
  async read(room: string, messageId: string, options: RequestOptions): Promise<string> {
    const { lastReadId } = await this.queue.request('read', { room, messageId }, options.timeoutMs);
    this.reads.onRead(room, lastReadId, this.held(room), this.me());
    return lastReadId;
  }

  /** ParleyClient.rooms: also updates what `unread(room)` returns. */
  async rooms(options: RequestOptions): Promise<RoomEntry[]> {
    const { rooms } = await this.queue.request('rooms', {}, options.timeoutMs);
    for (const r of rooms) this.reads.set(r.room, r.lastReadId, r.unread, r.lastMessage?.id ?? null);
    return rooms;
  }

  /** A `read` event: your own marker moved (on another device) unless it is someone else's. */
  onReadEvent(change: ReadChange): void {
    if (change.user === this.me()) {
      this.reads.onRead(change.room, change.messageId, this.held(change.room), change.user);
    }
  }

  /** The messages of `room` this client holds (what `ParleyClient.messages` returns). */
  private held(room: string): Message[] {
    return this.roomSet.get(room)?.store.list() ?? [];
  }
}
