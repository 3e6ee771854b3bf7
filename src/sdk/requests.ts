/**
 * The request queue of the SDK: request/reply correlation by `id`, requests
 * waiting for the connection (and room-bound ones for their room's join),
 * reply timeouts, requeueing of what was on the wire when a socket dropped,
 * and the retry of sends the server refused with RATE_LIMITED or UNAVAILABLE
 * (nothing stored; the same clientMsgId keeps the retry safe).
 */
import type { CommandType, ResultOf } from '../protocol/frames.js';
import type { ErrorCode } from '../protocol/codes.js';
import { ParleyClientError } from './errors.js';

/** One request, from the call until it settles. */
export interface Outgoing {
  type: CommandType;
  fields: Record<string, unknown>;
  resolve: (data: unknown) => void;
  reject: (err: ParleyClientError) => void;
  /** Room-bound requests (send, edit, react, ...) wait until their room is joined on the current connection. */
  room?: string;
  /** Per-transmission reply timeout (sends, internal requests). */
  wireTimeoutMs?: number;
  /** Internal requests are not queued nor retried: they fail when the socket drops. */
  internal?: boolean;
  /** Refusals with RATE_LIMITED or UNAVAILABLE are retried (the server stored nothing). */
  retryRefusals?: boolean;
  id?: number;
  /** Times it was put back after RATE_LIMITED or UNAVAILABLE. */
  retries?: number;
  wireTimer?: ReturnType<typeof setTimeout>;
  deadline?: ReturnType<typeof setTimeout>;
  done?: boolean;
}

/** Whether a room-bound request may go out now. */
export type RoomGate = 'ready' | 'wait' | 'gone';

export interface QueueDeps {
  /** True once connect() was called and the client is not closed. */
  active(): boolean;
  /** True while a socket is open. */
  isOpen(): boolean;
  /** Writes a frame on the open socket. */
  write(text: string): void;
  /** Is the room joined on the current connection (`ready`), being (re)joined (`wait`), or not ours (`gone`)? */
  roomGate(room: string): RoomGate;
}

/** How many times a refused request is retried before its error reaches the caller. */
export const MAX_REFUSAL_RETRIES = 5;

