/**
 * Presence when nodes die or stop, with real processes: a child-process node
 * (dist/, built here first) next to an in-process node on one redis-server.
 * - kill -9: the surviving node sends `leave` and shows the user offline
 *   within the node timeout (measured and printed);
 * - SIGTERM: `leave` at once (the lease is long: no sweep could have sent it);
 * - a node restarted with the same node id after kill -9 leaves no ghosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEntry } from '../../src/protocol/frames.js';
import { ensureBuilt } from '../support/build.js';
import { waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { spawnNode, startNode, type NodeProcess, type RunningNode } from '../support/server.js';
import type { TestClient } from '../support/client.js';
import { API_KEY, api, presenceOf, uniq, waitPresence } from './presence-suite.js';

const TIMEOUT_MS = 3000;

describe('presence when nodes die, stop and restart (child processes)', () => {
  let redis: RedisProcess;
  let survivor: RunningNode;
  const procs: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const env = { PARLEY_API_KEY: API_KEY, PARLEY_NODE_TIMEOUT_MS: String(TIMEOUT_MS), LOG_LEVEL: 'warn' };

  const spawn = async (extra: Record<string, string> = {}): Promise<NodeProcess> => {
    const p = await spawnNode({ redisUrl: redis.url, env: { ...env, ...extra } });
    procs.push(p);
    // /healthz answers once the process listens, which is after the engine started.
    return p;
  };
  const track = <T extends TestClient>(c: T): T => {
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis();
    survivor = await startNode({ redisUrl: redis.url, env });
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.kill()));
    await survivor?.stop();
    await redis?.stop();
  });

  it('kill -9: the other node sends leave and shows the user offline within the node timeout', async () => {
    const room = uniq('r');
    const user = uniq('victim');
    const spawnedAt = Date.now();
    const victim = await spawn();
    const watcher = track(await survivor.client(uniq('w')));
    await watcher.ok({ type: 'join', room });
    const u = track(await victim.client(user, 'Victim'));
    await u.ok({ type: 'join', room });
    await u.ok({ type: 'status', status: 'away', text: 'brb' });
    await waitPresence(watcher, user, room, 'update');
    expect(
      (await api<{ users: PresenceEntry[] }>(survivor, '/api/presence?status=away')).users.map((x) => x.user),
    ).toContain(user);

    const t0 = Date.now();
    await victim.kill();
    const killedAt = Date.now();
    // Generous bounds (a shared box): the measured figures are printed, not asserted.
    const leave = await waitPresence(watcher, user, room, 'leave', TIMEOUT_MS + 15_000);
    const leaveMs = Date.now() - t0;
    await waitFor(
      async () => (await api<PresenceEntry>(survivor, `/api/users/${user}/presence`)).status === 'offline',
      TIMEOUT_MS + 15_000,
      'offline over HTTP',
    );
    const offlineMs = Date.now() - t0;
    console.log(
      `[presence] kill -9 -> leave event on the other node after ${leaveMs} ms, offline over HTTP after ${offlineMs} ms (PARLEY_NODE_TIMEOUT_MS=${TIMEOUT_MS})`,
    );
    expect(leave.member).toMatchObject({ user, status: 'offline', name: 'Victim' });
    // lastSeen is the dead node's last heartbeat: during its life, not when the sweep ran.
    expect(leave.member.lastSeen).toBeLessThanOrEqual(killedAt);
    expect(leave.member.lastSeen).toBeGreaterThanOrEqual(spawnedAt);
    const entry = await api<PresenceEntry>(survivor, `/api/users/${user}/presence`);
    expect(entry).toEqual({ user, name: 'Victim', status: 'offline', lastSeen: leave.member.lastSeen });
    for (const s of ['online', 'away', 'busy']) {
      const list = await api<{ users: PresenceEntry[] }>(survivor, `/api/presence?status=${s}`);
      expect(list.users.map((x) => x.user)).not.toContain(user);
    }
    const members = await api<{ count: number; members: PresenceEntry[] }>(survivor, `/api/rooms/${room}/presence`);
    expect(members.count).toBe(1);
    expect(presenceOf(watcher, user, room).filter((f) => f.event === 'leave')).toHaveLength(1);
  });

  it('SIGTERM: leave events at once (before the lease could run out), and exit 0', async () => {
    const room = uniq('r');
    const user = uniq('term');
    const other = uniq('term2');
    // A lease far longer than the waits below: a leave can only come from the graceful stop, not from a sweep.
    const victim = await spawn({ PARLEY_NODE_TIMEOUT_MS: '120000' });
    const watcher = track(await survivor.client(uniq('w')));
    await watcher.ok({ type: 'join', room });
    const a = track(await victim.client(user));
    const b = track(await victim.client(other));
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    await waitPresence(watcher, other, room, 'join');

    const t0 = Date.now();
    const exited = victim.terminate();
    const [la, lb] = await Promise.all([
      waitPresence(watcher, user, room, 'leave', 20_000),
      waitPresence(watcher, other, room, 'leave', 20_000),
    ]);
    const ms = Date.now() - t0;
    console.log(`[presence] SIGTERM -> leave events on the other node after ${ms} ms`);
    expect(la.member.status).toBe('offline');
    expect(lb.member.status).toBe('offline');
    expect(await exited).toBe(0);
    expect((await a.closed).code).toBe(1001);
    const online = await api<{ users: PresenceEntry[] }>(survivor, '/api/presence?status=online');
    expect(online.users.map((x) => x.user)).not.toContain(user);
  });

  it('a node restarted with the same id after kill -9 removes what its previous run left: no ghosts', async () => {
    const room = uniq('r');
    const user = uniq('ghost');
    const nodeId = uniq('fixed-node');
    // A long timeout: only the restart itself can clean up within this test.
    const slow = { PARLEY_NODE_ID: nodeId, PARLEY_NODE_TIMEOUT_MS: '60000' };
    const first = await spawn(slow);
    const watcher = track(await survivor.client(uniq('w')));
    await watcher.ok({ type: 'join', room });
    const u = track(await first.client(user));
    await u.ok({ type: 'join', room });
    await u.ok({ type: 'status', status: 'busy' });
    await waitPresence(watcher, user, room, 'update');
    await first.kill();
    // Still listed: nobody knows yet (the lease is long).
    expect(
      (await api<{ users: PresenceEntry[] }>(survivor, '/api/presence?status=busy')).users.map((x) => x.user),
    ).toContain(user);

    const t0 = Date.now();
    const second = await spawn(slow);
    const leave = await waitPresence(watcher, user, room, 'leave', 10_000);
    console.log(
      `[presence] restart with the same node id -> leave for its previous run's users after ${Date.now() - t0} ms`,
    );
    expect(leave.member.status).toBe('offline');
    expect(
      (await api<{ users: PresenceEntry[] }>(survivor, '/api/presence?status=busy')).users.map((x) => x.user),
    ).not.toContain(user);
    expect((await api<{ count: number }>(survivor, `/api/rooms/${room}/presence`)).count).toBe(1);

    // The restarted node serves the same user normally (connection ids restart from 1: no collision).
    const again = track(await second.client(user));
    const j = await again.ok<{ count: number; members: Array<{ user: string; status: string }> }>({
      type: 'join',
      room,
    });
    expect(j.count).toBe(2);
    expect(j.members.find((m) => m.user === user)?.status).toBe('busy');
    await waitPresence(watcher, user, room, 'join');
    expect(presenceOf(watcher, user, room).map((f) => f.event)).toEqual(['join', 'update', 'leave', 'join']);
    expect(await second.terminate()).toBe(0);
    await waitPresence(watcher, user, room, 'leave', 20_000); // the lease is 60 s: only the graceful stop sends it
    expect(presenceOf(watcher, user, room).filter((f) => f.event === 'leave')).toHaveLength(2);
  });
});
