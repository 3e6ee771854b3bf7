/**
 * The room calls of the SDK: join (waits for the connection, resolves once
 * joined on it), leave (with `forget`: the membership too), history pages
 * (recorded as seen by the room), the directory, and what a `removed` event
 * does to a joined room.
 */
import type { DirectoryEntry, HistoryResult } from '../protocol/frames.js';
import { isValidId } from '../protocol/ids.js';
import type { Connection } from './connection.js';
import { ParleyClientError } from './errors.js';
import type { RequestQueue } from './requests.js';
import type { RoomSet } from './rooms.js';
import type { HistoryOptions, JoinedInfo, JoinOptions, LeaveOptions, RequestOptions } from './types.js';
import type { ReadState } from './unread.js';

/** Joining, leaving and reading rooms, for the facade. */
export class RoomCalls {
  constructor(
    private readonly conn: Connection,
    private readonly queue: RequestQueue,
    private readonly roomSet: RoomSet,
    private readonly reads: ReadState,
  ) {}

  /** ParleyClient.join: kept joined across reconnects until `leave`; waits for the connection. */
  join(room: string, options: JoinOptions): Promise<JoinedInfo> {
    if (!isValidId(room)) return Promise.reject(new ParleyClientError('BAD_REQUEST', `invalid room id "${room}"`));
    if (!this.conn.active) {
      return Promise.reject(new ParleyClientError('CLOSED', 'call connect() first', { command: 'join' }));
    }
    const existing = this.roomSet.get(room);
    if (existing && existing.joinedOn === this.conn.serial && this.conn.isOpen && existing.info && !existing.joining) {
      return Promise.resolve(existing.info);
    }
    const st = this.roomSet.ensure(room, options.since);
    return new Promise<JoinedInfo>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.queue.timeoutMs;
      const waiter = {
        resolve: (info: JoinedInfo) => {
          clearTimeout(timer);
          resolve(info);
        },
        reject: (err: ParleyClientError) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        st.waiters = st.waiters.filter((w) => w !== waiter);
        reject(new ParleyClientError('TIMEOUT', `join "${room}" got no reply in ${timeoutMs} ms`, { command: 'join' }));
      }, timeoutMs);
      st.waiters.push(waiter);
      if (this.conn.isOpen && !st.joining) void this.roomSet.join(st);
    });
  }

  /** ParleyClient.leave: the room's waiting requests reject with NOT_JOINED. */
  async leave(room: string, options: LeaveOptions): Promise<void> {
    const dropped = this.roomSet.drop(room, new ParleyClientError('NOT_JOINED', `left "${room}"`, { command: 'join' }));
    if (dropped) {
      this.queue.failRoom(
        room,
        (o) => new ParleyClientError('NOT_JOINED', `left "${room}" before the ${o.type} was sent`, { command: o.type }),
      );
    }
    if (options.forget) this.reads.forget(room);
    if (!this.conn.isOpen && !options.forget) return;
    const fields: Record<string, unknown> = { room };
    if (options.forget) fields.forget = true;
    await this.queue.request('leave', fields, options.timeoutMs);
  }

  /** ParleyClient.history: the page's messages are recorded as seen by the room. */
  async history(room: string, options: HistoryOptions): Promise<HistoryResult> {
    const fields: Record<string, unknown> = { room };
    if (options.before !== undefined) fields.before = options.before;
    if (options.limit !== undefined) fields.limit = options.limit;
    const result = await this.queue.request('history', fields, options.timeoutMs);
    this.roomSet.onHistory(room, result.messages);
    return result;
  }

  /** ParleyClient.directory. */
  async directory(prefix: string | undefined, options: RequestOptions): Promise<DirectoryEntry[]> {
    const fields: Record<string, unknown> = {};
    if (prefix) fields.prefix = prefix;
    const { rooms } = await this.queue.request('directory', fields, options.timeoutMs);
    return rooms;
  }

  /** A `removed` event: the room is dropped and its waiting requests reject with FORBIDDEN. */
  onRemoved(room: string, reason: string): void {
    const err = new ParleyClientError('FORBIDDEN', `removed from "${room}" (${reason})`, { fromServer: true });
    if (this.roomSet.drop(room, err)) this.queue.failRoom(room, () => err);
  }
}
