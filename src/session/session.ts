/**
 * One object per WebSocket connection: identity, joined rooms, rate buckets
 * and the outbound path with its slow-consumer guard. It knows nothing of
 * `ws`: the transport hands it a Conn.
 */
import type { Identity } from '../auth/identity.js';
import type { Limits } from '../config.js';
import { CloseCodes } from '../protocol/codes.js';
import type { ErrorBody } from '../protocol/errors.js';
import { compareMessageIds } from '../protocol/ids.js';
import { TokenBucket } from './rate.js';

/**
 * A server frame encoded once for many connections: its JSON bytes and the
 * complete wire frame the transport can write as is.
 */
export interface PreparedFrame {
  readonly payload: Buffer;
  readonly wire: Buffer;
  /** The frame's JSON text (`{"type":…}`). */
  readonly json: string;
  /**
   * This frame in another transport's encoding (e.g. a Socket.IO packet),
   * built by `encode` on first use and kept with the frame, so a fan-out
   * encodes it once, not once per member. `encode` is the cache key: pass the
   * same function every time.
   */
  encoded<T>(encode: FrameEncoder<T>): T;
}

/** Builds another transport's encoding of a frame from its JSON text. */
export type FrameEncoder<T> = (json: string) => T;

/** Encodes a JSON frame once for a fan-out (provided by the transport). */
export type FramePreparer = (json: string) => PreparedFrame;

/** The transport side of a connection. */
export interface Conn {
  send(data: Buffer | string): void;
  /** Writes a frame prepared once for a whole fan-out. */
  sendPrepared(frame: PreparedFrame): void;
  close(code: number, reason: string): void;
  /** Drops the socket without a closing handshake. */
  terminate(): void;
  /** Bytes accepted by send() that the kernel has not taken yet. */
  readonly bufferedAmount: number;
}

/** Per-room state of one connection. */
export interface RoomState {
  /**
   * Live events of the room (messages, changes, presence, typing) are held
   * here while a join is being answered, so the reply goes first and nothing
   * is sent twice. Null once the join is done. Bounded: held bytes count
   * toward `maxBufferedBytes` like unsent bytes do, and a connection over it
   * is closed as a slow consumer (4008; its client rejoins with `since`).
   */
  buffer: Array<{ id: string; frame: PreparedFrame; change?: true; event?: true }> | null;
  /** Wire bytes held in `buffer`. */
  heldBytes?: number;
  /**
   * Highest message id covered by the join reply (history or `since` batch).
   * Live events at or below it are dropped: the client has them already.
   */
  floor: string | null;
  /** Set while live events may still carry ids at or below `floor`. */
  filtering: boolean;
  /**
   * Highest change id (edit, delete, reaction) covered by a `join since`
   * reply, whose messages and `changed` carry the state after it. Live
   * change events at or below it are dropped. Null: every change event is sent.
   */
  changeFloor?: string | null;
  /** Set while live change events may still carry ids at or below `changeFloor`. */
  changeFiltering?: boolean;
}

export interface SessionHooks {
  onSlowConsumer(session: Session): void;
}

export class Session {
  readonly rooms = new Map<string, RoomState>();
  readonly user: string;
  /** Ms time the connection opened. */
  readonly since = Date.now();
  closed = false;
  readonly sendBucket: TokenBucket;
  readonly typingBucket: TokenBucket;
  /** Every command, whatever its type (join/status/presence floods fan out to others). */
  readonly commandBucket: TokenBucket;

  constructor(
    readonly connId: string,
    readonly identity: Identity,
    private readonly conn: Conn,
    private readonly limits: Limits,
    private readonly hooks: SessionHooks,
  ) {
    this.user = identity.user;
    this.sendBucket = new TokenBucket(limits.sendRate, limits.sendBurst);
    this.typingBucket = new TokenBucket(limits.typingRate, Math.max(1, limits.typingRate));
    this.commandBucket = new TokenBucket(limits.commandRate, limits.commandBurst);
  }

  get name(): string | undefined {
    return this.identity.name;
  }

