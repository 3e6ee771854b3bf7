/**
 * The Parley client: one WebSocket to a Parley server, with request/reply
 * promises, typed events, automatic reconnect (full-jitter backoff), rejoin
 * with `since` (nothing lost, nothing twice, edits/deletes/reactions made
 * meanwhile applied), an offline send queue keyed by `clientMsgId`, read
 * state per room, and a ping keepalive that notices dead sockets.
 *
 * This file is the facade: the transport lives in connection.ts, the request
 * queue in requests.ts, rooms and recovery in rooms.ts, the message store in
 * store.ts, read state in unread.ts, the public types in types.ts.
 *
 * Imports only the shared protocol module (types from frames.ts, plain values
 * from codes/ids), so it bundles small for browsers and runs on Node 20.
 */
import type {
  ChosenStatus,
  DirectoryEntry,
  HistoryResult,
  Message,
  OwnPresenceEntry,
  PresenceResult,
  RoomEntry,
} from '../protocol/frames.js';
import { isValidId } from '../protocol/ids.js';
import { Connection } from './connection.js';
import { Emitter } from './emitter.js';
import { ParleyClientError } from './errors.js';
import { RequestQueue } from './requests.js';
import { dispatchFrame, type InboundSink } from './inbound.js';
import { RoomSet } from './rooms.js';
import type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  HistoryOptions,
  JoinedInfo,
  JoinOptions,
  LeaveOptions,
  ModerationOptions,
  RequestOptions,
  SendOptions,
  UnreadInfo,
} from './types.js';
import { ReadState } from './unread.js';
import { jwtClaims, randomId, utf8Length } from './util.js';

export type * from './types.js';

/**
 * A connection to a Parley server.
 *
 * @example
 * import { ParleyClient } from './sdk/index.js';
 *
 * const client = new ParleyClient({ url: 'http://localhost:3000', user: 'ann', name: 'Ann' });
 * client.on('message', (m) => console.log(`[${m.room}] ${m.name ?? m.from}: ${m.text}`));
 * await client.connect();
 * await client.join('general');
 * await client.send('general', 'hello');
 */
