/**
 * The Redis presence store beyond the shared conformance suite: the key
 * layout docs/redis.md promises (what redis-cli shows), crash of a node
 * (its Redis connection cut, no cleanup), a node that lost its lease and
 * comes back, Redis losing its data, and the status index under concurrent
 * writers from two nodes.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PRESENCE_BUCKETS, presenceBucket } from '../../src/engine/redis/keys.js';
import { presenceKeys, RedisPresenceStore } from '../../src/engine/redis/redis-presence.js';
import type { ChosenStatus } from '../../src/protocol/frames.js';
import { sleep, waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

let redis: RedisProcess;
let admin: Redis;
const opened: Array<{ client: Redis; store: RedisPresenceStore }> = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterEach(async () => {
  for (const { client, store } of opened.splice(0)) {
    await store.stop().catch(() => undefined);
    client.disconnect();
  }
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

let seq = 0;
const uniq = (p: string): string => `${p}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

/** A started store on its own connection, like one node. */
async function node(
  nodeTimeoutMs = 1200,
  nodeId = uniq('n'),
  cluster?: boolean,
): Promise<{ client: Redis; store: RedisPresenceStore; nodeId: string }> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
  await client.connect();
  const store = new RedisPresenceStore(
    client,
    { nodeId, nodeTimeoutMs, historyMax: 100, dedupeWindowMs: 1000 },
    cluster === undefined ? {} : { cluster },
  );
  await store.start();
  opened.push({ client, store });
  return { client, store, nodeId };
}

