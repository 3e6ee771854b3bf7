/**
 * How many status changes one Redis-backed node handles per second, measured
 * and printed: through real WebSockets (the `status` command and its room
 * `update` event; the clients run in a process of their own, sharing the
 * machine's cores with the node and redis-server), through the presence
 * feature (store + publish of the room update, no socket), through the
 * presence store alone, and the same on the memory engine for comparison.
 * Every change is a real one (online <-> away), so each writes the status
 * index and publishes its event.
 *
 * It asserts correctness under load (every change acknowledged, watchers get
 * the events, states right afterwards), never timings: speed targets live in
 * the benchmark (`npm run bench`), and the figures are printed for the notes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChosenStatus } from '../../src/protocol/frames.js';
import { PresenceFeature } from '../../src/features/presence/presence.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import type { Session } from '../../src/session/session.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';
import { uniq } from './presence-suite.js';

const CLIENTS = 200;
const PER_CLIENT = 200;
const WINDOW = 32;

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

/** Runs the load generator in its own process against a node; returns its result. */
function load(
  node: RunningNode,
  clients: number,
  perClient: number,
): Promise<{ total: number; secs: number; events: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./status-load.mjs', import.meta.url)),
        `ws://127.0.0.1:${node.port}/ws`,
        String(clients),
        String(perClient),
        String(WINDOW),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}: ${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { total: number; secs: number; events: number });
    });
  });
}

describe('presence throughput on one node', () => {
  let redis: RedisProcess;
  let node: RunningNode;
  let memory: RunningNode;
  // The per-connection command rate limit is not what is measured here.
  const env = { PARLEY_COMMAND_RATE: '1000000', PARLEY_COMMAND_BURST: '1000000' };

  beforeAll(async () => {
    redis = await startRedis();
    node = await startNode({ redisUrl: redis.url, env });
    memory = await startNode({ env });
  });
  afterAll(async () => {
    await node?.stop();
    await memory?.stop();
    await redis?.stop();
  });

  it('status changes per second through real sockets and through the store', async () => {
    // Sockets in a separate process; each user is in a room of their own, so
    // every change also publishes one room update that comes back to the sender.
    const ws = await load(node, CLIENTS, PER_CLIENT);
    const wsRate = ws.total / ws.secs;
    expect(ws.events).toBeGreaterThanOrEqual(ws.total * 0.99);
    const wsMemory = await load(memory, CLIENTS, PER_CLIENT);

    const users = Array.from({ length: 200 }, (_, i) => uniq(`st${i}`));
    const redisStore = node.node.engine.presence;
    await Promise.all(users.map((u, i) => redisStore.connect({ connId: `tp-${u}-${i}`, user: u })));
    const storeRedis = await storeRate((u, s) => redisStore.setStatus(u, s, undefined), users, 40_000, 256);
    // Through the presence feature (what the `status` command runs: store, room update, no socket).
    const feature = new PresenceFeature(
      node.node.engine,
      node.node.config.limits,
      new Metrics(false),
      createLogger('silent', 'tp'),
      {
        sweepIntervalMs: 60_000,
      },
    );
    const rooms = users.map((u) => `tp-room-${u}`);
    await Promise.all(users.map((u, i) => redisStore.joinRoom(`tp-${u}-${i}`, u, rooms[i]!)));
    const sessions = new Map(users.map((u) => [u, { user: u } as unknown as Session]));
    const featureRedis = await storeRate(
      (u, s) => feature.setStatus(sessions.get(u)!, s, undefined),
      users,
      40_000,
      256,
    );
    const memStore = memory.node.engine.presence;
    await Promise.all(users.map((u, i) => memStore.connect({ connId: `tp-${u}-${i}`, user: u })));
    const storeMemory = await storeRate((u, s) => memStore.setStatus(u, s, undefined), users, 40_000, 256);

    console.log(
      `[presence throughput] Redis node: ${Math.round(wsRate)} status changes/s through ${CLIENTS} WebSockets ` +
        `(${ws.total} changes in ${ws.secs.toFixed(2)} s, each with its room update event; memory node: ` +
        `${Math.round(wsMemory.total / wsMemory.secs)}/s); through the presence feature (store + room update ` +
        `publish, no socket): ${Math.round(featureRedis)}/s; presence store alone: ${Math.round(storeRedis)}/s (Redis), ` +
        `${Math.round(storeMemory)}/s (memory)`,
    );
    const states = await redisStore.users(users.slice(0, 3));
    expect(states.every((s) => s.online)).toBe(true);
  });
});
