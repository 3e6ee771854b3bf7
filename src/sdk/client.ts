/**
 * The Parley client: one WebSocket to a Parley server, with request/reply
 * promises, typed events, automatic reconnect (full-jitter backoff), rejoin
 * with `since` (nothing lost, nothing twice, edits/deletes/reactions made
 * meanwhile applied), an offline send queue keyed by `clientMsgId`, read
 * state per room, and a ping keepalive that notices dead sockets.
 *
 * This file is the facade: the public surface, documented, delegating to
 * core.ts, which wires the parts: the transport in connection.ts, the request
 * queue in requests.ts, rooms and recovery in rooms.ts, the message store in
 * store.ts, read state in unread.ts, server frames in inbound.ts, and the
 * calls of each concern in message-calls.ts (send, edit, delete, reactions,
 * typing), room-calls.ts (join, leave, history, directory), read-calls.ts
 * (read markers, memberships), status-calls.ts (status, presence) and
 * moderation-calls.ts; who you are in identity.ts, the public types in types.ts.
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
import { ClientCore } from './core.js';
import { Emitter } from './emitter.js';
import { rolesOf, userIdOf, userNameOf } from './identity.js';
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
  private readonly core: ClientCore;

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
    this.core = new ClientCore(
      this.opts,
      (event, ...args) => this.emit(event, ...args),
      () => this.userId,
    );
  }

  /**
   * The current connection state.
   *
   * @example
   * if (client.state !== 'connected') showBanner('Reconnecting…');
   */
  get state(): ConnectionState {
    return this.core.conn.state;
  }

  /**
   * Your user id: the `user` option, or the `sub` claim of a static token (unverified, for display).
   *
   * @example
   * const mine = message.from === client.userId;
   */
  get userId(): string | undefined {
    return userIdOf(this.opts);
  }

  /**
   * Your display name: the `name` option, or the `name` claim of a static token.
   *
   * @example
   * header.textContent = client.userName ?? client.userId ?? '';
   */
  get userName(): string | undefined {
    return userNameOf(this.opts);
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
    return rolesOf(this.opts);
  }

  /**
   * The rooms this client is in (or is rejoining), in join order.
   *
   * @example
   * client.joinedRooms(); // ['general', 'random']
   */
  joinedRooms(): string[] {
    return [...this.core.roomSet.map.keys()];
  }

  /**
   * The id of the newest message seen in `room` (what a rejoin sends as `since`).
   *
   * @example
   * client.lastMessageId('general'); // '1717171717171-0'
   */
  lastMessageId(room: string): string | null {
    return this.core.roomSet.get(room)?.lastId ?? null;
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
    return this.core.roomSet.get(room)?.store.list() ?? [];
  }

  /**
   * One held message of a joined room in its current state.
   *
   * @example
   * const original = client.message('general', reply.replyTo!);
   */
  message(room: string, id: string): Message | undefined {
    return this.core.roomSet.get(room)?.store.get(id);
  }

  /**
   * Your read marker and unread count in `room`, as last heard from the
   * server and kept current by live events (joined rooms, and rooms listed by `rooms()`).
   *
   * @example
   * const { unread } = client.unread('general') ?? { unread: 0 };
   */
  unread(room: string): UnreadInfo | undefined {
    return this.core.reads.get(room);
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
    return this.core.conn.connect();
  }

  /**
   * Closes the connection for good: no reconnect; pending requests and
   * queued sends reject with `CLOSED`. `connect()` may be called again later.
   *
   * @example
   * window.addEventListener('pagehide', () => client.close());
   */
  close(): void {
    this.core.conn.close();
  }

  /**
   * Skips the backoff wait and tries to reconnect now (e.g. from a "Retry now" button).
   *
   * @example
   * retryButton.onclick = () => client.reconnectNow();
   */
  reconnectNow(): void {
    this.core.conn.reconnectNow();
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
    return this.core.rooms.join(room, options);
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
  leave(room: string, options: LeaveOptions = {}): Promise<void> {
    return this.core.rooms.leave(room, options);
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
    return this.core.messages.send(room, text, options);
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
    return this.core.messages.edit(room, messageId, text, options);
  }

  /**
   * Deletes a message (yours, or anyone's as a moderator); resolves with the
   * tombstone (`deleted: true`, empty text).
   *
   * @example
   * await client.delete('general', message.id);
   */
  delete(room: string, messageId: string, options: RequestOptions = {}): Promise<Message> {
    return this.core.messages.delete(room, messageId, options);
  }

  /**
   * Adds your reaction (an emoji or a `:name:`); the same emoji twice changes
   * nothing. Resolves with the message's new state.
   *
   * @example
   * await client.react('general', message.id, '👍');
   */
  react(room: string, messageId: string, emoji: string, options: RequestOptions = {}): Promise<Message> {
    return this.core.messages.react(room, messageId, emoji, options);
  }

  /**
   * Removes your reaction; removing what is not there changes nothing.
   *
   * @example
   * await client.unreact('general', message.id, '👍');
   */
  unreact(room: string, messageId: string, emoji: string, options: RequestOptions = {}): Promise<Message> {
    return this.core.messages.unreact(room, messageId, emoji, options);
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
  read(room: string, messageId: string, options: RequestOptions = {}): Promise<string> {
    return this.core.readCalls.read(room, messageId, options);
  }

  /**
   * Your memberships, most recent message first, with unread counts (the
   * same on every device). Also updates what `unread(room)` returns.
   *
   * @example
   * for (const r of await client.rooms()) console.log(r.room, r.unread, r.lastMessage?.text);
   */
  rooms(options: RequestOptions = {}): Promise<RoomEntry[]> {
    return this.core.readCalls.rooms(options);
  }

  /**
   * Rooms you may join that have messages (no DMs), most recent first; up to 100.
   *
   * @example
   * const found = await client.directory('team-');
   */
  directory(prefix?: string, options: RequestOptions = {}): Promise<DirectoryEntry[]> {
    return this.core.rooms.directory(prefix, options);
  }

  /**
   * Moderators: bans `user` from `room` (for `seconds`, or until `unban`).
   * Their connections get a `removed` event and leave the room.
   *
   * @example
   * await client.ban('general', 'spammer', { seconds: 3600 });
   */
  ban(room: string, user: string, options: ModerationOptions = {}): Promise<void> {
    return this.core.moderation.ban(room, user, options);
  }

  /**
   * Moderators: lifts a ban.
   *
   * @example
   * await client.unban('general', 'spammer');
   */
  unban(room: string, user: string, options: RequestOptions = {}): Promise<void> {
    return this.core.moderation.unban(room, user, options);
  }

  /**
   * Moderators: mutes `user` in `room` (they stay and read, but cannot send, edit, react or type).
   *
   * @example
   * await client.mute('general', 'loud', { seconds: 600 });
   */
  mute(room: string, user: string, options: ModerationOptions = {}): Promise<void> {
    return this.core.moderation.mute(room, user, options);
  }

  /**
   * Moderators: lifts a mute.
   *
   * @example
   * await client.unmute('general', 'loud');
   */
  unmute(room: string, user: string, options: RequestOptions = {}): Promise<void> {
    return this.core.moderation.unmute(room, user, options);
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
  history(room: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    return this.core.rooms.history(room, options);
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
    return this.core.status.setStatus(status, text, options);
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
    return this.core.status.presence(target, options);
  }

  /**
   * Tells the room you are typing. Cheap to call on every keystroke: at most
   * one frame per room per `typingThrottleMs`; dropped while offline.
   *
   * @example
   * input.addEventListener('input', () => void client.typing('general'));
   */
  typing(room: string): Promise<void> {
    return this.core.messages.typing(room);
  }

  /**
   * Round trip to the server; resolves with the time it took in ms.
   *
   * @example
   * console.log(`latency ${await client.ping()} ms`);
   */
  async ping(options: RequestOptions = {}): Promise<number> {
    const start = Date.now();
    await this.core.queue.request('ping', {}, options.timeoutMs);
    return Date.now() - start;
  }
}
