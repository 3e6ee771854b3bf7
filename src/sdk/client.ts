/**
 * The Parley client: one WebSocket to a Parley server, with request/reply
 * promises, typed events, automatic reconnect (full-jitter backoff), rejoin
 * with `since` (nothing lost, nothing twice), an offline send queue keyed by
 * `clientMsgId`, and a ping keepalive that notices dead sockets.
 *
 * Imports only the shared protocol module (types from frames.ts, plain values
 * from codes/ids), so it bundles small for browsers and runs on Node 20.
 */
import type {
  ChosenStatus,
  CommandType,
  HistoryResult,
  JoinResult,
  Message,
  PresenceEntry,
  PresenceResult,
  ResultOf,
  SendResult,
  StatusResult,
} from '../protocol/frames.js';
import type { ErrorCode } from '../protocol/codes.js';
import { CloseCodes } from '../protocol/codes.js';
import { compareMessageIds, isValidId } from '../protocol/ids.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ParleyClientError } from './errors.js';
import { RecentIds, jwtClaims, randomId, socketUrl, utf8Length } from './util.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The part of the WebSocket API the SDK uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from the `ws` package in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /**
   * Server address: `http://host:3000`, `wss://chat.example.com/ws`, or in a
   * browser a relative one such as `/` (an empty path becomes `/ws`).
   */
  url: string;
  /** Dev mode: the user id (the server does not verify it). */
  user?: string;
  /** Dev mode: the display name. */
  name?: string;
  /** JWT mode: the token, or a function returning a fresh one for each (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** The WebSocket class to use; default `globalThis.WebSocket` (pass `ws`'s on Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Reply timeout of requests, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** Reconnect automatically after the connection drops. Default true. */
  reconnect?: boolean;
  /** Reconnect backoff: full jitter, default base 500 ms, cap 30 s. */
  backoff?: BackoffOptions;
  /** A ping is sent after this long without any frame from the server, ms. Default 20 000. */
  pingIntervalMs?: number;
  /** The socket counts as dead when nothing arrives this long after a ping, ms. Default 10 000. */
  pongTimeoutMs?: number;
  /** At most one `typing` per room per this many ms. Default 2 000. */
  typingThrottleMs?: number;
  /** Requests that may wait for the connection at once. Default 1 000. */
  maxQueue?: number;
  /** Frames larger than this are refused locally (`TOO_LARGE`). Default 65 536. */
  maxFrameBytes?: number;
}

/** `idle` before connect(), then `connecting`, `connected`, `reconnecting`, and `closed` at the end. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** While reconnecting: the attempt number (1 = first retry). */
  attempt?: number;
  /** While reconnecting: ms until the next attempt. */
  delayMs?: number;
  /** The close code of the socket that just closed, if any. */
  closeCode?: number;
  reason?: string;
  /** On `closed`: why the client gave up (kicked, token expired, first connect failed). */
  error?: ParleyClientError;
}

/** What a (re)join of a room returned. */
export interface JoinedInfo {
  room: string;
  /** Presence entries of the room's members. */
  members: PresenceEntry[];
  count: number;
  lastMessageId: string | null;
  /** True when this was an automatic rejoin after a reconnect. */
  rejoin: boolean;
}

/** A presence change: `room` is absent for a user-level change (e.g. your own status on another device). */
export interface PresenceChange {
  room?: string;
  event: 'join' | 'leave' | 'update';
  member: PresenceEntry;
}

export interface TypingChange {
  room: string;
  user: string;
}

/** A room's history could not be recovered across a reconnect: reload its latest history. */
export interface ResetInfo {
  room: string;
  lastMessageId: string | null;
}

export interface ClientEvents {
  /** A new message in a joined room (each message once, in id order per room). */
  message: (message: Message) => void;
  presence: (change: PresenceChange) => void;
  typing: (change: TypingChange) => void;
  /** Connection state changed (also emitted for each reconnect attempt). */
  state: (change: StateChange) => void;
  /** A room was joined or rejoined; carries fresh members. */
  joined: (info: JoinedInfo) => void;
  /** The server answered `recovered: false` on a rejoin: messages may be missing, reload the history. */
  reset: (info: ResetInfo) => void;
  /** An error not tied to a request: an `error` frame, or a rejoin that was refused (`room` set). */
  error: (error: ParleyClientError, context: { room?: string }) => void;
}

