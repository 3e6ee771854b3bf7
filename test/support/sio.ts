/**
 * Socket.IO test clients: the real `socket.io-client` 4.x against a node's
 * /socket.io/, every server event collected in `events` (as frames: the
 * event name as `type`, its fields), commands sent as events with an ack.
 */
import { io, type Socket, type SocketOptions, type ManagerOptions } from 'socket.io-client';
import type { Frame } from './client.js';

export type Transport = 'websocket' | 'polling';

export type AckReply<D = Record<string, unknown>> =
  { ok: true; data: D } | { ok: false; error: { code: string; message: string } };

export class SioClient {
  readonly events: Frame[] = [];
  /** Disconnect reasons, in order. */
  readonly disconnects: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: Socket) {
    socket.onAny((event: string, fields: unknown) => {
      this.events.push({ ...(fields as Record<string, unknown>), type: event });
      for (const w of this.waiters) w();
    });
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      for (const w of this.waiters) w();
    });
  }

  /** Emits a command with an ack; resolves with the reply object. */
  async request<D = Record<string, unknown>>(event: string, payload?: unknown, ms = 5000): Promise<AckReply<D>> {
    const s = this.socket.timeout(ms);
    return (payload === undefined ? s.emitWithAck(event) : s.emitWithAck(event, payload)) as Promise<AckReply<D>>;
  }

  /** Like request() but throws unless ok; returns its data. */
  async ok<D = Record<string, unknown>>(event: string, payload?: unknown, ms = 5000): Promise<D> {
    const r = await this.request<D>(event, payload, ms);
    if (!r.ok) throw new Error(`${event} failed: ${r.error.code} ${r.error.message}`);
    return r.data;
  }

  /** Waits until `pred` holds (checked on every event and disconnect). */
  until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!pred()) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.slice(-5))}`));
      }, ms);
      if (!check()) this.waiters.add(check);
    });
  }

  /** Waits for an event matching `pred` (already received or future). */
  async waitFor(pred: (f: Frame) => boolean, ms = 5000, what = 'event'): Promise<Frame> {
    await this.until(() => this.events.some(pred), ms, what);
    return this.events.find(pred)!;
  }

  /** Message events of a room, in arrival order. */
  messages(room: string): Array<{ id: string; text: string; from: string }> {
    return this.events
      .filter((f) => f.type === 'message' && f.room === room)
      .map((f) => f.message as { id: string; text: string; from: string });
  }

  close(): void {
    this.socket.close();
  }
}

/** Socket.IO client options for a test (a fresh Manager, one transport, no retries unless asked). */
export function sioOptions(
  transport: Transport,
  auth: Record<string, unknown>,
  extra: Partial<ManagerOptions & SocketOptions> = {},
): Partial<ManagerOptions & SocketOptions> {
  return { transports: [transport], auth, forceNew: true, reconnection: false, ...extra };
}

/** Connects and resolves once connected (rejects with the connect_error). */
export async function sioConnect(
  url: string,
  transport: Transport,
  auth: Record<string, unknown>,
  extra: Partial<ManagerOptions & SocketOptions> = {},
): Promise<SioClient> {
  const socket = io(url, sioOptions(transport, auth, extra));
  const client = new SioClient(socket);
  await new Promise<void>((resolve, reject) => {
    const refused = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('connect', () => {
      // Later connect_errors (failed reconnection attempts) are the test's business.
      socket.off('connect_error', refused);
      resolve();
    });
    socket.once('connect_error', refused);
  });
  return client;
}

/** Tries to connect; resolves with the connect_error (message and data), or throws if it connected. */
export async function sioRefusal(
  url: string,
  transport: Transport,
  auth: Record<string, unknown>,
  extra: Partial<ManagerOptions & SocketOptions> = {},
): Promise<{ message: string; data: { code?: string; message?: string } | undefined }> {
  try {
    const c = await sioConnect(url, transport, auth, extra);
    c.close();
  } catch (err) {
    const e = err as Error & { data?: { code?: string; message?: string } };
    return { message: e.message, data: e.data };
  }
  throw new Error('the connection was accepted');
}
