/**
 * The floor: a minimal `ws` + Redis pub/sub chat relay node. No storage, no
 * presence, no validation beyond what routing needs. One Redis subscription
 * per room per node; the `message` frame is serialized once by the node that
 * receives the send, published as is, and written as the same Buffer to
 * every local member by every node (the origin node included, so that every
 * member of a room sees Redis's one order).
 *
 * Speaks the subset of the Parley protocol the load generator uses: join,
 * leave, send, ping with replies, and `message` events.
 *
 * Env: PORT, HOST (default 127.0.0.1), REDIS_URL.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'relay:';

interface Conn {
  ws: WebSocket;
  user: string;
  rooms: Set<string>;
}

interface InFrame {
  type?: unknown;
  id?: unknown;
  room?: unknown;
  text?: unknown;
}

const pub = new Redis(redisUrl, { lazyConnect: false });
const sub = new Redis(redisUrl, { lazyConnect: false });
const rooms = new Map<string, Set<Conn>>();
const subscribing = new Map<string, Promise<unknown>>();
const SEND_OPTS = { binary: false };

sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const members = rooms.get(channel.toString('latin1', PREFIX.length));
  if (!members) return;
  for (const c of members) c.ws.send(message, SEND_OPTS);
});

function reply(c: Conn, id: unknown, data: string): void {
  if (typeof id === 'number') c.ws.send(`{"type":"reply","id":${id},"ok":true,"data":${data}}`);
}

function fail(c: Conn, id: unknown, code: string): void {
  const error = `{"code":"${code}","message":"${code}"}`;
  c.ws.send(
    typeof id === 'number'
      ? `{"type":"reply","id":${id},"ok":false,"error":${error}}`
      : `{"type":"error","error":${error}}`,
  );
}

async function join(c: Conn, room: string): Promise<void> {
  c.rooms.add(room);
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
    subscribing.set(room, sub.subscribe(PREFIX + room));
  }
  members.add(c);
  await subscribing.get(room);
}

function leave(c: Conn, room: string): void {
  c.rooms.delete(room);
  const members = rooms.get(room);
  if (!members) return;
  members.delete(c);
  if (members.size === 0) {
    rooms.delete(room);
    subscribing.delete(room);
    void sub.unsubscribe(PREFIX + room);
  }
}

function onFrame(c: Conn, raw: string): void {
  let f: InFrame;
  try {
    f = JSON.parse(raw) as InFrame;
  } catch {
    fail(c, undefined, 'BAD_REQUEST');
    return;
  }
  const room = typeof f.room === 'string' ? f.room : '';
  switch (f.type) {
    case 'send': {
      if (!c.rooms.has(room) || typeof f.text !== 'string') return fail(c, f.id, 'NOT_JOINED');
      const frame = JSON.stringify({
        type: 'message',
        room,
        message: { room, from: c.user, text: f.text, ts: Date.now() },
      });
      void pub.publish(PREFIX + room, frame);
      return reply(c, f.id, '{}');
    }
    case 'join':
      if (!room) return fail(c, f.id, 'BAD_REQUEST');
      join(c, room).then(
        () => reply(c, f.id, `{"room":${JSON.stringify(room)}}`),
        () => fail(c, f.id, 'UNAVAILABLE'),
      );
      return;
    case 'leave':
      leave(c, room);
      return reply(c, f.id, '{}');
    case 'ping':
      return reply(c, f.id, '{}');
    default:
      return fail(c, f.id, 'UNKNOWN_COMMAND');
  }
}

const server = createServer((req, res) => {
  if (req.url === '/healthz' || req.url === '/readyz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const user = url.searchParams.get('user');
  if (url.pathname !== '/ws' || !user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const c: Conn = { ws, user, rooms: new Set() };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) ws.close(1003);
      else onFrame(c, data.toString());
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      for (const room of [...c.rooms]) leave(c, room);
    });
  });
});

server.listen(port, host);

process.on('SIGTERM', () => {
  for (const c of wss.clients) c.close(1001);
  server.close();
  void Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
