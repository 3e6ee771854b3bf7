/**
 * The SDK against two nodes on one Redis: a node restart loses nothing and
 * duplicates nothing; sends made while disconnected are delivered once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../../src/sdk/index.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { spawnNode, startNode, type RunningNode } from '../support/server.js';
import { sleep, waitFor } from '../support/ports.js';
import { Recorder, SilentProxy, sdkClient } from './helpers.js';

let redis: RedisProcess;
let a: RunningNode;
let b: RunningNode;

beforeAll(async () => {
  redis = await startRedis();
  a = await startNode({ redisUrl: redis.url });
  b = await startNode({ redisUrl: redis.url });
});
afterAll(async () => {
  await a?.stop().catch(() => undefined);
  await b?.stop().catch(() => undefined);
  await redis?.stop();
});

describe('SDK on a two-node cluster', () => {
  it('messages cross nodes; after a node restart the client rejoins with since: nothing lost, nothing twice', async () => {
    const ann = sdkClient(a.url, { user: 'ann', name: 'Ann' });
    const bob = sdkClient(b.url, { user: 'bob', name: 'Bob' });
    const annRec = new Recorder(ann);
    const bobRec = new Recorder(bob);
    const clients: ParleyClient[] = [ann, bob];
    try {
      await ann.connect();
      await bob.connect();
      await ann.join('cluster');
      await bob.join('cluster');
      await bob.send('cluster', 'b1');
      await ann.send('cluster', 'a1');
      await waitFor(() => annRec.texts().length === 2 && bobRec.texts().length === 2, 5000, 'cross-node delivery');

      const port = a.port;
      await a.stop(); // ann's node goes away (1001)
      await waitFor(() => annRec.states.some((s) => s.state === 'reconnecting'), 3000);
      for (let i = 0; i < 5; i++) await bob.send('cluster', `missed-${i}`);
      const queued = ann.send('cluster', 'sent while offline');
      await sleep(300);
      a = await startNode({ redisUrl: redis.url, env: { PORT: String(port) } });

      const stored = await queued;
      expect(stored.text).toBe('sent while offline');
      await waitFor(() => annRec.texts().length === 8, 8000, 'ann caught up');
      await waitFor(() => bobRec.texts().includes('sent while offline'), 5000);
      await bob.send('cluster', 'b-after');
      await waitFor(() => annRec.texts().includes('b-after'), 5000);
      await sleep(300);

      const expected = [
        'b1',
        'a1',
        'missed-0',
        'missed-1',
        'missed-2',
        'missed-3',
        'missed-4',
        'sent while offline',
        'b-after',
      ];
      expect(annRec.texts()).toEqual(expected);
      expect(bobRec.texts()).toEqual(expected);
      const history = await bob.history('cluster');
      expect(history.messages.map((m) => m.text)).toEqual(expected);
      expect(annRec.resets).toEqual([]);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('status survives a reconnect (it is restored on the new connection)', async () => {
    const ann = sdkClient(a.url, { user: 'ann2', name: 'Ann' });
    const bob = sdkClient(b.url, { user: 'bob2', name: 'Bob' });
    const annRec = new Recorder(ann);
    try {
      await ann.connect();
      await bob.connect();
      await ann.join('status-room');
      await bob.join('status-room');
      await ann.setStatus('away', 'lunch');
      const port = a.port;
      await a.stop();
      a = await startNode({ redisUrl: redis.url, env: { PORT: String(port) } });
      await waitFor(() => annRec.states.filter((s) => s.state === 'connected').length >= 2, 8000, 'reconnected');
      await waitFor(
        async () => {
          const { users } = await bob.presence(['ann2']);
          return users?.[0]?.status === 'away' && users[0].text === 'lunch';
        },
        5000,
        'status restored',
      );
    } finally {
      ann.close();
      bob.close();
    }
  });

  it('a node killed with SIGKILL: the client comes back through the balancer to a new node and loses nothing', async () => {
    const first = await spawnNode({ redisUrl: redis.url, env: { LOG_LEVEL: 'warn' } });
    const balancer = await SilentProxy.start(first.port);
    const ann = sdkClient(balancer.url, { user: 'kann', name: 'Ann' });
    const bob = sdkClient(b.url, { user: 'kbob', name: 'Bob' });
    const annRec = new Recorder(ann);
    let second: Awaited<ReturnType<typeof spawnNode>> | undefined;
    try {
      await ann.connect();
      await bob.connect();
      await ann.join('killed');
      await bob.join('killed');
      await bob.send('killed', 'k1');
      await waitFor(() => annRec.texts().includes('k1'));

      await first.kill();
      await waitFor(() => annRec.states.some((s) => s.state === 'reconnecting'), 5000, 'drop noticed');
      await bob.send('killed', 'k2');
      const queued = ann.send('killed', 'from ann while down');
      await bob.send('killed', 'k3');
      second = await spawnNode({ redisUrl: redis.url, env: { LOG_LEVEL: 'warn' } });
      balancer.target = second.port;

      await queued;
      await waitFor(() => annRec.texts().length === 4, 10_000, 'ann caught up');
      await sleep(300);
      expect(annRec.texts()).toEqual(['k1', 'k2', 'k3', 'from ann while down']);
      const history = await bob.history('killed');
      expect(history.messages.map((m) => m.text)).toEqual(['k1', 'k2', 'k3', 'from ann while down']);
    } finally {
      ann.close();
      bob.close();
      await balancer.stop();
      await first.kill();
      await second?.terminate();
    }
  });
});
