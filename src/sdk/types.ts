/**
 * The public types of the SDK: options, connection states, events and the
 * shapes the client hands to the app. No code here, so every module of the
 * SDK (and the app) can import it without pulling in the others.
 */
import type {
  DeletedEvent,
  EditedEvent,
  Message,
  OwnPresenceEntry,
  PresenceEntry,
  ReactionEvent,
  ReadEvent,
  RemovedEvent,
} from '../protocol/frames.js';
import type { BackoffOptions } from './backoff.js';
import type { ParleyClientError } from './errors.js';

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

/**
 * A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from the
 * `ws` package in Node 20. The third argument is `ws`'s options (request
 * headers); browsers ignore it, which is why the SDK only sends the token in a
 * header when it was given a non-browser WebSocket class.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Where a JWT travels on the upgrade request. */
export type TokenTransport = 'header' | 'query';

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
  /** Dev mode: extra query parameters of the socket URL (e.g. `{ roles: 'moderator' }` on a dev server). */
  query?: Record<string, string>;
  /** JWT mode: the token, or a function returning a fresh one for each (re)connect. */
  token?: string | (() => string | Promise<string>);
  /**
   * How the token is sent: `header` (`Authorization: Bearer`, stays out of
   * proxy and access logs; needs a WebSocket class that takes headers, such as
   * `ws` on Node) or `query` (`?token=`, the only way in a browser). Default:
   * `header` when a `WebSocket` option other than the browser's global is
   * given, else `query`.
   */
  tokenTransport?: TokenTransport;
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
  /** Messages kept per room in the client-side store (oldest dropped first). Default 5 000. */
  storeLimit?: number;
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
  /** Presence entries of the room's members (your own entry carries your true status, `invisible` included). */
  members: Array<PresenceEntry | OwnPresenceEntry>;
  count: number;
  lastMessageId: string | null;
  /** True when this was an automatic rejoin after a reconnect. */
  rejoin: boolean;
  /**
   * False when messages may be missing (a rejoin the server could not
   * recover: history trimmed or storage reset): drop what you show and reload
   * the latest history. True otherwise (also on a first join). The `reset`
   * event says the same, for older code.
   */
  recovered: boolean;
  /** Your read marker in the room (servers with read state), else null. */
  lastReadId: string | null;
  /** Messages after your marker from others, not deleted (capped at 999). */
  unread: number;
  /** The room's topic, when one is set. */
  topic?: string;
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

/** A room's read state as this client knows it. */
export interface UnreadInfo {
  room: string;
  lastReadId: string | null;
  unread: number;
}

export type EditedChange = Omit<EditedEvent, 'type'>;
export type DeletedChange = Omit<DeletedEvent, 'type'>;
export type ReactionChange = Omit<ReactionEvent, 'type'>;
export type ReadChange = Omit<ReadEvent, 'type'>;
export type RemovedChange = Omit<RemovedEvent, 'type'>;

export interface ClientEvents {
  /** A new message in a joined room (each message once, in id order per room). */
  message: (message: Message) => void;
  /** A message was edited (its new state). */
  edited: (change: EditedChange) => void;
  /** A message was deleted (it is a tombstone now). */
  deleted: (change: DeletedChange) => void;
  /** A reaction was added or removed; `count` is the emoji's count after the change. */
  reaction: (change: ReactionChange) => void;
  /**
   * The current state of a message changed: after `edited`, `deleted`,
   * `reaction` (for messages in the client's store), and for each entry of the
   * `changed` list of a rejoin (edits, deletes and reactions made while this
   * client was away). Replace your copy of `message.id` with it.
   */
  updated: (message: Message) => void;
  /** A read marker moved: yours (from any of your devices) or another member's in a joined room. */
  read: (change: ReadChange) => void;
  /** Your unread count or marker in a room changed. */
  unread: (info: UnreadInfo) => void;
  /** The server took you out of a room (e.g. `banned`); it is not rejoined. */
  removed: (change: RemovedChange) => void;
  presence: (change: PresenceChange) => void;
  typing: (change: TypingChange) => void;
  /** Connection state changed (also emitted for each reconnect attempt). */
  state: (change: StateChange) => void;
  /**
   * A room was joined or rejoined; carries fresh members and `recovered`.
   * Emitted before the rejoin's missed messages are delivered.
   */
  joined: (info: JoinedInfo) => void;
  /** The server answered `recovered: false` on a rejoin: messages may be missing, reload the history. */
  reset: (info: ResetInfo) => void;
  /** An error not tied to a request: an `error` frame, or a rejoin that was refused (`room` set). */
  error: (error: ParleyClientError, context: { room?: string }) => void;
}

export interface RequestOptions {
  /** Reply timeout, ms, counted from the call. Default `requestTimeoutMs`. */
  timeoutMs?: number;
}

export interface SendOptions {
  /** Your idempotency key; generated when absent. Reuse it to retry a send safely. */
  clientMsgId?: string;
  /** Reply timeout once the frame is on the wire, ms (queued time while offline does not count). */
  timeoutMs?: number;
  /** The id of the message this one answers (same room). */
  replyTo?: string;
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

export interface LeaveOptions extends RequestOptions {
  /** Also end your stored membership: the room leaves `rooms()` on every device. */
  forget?: boolean;
}

export interface ModerationOptions extends RequestOptions {
  /** How long the ban or mute lasts; absent = until lifted. */
  seconds?: number;
}