export class ParleyClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  private readonly conn: Connection;
  private readonly queue: RequestQueue;
  private readonly roomSet: RoomSet;
  private readonly reads: ReadState;
  private desiredStatus: { status: ChosenStatus; text?: string } | null = null;
  private readonly lastTyping = new Map<string, number>();

  /**
   * Creates a client; nothing happens on the network until `connect()`.
   *
   * @example
   * // browser, dev mode
   * const client = new ParleyClient({ url: location.origin, user: 'ann', name: 'Ann' });
   * // Node 20, JWT mode (the token goes in an Authorization header)
   * import WebSocket from 'ws';
   * const bot = new ParleyClient({ url: 'ws://localhost:3000/ws', token: () => fetchToken(), WebSocket });
   */
  constructor(options: ClientOptions) {
    super();
    this.opts = { ...options };
    this.conn = new Connection(this.opts, {
      opened: () => this.onOpened(),
      frame: (raw) => dispatchFrame(raw, this.inbound),
      dropped: () => {
        this.queue.dropInflight();
        this.roomSet.onDropped();
      },
      ended: (err) => {
        this.queue.failAll(err);
        this.roomSet.clear(err);
        this.desiredStatus = null;
      },
      state: (change) => this.emit('state', change),
      ping: (timeoutMs) => this.queue.internal('ping', {}, timeoutMs),
    });
    this.queue = new RequestQueue(
      {
        active: () => this.conn.active,
        isOpen: () => this.conn.isOpen,
        write: (text) => this.conn.send(text),
        roomGate: (room) => {
          const state = this.roomSet.get(room);
          if (!state) return 'gone';
          return state.joinedOn === this.conn.serial && !state.joining ? 'ready' : 'wait';
        },
      },
      this.opts.requestTimeoutMs ?? 10_000,
      this.opts.maxQueue ?? 1000,
    );
    this.reads = new ReadState((info) => this.emit('unread', info));
    this.roomSet = new RoomSet(
      {
        serial: () => this.conn.serial,
        isOpen: () => this.conn.isOpen,
        internal: (type, fields) => this.queue.internal(type, fields),
        emit: (event, ...args) => this.emit(event, ...args),
        failRoom: (room, err) => this.queue.failRoom(room, () => err),
        pump: () => this.queue.pump(),
        me: () => this.userId,
      },
      this.reads,
      this.opts.storeLimit,
    );
  }

  /**
   * The current connection state.
   *
   * @example
   * if (client.state !== 'connected') showBanner('Reconnecting…');
   */
  get state(): ConnectionState {
    return this.conn.state;
  }

  /**
   * Your user id: the `user` option, or the `sub` claim of a static token (unverified, for display).
   *
   * @example
   * const mine = message.from === client.userId;
   */
  get userId(): string | undefined {
    if (this.opts.user) return this.opts.user;
    if (typeof this.opts.token === 'string') {
      const sub = jwtClaims(this.opts.token)?.sub;
      if (typeof sub === 'string') return sub;
    }
    return undefined;
  }

  /**
   * Your display name: the `name` option, or the `name` claim of a static token.
   *
   * @example
   * header.textContent = client.userName ?? client.userId ?? '';
   */
  get userName(): string | undefined {
    if (this.opts.name) return this.opts.name;
    if (typeof this.opts.token === 'string') {
      const name = jwtClaims(this.opts.token)?.name;
      if (typeof name === 'string') return name;
    }
    return undefined;
  }

  /**
   * Your roles as this client was told them (the `roles` claim of a static
   * token, or the dev-mode `query.roles` list); unverified, for showing
   * moderator tools. The server decides what you may do.
   *
   * @example
   * if (client.roles.includes('moderator')) showModeratorTools();
   */
  get roles(): string[] {
    if (typeof this.opts.token === 'string') {
      const roles = (jwtClaims(this.opts.token) as { roles?: unknown } | null)?.roles;
      return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
    }
    return (this.opts.query?.roles ?? '').split(',').filter(Boolean);
  }

  /**
   * The rooms this client is in (or is rejoining), in join order.
   *
   * @example
   * client.joinedRooms(); // ['general', 'random']
   */
  joinedRooms(): string[] {
    return [...this.roomSet.map.keys()];
  }

  /**
   * The id of the newest message seen in `room` (what a rejoin sends as `since`).
   *
   * @example
   * client.lastMessageId('general'); // '1717171717171-0'
   */
  lastMessageId(room: string): string | null {
    return this.roomSet.get(room)?.lastId ?? null;
  }

  /**
   * The messages of a joined room this client holds (live, recovered and
   * loaded with `history`), oldest first, in their current state: edits,
   * deletes and reactions applied, also those made while it was offline.
   *
   * @example
   * await client.history('general');
   * for (const m of client.messages('general')) console.log(m.deleted ? '(deleted)' : m.text);
   */
  messages(room: string): Message[] {
    return this.roomSet.get(room)?.store.list() ?? [];
  }

  /**
   * One held message of a joined room in its current state.
   *
   * @example
   * const original = client.message('general', reply.replyTo!);
   */
  message(room: string, id: string): Message | undefined {
    return this.roomSet.get(room)?.store.get(id);
  }

  /**
   * Your read marker and unread count in `room`, as last heard from the
   * server and kept current by live events (joined rooms, and rooms listed by `rooms()`).
   *
   * @example
   * const { unread } = client.unread('general') ?? { unread: 0 };
   */
  unread(room: string): UnreadInfo | undefined {
    return this.reads.get(room);
  }

  /**
   * Opens the connection. Resolves once the socket is open; rejects with
   * `CONNECT_FAILED` when the first attempt fails (server down, credentials
   * refused). Later drops reconnect by themselves.
   *
   * @example
   * try {
   *   await client.connect();
   * } catch (err) {
   *   showSignInError((err as ParleyClientError).message);
   * }
   */
  connect(): Promise<void> {
    return this.conn.connect();
  }

  /**
   * Closes the connection for good: no reconnect; pending requests and
   * queued sends reject with `CLOSED`. `connect()` may be called again later.
   *
   * @example
   * window.addEventListener('pagehide', () => client.close());
   */
  close(): void {
    this.conn.close();
  }

  /**
   * Skips the backoff wait and tries to reconnect now (e.g. from a "Retry now" button).
   *
   * @example
   * retryButton.onclick = () => client.reconnectNow();
   */
  reconnectNow(): void {
    this.conn.reconnectNow();
  }

  /**
   * Joins a room (and keeps it joined across reconnects until `leave`).
   * Resolves with the members, your read state and the topic; load earlier
   * messages with `history`. While offline the join waits for the connection.
   *
   * @example
   * const { members, lastMessageId, unread } = await client.join('general');
   * const { messages } = await client.history('general');
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinedInfo> {
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

  /**
   * Leaves a room: no more events from it, and it is not rejoined on
   * reconnect. With `forget: true` your membership ends too (the room leaves
   * `rooms()` on all your devices; their open connections stay joined).
   *
   * @example
   * await client.leave('random');
   * await client.leave('old-project', { forget: true });
   */
  async leave(room: string, options: LeaveOptions = {}): Promise<void> {
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

  /**
   * Sends a message. Resolves with the stored message. While the connection is
   * down the send is queued and goes out after the room is rejoined; the
   * `clientMsgId` (generated unless given) makes the server store it once even
   * if it is transmitted twice. `replyTo` answers another message of the room.
   *
   * @example
   * const message = await client.send('general', 'hello <b>world</b>');
   * await client.send('general', 'me too', { replyTo: message.id });
   * // retry safely after a failure with the same key:
   * await client.send('general', 'hello', { clientMsgId: 'draft-42' });
   */
  send(room: string, text: string, options: SendOptions = {}): Promise<Message> {
    const closed = this.closedError('send');
    if (closed) return Promise.reject(closed);
    if (!this.roomSet.get(room)) {
      return Promise.reject(
        new ParleyClientError('NOT_JOINED', `join "${room}" before sending to it`, { command: 'send' }),
      );
    }
    const fields: Record<string, unknown> = { room, text, clientMsgId: options.clientMsgId ?? randomId() };
    if (options.replyTo !== undefined) fields.replyTo = options.replyTo;
    const tooLarge = this.checkSize('send', fields);
    if (tooLarge) return Promise.reject(tooLarge);
    this.lastTyping.delete(room);
    return this.queue.roomRequest('send', room, fields, options.timeoutMs, true).then((r) => r.message);
  }

  /**
   * Edits one of your messages; resolves with its new state. Everyone in the
   * room gets an `edited` event (you too).
   *
   * @example
   * const fixed = await client.edit('general', message.id, 'hello, world');
   * fixed.editedAt; // ms time of the edit
   */
  edit(room: string, messageId: string, text: string, options: RequestOptions = {}): Promise<Message> {
    const fields = { room, messageId, text };
    const tooLarge = this.checkSize('edit', fields);
    if (tooLarge) return Promise.reject(tooLarge);
    return this.roomCommand('edit', room, fields, options);
  }

  /**
   * Deletes a message (yours, or anyone's as a moderator); resolves with the
   * tombstone (`deleted: true`, empty text).
   *
   * @example
   * await client.delete('general', message.id);
   */
  delete(room: string, messageId: string, options: RequestOptions = {}): Promise<Message> {
    return this.roomCommand('delete', room, { room, messageId }, options);
  }

  /**
   * Adds your reaction (an emoji or a `:name:`); the same emoji twice changes
   * nothing. Resolves with the message's new state.
   *
   * @example
   * await client.react('general', message.id, '👍');
   */
  react(room: string, messageId: string, emoji: string, options: RequestOptions = {}): Promise<Message> {
    return this.roomCommand('react', room, { room, messageId, emoji }, options);
  }

  /**
   * Removes your reaction; removing what is not there changes nothing.
   *
   * @example
   * await client.unreact('general', message.id, '👍');
   */
  unreact(room: string, messageId: string, emoji: string, options: RequestOptions = {}): Promise<Message> {
    return this.roomCommand('unreact', room, { room, messageId, emoji }, options);
  }

  /**
   * Moves your read marker in `room` to `messageId` (never back); needs a
   * membership, not a joined connection. Your other devices and the room's
   * members get a `read` event. Resolves with your marker.
   *
   * @example
   * const newest = client.messages('general').at(-1);
   * if (newest) await client.read('general', newest.id);
   */
  async read(room: string, messageId: string, options: RequestOptions = {}): Promise<string> {
    const { lastReadId } = await this.queue.request('read', { room, messageId }, options.timeoutMs);
    this.reads.onRead(room, lastReadId, this.messages(room), this.userId);
    return lastReadId;
  }

  /**
   * Your memberships, most recent message first, with unread counts (the
   * same on every device). Also updates what `unread(room)` returns.
   *
   * @example
   * for (const r of await client.rooms()) console.log(r.room, r.unread, r.lastMessage?.text);
   */
  async rooms(options: RequestOptions = {}): Promise<RoomEntry[]> {
    const { rooms } = await this.queue.request('rooms', {}, options.timeoutMs);
    for (const r of rooms) this.reads.set(r.room, r.lastReadId, r.unread, r.lastMessage?.id ?? null);
    return rooms;
  }

  /**
   * Rooms you may join that have messages (no DMs), most recent first; up to 100.
   *
   * @example
   * const found = await client.directory('team-');
   */
  async directory(prefix?: string, options: RequestOptions = {}): Promise<DirectoryEntry[]> {
    const fields: Record<string, unknown> = {};
    if (prefix) fields.prefix = prefix;
    const { rooms } = await this.queue.request('directory', fields, options.timeoutMs);
    return rooms;
  }

  /**
   * Moderators: bans `user` from `room` (for `seconds`, or until `unban`).
   * Their connections get a `removed` event and leave the room.
   *
   * @example
   * await client.ban('general', 'spammer', { seconds: 3600 });
   */
  async ban(room: string, user: string, options: ModerationOptions = {}): Promise<void> {
    await this.moderate('ban', room, user, options);
  }

  /**
   * Moderators: lifts a ban.
   *
   * @example
   * await client.unban('general', 'spammer');
   */
  async unban(room: string, user: string, options: RequestOptions = {}): Promise<void> {
    await this.moderate('unban', room, user, options);
  }

  /**
   * Moderators: mutes `user` in `room` (they stay and read, but cannot send, edit, react or type).
   *
   * @example
   * await client.mute('general', 'loud', { seconds: 600 });
   */
  async mute(room: string, user: string, options: ModerationOptions = {}): Promise<void> {
    await this.moderate('mute', room, user, options);
  }

  /**
   * Moderators: lifts a mute.
   *
   * @example
   * await client.unmute('general', 'loud');
   */
  async unmute(room: string, user: string, options: RequestOptions = {}): Promise<void> {
    await this.moderate('unmute', room, user, options);
  }

  /**
   * A page of a room's history, oldest first, in current state. Without
   * `before`: the latest messages. Pass the oldest id you have as `before` to
   * scroll back.
   *
   * @example
   * let page = await client.history('general', { limit: 50 });
   * while (page.hasMore) page = await client.history('general', { before: page.messages[0]!.id });
   */
  async history(room: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    const fields: Record<string, unknown> = { room };
    if (options.before !== undefined) fields.before = options.before;
    if (options.limit !== undefined) fields.limit = options.limit;
    const result = await this.queue.request('history', fields, options.timeoutMs);
    this.roomSet.onHistory(room, result.messages);
    return result;
  }

  /**
   * Sets your status (`online`, `away`, `busy`, `invisible`) and optional
   * text (≤ 140 characters). Kept across reconnects. Resolves with your own
   * presence entry (your true status, even when invisible to others).
   *
   * @example
   * await client.setStatus('busy', 'in a meeting until 3');
   * await client.setStatus('online');
   */
  setStatus(status: ChosenStatus, text?: string, options: RequestOptions = {}): Promise<OwnPresenceEntry> {
    this.desiredStatus = text === undefined ? { status } : { status, text };
    const fields: Record<string, unknown> = { status };
    if (text !== undefined) fields.text = text;
    return this.queue.request('status', fields, options.timeoutMs).then((r) => r.presence);
  }

  /**
   * Presence of a room's members (`room` string) or of given users (array of
   * user ids, ≤ 500).
   *
   * @example
   * const { members } = await client.presence('general');
   * const { users } = await client.presence(['ann', 'bob']);
   */
  presence(target: string | string[], options: RequestOptions = {}): Promise<PresenceResult> {
    const fields = typeof target === 'string' ? { room: target } : { users: target };
    return this.queue.request('presence', fields, options.timeoutMs);
  }

  /**
   * Tells the room you are typing. Cheap to call on every keystroke: at most
   * one frame per room per `typingThrottleMs`; dropped while offline.
   *
   * @example
   * input.addEventListener('input', () => void client.typing('general'));
   */
  async typing(room: string): Promise<void> {
    const state = this.roomSet.get(room);
    if (!state || !this.conn.isOpen || state.joinedOn !== this.conn.serial) return;
    const now = Date.now();
    const last = this.lastTyping.get(room);
    if (last !== undefined && now - last < (this.opts.typingThrottleMs ?? 2000)) return;
    this.lastTyping.set(room, now);
    await this.queue.internal('typing', { room }).catch(() => undefined);
  }

  /**
   * Round trip to the server; resolves with the time it took in ms.
   *
   * @example
   * console.log(`latency ${await client.ping()} ms`);
   */
  async ping(options: RequestOptions = {}): Promise<number> {
    const start = Date.now();
    await this.queue.request('ping', {}, options.timeoutMs);
    return Date.now() - start;
  }

  // ---------------------------------------------------------------------------

  /** CLOSED before anything else once the client is closed (a kick clears the rooms too). */
  private closedError(command: string): ParleyClientError | null {
    if (this.conn.active) return null;
    return new ParleyClientError('CLOSED', 'the client is closed; call connect() first', { command });
  }

  private checkSize(type: 'send' | 'edit', fields: Record<string, unknown>): ParleyClientError | null {
    const size = utf8Length(JSON.stringify({ type, id: 2 ** 31, ...fields }));
    const max = this.opts.maxFrameBytes ?? 65_536;
    return size > max
      ? new ParleyClientError('TOO_LARGE', `message frame is ${size} bytes, over ${max}`, { command: type })
      : null;
  }

  /** edit/delete/react/unreact: they need the room joined, so they wait for its (re)join like a send. */
  private roomCommand(
    type: 'edit' | 'delete' | 'react' | 'unreact',
    room: string,
    fields: Record<string, unknown>,
    options: RequestOptions,
  ): Promise<Message> {
    const closed = this.closedError(type);
    if (closed) return Promise.reject(closed);
    if (!this.roomSet.get(room)) {
      return Promise.reject(new ParleyClientError('NOT_JOINED', `join "${room}" first`, { command: type }));
    }
    return this.queue.roomRequest(type, room, fields, options.timeoutMs, type !== 'delete').then((r) => r.message);
  }

  private async moderate(
    type: 'ban' | 'unban' | 'mute' | 'unmute',
    room: string,
    user: string,
    options: ModerationOptions,
  ): Promise<void> {
    const fields: Record<string, unknown> = { room, user };
    if (options.seconds !== undefined && (type === 'ban' || type === 'mute')) fields.seconds = options.seconds;
    await this.queue.request(type, fields, options.timeoutMs);
  }

  private onOpened(): void {
    // Status first, so that rejoins announce the right status; then rooms; then the queue.
    if (this.desiredStatus && !this.queue.hasWaiting('status')) {
      void this.queue.internal('status', { ...this.desiredStatus }).catch(() => undefined);
    }
    this.roomSet.rejoinAll();
    this.queue.pump();
  }

  /** Where decoded server frames go. */
  private readonly inbound: InboundSink = {
    reply: (frame) => this.queue.onReply(frame),
    roomEvent: (room, frame) => this.roomSet.onEvent(room, frame),
    read: (change) => {
      if (change.user === this.userId) {
        this.reads.onRead(change.room, change.messageId, this.messages(change.room), change.user);
      }
      this.emit('read', change);
    },
    removed: ({ room, reason }) => {
      const err = new ParleyClientError('FORBIDDEN', `removed from "${room}" (${reason})`, { fromServer: true });
      if (this.roomSet.drop(room, err)) this.queue.failRoom(room, () => err);
      this.emit('removed', { room, reason });
    },
    presence: (change) => this.emit('presence', change),
    typing: (change) => this.emit('typing', change),
    error: (err) => this.emit('error', err, {}),
  };
}
