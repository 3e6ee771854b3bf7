/**
 * The bench's own moving parts that a wrong figure would hide: the load
 * generator's lean WebSocket client (framing edge cases against `ws`), its
 * Socket.IO protocol client against a real Socket.IO server, the connect
 * window and failure count of the connect storm, and the percentile helper. The whole bench runs in CI as `npm run bench:quick`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectClient } from '../bench/lib/clients.js';
import { connectRaw } from '../bench/lib/rawws.js';
import { connectAll } from '../bench/load/common.js';
import { latencyStats } from '../bench/lib/types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function wsServer(onConn: (ws: WebSocket) => void): Promise<number> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', onConn);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => r());
      }),
  );
  return (http.address() as AddressInfo).port;
}

function collector(): {
  texts: string[];
  closed: Promise<number>;
  onText: (t: string) => void;
  onClose: (c: number) => void;
} {
  const texts: string[] = [];
  let done: (c: number) => void = () => {};
  const closed = new Promise<number>((r) => (done = r));
  return { texts, closed, onText: (t) => texts.push(t), onClose: (c) => done(c) };
}

const waitFor = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('bench raw WebSocket client', () => {
  it('reads frames of every length encoding, fragmented, and in one burst; echoes through the server', async () => {
    const sizes = [0, 1, 125, 126, 127, 65535, 65536, 200_000];
    const port = await wsServer((ws) => {
      ws.on('message', (d: Buffer) => ws.send(d.toString()));
      for (const n of sizes) ws.send('x'.repeat(n));
      ws.send('frag', { fin: false });
      ws.send('mented', { fin: true });
      ws.send('é✓');
    });
    const c = collector();
    const ws = await connectRaw(port, '/', 3000, c);
    cleanups.push(() => ws.close());
    await waitFor(() => c.texts.length === sizes.length + 2);
    expect(c.texts.map((t) => t.length)).toEqual([...sizes, 'fragmented'.length, 2]);
    expect(c.texts.at(-2)).toBe('fragmented');
    expect(c.texts.at(-1)).toBe('é✓');
    for (const n of [5, 300, 70_000]) ws.send('y'.repeat(n));
    await waitFor(() => c.texts.length === sizes.length + 5);
    expect(c.texts.slice(-3).map((t) => t.length)).toEqual([5, 300, 70_000]);
  });

  it('answers pings, reports the close code, and rejects a refused upgrade with its status', async () => {
    let pongs = 0;
    let server: WebSocket | null = null;
    const port = await wsServer((ws) => {
      server = ws;
      ws.on('pong', () => pongs++);
    });
    const c = collector();
    const ws = await connectRaw(port, '/', 3000, c);
    await waitFor(() => server !== null);
    (server as unknown as WebSocket).ping('hi');
    await waitFor(() => pongs === 1);
    (server as unknown as WebSocket).close(4008, 'slow');
    expect(await c.closed).toBe(4008);
    expect(ws.isOpen()).toBe(false);

    const http: Server = createServer((_req, res) => res.writeHead(401).end());
    http.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => http.close(() => r())));
    const refused = connectRaw((http.address() as AddressInfo).port, '/', 3000, collector());
    await expect(refused).rejects.toThrow(/401/);
  });
});

describe('bench Socket.IO protocol client', () => {
  it('connects over the websocket transport, emits with acks and receives room events', async () => {
    const http = createServer();
    const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false });
    io.on('connection', (socket) => {
      socket.on('join', (room: string, ack: (r: { ok: boolean }) => void) => {
        void socket.join(room);
        ack({ ok: true });
      });
      socket.on('send', (room: string, text: string, ack: (r: { ok: boolean }) => void) => {
        io.to(room).emit('message', { room, from: 'x', text, ts: Date.now() });
        ack({ ok: true });
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => void io.close(() => r())));
    const port = (http.address() as AddressInfo).port;

    const a = await connectClient('socketio', port, 'a');
    const b = await connectClient('socketio', port, 'b');
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const got: string[] = [];
    b.onMessage = (room, text) => got.push(`${room}:${text}`);
    expect((await a.join('r1')).ok).toBe(true);
    expect((await b.join('r1')).ok).toBe(true);
    expect((await a.send('r1', 'he said "hi" \\o/')).ok).toBe(true);
    expect((await a.send('r1', 'b|7|1.000|xx')).ok).toBe(true);
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['r1:he said "hi" \\o/', 'r1:b|7|1.000|xx']);
  });
});

describe('load generator connect storm', () => {
  it('keeps at most `window` connects in flight and counts every failed attempt, retries included', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    let inFlight = 0;
    let maxInFlight = 0;
    const tries = new Map<string, number>();
    http.on('upgrade', (req, socket, head) => {
      const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
      tries.set(user, (tries.get(user) ?? 0) + 1);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Held a while, so that the generator's window is what bounds the handshakes in flight.
      setTimeout(() => {
        inFlight--;
        // u3 is always refused; u5 only on its first attempt.
        if (user === 'u3' || (user === 'u5' && tries.get(user) === 1)) {
          socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
          return;
        }
        wss.handleUpgrade(req, socket, head, () => {});
      }, 20);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate();
          http.close(() => r());
        }),
    );
    const port = (http.address() as AddressInfo).port;
    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    const errors: string[] = [];
    let failures = 0;
    const clients = await connectAll('relay', [port], users, errors, { window: 8, onFailedAttempt: () => failures++ });
    cleanups.push(() => clients.forEach((c) => c?.close()));
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(clients.map((c, i) => (c === null ? i : -1)).filter((i) => i >= 0)).toEqual([3]);
    expect(failures).toBe(4); // u3 three times, u5 once
    expect(tries.get('u3')).toBe(3);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('connect u3');
  });
});

describe('latencyStats', () => {
  it('takes nearest-rank percentiles of unsorted values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencyStats(values)).toEqual({ count: 100, p50: 51, p95: 96, p99: 100, max: 100 });
    expect(latencyStats([]).count).toBe(0);
  });
});
