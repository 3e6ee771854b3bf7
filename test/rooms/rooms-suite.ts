/**
 * Black-box memberships, read markers, unread counts, DMs and the directory
 * over real sockets, run on one memory node and on two Redis nodes (clients
 * alternate between the nodes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNREAD_CAP, type Message, type RoomEntry } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import { connect } from '../support/client.js';
import { sleep } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';
import { hsToken } from '../security/helpers.js';

export interface RoomsCluster {
  nodes: RunningNode[];
  stop(): Promise<void>;
}

export const API_KEY = 'rooms-test-api-key';
export const JWT_SECRET = 'a-rooms-test-secret-that-is-long-enough-0123';

let n = 0;
export const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;
/** Two fresh user ids in sorted order (for dm: rooms). */
const pair = (): [string, string] => [uniq('ua'), uniq('ub')].sort() as [string, string];

/** The settings every node of these suites runs with. */
export const SUITE_ENV = { PARLEY_API_KEY: API_KEY };
/** The settings of the JWT-mode nodes. */
export const JWT_ENV = { PARLEY_API_KEY: API_KEY, PARLEY_JWT_SECRET: JWT_SECRET };

interface JoinData {
  lastMessageId: string | null;
  lastReadId: string | null;
  unread: number;
}

async function api<T>(node: RunningNode, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const data = (await res.json()) as T;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

/** Publishes `count` messages from `from` over the HTTP API (no send rate limit), 25 at a time. */
async function publish(node: RunningNode, room: string, from: string, count: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < count; i += 25) {
    const batch = Array.from({ length: Math.min(25, count - i) }, (_, j) => i + j);
    // In order: ids must follow the list order, so one at a time within the batch is not needed for counting.
    for (const k of batch) {
      const r = await api<{ message: Message }>(node, 'POST', `/api/rooms/${encodeURIComponent(room)}/messages`, {
        from,
        text: `m${k}`,
      });
      out.push(r.message);
    }
  }
  return out;
}

