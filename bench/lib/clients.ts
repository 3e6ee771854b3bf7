/**
 * The load generator's clients: one small WebSocket client per connection,
 * speaking either the Parley protocol (Parley and the relay peer, which
 * implements the same join/send/reply/message frames) or the Socket.IO v5
 * protocol over Engine.IO v4 (websocket transport only). Both are written on
 * the same lean WebSocket client (rawws.ts) with the same per-frame work, so
 * the load generator costs the same whatever system it drives.
 */
import { connectRaw, type RawWs } from './rawws.js';

export type SystemKind = 'parley' | 'relay' | 'socketio' | 'parleysio';

/** Parley itself, over /ws or over /socket.io/ (Parley-shaped events with acks). */
export function isParley(kind: SystemKind): boolean {
  return kind === 'parley' || kind === 'parleysio';
}

export interface ReplyError {
  code: string;
  message: string;
}

export interface Reply {
  ok: boolean;
  data?: unknown;
  error?: ReplyError;
}

/** Any other server frame (presence, typing, error), parsed. */
export type OtherFrame = Record<string, unknown> & { type?: string };

export interface BenchClient {
  readonly user: string;
  /** Every chat message event: room, text, message id (empty when the system has none). */
  onMessage: ((room: string, text: string, id: string) => void) | null;
  /** Every other event frame (Parley protocol only). */
  onOther: ((frame: OtherFrame) => void) | null;
  /** Called once when the socket closes. */
  onClose: ((code: number) => void) | null;
  join(room: string, since?: string): Promise<Reply>;
  leave(room: string): Promise<Reply>;
  send(room: string, text: string): Promise<Reply>;
  /** A raw Parley command (Parley only); `id` is added. */
  request(frame: Record<string, unknown>): Promise<Reply>;
  isOpen(): boolean;
  close(): void;
}

/** Request path of the WebSocket upgrade (dev-mode identity in the query). */
export function clientPath(kind: SystemKind, user: string): string {
  if (kind === 'socketio' || kind === 'parleysio')
    return `/socket.io/?EIO=4&transport=websocket&user=${encodeURIComponent(user)}`;
  return `/ws?user=${encodeURIComponent(user)}&name=${encodeURIComponent(user)}`;
}

const NOT_OPEN: Reply = { ok: false, error: { code: 'CLOSED', message: 'socket not open' } };

const MESSAGE_PREFIX = '{"type":"message"';
const SIO_MESSAGE_PREFIX = '42["message",';

/** The value of a string field `"name":"..."` whose value holds no escapes, or null. */
function plainField(text: string, name: string): string | null {
  const key = `"${name}":"`;
  const at = text.indexOf(key);
  if (at < 0) return null;
  const start = at + key.length;
  const end = text.indexOf('"', start);
  if (end < 0) return null;
  const value = text.slice(start, end);
  return value.includes('\\') ? null : value;
}

/** room, text and id of a chat event frame without JSON.parse (null: take the slow path). */
function scanMessage(text: string): { room: string; text: string; id: string } | null {
  const body = plainField(text, 'text');
  const room = plainField(text, 'room');
  if (body === null || room === null) return null;
  return { room, text: body, id: plainField(text, 'id') ?? '' };
}

interface MessageFrame {
  type: 'message';
  room: string;
  message: { id?: string; text: string };
}

interface ReplyFrame {
  type: 'reply';
  id: number;
  ok: boolean;
  data?: unknown;
  error?: ReplyError;
}

class ParleyClient implements BenchClient {
  onMessage: ((room: string, text: string, id: string) => void) | null = null;
  onOther: ((frame: OtherFrame) => void) | null = null;
  onClose: ((code: number) => void) | null = null;
  ws: RawWs | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();

  constructor(readonly user: string) {}

  closed(code: number): void {
    for (const cb of this.pending.values()) cb({ ok: false, error: { code: 'CLOSED', message: `closed ${code}` } });
    this.pending.clear();
    this.onClose?.(code);
  }

