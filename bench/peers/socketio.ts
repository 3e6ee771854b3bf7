/**
 * The mainstream peer: a Socket.IO 4 chat node with @socket.io/redis-adapter,
 * websocket transport only, written the way the Socket.IO docs suggest:
 * `socket.join(room)` and `io.to(room).emit('message', ...)` with acks.
 *
 * Events: `join` (room, ack), `leave` (room, ack), `send` (room, text, ack);
 * server event `message` {room, from, text, ts}.
 *
 * Env: PORT, HOST (default 127.0.0.1), REDIS_URL.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

type Ack = (reply: { ok: boolean; error?: { code: string; message: string } }) => void;

interface ClientEvents {
  join: (room: string, ack: Ack) => void;
  leave: (room: string, ack: Ack) => void;
  send: (room: string, text: string, ack: Ack) => void;
}

interface ServerEvents {
  message: (m: { room: string; from: string; text: string; ts: number }) => void;
}

const pub = new Redis(redisUrl);
const sub = pub.duplicate();

const httpServer = createServer((req, res) => {
  if (req.url === '/healthz' || req.url === '/readyz') res.writeHead(200).end('ok');
  else res.writeHead(404).end();
});

const io = new Server<ClientEvents, ServerEvents>(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  adapter: createAdapter(pub, sub),
});

const noop: Ack = () => {};

io.on('connection', (socket) => {
  const user = String(socket.handshake.query.user ?? 'anon');
  socket.on('join', (room, ack = noop) => {
    if (typeof room !== 'string') return ack({ ok: false, error: { code: 'BAD_REQUEST', message: 'room' } });
    void socket.join(room);
    ack({ ok: true });
  });
  socket.on('leave', (room, ack = noop) => {
    void socket.leave(room);
    ack({ ok: true });
  });
  socket.on('send', (room, text, ack = noop) => {
    if (!socket.rooms.has(room)) return ack({ ok: false, error: { code: 'NOT_JOINED', message: room } });
    io.to(room).emit('message', { room, from: user, text, ts: Date.now() });
    ack({ ok: true });
  });
});

httpServer.listen(port, host);

process.on('SIGTERM', () => {
  void io.close(() => {
    void Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 1000).unref();
});