describe('redis presence store', () => {
  it.each([
    ['single Redis', false],
    ['Cluster mode', true],
  ])('keeps the documented key layout, readable with redis-cli (%s)', async (_, cluster) => {
    const { store, nodeId } = await node(3000, uniq('n'), cluster);
    const user = uniq('ann');
    const room = uniq('r');
    const conn = `${nodeId}:1`;
    await store.connect({ connId: conn, user, name: 'Ann' });
    await store.joinRoom(conn, user, room);
    await store.setStatus(user, 'busy', 'call');

    expect(await admin.hgetall(presenceKeys.user(user))).toMatchObject({
      name: 'Ann',
      status: 'busy',
      text: 'call',
      conns: '1',
    });
    expect(await admin.hgetall(`parley:{u:${user}}:conns`)).toEqual({ [conn]: nodeId });
    expect(await admin.hgetall(`parley:{u:${user}}:rooms`)).toEqual({ [room]: '1' });
    expect(await admin.smembers(`parley:{u:${user}}:c:${conn}`)).toEqual([room]);
    expect(await admin.zscore(`parley:{r:${room}}:members`, user)).toBe('1');
    expect(await admin.zscore(`parley:{presence:${presenceBucket(user)}}:users`, user)).toBe('0');
    expect(await admin.zscore(`parley:{presence:${presenceBucket(user)}}:status:busy`, user)).not.toBeNull();
    expect(await admin.zscore(`parley:{presence:${presenceBucket(user)}}:status:online`, user)).toBeNull();
    expect(await admin.hget(`parley:{presence:${presenceBucket(user)}}:version`, user)).toBe(
      await admin.hget(presenceKeys.user(user), 'v'),
    );
    expect(await admin.hgetall(`parley:node:${nodeId}:conns`)).toEqual({ [conn]: user });
    const ttl = await admin.pttl(`parley:node:${nodeId}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
    expect(Number(await admin.zscore('parley:nodes', nodeId))).toBeGreaterThan(Date.now() - 5000);

    const t = await store.disconnect(conn);
    const lastSeen = t!.state.lastSeen!;
    expect(await admin.zscore(`parley:{presence:${presenceBucket(user)}}:users`, user)).toBe(String(lastSeen));
    expect(await admin.zscore(`parley:{presence:${presenceBucket(user)}}:status:busy`, user)).toBeNull();
    expect(await admin.hget(presenceKeys.user(user), 'lastSeen')).toBe(String(lastSeen));
    for (const key of [
      `parley:{u:${user}}:conns`,
      `parley:{u:${user}}:rooms`,
      `parley:{u:${user}}:c:${conn}`,
      `parley:{r:${room}}:members`,
    ]) {
      expect(await admin.exists(key)).toBe(0);
    }
    expect(await admin.hlen(`parley:node:${nodeId}:conns`)).toBe(0);

    await store.removeAllLocal();
    expect(await admin.exists(`parley:node:${nodeId}`)).toBe(0);
    expect(await admin.zscore('parley:nodes', nodeId)).toBeNull();
  });

  it('a count-only read (limit 0) sends ZCARD without ZRANGE: the set is not fetched', async () => {
    const { store, nodeId } = await node(3000);
    const room = uniq('r');
    for (let i = 0; i < 3; i++) {
      const user = uniq('u');
      await store.connect({ connId: `${nodeId}:${i}`, user });
      await store.joinRoom(`${nodeId}:${i}`, user, room);
      await store.setStatus(user, 'busy', undefined);
    }
    const monitor = await admin.duplicate().monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
    try {
      expect(await store.roomMembers(room, 0)).toEqual({ members: [], count: 3 });
      const busy = await store.listByStatus('busy', 0);
      expect(busy.users).toEqual([]);
      expect(busy.count).toBeGreaterThanOrEqual(3);
      // A later command is the marker: MONITOR reports commands in the order the server ran them.
      const marker = uniq('marker');
      await admin.echo(marker);
      await waitFor(() => seen.some((a) => a[0]?.toLowerCase() === 'echo' && a[1] === marker), 5000, 'the marker');
    } finally {
      monitor.disconnect();
    }
    const names = seen.map((a) => a[0]!.toLowerCase());
    expect(seen.filter((a) => a[1] === presenceKeys.roomMembers(room)).map((a) => a[0]!.toLowerCase())).toEqual([
      'zcard',
    ]);
    expect(names).toContain('zcard');
    expect(names.filter((c) => c.startsWith('zrange'))).toEqual([]);
    await store.removeAllLocal(); // nothing left for the later tests' sweeps to find
  });

  it('a crashed node (connection cut, no cleanup) is swept by one survivor within the timeout', async () => {
    const timeout = 1200;
    const dead = await node(timeout);
    const a = await node(timeout);
    const b = await node(timeout);
    const room = uniq('r');
    const users = Array.from({ length: 50 }, () => uniq('u'));
    for (const [i, u] of users.entries()) {
      await dead.store.connect({ connId: `${dead.nodeId}:${i}`, user: u });
      await dead.store.joinRoom(`${dead.nodeId}:${i}`, u, room);
    }
    await dead.store.setStatus(users[0]!, 'away', undefined);
    expect((await a.store.roomMembers(room, 10)).count).toBe(50);

    const t0 = Date.now();
    dead.client.disconnect(); // the process is gone: no more heartbeats, nothing removed
    const found: string[] = [];
    let ms = 0;
    // A generous bound (a shared box); the measured time is printed, not asserted.
    while (found.length < 50 && Date.now() - t0 < timeout * 20) {
      const [ra, rb] = await Promise.all([a.store.sweep(), b.store.sweep()]);
      for (const t of [...ra.departures, ...rb.departures]) {
        expect(t.wentOffline).toBe(true);
        expect(t.leftRooms).toEqual([room]);
        found.push(t.user);
      }
      ms = Date.now() - t0;
      await sleep(timeout / 3);
    }
    console.log(`[presence store] crashed node's 50 connections swept after ${ms} ms (nodeTimeoutMs=${timeout})`);
    expect(found.sort()).toEqual([...users].sort()); // each exactly once
    expect((await a.store.roomMembers(room, 10)).count).toBe(0);
    expect((await b.store.listByStatus('away', 10_000)).users.map((s) => s.user)).not.toContain(users[0]);
    expect(await admin.exists(`parley:node:${dead.nodeId}:conns`)).toBe(0);
    expect(await admin.zscore('parley:nodes', dead.nodeId)).toBeNull();
    expect(await admin.exists(`parley:node:${dead.nodeId}:claim`)).toBe(0);
  });

  it('a node that lost its lease (Redis out of reach too long) re-registers its connections and reports arrivals', async () => {
    const timeout = 1200;
    const lost = await node(timeout);
    const other = await node(timeout);
    const room = uniq('r');
    const user = uniq('u');
    await lost.store.connect({ connId: `${lost.nodeId}:1`, user });
    await lost.store.joinRoom(`${lost.nodeId}:1`, user, room);
    await lost.store.setStatus(user, 'busy', 'x');

    lost.client.disconnect();
    // Its lease (timeout / 2) runs out; then the other node's sweep takes its connections.
    const swept = await waitFor(
      async () => {
        const r = await other.store.sweep();
        return r.departures.length > 0 ? r : null;
      },
      timeout * 20,
      'the lost node to be swept',
    );
    expect(swept.departures.map((t) => t.user)).toEqual([user]);
    expect((await other.store.users([user]))[0]?.online).toBe(false);

    await lost.client.connect();
    const back = await waitFor(
      async () => {
        const r = await lost.store.sweep();
        return r.arrivals.length > 0 ? r : null;
      },
      5000,
      'arrivals',
    );
    expect(back.arrivals).toEqual([
      { user, joinedRooms: [room], state: expect.objectContaining({ online: true, status: 'busy' }) },
    ]);
    expect((await other.store.users([user]))[0]).toMatchObject({ online: true, status: 'busy', text: 'x' });
    expect((await other.store.roomMembers(room, 10)).count).toBe(1);
    expect((await other.store.listByStatus('busy', 10_000)).users.map((s) => s.user)).toContain(user);
    // Registered again: a later crash is swept like any other.
    expect(await admin.hget(`parley:node:${lost.nodeId}:conns`, `${lost.nodeId}:1`)).toBe(user);
    expect(await admin.zscore('parley:nodes', lost.nodeId)).not.toBeNull();
  });

  it('registers a connection opened while Redis was out of reach, and removes one closed meanwhile', async () => {
    const a = await node(3000);
    const watcher = await node(3000);
    const room = uniq('r');
    const stays = uniq('stays');
    const goes = uniq('goes');
    const comes = uniq('comes');
    await a.store.connect({ connId: `${a.nodeId}:1`, user: stays });
    await a.store.connect({ connId: `${a.nodeId}:2`, user: goes });
    await a.store.joinRoom(`${a.nodeId}:2`, goes, room);
    a.client.disconnect(); // a short outage: shorter than the lease
    await expect(a.store.connect({ connId: `${a.nodeId}:3`, user: comes })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await expect(a.store.disconnect(`${a.nodeId}:2`)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await waitFor(() => a.client.status === 'end', 3000, 'connection closed');
    await a.client.connect();
    await waitFor(async () => (await watcher.store.users([comes]))[0]?.online, 3000, 'registered after the outage');
    const r = await a.store.sweep();
    const mine = r.departures.filter((t) => [stays, goes, comes].includes(t.user)); // earlier tests' nodes are swept too
    expect(mine).toEqual([expect.objectContaining({ user: goes, wentOffline: true, leftRooms: [room] })]);
    const [s1, s2] = await watcher.store.users([stays, goes]);
    expect(s1?.online).toBe(true);
    expect(s2?.online).toBe(false);
    expect((await watcher.store.roomMembers(room, 10)).count).toBe(0);
  });

  it('restores connections, rooms and chosen statuses (invisible stays invisible) after Redis lost its data', async () => {
    const a = await node(1200);
    const room = uniq('r');
    const shy = uniq('shy');
    const bob = uniq('bob');
    await a.store.connect({ connId: `${a.nodeId}:1`, user: shy, name: 'Shy' });
    await a.store.connect({ connId: `${a.nodeId}:2`, user: bob });
    await a.store.joinRoom(`${a.nodeId}:1`, shy, room);
    await a.store.joinRoom(`${a.nodeId}:2`, bob, room);
    await a.store.setStatus(shy, 'invisible', undefined);
    await admin.flushall();
    await waitFor(async () => (await a.store.roomMembers(room, 10)).count === 2, 3000, 'members restored');
    const [s, b] = await a.store.users([shy, bob]);
    expect(s).toMatchObject({ online: true, status: 'invisible', name: 'Shy' });
    expect(b).toMatchObject({ online: true, status: 'online' });
    expect((await a.store.listByStatus('online', 100)).users.map((x) => x.user)).toEqual([bob]);
    const r = await a.store.sweep();
    expect(r.arrivals.map((x) => x.user).sort()).toEqual([shy, bob].sort());
  });

  it('repairs a status index entry that disagrees with the user (a node died between the two writes)', async () => {
    const a = await node(3000);
    const ghost = uniq('ghost');
    await admin.zadd(`parley:{presence:${presenceBucket(ghost)}}:status:online`, 1, ghost);
    const before = await a.store.listByStatus('online', 10_000);
    expect(before.users.map((x) => x.user)).not.toContain(ghost);
    expect(await admin.zscore(`parley:{presence:${presenceBucket(ghost)}}:status:online`, ghost)).toBeNull();
    const after = await a.store.listByStatus('online', 10_000);
    expect(after.count).toBe(before.count);
  });

  it.each([
    ['one script per status change (single Redis)', false],
    ['user script, then versioned index write (Cluster mode)', true],
  ])('keeps the status index equal to the users under concurrent writers on two nodes: %s', async (_, cluster) => {
    const a = await node(3000, uniq('n'), cluster);
    const b = await node(3000, uniq('n'), cluster);
    const users = Array.from({ length: 4 }, () => uniq('c'));
    const statuses: ChosenStatus[] = ['online', 'away', 'busy', 'invisible'];
    let conn = 0;
    const live = new Map<string, { store: RedisPresenceStore; id: string }[]>();
    const ops: Promise<unknown>[] = [];
    for (let step = 0; step < 2000; step++) {
      const u = users[step % users.length]!;
      const store = step % 2 ? a.store : b.store;
      const k = (step * 7919) % 10;
      if (k < 4) {
        const id = `${store === a.store ? a.nodeId : b.nodeId}:${++conn}`;
        live.set(u, [...(live.get(u) ?? []), { store, id }]);
        ops.push(store.connect({ connId: id, user: u }));
      } else if (k < 7) {
        const list = live.get(u) ?? [];
        const c = list.shift();
        if (c) ops.push(c.store.disconnect(c.id));
      } else {
        ops.push(store.setStatus(u, statuses[step % 4]!, undefined));
      }
    }
    await Promise.all(ops);
    const truth = await a.store.users(users);
    // The index itself (before any read could repair it), then the list the API serves.
    for (const s of statuses) {
      const expected = truth.filter((t) => t.online && t.status === s).map((t) => t.user);
      const raw: string[] = [];
      for (let bucket = 0; bucket < PRESENCE_BUCKETS; bucket++) {
        raw.push(...(await admin.zrange(`parley:{presence:${bucket}}:status:${s}`, '0', '-1')));
      }
      expect(
        raw.filter((x) => users.includes(x)).every((x) => raw.indexOf(x) === raw.lastIndexOf(x)),
        'one bucket per user',
      ).toBe(true);
      raw.splice(0, raw.length, ...raw.filter((x) => users.includes(x)));
      expect(raw.sort(), `index of ${s}`).toEqual(expected.sort());
    }
    for (const s of statuses) {
      const expected = truth.filter((t) => t.online && t.status === s).map((t) => t.user);
      const listed = (await b.store.listByStatus(s, 100_000)).users.map((x) => x.user).filter((x) => users.includes(x));
      expect(listed.sort()).toEqual(expected.sort());
    }
    for (const t of truth) {
      const score = await admin.zscore(`parley:{presence:${presenceBucket(t.user)}}:users`, t.user);
      expect(score === '0').toBe(t.online);
    }
  });
});
