/**
 * Room state and recovery: the rooms this client is in, their (re)join with
 * `since` after every reconnect, the live events that arrive while a join is
 * in flight (held and applied after its batch), each message delivered once,
 * and the room's message store kept current by `edited`/`deleted`/`reaction`
 * events and by the `changed` list of a rejoin.
 */
import type { CommandType, JoinResult, Message, ResultOf } from '../protocol/frames.js';
import { compareMessageIds } from '../protocol/ids.js';
import { ParleyClientError } from './errors.js';
import { MessageStore } from './store.js';
import type { ClientEvents, JoinedInfo, ReactionChange } from './types.js';
import type { ReadState } from './unread.js';
import { RecentIds } from './util.js';

interface Waiter {
  resolve: (info: JoinedInfo) => void;
  reject: (err: ParleyClientError) => void;
}

/** One live room event, as it came off the wire. */
export type RoomFrame =
  | { type: 'message'; message: Message }
  | { type: 'edited'; message: Message }
  | { type: 'deleted'; messageId: string }
  | ({ type: 'reaction' } & ReactionChange);

/** One room of this client. */
export class RoomState {
  lastId: string | null = null;
  readonly seen = new RecentIds();
  /** Serial of the connection the room is joined on (0: none). */
  joinedOn = 0;
  joining = false;
  everJoined = false;
  /** Live events that arrive while a (re)join is in flight, applied after its batch. */
  buffer: RoomFrame[] | null = null;
  waiters: Waiter[] = [];
  info: JoinedInfo | null = null;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  retries = 0;
  readonly store: MessageStore;
  constructor(
    readonly name: string,
    storeLimit?: number,
  ) {
    this.store = new MessageStore(storeLimit);
  }
}

/** What the room set needs from the client. */
export interface RoomsHost {
  /** Serial of the current connection. */
  serial(): number;
  isOpen(): boolean;
  internal<T extends CommandType>(type: T, fields: Record<string, unknown>): Promise<ResultOf[T]>;
  emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void;
  /** Rejects the requests waiting for `room`. */
  failRoom(room: string, err: ParleyClientError): void;
  /** A room became joined: waiting requests may go. */
  pump(): void;
  me(): string | undefined;
}

const TRANSIENT: ReadonlySet<string> = new Set(['UNAVAILABLE', 'INTERNAL', 'TIMEOUT', 'RATE_LIMITED']);

/** The rooms of one client. */
export class RoomSet {
  readonly map = new Map<string, RoomState>();

  constructor(
    private readonly host: RoomsHost,
    private readonly reads: ReadState,
    private readonly storeLimit?: number,
  ) {}

  get(room: string): RoomState | undefined {
    return this.map.get(room);
  }

  /** The room's state, created when new (`since`: the client already has everything up to it). */
  ensure(room: string, since?: string): RoomState {
    let state = this.map.get(room);
    if (!state) {
      state = new RoomState(room, this.storeLimit);
      if (since) state.lastId = since;
      this.map.set(room, state);
    }
    return state;
  }

  /** Takes a room out (left or removed): its waiters reject with `err`. */
  drop(room: string, err: ParleyClientError): RoomState | undefined {
    const state = this.map.get(room);
    if (!state) return undefined;
    this.map.delete(room);
    clearTimeout(state.retryTimer);
    for (const w of state.waiters.splice(0)) w.reject(err);
    return state;
  }

  /** The socket is gone: every room will be rejoined on the next one. */
  onDropped(): void {
    for (const room of this.map.values()) {
      room.joining = false;
      room.buffer = null; // their ids were not recorded: the next `since` batch carries them again
      clearTimeout(room.retryTimer);
    }
  }

  /** A socket is open: rejoin everything. */
  rejoinAll(): void {
    for (const room of this.map.values()) {
      room.retries = 0;
      void this.join(room);
    }
  }

  /** The client closed: every waiter rejects, nothing is kept. */
  clear(err: ParleyClientError): void {
    for (const room of this.map.values()) {
      clearTimeout(room.retryTimer);
      for (const w of room.waiters.splice(0)) w.reject(err);
    }
    this.map.clear();
  }