  handle(text: string): void {
    // Fast path for chat events (both Parley and the relay write `type` first), so that the
    // generator's cost per delivery stays small: ids and texts need no JSON unescaping here.
    if (text.startsWith(MESSAGE_PREFIX) && this.onMessage) {
      const fast = scanMessage(text);
      if (fast) {
        this.onMessage(fast.room, fast.text, fast.id);
        return;
      }
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const f = frame as { type?: unknown };
    if (f.type === 'message') {
      const m = frame as MessageFrame;
      this.onMessage?.(m.room, m.message.text, m.message.id ?? '');
    } else if (f.type === 'reply') {
      const r = frame as ReplyFrame;
      const cb = this.pending.get(r.id);
      if (cb) {
        this.pending.delete(r.id);
        cb({ ok: r.ok, data: r.data, error: r.error });
      }
    } else {
      this.onOther?.(frame as OtherFrame);
    }
  }

  request(frame: Record<string, unknown>): Promise<Reply> {
    const ws = this.ws;
    if (!ws?.isOpen()) return Promise.resolve(NOT_OPEN);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  join(room: string, since?: string): Promise<Reply> {
    return this.request(since === undefined ? { type: 'join', room } : { type: 'join', room, since });
  }

  leave(room: string): Promise<Reply> {
    return this.request({ type: 'leave', room });
  }

  send(room: string, text: string): Promise<Reply> {
    return this.request({ type: 'send', room, text });
  }

  isOpen(): boolean {
    return this.ws?.isOpen() ?? false;
  }

  close(): void {
    this.ws?.close();
  }
}

/** Socket.IO v5 over Engine.IO v4, default namespace, events with acks. */
class SocketIoClient implements BenchClient {
  onMessage: ((room: string, text: string, id: string) => void) | null = null;
  onOther: ((frame: OtherFrame) => void) | null = null;
  onClose: ((code: number) => void) | null = null;
  ws: RawWs | null = null;
  private nextAck = 0;
  private readonly pending = new Map<number, (r: Reply) => void>();
  readonly connected: Promise<void>;
  private markConnected: () => void = () => {};
  private openPending = false;

  /** Sends the namespace connect if the open packet came before `ws` was set. */
  attached(): void {
    if (this.openPending && this.ws) {
      this.openPending = false;
      this.ws.send('40');
    }
  }

  /**
   * @param parleyShape Parley's Socket.IO events (`join {room}`, `send {room, text}`, `message {room, message}`)
   *   instead of the Socket.IO peer's (`join room`, `send room text`, `message {room, text}`).
   */
  constructor(
    readonly user: string,
    private readonly parleyShape = false,
  ) {
    this.connected = new Promise((r) => (this.markConnected = r));
  }

  closed(code: number): void {
    for (const cb of this.pending.values()) cb({ ok: false, error: { code: 'CLOSED', message: `closed ${code}` } });
    this.pending.clear();
    this.onClose?.(code);
  }

  handle(text: string): void {
    const eio = text.charCodeAt(0);
    if (eio === 0x32 /* 2 ping */) {
      this.ws?.send('3');
      return;
    }
    if (eio === 0x30 /* 0 open */) {
      // The open packet can come with the handshake response, before `ws` is set.
      if (this.ws) this.ws.send('40');
      else this.openPending = true;
      return;
    }
    if (eio !== 0x34 /* 4 message */) return;
    const sio = text.charCodeAt(1);
    if (sio === 0x32 /* 2 event */) {
      if (!this.parleyShape && text.startsWith(SIO_MESSAGE_PREFIX) && this.onMessage) {
        const fast = scanMessage(text);
        if (fast) {
          this.onMessage(fast.room, fast.text, '');
          return;
        }
      }
      const start = text.indexOf('[');
      const arr = JSON.parse(text.slice(start)) as [string, ...unknown[]];
      if (arr[0] === 'message') {
        if (this.parleyShape) {
          const m = arr[1] as { room: string; message: { id: string; text: string } };
          this.onMessage?.(m.room, m.message.text, m.message.id);
        } else {
          const m = arr[1] as { room: string; text: string };
          this.onMessage?.(m.room, m.text, '');
        }
      } else {
        this.onOther?.({ type: arr[0], args: arr.slice(1) });
      }
    } else if (sio === 0x33 /* 3 ack */) {
      const start = text.indexOf('[');
      const id = Number(text.slice(2, start));
      const args = JSON.parse(text.slice(start)) as unknown[];
      const cb = this.pending.get(id);
      if (cb) {
        this.pending.delete(id);
        const r = (args[0] ?? { ok: true }) as Reply;
        cb(r);
      }
    } else if (sio === 0x30 /* 0 connect */) {
      this.markConnected();
    }
  }

  private emit(name: string, ...args: unknown[]): Promise<Reply> {
    const ws = this.ws;
    if (!ws?.isOpen()) return Promise.resolve(NOT_OPEN);
    const id = this.nextAck++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      ws.send(`42${id}${JSON.stringify([name, ...args])}`);
    });
  }

  join(room: string): Promise<Reply> {
    return this.parleyShape ? this.emit('join', { room }) : this.emit('join', room);
  }

  leave(room: string): Promise<Reply> {
    return this.parleyShape ? this.emit('leave', { room }) : this.emit('leave', room);
  }

  send(room: string, text: string): Promise<Reply> {
    return this.parleyShape ? this.emit('send', { room, text }) : this.emit('send', room, text);
  }

  request(): Promise<Reply> {
    return Promise.resolve({ ok: false, error: { code: 'UNSUPPORTED', message: 'Parley commands only' } });
  }

  isOpen(): boolean {
    return this.ws?.isOpen() ?? false;
  }

  close(): void {
    this.ws?.close();
  }
}

/** Opens one connection and resolves once it can take commands. */
export async function connectClient(
  kind: SystemKind,
  port: number,
  user: string,
  timeoutMs = 10_000,
): Promise<BenchClient> {
  const c =
    kind === 'socketio' || kind === 'parleysio'
      ? new SocketIoClient(user, kind === 'parleysio')
      : new ParleyClient(user);
  c.ws = await connectRaw(port, clientPath(kind, user), timeoutMs, {
    onText: (t) => c.handle(t),
    onClose: (code) => c.closed(code),
  });
  if (c instanceof SocketIoClient) {
    c.attached();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket.io connect ${user} timed out`)), timeoutMs);
    });
    try {
      await Promise.race([c.connected, timeout]);
    } catch (e) {
      c.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
  return c;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
