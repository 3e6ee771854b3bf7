/**
 * Black-box presence over real sockets and the HTTP API, run against one
 * memory node and against two Redis nodes. On two nodes a user's devices and
 * the people watching them are spread over both nodes; on one node the same
 * steps run on that node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEntry } from '../../src/protocol/frames.js';
import type { Frame, TestClient } from '../support/client.js';
import { sleep, waitFor } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';

export const API_KEY = 'presence-test-key';

export interface Cluster {
  /** One node (memory) or two (Redis); started with PARLEY_API_KEY = API_KEY. */
  nodes: RunningNode[];
  stop(): Promise<void>;
}

let n = 0;
export const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

/** GET an /api path with the API key; returns the JSON body (throws on a non-2xx status). */
export async function api<T>(node: { url: string }, path: string): Promise<T> {
  const res = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const body = (await res.json()) as T;
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

type PresenceFrame = Frame & { room?: string; event: string; member: PresenceEntry & { status: string } };

/** Presence events about `user` (in `room`, or user-level when room is null). */
export function presenceOf(c: TestClient, user: string, room?: string | null): PresenceFrame[] {
  return c.events.filter(
    (f): f is PresenceFrame =>
      f.type === 'presence' &&
      (f as PresenceFrame).member?.user === user &&
      (room === undefined || (room === null ? f.room === undefined : f.room === room)),
  );
}

export function waitPresence(
  c: TestClient,
  user: string,
  room: string | null,
  event: string,
  ms = 5000,
): Promise<PresenceFrame> {
  return c.waitFor(
    (f) =>
      f.type === 'presence' &&
      (f as PresenceFrame).member?.user === user &&
      (f as PresenceFrame).event === event &&
      (room === null ? f.room === undefined : f.room === room),
    ms,
    `presence ${event} of ${user} in ${room ?? '(user-level)'}`,
  ) as Promise<PresenceFrame>;
}

export function presenceSuite(name: string, makeCluster: () => Promise<Cluster>): void {
  describe(`presence over WebSocket and HTTP: ${name}`, () => {
    let cluster: Cluster;
    const clients: TestClient[] = [];
    /** Node i % nodes. */
    const node = (i: number): RunningNode => cluster.nodes[i % cluster.nodes.length]!;
    const client = async (user: string, nodeIndex: number, display?: string): Promise<TestClient> => {
      const c = await node(nodeIndex).client(user, display);
      clients.push(c);
      return c;
    };
    const closeAndWait = async (c: TestClient): Promise<void> => {
      c.close();
      await c.closed;
    };

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('is one entry for several devices: no flicker when one closes, leave with lastSeen after the last', async () => {
      const room = uniq('r');
      const user = uniq('multi');
      const watcher = await client(uniq('w'), 1);
      await watcher.ok({ type: 'join', room });
      const d1 = await client(user, 0, 'Multi');
      const d2 = await client(user, 1, 'Multi');
      await d1.ok({ type: 'join', room });
      await waitPresence(watcher, user, room, 'join');
      const j2 = await d2.ok<{ count: number; members: PresenceEntry[] }>({ type: 'join', room });
      expect(j2.count).toBe(2);
      expect(j2.members.find((m) => m.user === user)).toMatchObject({ status: 'online', name: 'Multi' });

      await closeAndWait(d1);
      await sleep(400); // time for a wrong event to arrive
      expect(presenceOf(watcher, user, room).map((f) => f.event)).toEqual(['join']);
      const mid = await watcher.ok<{ users: PresenceEntry[] }>({ type: 'presence', users: [user] });
      expect(mid.users[0]).toMatchObject({ user, status: 'online' });
      expect((await watcher.ok<{ count: number }>({ type: 'presence', room })).count).toBe(2);

      const t0 = Date.now();
      await closeAndWait(d2);
      const leave = await waitPresence(watcher, user, room, 'leave');
      expect(leave.member).toMatchObject({ user, status: 'offline', name: 'Multi' });
      expect(leave.member.lastSeen).toBeGreaterThanOrEqual(t0 - 1000);
      expect(leave.member.lastSeen).toBeLessThanOrEqual(Date.now());
      expect(presenceOf(watcher, user, room).map((f) => f.event)).toEqual(['join', 'leave']);
      for (const i of [0, 1]) {
        const entry = await api<PresenceEntry>(node(i), `/api/users/${user}/presence`);
        expect(entry).toMatchObject({ user, status: 'offline', lastSeen: leave.member.lastSeen });
        const online = await api<{ users: PresenceEntry[] }>(node(i), '/api/presence?status=online');
        expect(online.users.map((u) => u.user)).not.toContain(user);
      }
      const roomNow = await api<{ count: number; members: PresenceEntry[] }>(node(0), `/api/rooms/${room}/presence`);
      expect(roomNow.count).toBe(1);
      expect(roomNow.members.map((m) => m.user)).not.toContain(user);
    });

    it('propagates status and text to rooms, other devices, the presence command and HTTP', async () => {
      const room = uniq('r');
      const user = uniq('st');
      const watcher = await client(uniq('w'), 1);
      const me = await client(user, 0);
      const myOther = await client(user, 1);
      await watcher.ok({ type: 'join', room });
      await me.ok({ type: 'join', room });
      const online = await api<{ users: PresenceEntry[]; count: number }>(node(1), '/api/presence?status=online');
      expect(online.users.map((u) => u.user)).toContain(user);

      const reply = await me.ok<{ presence: PresenceEntry }>({ type: 'status', status: 'busy', text: 'in a call' });
      expect(reply.presence).toMatchObject({ user, status: 'busy', text: 'in a call' });
      const upd = await waitPresence(watcher, user, room, 'update');
      expect(upd.member).toMatchObject({ user, status: 'busy', text: 'in a call' });
      const own = await waitPresence(myOther, user, null, 'update');
      expect(own.member).toMatchObject({ user, status: 'busy', text: 'in a call' });

      const seen = await watcher.ok<{ users: PresenceEntry[]; count: number }>({
        type: 'presence',
        users: [user, 'nobody-here'],
      });
      expect(seen.count).toBe(2);
      expect(seen.users[0]).toMatchObject({ user, status: 'busy', text: 'in a call' });
      expect(seen.users[1]).toMatchObject({ user: 'nobody-here', status: 'offline' });
      const members = await watcher.ok<{ members: PresenceEntry[] }>({ type: 'presence', room });
      expect(members.members.find((m) => m.user === user)).toMatchObject({ status: 'busy', text: 'in a call' });
      for (const i of [0, 1]) {
        expect(await api<PresenceEntry>(node(i), `/api/users/${user}/presence`)).toMatchObject({
          status: 'busy',
          text: 'in a call',
        });
        const busy = await api<{ users: PresenceEntry[] }>(node(i), '/api/presence?status=busy');
        expect(busy.users.find((u) => u.user === user)).toMatchObject({ status: 'busy' });
        const on = await api<{ users: PresenceEntry[] }>(node(i), '/api/presence?status=online');
        expect(on.users.map((u) => u.user)).not.toContain(user);
      }

      // Same status, new text: an update; the very same again: no event.
      await me.ok({ type: 'status', status: 'busy', text: 'still in a call' });
      await watcher.waitFor(
        (f) => f.type === 'presence' && (f as PresenceFrame).member.text === 'still in a call',
        5000,
      );
      const count = presenceOf(watcher, user, room).length;
      await me.ok({ type: 'status', status: 'busy', text: 'still in a call' });
      await me.ok({ type: 'status', status: 'away' });
      const away = await watcher.waitFor(
        (f) => f.type === 'presence' && (f as PresenceFrame).member.status === 'away',
        5000,
      );
      expect((away as PresenceFrame).member.text).toBeUndefined();
      expect(presenceOf(watcher, user, room)).toHaveLength(count + 1);
      const tooLong = await me.request({ type: 'status', status: 'away', text: 'x'.repeat(141) });
      expect(tooLong.ok).toBe(false);
      if (!tooLong.ok) expect(tooLong.error.code).toBe('TOO_LARGE');
    });

    it('shows invisible users offline to others (listed as members), their true status to themselves, and hides their typing', async () => {
      const room = uniq('r');
      const user = uniq('inv');
      const watcher = await client(uniq('w'), 1);
      const me = await client(user, 0);
      const myOther = await client(user, 1);
      await watcher.ok({ type: 'join', room });
      await me.ok({ type: 'join', room });
      await myOther.ok({ type: 'join', room });
      await me.ok({ type: 'typing', room });
      await watcher.waitFor((f) => f.type === 'typing' && f.user === user, 5000, 'typing while visible');

      const reply = await me.ok<{ presence: { status: string } }>({
        type: 'status',
        status: 'invisible',
        text: 'hidden',
      });
      expect(reply.presence.status).toBe('invisible');
      const upd = await waitPresence(watcher, user, room, 'update');
      expect(upd.member.status).toBe('offline');
      expect(upd.member.text).toBeUndefined();
      const own = await waitPresence(myOther, user, null, 'update');
      expect(own.member).toMatchObject({ status: 'invisible', text: 'hidden' });

      const seen = await watcher.ok<{ users: PresenceEntry[] }>({ type: 'presence', users: [user] });
      expect(seen.users[0]).toEqual({ user, status: 'offline' });
      const self = await myOther.ok<{ users: Array<{ status: string }> }>({ type: 'presence', users: [user] });
      expect(self.users[0]?.status).toBe('invisible');
      const members = await watcher.ok<{ members: PresenceEntry[]; count: number }>({ type: 'presence', room });
      expect(members.count).toBe(2);
      expect(members.members.find((m) => m.user === user)).toEqual({ user, status: 'offline' });
      const selfMembers = await me.ok<{ members: Array<{ user: string; status: string }> }>({ type: 'presence', room });
      expect(selfMembers.members.find((m) => m.user === user)?.status).toBe('invisible');
      for (const i of [0, 1]) {
        expect(await api<PresenceEntry>(node(i), `/api/users/${user}/presence`)).toEqual({ user, status: 'offline' });
        for (const s of ['online', 'away', 'busy']) {
          const list = await api<{ users: PresenceEntry[] }>(node(i), `/api/presence?status=${s}`);
          expect(list.users.map((u) => u.user)).not.toContain(user);
        }
      }

      const typingBefore = watcher.events.filter((f) => f.type === 'typing' && f.user === user).length;
      await me.ok({ type: 'typing', room });
      await sleep(300);
      expect(watcher.events.filter((f) => f.type === 'typing' && f.user === user)).toHaveLength(typingBefore);

      // Closing one device of an invisible user reveals nothing.
      const eventsBefore = presenceOf(watcher, user, room).length;
      await closeAndWait(myOther);
      await sleep(300);
      expect(presenceOf(watcher, user, room)).toHaveLength(eventsBefore);

      await me.ok({ type: 'status', status: 'online' });
      const back = await watcher.waitFor(
        (f) =>
          f.type === 'presence' &&
          (f as PresenceFrame).event === 'update' &&
          (f as PresenceFrame).member.user === user &&
          (f as PresenceFrame).member.status === 'online',
        5000,
        'update back to online',
      );
      expect(back).toMatchObject({ room });
      const on = await api<{ users: PresenceEntry[] }>(node(1), '/api/presence?status=online');
      expect(on.users.map((u) => u.user)).toContain(user);
    });

    it('counts a room of 1,000 members exactly and caps the member list', async () => {
      const room = uniq('big');
      const prefix = uniq('m');
      // 1,000 connections registered straight in the nodes' presence stores (spread over the nodes) ...
      const fakes = Array.from({ length: 1000 }, (_, i) => ({
        connId: `${prefix}-c${i}`,
        user: `${prefix}-u${i}`,
        node: node(i),
      }));
      await Promise.all(
        fakes.map(async (f) => {
          await f.node.node.engine.presence.connect({ connId: f.connId, user: f.user });
          await f.node.node.engine.presence.joinRoom(f.connId, f.user, room);
        }),
      );
      // ... and real sockets on top.
      const real = await Promise.all(Array.from({ length: 10 }, (_, i) => client(`${prefix}-real${i}`, i)));
      for (const c of real) await c.ok({ type: 'join', room });
      const last = await client(`${prefix}-last`, 1);
      const t0 = performance.now();
      const joined = await last.ok<{ count: number; members: PresenceEntry[] }>({ type: 'join', room });
      const joinMs = performance.now() - t0;
      expect(joined.count).toBe(1011);
      expect(joined.members).toHaveLength(100);
      expect(new Set(joined.members.map((m) => m.user)).size).toBe(100);
      const t1 = performance.now();
      const q = await real[0]!.ok<{ count: number; members: PresenceEntry[] }>({ type: 'presence', room });
      const queryMs = performance.now() - t1;
      expect(q.count).toBe(1011);
      expect(q.members).toHaveLength(100);
      for (const i of [0, 1]) {
        const h = await api<{ count: number; members: PresenceEntry[] }>(node(i), `/api/rooms/${room}/presence`);
        expect(h.count).toBe(1011);
        expect(h.members.length).toBe(100);
      }
      // Half of them go: counts follow everywhere.
      await Promise.all(
        fakes.filter((_, i) => i % 2 === 0).map((f) => f.node.node.engine.presence.disconnect(f.connId)),
      );
      await closeAndWait(real[9]!);
      await waitFor(
        async () => (await api<{ count: number }>(node(1), `/api/rooms/${room}/presence`)).count === 510,
        5000,
        'count 510',
      );
      expect((await last.ok<{ count: number }>({ type: 'presence', room })).count).toBe(510);
      console.log(
        `[presence ${name}] room of 1,011 members: join reply ${joinMs.toFixed(1)} ms, presence query ${queryMs.toFixed(1)} ms`,
      );
      await Promise.all(
        fakes.filter((_, i) => i % 2 === 1).map((f) => f.node.node.engine.presence.disconnect(f.connId)),
      );
    });
  });
}