  /** Joins (or rejoins with `since`) on the current connection. */
  async join(room: RoomState): Promise<void> {
    const host = this.host;
    if (!host.isOpen() || room.joining) return;
    clearTimeout(room.retryTimer);
    room.joining = true;
    room.buffer = [];
    const serial = host.serial();
    const since = room.lastId;
    const rejoin = room.everJoined;
    const fields: Record<string, unknown> = { room: room.name };
    if (since !== null) fields.since = since;
    let data: JoinResult;
    let missed: Message[];
    let reset: boolean;
    try {
      data = await host.internal('join', fields);
      missed = data.messages ?? [];
      reset = since !== null && data.recovered === false;
      if (since === null && rejoin && data.lastMessageId !== null) {
        // We had seen nothing in this room; fetch what was sent while we were away.
        try {
          const page = await host.internal('history', { room: room.name, limit: 200 });
          missed = page.messages;
          if (page.hasMore) reset = true;
        } catch {
          reset = true;
        }
      }
    } catch (e) {
      const err = e as ParleyClientError;
      if (serial !== host.serial() || this.map.get(room.name) !== room) return;
      room.joining = false;
      room.buffer = null;
      this.onJoinFailed(room, err);
      return;
    }
    if (serial !== host.serial() || this.map.get(room.name) !== room) return;

    const buffered = room.buffer ?? [];
    room.buffer = null;
    room.joining = false;
    room.joinedOn = serial;
    room.everJoined = true;
    room.retries = 0;
    if (reset) room.lastId = data.lastMessageId;
    else if (
      !rejoin &&
      data.lastMessageId !== null &&
      (room.lastId === null || compareMessageIds(data.lastMessageId, room.lastId) > 0)
    ) {
      // A first join: what came before is history for the app to load; later messages arrive as events.
      room.lastId = data.lastMessageId;
    }
    const info: JoinedInfo = {
      room: room.name,
      members: data.members,
      count: data.count,
      lastMessageId: data.lastMessageId,
      rejoin,
      recovered: !reset,
      lastReadId: data.lastReadId ?? null,
      unread: data.unread ?? 0,
    };
    if (data.topic !== undefined && data.topic !== '') info.topic = data.topic;
    room.info = info;
    if (data.lastReadId !== undefined || data.unread !== undefined) {
      this.reads.set(room.name, info.lastReadId, info.unread, data.lastMessageId);
    }
    // Tell the app first (centrifuge-js does the same with `recovered`), so it can drop a view that
    // could not be recovered before the batch arrives.
    for (const w of room.waiters.splice(0)) w.resolve(info);
    host.emit('joined', info);
    if (reset) {
      room.store.clear();
      host.emit('reset', { room: room.name, lastMessageId: data.lastMessageId });
    }
    for (const m of missed) this.deliver(room, m, false);
    for (const m of data.changed ?? []) this.changedState(room, m);
    for (const f of buffered) this.apply(room, f);
    host.pump();
  }

  private onJoinFailed(room: RoomState, err: ParleyClientError): void {
    if (err.code === 'CLOSED') return; // the socket dropped: the next connection rejoins
    if (room.everJoined && TRANSIENT.has(err.code)) {
      // Storage hiccup or a slow server: keep the room and try again on this connection.
      const delay = Math.min(10_000, 250 * 2 ** Math.min(room.retries++, 6));
      room.retryTimer = setTimeout(() => void this.join(room), delay);
      return;
    }
    // A first join that failed, or a rejoin the server refuses (e.g. FORBIDDEN): give the room up.
    this.drop(room.name, err);
    this.host.failRoom(room.name, err);
    if (room.everJoined) this.host.emit('error', err, { room: room.name });
  }

  /** A live room event: held while the room's join is in flight, applied when joined on this connection. */
  onEvent(roomName: string, frame: RoomFrame): void {
    const room = this.map.get(roomName);
    if (!room) return;
    if (room.buffer) room.buffer.push(frame);
    else if (room.joinedOn === this.host.serial()) this.apply(room, frame);
  }

  private apply(room: RoomState, f: RoomFrame): void {
    const host = this.host;
    switch (f.type) {
      case 'message':
        this.deliver(room, f.message, true);
        return;
      case 'edited':
        room.store.replace(f.message);
        host.emit('edited', { room: room.name, message: f.message });
        host.emit('updated', f.message);
        return;
      case 'deleted': {
        const before = room.store.get(f.messageId);
        const tomb = room.store.delete(f.messageId);
        if (before) this.reads.onDeleted(before, host.me());
        host.emit('deleted', { room: room.name, messageId: f.messageId });
        if (tomb) host.emit('updated', tomb);
        return;
      }
      case 'reaction': {
        const { type: _type, ...change } = f;
        const next = room.store.react(change);
        host.emit('reaction', change);
        if (next) host.emit('updated', next);
        return;
      }
    }
  }

  /** One entry of a rejoin's `changed`: the current state of an older message. */
  private changedState(room: RoomState, m: Message): void {
    const before = room.store.get(m.id);
    room.store.replace(m);
    if (before && m.deleted && !before.deleted) this.reads.onDeleted(before, this.host.me());
    this.host.emit('updated', m);
  }

  private deliver(room: RoomState, m: Message, live: boolean): void {
    if (!room.seen.add(m.id)) return;
    if (room.lastId === null || compareMessageIds(m.id, room.lastId) > 0) room.lastId = m.id;
    room.store.put(m);
    if (live) this.reads.onMessage(m, this.host.me());
    this.host.emit('message', m);
  }

  /** Messages of a history page: recorded as seen; the store takes the ones it does not hold. */
  onHistory(room: string, messages: Message[]): void {
    const state = this.map.get(room);
    if (!state) return;
    for (const m of messages) {
      state.seen.add(m.id);
      if (state.lastId === null || compareMessageIds(m.id, state.lastId) > 0) state.lastId = m.id;
      if (!state.store.get(m.id)) state.store.put(m);
    }
  }
}
