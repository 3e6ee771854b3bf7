/**
 * A raw protocol client for black-box tests: real WebSocket, frames as JSON,
 * replies matched by id, every other frame collected in `events`.
 */
import WebSocket from 'ws';
import type { ReplyFrame } from '../../src/protocol/frames.js';

export interface Frame {
  type: string;
  [key: string]: unknown;
}

export class TestClient {
  readonly events: Frame[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private readonly pending = new Map<number, (f: ReplyFrame) => void>();
  private readonly waiters = new Set<() => void>();

  constructor(url: string, options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, options);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.opened.catch(() => undefined);
    this.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.type === 'reply' && typeof f.id === 'number' && this.pending.has(f.id)) {
        const cb = this.pending.get(f.id)!;
        this.pending.delete(f.id);
        cb(f as unknown as ReplyFrame);
      } else {
        this.events.push(f);
      }
      for (const w of this.waiters) w();
    });
  }

  /** Sends a frame with a fresh id and resolves with its reply. */
  request<D = Record<string, unknown>>(frame: Record<string, unknown>, ms = 5000): Promise<ReplyFrame<D>> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...frame, id }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${String(frame.type)} within ${ms} ms`));
      }, ms);
      this.pending.set(id, (f) => {
        clearTimeout(timer);
        resolve(f as ReplyFrame<D>);
      });
    });
  }

  /** Like request() but throws unless the reply is ok; returns its data. */
  async ok<D = Record<string, unknown>>(frame: Record<string, unknown>, ms = 5000): Promise<D> {
    const r = await this.request<D>(frame, ms);
    if (!r.ok) throw new Error(`${String(frame.type)} failed: ${r.error.code} ${r.error.message}`);
    return r.data;
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Waits for an event matching `pred` (already received or future). */
  waitFor(pred: (f: Frame) => boolean, ms = 5000, what = 'event'): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.events.find(pred);
        if (hit) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.slice(-5))}`));
      }, ms);
      if (!check()) this.waiters.add(check);
    });
  }

  /** Message events of a room, in arrival order. */
  messages(room: string): Array<{ id: string; text: string; from: string }> {
    return this.events
      .filter((f) => f.type === 'message' && f.room === room)
      .map((f) => f.message as { id: string; text: string; from: string });
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a client and waits until it is connected. */
export async function connect(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
  const c = new TestClient(url, options);
  await c.opened;
  return c;
}
