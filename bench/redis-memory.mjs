/**
 * Redis memory per stored message and per user (docs/redis.md, issue 20).
 * Starts its own redis-server on a free port (never 6379), drives the built
 * Redis engine (run `npm run build` first) and reads `INFO memory`
 * (used_memory before/after) and `MEMORY USAGE` of the keys involved.
 *
 *   npm run build && node bench/redis-memory.mjs [messages=20000] [users=10000]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisEngine } from '../dist/engine/redis/redis-engine.js';
import { presenceKeys } from '../dist/engine/redis/keys.js';

const MESSAGES = Number(process.argv[2] ?? 20_000);
const USERS = Number(process.argv[3] ?? 10_000);
const TEXT = 'a typical chat line of about sixty characters, give or take.';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let port = await freePort();
while (port === 6379) port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
  stdio: 'ignore',
});
const admin = new Redis({ port, lazyConnect: true, retryStrategy: () => 100 });
for (let i = 0; ; i++) {
  try {
    await admin.connect();
    break;
  } catch {
    if (i > 50) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const used = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))[1]);
const usage = async (key) => Number((await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
const engine = new RedisEngine({ url: `redis://127.0.0.1:${port}`, nodeId: 'mem-probe', historyMax: 1_000_000 });
await engine.start();
const rows = [];
const row = (what, bytes, n, note = '') => rows.push({ what, 'bytes each': Math.round(bytes / n), n, note });

// Messages in one room, no clientMsgId.
let before = await used();
for (let i = 0; i < MESSAGES; i += 500) {
  await Promise.all(Array.from({ length: 500 }, (_, j) => engine.append({ room: 'big', from: `user-${j % 50}`, text: TEXT })));
}
row('message (one room, no clientMsgId)', (await used()) - before, MESSAGES, `stream MEMORY USAGE ${Math.round((await usage('parley:{r:big}:log')) / MESSAGES)} B/msg`);

// Same with a clientMsgId: the dedupe key lives for the dedupe window (5 min).
before = await used();
for (let i = 0; i < MESSAGES; i += 500) {
  await Promise.all(
    Array.from({ length: 500 }, (_, j) => engine.append({ room: 'dedupe', from: `user-${j % 50}`, text: TEXT, clientMsgId: `c-${i + j}` })),
  );
}
row('message with clientMsgId (for the dedupe window)', (await used()) - before, MESSAGES);

// Many small rooms (10 messages each): the per-room overhead of a stream.
const ROOMS = Math.max(1, Math.floor(MESSAGES / 10));
before = await used();
for (let i = 0; i < ROOMS; i += 100) {
  await Promise.all(
    Array.from({ length: Math.min(100, ROOMS - i) }, async (_, j) => {
      for (let k = 0; k < 10; k++) await engine.append({ room: `small-${i + j}`, from: 'ann', text: TEXT });
    }),
  );
}
row('message (rooms of 10 messages)', (await used()) - before, ROOMS * 10, `${ROOMS} rooms`);

// Users online: one connection, one room (of 100 users).
before = await used();
const conns = [];
for (let i = 0; i < USERS; i += 500) {
  await Promise.all(
    Array.from({ length: Math.min(500, USERS - i) }, async (_, j) => {
      const user = `u-${i + j}`;
      const connId = `c-${i + j}`;
      await engine.presence.connect({ connId, user, name: `User ${i + j}` });
      await engine.presence.joinRoom(connId, user, `room-${Math.floor((i + j) / 100)}`);
      conns.push(connId);
    }),
  );
}
const online = (await used()) - before;
row('user online (1 connection, 1 room)', online, USERS, `user hash ${await usage(presenceKeys.user('u-1'))} B`);

// The same users offline: what stays until the retention (30 days) expires it.
before = await used();
for (let i = 0; i < conns.length; i += 500) await Promise.all(conns.slice(i, i + 500).map((c) => engine.presence.disconnect(c)));
const offline = online + ((await used()) - before);
row('user offline (kept for PARLEY_PRESENCE_RETENTION_MS)', offline, USERS, `user hash ${await usage(presenceKeys.user('u-1'))} B, PTTL ${await admin.pttl(presenceKeys.user('u-1'))} ms`);

console.table(rows);
console.log(`redis ${/redis_version:([^\r\n]+)/.exec(await admin.info('server'))[1]}, used_memory deltas (INFO memory) and MEMORY USAGE`);
await engine.close();
admin.disconnect();
server.kill('SIGKILL');