export interface SendOptions {
  /** Your idempotency key; generated when absent. Reuse it to retry a send safely. */
  clientMsgId?: string;
  /** Reply timeout once the frame is on the wire, ms (queued time while offline does not count). */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Reply timeout, ms, counted from the call. Default `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface HistoryOptions extends RequestOptions {
  /** Only messages older than this id. */
  before?: string;
  /** Page size, default 50 (the server caps it at 200). */
  limit?: number;
}

export interface JoinOptions extends RequestOptions {
  /** Ask for the messages after this id (you already have everything up to it). */
  since?: string;
}

interface Outgoing {
  type: CommandType;
  fields: Record<string, unknown>;
  resolve: (data: unknown) => void;
  reject: (err: ParleyClientError) => void;
  /** Sends wait until their room is joined on the current connection. */
  room?: string;
  /** Per-transmission reply timeout (sends, internal requests). */
  wireTimeoutMs?: number;
  /** Internal requests are not queued nor retried: they fail when the socket drops. */
  internal?: boolean;
  id?: number;
  /** Times a send was put back after RATE_LIMITED or UNAVAILABLE. */
  rateRetries?: number;
  wireTimer?: ReturnType<typeof setTimeout>;
  deadline?: ReturnType<typeof setTimeout>;
  done?: boolean;
}

interface Waiter {
  resolve: (info: JoinedInfo) => void;
  reject: (err: ParleyClientError) => void;
}

class RoomState {
  lastId: string | null = null;
  seen = new RecentIds();
  /** Serial of the connection the room is joined on (0: none). */
  joinedOn = 0;
  joining = false;
  everJoined = false;
  /** Live events that arrive while a (re)join is in flight, delivered after its batch. */
  buffer: Message[] | null = null;
  waiters: Waiter[] = [];
  info: JoinedInfo | null = null;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  retries = 0;
  constructor(readonly name: string) {}
}

const TRANSIENT: ReadonlySet<string> = new Set(['UNAVAILABLE', 'INTERNAL', 'TIMEOUT', 'RATE_LIMITED']);

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
  private readonly backoff: Backoff;
  private socket: WebSocketLike | null = null;
  private serial = 0;
  private isOpen = false;
  private currentState: ConnectionState = 'idle';
  private userClosed = false;
  private firstConnect: { promise: Promise<void>; resolve: () => void; reject: (e: ParleyClientError) => void } | null =
    null;
  private everOpened = false;
  private readonly rooms = new Map<string, RoomState>();
  private waiting: Outgoing[] = [];
  private readonly inflight = new Map<number, Outgoing>();
  private nextId = 1;
  private sendsPausedUntil = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private pingOutstanding = false;
  private desiredStatus: { status: ChosenStatus; text?: string } | null = null;
  private readonly lastTyping = new Map<string, number>();
  private lastSocketError: string | undefined;
  private readonly onOnline = (): void => this.reconnectNow();

  /**
   * Creates a client; nothing happens on the network until `connect()`.
   *
   * @example
   * // browser, dev mode
   * const client = new ParleyClient({ url: location.origin, user: 'ann', name: 'Ann' });
   * // Node 20, JWT mode
   * import WebSocket from 'ws';
   * const bot = new ParleyClient({ url: 'ws://localhost:3000/ws', token: () => fetchToken(), WebSocket });
   */
  constructor(options: ClientOptions) {
    super();
    this.opts = { ...options };
    this.backoff = new Backoff(options.backoff);
  }

  /**
   * The current connection state.
   *
   * @example
   * if (client.state !== 'connected') showBanner('Reconnecting…');
   */
  get state(): ConnectionState {
    return this.currentState;
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
   * The rooms this client is in (or is rejoining), in join order.
   *
   * @example
   * client.joinedRooms(); // ['general', 'random']
   */
  joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /**
   * The id of the newest message seen in `room` (what a rejoin sends as `since`).
   *
   * @example
   * client.lastMessageId('general'); // '1717171717171-0'
   */
  lastMessageId(room: string): string | null {
    return this.rooms.get(room)?.lastId ?? null;
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
    if (this.currentState === 'connected' || this.currentState === 'reconnecting') return Promise.resolve();
    if (this.firstConnect) return this.firstConnect.promise;
    this.userClosed = false;
    this.everOpened = false;
    let resolve!: () => void;
    let reject!: (e: ParleyClientError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstConnect = { promise, resolve, reject };
    const win = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    win.addEventListener?.('online', this.onOnline);
    this.setState({ state: 'connecting' });
    void this.openSocket();
    return promise;
  }

  /**
   * Closes the connection for good: no reconnect; pending requests and
   * queued sends reject with `CLOSED`. `connect()` may be called again later.
   *
   * @example
   * window.addEventListener('pagehide', () => client.close());
   */
  close(): void {
    this.userClosed = true;
    this.shutdown(new ParleyClientError('CLOSED', 'the client was closed'), undefined, 'closed by the client');
  }

  /**
   * Skips the backoff wait and tries to reconnect now (e.g. from a "Retry now" button).
   *
   * @example
   * retryButton.onclick = () => client.reconnectNow();
   */
  reconnectNow(): void {
    if (this.currentState !== 'reconnecting' || this.socket) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.openSocket();
  }

  /**
   * Joins a room (and keeps it joined across reconnects until `leave`).
   * Resolves with the members; load earlier messages with `history`. While
   * offline the join waits for the connection.
   *
   * @example
   * const { members, lastMessageId } = await client.join('general');
   * const { messages } = await client.history('general');
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinedInfo> {
    if (!isValidId(room)) return Promise.reject(new ParleyClientError('BAD_REQUEST', `invalid room id "${room}"`));
    if (this.currentState === 'closed' || this.currentState === 'idle') {
      return Promise.reject(new ParleyClientError('CLOSED', 'call connect() first', { command: 'join' }));
    }
    let state = this.rooms.get(room);
    if (state && state.joinedOn === this.serial && this.isOpen && state.info) return Promise.resolve(state.info);
    if (!state) {
      state = new RoomState(room);
      if (options.since) state.lastId = options.since;
      this.rooms.set(room, state);
    }
    const st = state;
    return new Promise<JoinedInfo>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const waiter: Waiter = {
        resolve: (info) => {
          clearTimeout(timer);
          resolve(info);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        st.waiters = st.waiters.filter((w) => w !== waiter);
        reject(new ParleyClientError('TIMEOUT', `join "${room}" got no reply in ${timeoutMs} ms`, { command: 'join' }));
      }, timeoutMs);
      st.waiters.push(waiter);
      if (this.isOpen && !st.joining) void this.joinRoom(st);
    });
  }

  /**
   * Leaves a room: no more events from it, and it is not rejoined on reconnect.
   *
   * @example
   * await client.leave('random');
   */
  async leave(room: string, options: RequestOptions = {}): Promise<void> {
    const state = this.rooms.get(room);
    if (state) {
      this.rooms.delete(room);
      clearTimeout(state.retryTimer);
      const err = new ParleyClientError('NOT_JOINED', `left "${room}"`, { command: 'join' });
      for (const w of state.waiters.splice(0)) w.reject(err);
      this.waiting = this.waiting.filter((o) => {
        if (o.room !== room) return true;
        this.settle(
          o,
          new ParleyClientError('NOT_JOINED', `left "${room}" before the message was sent`, { command: 'send' }),
        );
        return false;
      });
    }
    if (!this.isOpen) return;
    await this.request('leave', { room }, options);
  }

  /**
   * Sends a message. Resolves with the stored message. While the connection is
   * down the send is queued and goes out after the room is rejoined; the
   * `clientMsgId` (generated unless given) makes the server store it once even
   * if it is transmitted twice.
   *
   * @example
   * const message = await client.send('general', 'hello <b>world</b>');
   * // retry safely after a failure with the same key:
   * await client.send('general', 'hello', { clientMsgId: 'draft-42' });
   */
  send(room: string, text: string, options: SendOptions = {}): Promise<Message> {
    if (!this.rooms.has(room)) {
      return Promise.reject(
        new ParleyClientError('NOT_JOINED', `join "${room}" before sending to it`, { command: 'send' }),
      );
    }
    const clientMsgId = options.clientMsgId ?? randomId();
    const fields = { room, text, clientMsgId };
    const size = utf8Length(JSON.stringify({ type: 'send', id: 2 ** 31, ...fields }));
    const max = this.opts.maxFrameBytes ?? 65_536;
    if (size > max) {
      return Promise.reject(
        new ParleyClientError('TOO_LARGE', `message frame is ${size} bytes, over ${max}`, { command: 'send' }),
      );
    }
    this.lastTyping.delete(room);
    return new Promise<SendResult>((resolve, reject) => {
      this.enqueue({
        type: 'send',
        fields,
        room,
        wireTimeoutMs: options.timeoutMs ?? this.timeoutMs,
        resolve: resolve as (d: unknown) => void,
        reject,
      });
    }).then((r) => r.message);
  }

  /**
   * A page of a room's history, oldest first. Without `before`: the latest
   * messages. Pass the oldest id you have as `before` to scroll back.
   *
   * @example
   * let page = await client.history('general', { limit: 50 });
   * while (page.hasMore) page = await client.history('general', { before: page.messages[0]!.id });
   */
  async history(room: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    const fields: Record<string, unknown> = { room };
    if (options.before !== undefined) fields.before = options.before;
    if (options.limit !== undefined) fields.limit = options.limit;
    const result = await this.request('history', fields, options);
    const state = this.rooms.get(room);
    if (state) for (const m of result.messages) this.markSeen(state, m);
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
  setStatus(status: ChosenStatus, text?: string, options: RequestOptions = {}): Promise<PresenceEntry> {
    this.desiredStatus = text === undefined ? { status } : { status, text };
    const fields: Record<string, unknown> = { status };
    if (text !== undefined) fields.text = text;
    return this.request('status', fields, options).then((r: StatusResult) => r.presence);
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
    return this.request('presence', fields, options);
  }

  /**
   * Tells the room you are typing. Cheap to call on every keystroke: at most
   * one frame per room per `typingThrottleMs`; dropped while offline.
   *
   * @example
   * input.addEventListener('input', () => void client.typing('general'));
   */
  async typing(room: string): Promise<void> {
    const state = this.rooms.get(room);
    if (!state || !this.isOpen || state.joinedOn !== this.serial) return;
    const now = Date.now();
    const last = this.lastTyping.get(room);
    if (last !== undefined && now - last < (this.opts.typingThrottleMs ?? 2000)) return;
    this.lastTyping.set(room, now);
    await this.internal('typing', { room }).catch(() => undefined);
  }

  /**
   * Round trip to the server; resolves with the time it took in ms.
   *
   * @example
   * console.log(`latency ${await client.ping()} ms`);
   */
  async ping(options: RequestOptions = {}): Promise<number> {
    const start = Date.now();
    await this.request('ping', {}, options);
    return Date.now() - start;
  }

  // ---------------------------------------------------------------------------
  // requests

  private get timeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 10_000;
  }

  /** A request that waits for the connection (overall timeout from the call). */
  private request<T extends CommandType>(
    type: T,
    fields: Record<string, unknown>,
    options: RequestOptions,
  ): Promise<ResultOf[T]> {
    return new Promise<ResultOf[T]>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const o: Outgoing = { type, fields, resolve: resolve as (d: unknown) => void, reject };
      o.deadline = setTimeout(() => {
        this.forget(o);
        this.settle(o, new ParleyClientError('TIMEOUT', `${type} got no reply in ${timeoutMs} ms`, { command: type }));
      }, timeoutMs);
      this.enqueue(o);
    });
  }

  /** A request on the current socket only (rejoin, status restore, typing, keepalive). */
  private internal<T extends CommandType>(
    type: T,
    fields: Record<string, unknown>,
    timeoutMs = this.timeoutMs,
  ): Promise<ResultOf[T]> {
    return new Promise<ResultOf[T]>((resolve, reject) => {
      if (!this.isOpen) {
        reject(new ParleyClientError('CLOSED', 'not connected', { command: type }));
        return;
      }
      this.transmit({
        type,
        fields,
        internal: true,
        wireTimeoutMs: timeoutMs,
        resolve: resolve as (d: unknown) => void,
        reject,
      });
    });
  }

  private enqueue(o: Outgoing): void {
    if (this.currentState === 'closed' || this.currentState === 'idle') {
      this.settle(
        o,
        new ParleyClientError('CLOSED', 'the client is not connected; call connect() first', { command: o.type }),
      );
      return;
    }
    if (this.waiting.length >= (this.opts.maxQueue ?? 1000)) {
      this.settle(
        o,
        new ParleyClientError('QUEUE_FULL', 'too many requests are waiting for the connection', { command: o.type }),
      );
      return;
    }
    this.waiting.push(o);
    this.pump();
  }

  /** Transmits every waiting request that can go now, in order. */
  private pump(): void {
    if (!this.isOpen || this.waiting.length === 0) return;
    const keep: Outgoing[] = [];
    for (const o of this.waiting) {
      if (o.done) continue;
      if (o.room !== undefined) {
        const room = this.rooms.get(o.room);
        if (!room) {
          this.settle(o, new ParleyClientError('NOT_JOINED', `not in "${o.room}"`, { command: o.type }));
          continue;
        }
        if (room.joinedOn !== this.serial || Date.now() < this.sendsPausedUntil) {
          keep.push(o);
          continue;
        }
      }
      if (!this.isOpen) {
        keep.push(o);
        continue;
      }
      this.transmit(o);
    }
    this.waiting = keep;
  }

  private transmit(o: Outgoing): void {
    const id = this.nextId++;
    o.id = id;
    this.inflight.set(id, o);
    if (o.wireTimeoutMs !== undefined) {
      const ms = o.wireTimeoutMs;
      o.wireTimer = setTimeout(() => {
        this.inflight.delete(id);
        this.settle(o, new ParleyClientError('TIMEOUT', `${o.type} got no reply in ${ms} ms`, { command: o.type }));
      }, ms);
    }
    try {
      this.socket?.send(JSON.stringify({ type: o.type, id, ...o.fields }));
    } catch {
      // the close event follows and requeues it
    }
  }

  /**
   * A send refused with RATE_LIMITED or UNAVAILABLE goes back to the head of the queue and
   * sends pause a moment (the server stored nothing; the clientMsgId keeps a
   * retry safe anyway). After 5 tries the error reaches the caller.
   */
  private retryRateLimited(o: Outgoing): void {
    clearTimeout(o.wireTimer);
    o.wireTimer = undefined;
    o.id = undefined;
    o.rateRetries = (o.rateRetries ?? 0) + 1;
    const delay = 300 * o.rateRetries + Math.floor(Math.random() * 200);
    this.sendsPausedUntil = Math.max(this.sendsPausedUntil, Date.now() + delay);
    this.waiting.unshift(o);
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.pump(), this.sendsPausedUntil - Date.now());
  }

  private forget(o: Outgoing): void {
    if (o.id !== undefined) this.inflight.delete(o.id);
    const i = this.waiting.indexOf(o);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private settle(o: Outgoing, err: ParleyClientError | null, data?: unknown): void {
    if (o.done) return;
    o.done = true;
    clearTimeout(o.wireTimer);
    clearTimeout(o.deadline);
    if (err) o.reject(err);
    else o.resolve(data);
  }

  // ---------------------------------------------------------------------------
  // connection

  private setState(change: Omit<StateChange, 'previous'>): void {
    const previous = this.currentState;
    this.currentState = change.state;
    this.emit('state', { ...change, previous });
  }

  private async openSocket(): Promise<void> {
    const serial = ++this.serial;
    this.lastSocketError = undefined;
    let url: string;
    try {
      const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (!Ctor) {
        throw new Error('no WebSocket implementation: pass { WebSocket } from the "ws" package on Node 20');
      }
      const token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
      if (serial !== this.serial || this.userClosed) return;
      url = socketUrl(this.opts.url, token ? { token } : { user: this.opts.user, name: this.opts.name });
      const ws = new Ctor(url);
      this.socket = ws;
      ws.onopen = () => {
        if (serial === this.serial) this.onOpen();
      };
      ws.onmessage = (ev: { data: unknown }) => {
        if (serial === this.serial) this.onFrame(ev.data);
      };
      ws.onerror = (ev: { message?: unknown; error?: unknown }) => {
        if (serial !== this.serial) return;
        const msg = ev?.message ?? (ev?.error instanceof Error ? ev.error.message : undefined);
        if (typeof msg === 'string') this.lastSocketError = msg;
      };
      ws.onclose = (ev: { code?: number; reason?: string }) => {
        if (serial === this.serial) this.onClosed(ev?.code ?? 1006, ev?.reason ?? '');
      };
    } catch (err) {
      if (serial !== this.serial) return;
      this.lastSocketError = err instanceof Error ? err.message : String(err);
      this.onClosed(1006, '');
    }
  }

  private onOpen(): void {
    this.isOpen = true;
    this.everOpened = true;
    this.lastFrameAt = Date.now();
    this.pingOutstanding = false;
    this.backoff.reset();
    this.startKeepalive();
    const first = this.firstConnect;
    this.firstConnect = null;
    this.setState({ state: 'connected' });
    first?.resolve();
    // Status first, so that rejoins announce the right status; then rooms; then the queue.
    if (this.desiredStatus && !this.waiting.some((o) => o.type === 'status')) {
      void this.internal('status', { ...this.desiredStatus }).catch(() => undefined);
    }
    for (const room of this.rooms.values()) {
      room.retries = 0;
      void this.joinRoom(room);
    }
    this.pump();
  }

  private onClosed(code: number, reason: string): void {
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.socket = null;
    this.stopKeepalive();
    this.dropInflight();
    for (const room of this.rooms.values()) {
      room.joining = false;
      room.buffer = null; // their ids were not recorded: the next `since` batch carries them again
      clearTimeout(room.retryTimer);
    }
    if (this.userClosed) return;

    const detail = reason || this.lastSocketError || '';
    if (!this.everOpened) {
      const err = new ParleyClientError(
        'CONNECT_FAILED',
        `could not connect to the Parley server${detail ? `: ${detail}` : ''} (close code ${code})`,
        { closeCode: code },
      );
      this.shutdown(err, code, detail);
      return;
    }
    const tokenRefresh = typeof this.opts.token === 'function';
    const fatal =
      code === CloseCodes.KICKED ||
      code === CloseCodes.POLICY ||
      (code === CloseCodes.TOKEN_EXPIRED && !tokenRefresh) ||
      this.opts.reconnect === false;
    if (fatal) {
      const what =
        code === CloseCodes.KICKED
          ? 'disconnected by the server (kicked)'
          : code === CloseCodes.TOKEN_EXPIRED
            ? 'the token expired'
            : code === CloseCodes.POLICY
              ? 'closed by the server (policy)'
              : 'the connection closed';
      this.shutdown(
        new ParleyClientError('CLOSED', `${what}${detail ? `: ${detail}` : ''}`, { closeCode: code }),
        code,
        detail,
      );
      return;
    }
    const delay = code === CloseCodes.TOKEN_EXPIRED && wasOpen ? 0 : this.backoff.next();
    this.scheduleReconnect(delay, code, detail);
  }

  private scheduleReconnect(delayMs: number, closeCode: number | undefined, reason: string): void {
    clearTimeout(this.reconnectTimer);
    const change: Omit<StateChange, 'previous'> = { state: 'reconnecting', attempt: this.backoff.attempts, delayMs };
    if (closeCode !== undefined) change.closeCode = closeCode;
    if (reason) change.reason = reason;
    this.setState(change);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openSocket();
    }, delayMs);
  }

  /** Requests on the wire go back to the queue (internal ones fail): the socket is gone. */
  private dropInflight(): void {
    const requeue: Outgoing[] = [];
    for (const o of [...this.inflight.values()].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))) {
      clearTimeout(o.wireTimer);
      o.wireTimer = undefined;
      if (o.internal) this.settle(o, new ParleyClientError('CLOSED', 'connection lost', { command: o.type }));
      else if (!o.done) requeue.push(o);
    }
    this.inflight.clear();
    this.waiting = [...requeue, ...this.waiting];
  }

  private shutdown(err: ParleyClientError, closeCode: number | undefined, reason: string): void {
    clearTimeout(this.resumeTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopKeepalive();
    const win = globalThis as { removeEventListener?: (type: string, fn: () => void) => void };
    win.removeEventListener?.('online', this.onOnline);
    const socket = this.socket;
    this.socket = null;
    this.isOpen = false;
    this.serial++;
    if (socket) {
      try {
        socket.close(1000, 'client closed');
      } catch {
        // already closed
      }
    }
    for (const o of this.inflight.values()) this.settle(o, err);
    this.inflight.clear();
    for (const o of this.waiting) this.settle(o, err);
    this.waiting = [];
    for (const room of this.rooms.values()) {
      clearTimeout(room.retryTimer);
      for (const w of room.waiters.splice(0)) w.reject(err);
    }
    this.rooms.clear();
    this.desiredStatus = null;
    const first = this.firstConnect;
    this.firstConnect = null;
    if (this.currentState !== 'closed') {
      const change: Omit<StateChange, 'previous'> = { state: 'closed', error: err };
      if (closeCode !== undefined) change.closeCode = closeCode;
      if (reason) change.reason = reason;
      this.setState(change);
    }
    first?.reject(err);
  }

  private startKeepalive(): void {
    this.stopKeepalive();
    const interval = this.opts.pingIntervalMs ?? 20_000;
    const pongTimeout = this.opts.pongTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(
      () => {
        if (!this.isOpen || this.pingOutstanding) return;
        if (Date.now() - this.lastFrameAt < interval) return;
        this.pingOutstanding = true;
        const serial = this.serial;
        const sentAt = Date.now();
        this.internal('ping', {}, pongTimeout).then(
          () => {
            this.pingOutstanding = false;
          },
          (err: ParleyClientError) => {
            this.pingOutstanding = false;
            if (err.code !== 'TIMEOUT' || serial !== this.serial || this.lastFrameAt > sentAt) return;
            this.killDeadSocket();
          },
        );
      },
      Math.max(50, Math.min(interval, 1000)),
    );
  }

  private stopKeepalive(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  /** No answer to a ping: the socket is dead even if it was never told. Drop it and reconnect. */
  private killDeadSocket(): void {
    const socket = this.socket;
    this.serial++; // ignore whatever the old socket still says
    if (socket) {
      const s = socket as WebSocketLike & { terminate?: () => void };
      try {
        if (typeof s.terminate === 'function') s.terminate();
        else s.close(4000, 'ping timeout');
      } catch {
        // nothing to do
      }
    }
    this.lastSocketError = 'no reply to ping';
    this.onClosed(1006, 'no reply to ping');
  }

  // ---------------------------------------------------------------------------
  // rooms

  private async joinRoom(room: RoomState): Promise<void> {
    if (!this.isOpen || room.joining) return;
    clearTimeout(room.retryTimer);
    room.joining = true;
    room.buffer = [];
    const serial = this.serial;
    const since = room.lastId;
    const rejoin = room.everJoined;
    const fields: Record<string, unknown> = { room: room.name };
    if (since !== null) fields.since = since;
    let data: JoinResult;
    let missed: Message[];
    let reset: boolean;
    try {
      data = await this.internal('join', fields);
      missed = data.messages ?? [];
      reset = since !== null && data.recovered === false;
      if (since === null && rejoin && data.lastMessageId !== null) {
        // We had seen nothing in this room; fetch what was sent while we were away.
        try {
          const page = await this.internal('history', { room: room.name, limit: 200 });
          missed = page.messages;
          if (page.hasMore) reset = true;
        } catch {
          reset = true;
        }
      }
    } catch (e) {
      const err = e as ParleyClientError;
      if (serial !== this.serial || this.rooms.get(room.name) !== room) return;
      room.joining = false;
      room.buffer = null;
      this.onJoinFailed(room, err);
      return;
    }
    if (serial !== this.serial || this.rooms.get(room.name) !== room) return;

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
    for (const m of missed) this.deliver(room, m);
    for (const m of buffered) this.deliver(room, m);
    const info: JoinedInfo = {
      room: room.name,
      members: data.members,
      count: data.count,
      lastMessageId: data.lastMessageId,
      rejoin,
    };
    room.info = info;
    for (const w of room.waiters.splice(0)) w.resolve(info);
    this.emit('joined', info);
    if (reset) this.emit('reset', { room: room.name, lastMessageId: data.lastMessageId });
    this.pump();
  }

  private onJoinFailed(room: RoomState, err: ParleyClientError): void {
    if (err.code === 'CLOSED') return; // the socket dropped: the next connection rejoins
    if (room.everJoined && TRANSIENT.has(err.code)) {
      // Storage hiccup or a slow server: keep the room and try again on this connection.
      const delay = Math.min(10_000, 250 * 2 ** Math.min(room.retries++, 6));
      room.retryTimer = setTimeout(() => void this.joinRoom(room), delay);
      return;
    }
    // A first join that failed, or a rejoin the server refuses (e.g. FORBIDDEN): give the room up.
    this.rooms.delete(room.name);
    for (const w of room.waiters.splice(0)) w.reject(err);
    this.waiting = this.waiting.filter((o) => {
      if (o.room !== room.name) return true;
      this.settle(o, err);
      return false;
    });
    if (room.everJoined) this.emit('error', err, { room: room.name });
  }

  private markSeen(room: RoomState, m: Message): void {
    room.seen.add(m.id);
    if (room.lastId === null || compareMessageIds(m.id, room.lastId) > 0) room.lastId = m.id;
  }

  private deliver(room: RoomState, m: Message): void {
    if (!room.seen.add(m.id)) return;
    if (room.lastId === null || compareMessageIds(m.id, room.lastId) > 0) room.lastId = m.id;
    this.emit('message', m);
  }

  // ---------------------------------------------------------------------------
  // inbound frames

  private onFrame(raw: unknown): void {
    this.lastFrameAt = Date.now();
    if (typeof raw !== 'string') return;
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null) return;
      frame = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'reply': {
        const o = this.inflight.get(frame.id as number);
        if (!o) return;
        this.inflight.delete(frame.id as number);
        if (frame.ok === true) this.settle(o, null, frame.data);
        else {
          const body = (frame.error ?? {}) as { code?: ErrorCode; message?: string };
          const err = new ParleyClientError(body.code ?? 'INTERNAL', body.message ?? 'request failed', {
            command: o.type,
            fromServer: true,
          });
          // Both mean "nothing was stored, retry is safe": the send keeps its clientMsgId, so it is stored once.
          if (
            o.type === 'send' &&
            (err.code === 'RATE_LIMITED' || err.code === 'UNAVAILABLE') &&
            (o.rateRetries ?? 0) < 5 &&
            !o.done
          ) {
            this.retryRateLimited(o);
            return;
          }
          this.settle(o, err);
        }
        this.pump();
        return;
      }
      case 'message': {
        const m = frame.message as Message | undefined;
        if (!m || typeof m.id !== 'string') return;
        const room = this.rooms.get(m.room ?? (frame.room as string));
        if (!room) return;
        if (room.buffer) room.buffer.push(m);
        else if (room.joinedOn === this.serial) this.deliver(room, m);
        return;
      }
      case 'presence': {
        const change: PresenceChange = {
          event: frame.event as PresenceChange['event'],
          member: frame.member as PresenceEntry,
        };
        if (typeof frame.room === 'string') change.room = frame.room;
        this.emit('presence', change);
        return;
      }
      case 'typing':
        this.emit('typing', { room: frame.room as string, user: frame.user as string });
        return;
      case 'error': {
        const body = (frame.error ?? {}) as { code?: ErrorCode; message?: string };
        this.emit(
          'error',
          new ParleyClientError(body.code ?? 'INTERNAL', body.message ?? 'server error', { fromServer: true }),
          {},
        );
        return;
      }
      default:
        return;
    }
  }
}