export function roomsSuite(
  name: string,
  makeCluster: () => Promise<RoomsCluster>,
  makeJwt: () => Promise<RoomsCluster>,
): void {
  describe(`memberships and read state: ${name}`, () => {
    let cluster: RoomsCluster;
    const clients: TestClient[] = [];
    let next = 0;
    /** Client i connects to node i % nodes unless told. */
    const client = async (user: string, nodeIndex?: number): Promise<TestClient> => {
      const nodes = cluster.nodes;
      const c = await nodes[(nodeIndex ?? next++) % nodes.length]!.client(user);
      clients.push(c);
      return c;
    };
    const node = (i: number): RunningNode => cluster.nodes[i % cluster.nodes.length]!;

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('a join stores a membership seen by every device; the join reply has lastReadId and unread', async () => {
      const room = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const b = await client(bob, 0);
      await b.ok({ type: 'join', room });
      const sent: Message[] = [];
      for (let i = 0; i < 3; i++)
        sent.push((await b.ok<{ message: Message }>({ type: 'send', room, text: `t${i}` })).message);
      const a1 = await client(ann, 0);
      const j = await a1.ok<JoinData>({ type: 'join', room });
      expect(j).toMatchObject({ lastMessageId: sent[2]!.id, lastReadId: null, unread: 3 });
      // Another device of ann, on the other node, has joined nothing and still finds the room.
      const a2 = await client(ann, 1);
      const { rooms } = await a2.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms).toEqual([{ room, lastMessage: sent[2], lastReadId: null, unread: 3 }]);
      const bj = await b.ok<JoinData>({ type: 'join', room });
      expect(bj).toMatchObject({ lastReadId: sent[2]!.id, unread: 0 });
    });

    it('read moves the marker forward only and tells the other devices and the joined members', async () => {
      const room = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const b = await client(bob, 1);
      await b.ok({ type: 'join', room });
      const a1 = await client(ann, 0);
      await a1.ok({ type: 'join', room });
      const a2 = await client(ann, 1); // not joined
      const sent: Message[] = [];
      for (let i = 0; i < 4; i++)
        sent.push((await b.ok<{ message: Message }>({ type: 'send', room, text: `t${i}` })).message);
      expect(await a1.ok({ type: 'read', room, messageId: sent[2]!.id })).toEqual({ lastReadId: sent[2]!.id });
      const expected = { type: 'read', room, user: ann, messageId: sent[2]!.id };
      expect(await a2.waitFor((f) => f.type === 'read')).toEqual(expected);
      expect(await b.waitFor((f) => f.type === 'read')).toEqual(expected);
      // Back is refused quietly: the later marker stays, nobody is told.
      expect(await a2.ok({ type: 'read', room, messageId: sent[0]!.id })).toEqual({ lastReadId: sent[2]!.id });
      const { rooms } = await a1.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms[0]).toMatchObject({ room, lastReadId: sent[2]!.id, unread: 1 });
      await a2.ok({ type: 'read', room, messageId: sent[3]!.id });
      await b.waitFor((f) => f.type === 'read' && f.messageId === sent[3]!.id);
      await a1.waitFor((f) => f.type === 'read' && f.messageId === sent[3]!.id);
      await sleep(150);
      const reads = (c: TestClient): unknown[] => c.events.filter((f) => f.type === 'read');
      expect(reads(a1)).toEqual([{ ...expected, messageId: sent[3]!.id }]); // not its own read
      expect(reads(a2)).toEqual([expected]);
      expect(reads(b)).toHaveLength(2);
      // Sending moves the sender's marker silently.
      await b.ok({ type: 'send', room, text: 'more' });
      const mine = (await a1.ok<{ message: Message }>({ type: 'send', room, text: 'mine' })).message;
      await b.waitFor((f) => f.type === 'message' && (f.message as Message).id === mine.id);
      await sleep(150);
      expect(reads(b)).toHaveLength(2);
      expect(await a2.ok<JoinData>({ type: 'join', room })).toMatchObject({ lastReadId: mine.id, unread: 0 });
    });

    it('read needs a membership (NOT_JOINED), a known message (NOT_FOUND) and a permitted room', async () => {
      const room = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const b = await client(bob);
      await b.ok({ type: 'join', room });
      const m = (await b.ok<{ message: Message }>({ type: 'send', room, text: 'x' })).message;
      const a = await client(ann);
      const r1 = await a.request({ type: 'read', room, messageId: m.id });
      expect(r1.ok ? null : r1.error.code).toBe('NOT_JOINED');
      await a.ok({ type: 'join', room });
      await a.ok({ type: 'leave', room }); // a plain leave keeps the membership
      expect(await a.ok({ type: 'read', room, messageId: m.id })).toEqual({ lastReadId: m.id });
      const r2 = await a.request({ type: 'read', room, messageId: '1-0' });
      expect(r2.ok ? null : r2.error.code).toBe('NOT_FOUND');
      const r3 = await a.request({ type: 'read', room, messageId: 'nope' });
      expect(r3.ok ? null : r3.error.code).toBe('BAD_REQUEST');
      const r4 = await a.request({ type: 'read', room: `dm:${bob}:zz-${ann}`, messageId: m.id });
      expect(r4.ok ? null : r4.error.code).toBe('FORBIDDEN');
    });

    it('counts unread exactly up to 999, then 999', async () => {
      const room = uniq('cap');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const a = await client(ann);
      await a.ok({ type: 'join', room });
      const sent = await publish(node(1), room, bob, UNREAD_CAP + 3);
      expect((await a.ok<JoinData>({ type: 'join', room })).unread).toBe(UNREAD_CAP);
      await a.ok({ type: 'read', room, messageId: sent[3]!.id });
      expect((await a.ok<JoinData>({ type: 'join', room })).unread).toBe(UNREAD_CAP - 1);
      await a.ok({ type: 'read', room, messageId: sent[UNREAD_CAP - 1]!.id });
      const { rooms } = await a.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms[0]).toMatchObject({ room, unread: 3, lastMessage: sent.at(-1) });
    });

    it('unread leaves deleted messages out; rooms shows the newest message as it is now', async () => {
      const room = uniq('del');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const a = await client(ann, 0);
      const b = await client(bob, 1);
      await a.ok({ type: 'join', room });
      await b.ok({ type: 'join', room });
      const sent: Message[] = [];
      for (let i = 0; i < 4; i++)
        sent.push((await b.ok<{ message: Message }>({ type: 'send', room, text: `t${i}` })).message);
      await a.ok({ type: 'read', room, messageId: sent[0]!.id });
      await b.ok({ type: 'delete', room, messageId: sent[1]!.id });
      await b.ok({ type: 'edit', room, messageId: sent[3]!.id, text: 'edited' });
      const { rooms } = await a.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms[0]).toMatchObject({ room, unread: 2, lastMessage: { id: sent[3]!.id, text: 'edited' } });
      await b.ok({ type: 'delete', room, messageId: sent[3]!.id });
      expect(await a.ok<JoinData>({ type: 'join', room })).toMatchObject({ unread: 1 });
    });

    it('leave forget ends the membership; the other connections stay joined', async () => {
      const [r1, r2] = [uniq('r'), uniq('r')];
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const a1 = await client(ann, 0);
      const a2 = await client(ann, 1);
      for (const r of [r1, r2]) await a1.ok({ type: 'join', room: r });
      await a2.ok({ type: 'join', room: r1 });
      const b = await client(bob);
      await b.ok({ type: 'join', room: r1 });
      await b.ok({ type: 'send', room: r1, text: 'one' });
      await sleep(5);
      await b.ok({ type: 'join', room: r2 });
      await b.ok({ type: 'send', room: r2, text: 'two' });
      const listed = async (c: TestClient): Promise<string[]> =>
        (await c.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' })).rooms.map((x) => x.room);
      expect(await listed(a2)).toEqual([r2, r1]);
      expect(await a1.ok({ type: 'leave', room: r1, forget: true })).toEqual({});
      expect(await listed(a2)).toEqual([r2]);
      // a2 is still joined: it gets r1's messages and may send there.
      const m = (await b.ok<{ message: Message }>({ type: 'send', room: r1, text: 'still there?' })).message;
      await a2.waitFor((f) => f.type === 'message' && (f.message as Message).id === m.id);
      expect(a1.messages(r1).map((x) => x.id)).not.toContain(m.id);
      const r = await a2.request({ type: 'read', room: r1, messageId: m.id });
      expect(r.ok ? null : r.error.code).toBe('NOT_JOINED');
      // forget works from a connection that has not joined; a second time there is nothing to forget.
      const a3 = await client(ann);
      expect(await a3.ok({ type: 'leave', room: r2, forget: true })).toEqual({});
      expect(await listed(a3)).toEqual([]);
      const again = await a3.request({ type: 'leave', room: r2, forget: true });
      expect(again.ok ? null : again.error.code).toBe('NOT_JOINED');
      // Joining again resumes the kept marker.
      const j = await a3.ok<JoinData>({ type: 'join', room: r1 });
      expect(j.unread).toBe(2);
    });

    it('a DM makes both users members: the other finds it in rooms with its unread count before joining', async () => {
      const [ann, bob] = pair();
      const dm = `dm:${ann}:${bob}`;
      const a = await client(ann, 0);
      const b = await client(bob, 1);
      expect((await b.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' })).rooms).toEqual([]);
      await a.ok({ type: 'join', room: dm });
      const m1 = (await a.ok<{ message: Message }>({ type: 'send', room: dm, text: 'hi bob' })).message;
      const m2 = (await a.ok<{ message: Message }>({ type: 'send', room: dm, text: 'are you there?' })).message;
      const { rooms } = await b.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' });
      expect(rooms).toEqual([{ room: dm, lastMessage: m2, lastReadId: null, unread: 2 }]);
      expect(await b.ok({ type: 'read', room: dm, messageId: m1.id })).toEqual({ lastReadId: m1.id });
      await a.waitFor((f) => f.type === 'read' && f.user === bob && f.messageId === m1.id);
      expect(await b.ok<JoinData>({ type: 'join', room: dm })).toMatchObject({ lastReadId: m1.id, unread: 1 });
      // Over HTTP too, and a forgotten DM comes back with the next message.
      await b.ok({ type: 'leave', room: dm, forget: true });
      expect((await api<{ rooms: RoomEntry[] }>(node(0), 'GET', `/api/users/${bob}/rooms`)).rooms).toEqual([]);
      await publish(node(0), dm, ann, 1);
      const back = await api<{ rooms: RoomEntry[] }>(node(1), 'GET', `/api/users/${bob}/rooms`);
      expect(back.rooms.map((x) => [x.room, x.unread])).toEqual([[dm, 2]]);
    });

    it("an invisible user's marker reaches only their own devices", async () => {
      const room = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const a = await client(ann, 0);
      await a.ok({ type: 'join', room });
      const b1 = await client(bob, 1);
      const b2 = await client(bob, 0);
      await b1.ok({ type: 'status', status: 'invisible' });
      await b1.ok({ type: 'join', room });
      const m = (await a.ok<{ message: Message }>({ type: 'send', room, text: 'hello?' })).message;
      await b1.ok({ type: 'read', room, messageId: m.id });
      expect(await b2.waitFor((f) => f.type === 'read')).toEqual({ type: 'read', room, user: bob, messageId: m.id });
      // A later event on the room shows that nothing about bob's read went before it.
      await b1.ok({ type: 'status', status: 'online' });
      const m2 = (await a.ok<{ message: Message }>({ type: 'send', room, text: 'again' })).message;
      await b1.ok({ type: 'read', room, messageId: m2.id });
      await a.waitFor((f) => f.type === 'read');
      expect(a.events.filter((f) => f.type === 'read')).toEqual([{ type: 'read', room, user: bob, messageId: m2.id }]);
    });

    it('rooms lists most recent first, the same over HTTP', async () => {
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const rs = [uniq('a'), uniq('b'), uniq('c')];
      const a = await client(ann);
      const b = await client(bob);
      for (const r of rs) {
        await a.ok({ type: 'join', room: r });
        await b.ok({ type: 'join', room: r });
      }
      const empty = uniq('empty');
      await a.ok({ type: 'join', room: empty });
      for (const r of [rs[1]!, rs[0]!, rs[2]!]) {
        await b.ok({ type: 'send', room: r, text: `in ${r}` });
        await sleep(5);
      }
      const ws = (await a.ok<{ rooms: RoomEntry[] }>({ type: 'rooms' })).rooms;
      expect(ws.map((x) => x.room)).toEqual([rs[2], rs[0], rs[1], empty]);
      expect(ws.map((x) => x.unread)).toEqual([1, 1, 1, 0]);
      expect(ws[3]).toEqual({ room: empty, lastMessage: null, lastReadId: null, unread: 0 });
      const http = await api<{ rooms: RoomEntry[] }>(node(1), 'GET', `/api/users/${ann}/rooms`);
      expect(http.rooms).toEqual(ws);
      const unknown = await api<{ rooms: RoomEntry[] }>(node(0), 'GET', `/api/users/${uniq('nobody')}/rooms`);
      expect(unknown).toEqual({ rooms: [] });
    });

    it('directory lists rooms with messages, newest first, with membership counts, no DMs, by prefix', async () => {
      const p = uniq('dirp');
      const [ann, bob] = pair();
      const a = await client(ann);
      const b = await client(bob);
      await a.ok({ type: 'join', room: `${p}-quiet` }); // no messages: not listed
      for (const r of [`${p}-one`, `${p}-two`]) {
        await a.ok({ type: 'join', room: r });
        await a.ok({ type: 'send', room: r, text: `hello ${r}` });
        await sleep(5);
      }
      await b.ok({ type: 'join', room: `${p}-one` });
      await a.ok({ type: 'join', room: `dm:${ann}:${bob}` });
      await a.ok({ type: 'send', room: `dm:${ann}:${bob}`, text: 'private' });
      const { rooms } = await b.ok<{ rooms: Array<{ room: string; members: number; lastMessage: Message }> }>({
        type: 'directory',
        prefix: p,
      });
      expect(rooms.map((x) => [x.room, x.members])).toEqual([
        [`${p}-two`, 1],
        [`${p}-one`, 2],
      ]);
      expect(rooms[0]!.lastMessage).toMatchObject({ text: `hello ${p}-two`, from: ann });
      const all = await b.ok<{ rooms: Array<{ room: string }> }>({ type: 'directory' });
      expect(all.rooms.length).toBeLessThanOrEqual(100);
      expect(all.rooms.some((x) => x.room.startsWith('dm:'))).toBe(false);
      expect(all.rooms.map((x) => x.room)).toContain(`${p}-two`);
      const dms = await b.ok<{ rooms: unknown[] }>({ type: 'directory', prefix: 'dm:' });
      expect(dms.rooms).toEqual([]);
    });
  });

  describe(`directory and rooms with a JWT rooms claim: ${name}`, () => {
    let cluster: RoomsCluster;
    const clients: TestClient[] = [];
    const as = async (claims: Record<string, unknown>, nodeIndex: number): Promise<TestClient> => {
      const token = await hsToken(JWT_SECRET, claims);
      const c = await connect(`${cluster.nodes[nodeIndex % cluster.nodes.length]!.wsUrl}?token=${token}`);
      clients.push(c);
      return c;
    };
    beforeAll(async () => {
      cluster = await makeJwt();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('never lists a room the user may not join', async () => {
      const p = uniq('claim');
      const admin = await as({ sub: uniq('admin') }, 0);
      for (const r of [`${p}-team-red`, `${p}-team-blue`, `${p}-ops`, `${p}-secret`]) {
        await admin.ok({ type: 'join', room: r });
        await admin.ok({ type: 'send', room: r, text: `in ${r}` });
        await sleep(5);
      }
      const user = await as({ sub: uniq('u'), rooms: [`${p}-team-*`, `${p}-ops`] }, 1);
      const got = async (prefix?: string): Promise<string[]> =>
        (
          await user.ok<{ rooms: Array<{ room: string }> }>(
            prefix === undefined ? { type: 'directory' } : { type: 'directory', prefix },
          )
        ).rooms.map((x) => x.room);
      expect(await got()).toEqual([`${p}-ops`, `${p}-team-blue`, `${p}-team-red`]);
      expect(await got(`${p}-team-r`)).toEqual([`${p}-team-red`]);
      expect(await got(`${p}-se`)).toEqual([]);
      expect(await got(p)).toEqual([`${p}-ops`, `${p}-team-blue`, `${p}-team-red`]);
      const wide = await as({ sub: uniq('w'), rooms: ['*'] }, 0);
      const w = (await wide.ok<{ rooms: Array<{ room: string }> }>({ type: 'directory', prefix: p })).rooms;
      expect(w.map((x) => x.room)).toEqual([`${p}-secret`, `${p}-ops`, `${p}-team-blue`, `${p}-team-red`]);
    });
  });
}