/** Requests waiting for the connection and requests on the wire. */
export class RequestQueue {
  private waiting: Outgoing[] = [];
  private readonly inflight = new Map<number, Outgoing>();
  private nextId = 1;
  private pausedUntil = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly deps: QueueDeps,
    readonly timeoutMs: number,
    private readonly maxQueue: number,
  ) {}

  /** A request that waits for the connection (overall timeout from the call). */
  request<T extends CommandType>(type: T, fields: Record<string, unknown>, timeoutMs?: number): Promise<ResultOf[T]> {
    return new Promise<ResultOf[T]>((resolve, reject) => {
      const ms = timeoutMs ?? this.timeoutMs;
      const o: Outgoing = { type, fields, resolve: resolve as (d: unknown) => void, reject };
      o.deadline = setTimeout(() => {
        this.forget(o);
        this.settle(o, new ParleyClientError('TIMEOUT', `${type} got no reply in ${ms} ms`, { command: type }));
      }, ms);
      this.enqueue(o);
    });
  }

  /**
   * A request bound to a joined room: waits (while offline, or while the room
   * is rejoined) without a deadline; `wireTimeoutMs` counts once on the wire.
   */
  roomRequest<T extends CommandType>(
    type: T,
    room: string,
    fields: Record<string, unknown>,
    wireTimeoutMs: number | undefined,
    retryRefusals: boolean,
  ): Promise<ResultOf[T]> {
    return new Promise<ResultOf[T]>((resolve, reject) => {
      this.enqueue({
        type,
        fields,
        room,
        retryRefusals,
        wireTimeoutMs: wireTimeoutMs ?? this.timeoutMs,
        resolve: resolve as (d: unknown) => void,
        reject,
      });
    });
  }

  /** A request on the current socket only (rejoin, status restore, typing, keepalive). */
  internal<T extends CommandType>(
    type: T,
    fields: Record<string, unknown>,
    timeoutMs = this.timeoutMs,
  ): Promise<ResultOf[T]> {
    return new Promise<ResultOf[T]>((resolve, reject) => {
      if (!this.deps.isOpen()) {
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

  /** True when a request of `type` is waiting for the connection. */
  hasWaiting(type: CommandType): boolean {
    return this.waiting.some((o) => o.type === type && !o.done);
  }

  private enqueue(o: Outgoing): void {
    if (!this.deps.active()) {
      this.settle(
        o,
        new ParleyClientError('CLOSED', 'the client is not connected; call connect() first', { command: o.type }),
      );
      return;
    }
    if (this.waiting.length >= this.maxQueue) {
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
  pump(): void {
    if (!this.deps.isOpen() || this.waiting.length === 0) return;
    const keep: Outgoing[] = [];
    for (const o of this.waiting) {
      if (o.done) continue;
      if (o.room !== undefined) {
        const gate = this.deps.roomGate(o.room);
        if (gate === 'gone') {
          this.settle(o, new ParleyClientError('NOT_JOINED', `not in "${o.room}"`, { command: o.type }));
          continue;
        }
        if (gate === 'wait' || Date.now() < this.pausedUntil) {
          keep.push(o);
          continue;
        }
      }
      if (!this.deps.isOpen()) {
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
    this.deps.write(JSON.stringify({ type: o.type, id, ...o.fields }));
  }

  /** Settles the request a `reply` frame answers. */
  onReply(frame: Record<string, unknown>): void {
    const id = frame.id;
    if (typeof id !== 'number') return;
    const o = this.inflight.get(id);
    if (!o) return;
    this.inflight.delete(id);
    if (frame.ok === true) this.settle(o, null, frame.data);
    else {
      const body = (frame.error ?? {}) as { code?: ErrorCode; message?: string };
      const err = new ParleyClientError(body.code ?? 'INTERNAL', body.message ?? 'request failed', {
        command: o.type,
        fromServer: true,
      });
      // Both mean "nothing was stored, retry is safe" (a send keeps its clientMsgId, so it is stored once).
      if (
        o.retryRefusals &&
        (err.code === 'RATE_LIMITED' || err.code === 'UNAVAILABLE') &&
        (o.retries ?? 0) < MAX_REFUSAL_RETRIES &&
        !o.done
      ) {
        this.retryLater(o);
        return;
      }
      this.settle(o, err);
    }
    this.pump();
  }

  /**
   * A refused request goes back to the head of the queue and room-bound
   * requests pause a moment. After MAX_REFUSAL_RETRIES the error reaches the caller.
   */
  private retryLater(o: Outgoing): void {
    clearTimeout(o.wireTimer);
    o.wireTimer = undefined;
    o.id = undefined;
    o.retries = (o.retries ?? 0) + 1;
    const delay = 300 * o.retries + Math.floor(Math.random() * 200);
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
    this.waiting.unshift(o);
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.pump(), this.pausedUntil - Date.now());
  }

  /** The socket is gone: requests on the wire go back to the queue, in id order (internal ones fail). */
  dropInflight(): void {
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

  /** Rejects every request (the client closed). */
  failAll(err: ParleyClientError): void {
    clearTimeout(this.resumeTimer);
    for (const o of this.inflight.values()) this.settle(o, err);
    this.inflight.clear();
    for (const o of this.waiting) this.settle(o, err);
    this.waiting = [];
  }

  /** Rejects the waiting requests bound to `room` (left, removed, or its rejoin was refused). */
  failRoom(room: string, err: (o: Outgoing) => ParleyClientError): void {
    this.waiting = this.waiting.filter((o) => {
      if (o.room !== room) return true;
      this.settle(o, err(o));
      return false;
    });
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
}
