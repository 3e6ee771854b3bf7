/**
 * How many status changes one Redis-backed node handles per second, measured
 * three ways and printed: through real WebSockets (the `status` command, with
 * its room `update` event and the user-level event to the user's devices),
 * through the node's presence store alone, and the same store calls on the
 * memory engine for comparison. Every change is a real one (online <-> away),
 * so each writes the status index and publishes its events.
 *
 * The floors asserted here are far below the figures measured on a quiet
 * 2-core machine, so the test only fails when something got much slower.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ChosenStatus } from '../../src/protocol/frames.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { clientUrl, startNode, type RunningNode } from '../support/server.js';
import { uniq } from './presence-suite.js';

const CLIENTS = 40;
const PER_CLIENT = 500;
const WINDOW = 32;

/** One client sending `count` status commands with up to WINDOW unanswered at a time. */
function drive(ws: WebSocket, count: number): Promise<{ events: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    let events = 0;
    const send = (): void => {
      const status: ChosenStatus = sent % 2 === 0 ? 'away' : 'online';
      sent++;
      ws.send(`{"type":"status","id":${sent},"status":"${status}"}`);
    };
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { type: string; ok?: boolean; error?: unknown };
      if (f.type !== 'reply') {
        events++;
        return;
      }
      if (!f.ok) {
        reject(new Error(`status failed: ${JSON.stringify(f)}`));
        return;
      }
      answered++;
      if (sent < count) send();
      else if (answered === count) resolve({ events });
    });
    for (let i = 0; i < Math.min(WINDOW, count); i++) send();
  });
}

async function open(node: RunningNode, user: string): Promise<WebSocket> {
  const ws = new WebSocket(clientUrl(node.port, user));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

async function request(ws: WebSocket, frame: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve) => {
    const on = (data: WebSocket.RawData): void => {
      const f = JSON.parse(data.toString()) as { type: string; id?: number };
      if (f.type === 'reply' && f.id === frame.id) {
        ws.off('message', on);
        resolve();
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify(frame));
  });
}

/** Calls setStatus `total` times with `concurrency` calls in flight; returns calls per second. */
async function storeRate(
  setStatus: (user: string, status: ChosenStatus) => Promise<unknown>,
  users: string[],
  total: number,
  concurrency: number,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        await setStatus(users[i % users.length]!, Math.floor(i / users.length) % 2 === 0 ? 'away' : 'online');
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

describe('presence throughput on one node', () => {
  let redis: RedisProcess;
  let node: RunningNode;
  let memory: RunningNode;

  beforeAll(async () => {
    redis = await startRedis();
    node = await startNode({ redisUrl: redis.url });
    memory = await startNode();
  });
  afterAll(async () => {
    await node?.stop();
    await memory?.stop();
    await redis?.stop();
  });

  it('status changes per second through real sockets and through the store', async () => {
    // Each user is in a room of their own: every change publishes one room update and one user-level event.
    const sockets = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => open(node, uniq(`tp${i}`))));
    await Promise.all(
      sockets.map((ws, i) => request(ws, { type: 'join', id: 1_000_000, room: `tp-room-${i}-${process.pid}` })),
    );
    const warm = await Promise.all(sockets.map((ws) => drive(ws, 50)));
    expect(warm.every((w) => w.events > 0)).toBe(true);
    for (const ws of sockets) ws.removeAllListeners('message');

    const t0 = performance.now();
    const res = await Promise.all(sockets.map((ws) => drive(ws, PER_CLIENT)));
    const secs = (performance.now() - t0) / 1000;
    const total = CLIENTS * PER_CLIENT;
    const wsRate = total / secs;
    // Every change reaches the sender's room as an update (one device: no user-level event).
    const events = res.reduce((a, r) => a + r.events, 0);
    expect(events).toBeGreaterThanOrEqual(total * 0.99);
    for (const ws of sockets) ws.close();

    const users = Array.from({ length: 200 }, (_, i) => uniq(`st${i}`));
    const redisStore = node.node.engine.presence;
    await Promise.all(users.map((u, i) => redisStore.connect({ connId: `tp-${u}-${i}`, user: u })));
    const storeRedis = await storeRate((u, s) => redisStore.setStatus(u, s, undefined), users, 40_000, 256);
    const memStore = memory.node.engine.presence;
    await Promise.all(users.map((u, i) => memStore.connect({ connId: `tp-${u}-${i}`, user: u })));
    const storeMemory = await storeRate((u, s) => memStore.setStatus(u, s, undefined), users, 40_000, 256);

    console.log(
      `[presence throughput] Redis node: ${Math.round(wsRate)} status changes/s through ${CLIENTS} WebSockets ` +
        `(${total} changes in ${secs.toFixed(2)} s, each with its room update event); ` +
        `store alone: ${Math.round(storeRedis)}/s (Redis), ${Math.round(storeMemory)}/s (memory)`,
    );
    expect(wsRate).toBeGreaterThan(2000);
    expect(storeRedis).toBeGreaterThan(5000);
    const states = await redisStore.users(users.slice(0, 3));
    expect(states.every((s) => s.online)).toBe(true);
  });
});