  /**
   * True when something may be written now: the session is open and the
   * client is not too far behind (else it is closed with 4008 and false).
   */
  writable(): boolean {
    if (this.closed) return false;
    if (this.conn.bufferedAmount > this.limits.maxBufferedBytes) {
      this.slowConsumer();
      return false;
    }
    return true;
  }

  /** Writes one frame unless the client is too far behind (then closes it with 4008). */
  send(frame: Buffer | string): void {
    if (this.writable()) this.conn.send(frame);
  }

  /** Like send(), for a frame encoded once for many connections. */
  sendPrepared(frame: PreparedFrame): void {
    if (this.writable()) this.conn.sendPrepared(frame);
  }

  /** Holds a live event while its room's join is being answered; false when the join is done. */
  private hold(st: RoomState, entry: { id: string; frame: PreparedFrame; change?: true; event?: true }): boolean {
    const buffer = st.buffer;
    if (!buffer) return false;
    if (this.closed) return true; // nothing more for a closed connection
    const held = (st.heldBytes ?? 0) + entry.frame.wire.length;
    if (held + this.conn.bufferedAmount > this.limits.maxBufferedBytes) {
      // A slow join under a busy room: do not grow without bound; the client recovers with `join since`.
      buffer.length = 0;
      st.heldBytes = 0;
      this.slowConsumer();
      return true;
    }
    st.heldBytes = held;
    buffer.push(entry);
    return true;
  }

  /** Delivers a live `message` event of a joined room (its state `st`), once. */
  pushMessage(st: RoomState, id: string, frame: PreparedFrame): void {
    if (st.buffer) {
      this.hold(st, { id, frame });
      return;
    }
    if (st.filtering) {
      if (st.floor !== null && compareMessageIds(id, st.floor) <= 0) return;
      st.filtering = false;
    }
    this.sendPrepared(frame);
  }

  /** Delivers a live change event (`edited`, `deleted`, `reaction`) of a joined room, unless the join reply covered it. */
  pushChange(st: RoomState, id: string, frame: PreparedFrame): void {
    if (st.buffer) {
      this.hold(st, { id, frame, change: true });
      return;
    }
    if (st.changeFiltering) {
      const floor = st.changeFloor;
      if (floor != null && compareMessageIds(id, floor) <= 0) return;
      st.changeFiltering = false;
    }
    this.sendPrepared(frame);
  }

  /** Delivers a room's ephemeral event (presence, typing): held like messages until the join reply is out. */
  pushEvent(st: RoomState, frame: PreparedFrame): void {
    if (st.buffer) {
      this.hold(st, { id: '', frame, event: true });
      return;
    }
    this.sendPrepared(frame);
  }

  /** Ends a join: sends what arrived meanwhile (in arrival order), skipping what the reply already covered. */
  flushRoom(room: string): void {
    const st = this.rooms.get(room);
    if (!st || !st.buffer) return;
    const held = st.buffer;
    st.buffer = null;
    st.heldBytes = 0;
    st.filtering = st.floor !== null;
    st.changeFiltering = st.changeFloor != null;
    for (const { id, frame, change, event } of held) {
      if (event) this.sendPrepared(frame);
      else if (change) this.pushChange(st, id, frame);
      else this.pushMessage(st, id, frame);
    }
  }

  reply(id: number, data: unknown): void {
    this.send(`{"type":"reply","id":${id},"ok":true,"data":${JSON.stringify(data)}}`);
  }

  replyError(id: number | undefined, error: ErrorBody): void {
    if (id === undefined) this.send(JSON.stringify({ type: 'error', error }));
    else this.send(JSON.stringify({ type: 'reply', id, ok: false, error }));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close(code, reason);
  }

  private slowConsumer(): void {
    if (this.closed) return;
    this.hooks.onSlowConsumer(this);
    this.close(CloseCodes.SLOW_CONSUMER, 'slow consumer');
    // The close frame waits behind the unread data; drop the socket if it is not read in time.
    const timer = setTimeout(() => this.conn.terminate(), this.limits.slowConsumerGraceMs);
    timer.unref();
  }
}
