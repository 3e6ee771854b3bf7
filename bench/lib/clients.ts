/**
 * The load generator's clients: one small WebSocket client per connection,
 * speaking either the Parley protocol (Parley and the relay peer, which
 * implements the same join/send/reply/message frames) or the Socket.IO v5
 * protocol over Engine.IO v4 (websocket transport only). Both are written on
 * `ws` with the same per-frame work, so the load generator costs the same
 * whatever system it drives.
 */
import WebSocket from 'ws';

export type SystemKind = 'parley' | 'relay' | 'socketio';

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

const WS_OPTS: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  skipUTF8Validation: true,
  maxPayload: 16 * 1024 * 1024,
};

export function clientUrl(kind: SystemKind, port: number, user: string): string {
  if (kind === 'socketio') {
    return `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&user=${encodeURIComponent(user)}`;
  }
  return `ws://127.0.0.1:${port}/ws?user=${encodeURIComponent(user)}&name=${encodeURIComponent(user)}`;
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
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();

  constructor(
    readonly user: string,
    private readonly ws: WebSocket,
  ) {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => this.handle(data.toString()));
    ws.on('close', (code: number) => {
      for (const cb of this.pending.values()) cb({ ok: false, error: { code: 'CLOSED', message: `closed ${code}` } });
      this.pending.clear();
      this.onClose?.(code);
    });
  }

  private handle(text: string): void {
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
    if (this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ ok: false, error: { code: 'CLOSED', message: 'socket not open' } });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ ...frame, id }));
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
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Socket.IO v5 over Engine.IO v4, default namespace, events with acks. */
class SocketIoClient implements BenchClient {
  onMessage: ((room: string, text: string, id: string) => void) | null = null;
  onOther: ((frame: OtherFrame) => void) | null = null;
  onClose: ((code: number) => void) | null = null;
  private nextAck = 0;
  private readonly pending = new Map<number, (r: Reply) => void>();
  connected: Promise<void>;
  private markConnected: () => void = () => {};

  constructor(
    readonly user: string,
    private readonly ws: WebSocket,
  ) {
    this.connected = new Promise((r) => (this.markConnected = r));
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => this.handle(data.toString()));
    ws.on('close', (code: number) => {
      for (const cb of this.pending.values()) cb({ ok: false, error: { code: 'CLOSED', message: `closed ${code}` } });
      this.pending.clear();
      this.onClose?.(code);
    });
  }

  private handle(text: string): void {
    const eio = text.charCodeAt(0);
    if (eio === 0x32 /* 2 ping */) {
      this.ws.send('3');
      return;
    }
    if (eio === 0x30 /* 0 open */) {
      this.ws.send('40');
      return;
    }
    if (eio !== 0x34 /* 4 message */) return;
    const sio = text.charCodeAt(1);
    if (sio === 0x32 /* 2 event */) {
      const start = text.indexOf('[');
      const arr = JSON.parse(text.slice(start)) as [string, ...unknown[]];
      if (arr[0] === 'message') {
        const m = arr[1] as { room: string; text: string };
        this.onMessage?.(m.room, m.text, '');
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
    if (this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ ok: false, error: { code: 'CLOSED', message: 'socket not open' } });
    }
    const id = this.nextAck++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(`42${id}${JSON.stringify([name, ...args])}`);
    });
  }

  join(room: string): Promise<Reply> {
    return this.emit('join', room);
  }

  leave(room: string): Promise<Reply> {
    return this.emit('leave', room);
  }

  send(room: string, text: string): Promise<Reply> {
    return this.emit('send', room, text);
  }

  request(): Promise<Reply> {
    return Promise.resolve({ ok: false, error: { code: 'UNSUPPORTED', message: 'Parley commands only' } });
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens one connection and resolves once it can take commands. */
export function connectClient(kind: SystemKind, port: number, user: string, timeoutMs = 10_000): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(clientUrl(kind, port, user), WS_OPTS);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`connect ${user} to :${port} timed out`));
    }, timeoutMs);
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`connect ${user} to :${port}: HTTP ${res.statusCode}`));
    });
    if (kind === 'socketio') {
      const c = new SocketIoClient(user, ws);
      c.connected.then(() => {
        clearTimeout(timer);
        resolve(c);
      }, reject);
    } else {
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new ParleyClient(user, ws));
      });
    }
  });
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
