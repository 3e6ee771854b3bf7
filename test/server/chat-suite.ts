/**
 * Black-box chat behaviour over real sockets, run against a single memory
 * node and against two Redis nodes (clients spread over both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import type { RunningNode } from '../support/server.js';

export interface Cluster {
  nodes: RunningNode[];
  stop(): Promise<void>;
}

let n = 0;
const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

export function chatSuite(name: string, makeCluster: () => Promise<Cluster>): void {
  describe(`chat over WebSocket: ${name}`, () => {
    let cluster: Cluster;
    const clients: TestClient[] = [];
    /** Client i connects to node i % nodes. */
    const client = async (user: string, nameOf?: string, nodeIndex?: number): Promise<TestClient> => {
      const nodes = cluster.nodes;
      const node = nodes[(nodeIndex ?? clients.length) % nodes.length]!;
      const c = await node.client(user, nameOf);
      clients.push(c);
      return c;
    };

    /**
     * "Nothing more arrives": `sender` sends a marker to `room` and every observer waits for it. One room has
     * one order for every member, so whatever was sent to the room before the marker has arrived by then.
     */
    const settle = async (sender: TestClient, room: string, observers: TestClient[]): Promise<void> => {
      const text = uniq('marker');
      await sender.ok({ type: 'send', room, text });
      for (const o of observers) await o.waitFor((f) => f.type === 'message' && (f.message as Message).text === text);
    };
    const withoutMarkers = <M extends { text: string }>(msgs: M[]): M[] =>
      msgs.filter((m) => !m.text.startsWith('marker-'));

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('joins a room and gets members, count and last message id', async () => {
      const room = uniq('r');
      const ann = await client(uniq('ann'), 'Ann');
      const data = await ann.ok<{
        room: string;
        members: Array<{ user: string; status: string; name?: string }>;
        count: number;
        lastMessageId: string | null;
      }>({ type: 'join', room });
      expect(data.room).toBe(room);
      expect(data.count).toBe(1);
      expect(data.members).toHaveLength(1);
      expect(data.members[0]).toMatchObject({ status: 'online', name: 'Ann' });
      expect(data.lastMessageId).toBeNull();
    });

    it('delivers a message once to every member, the sender included, and replies with it', async () => {
      const room = uniq('r');
      const a = await client(uniq('a'));
      const b = await client(uniq('b'));
      const c = await client(uniq('c'));
      for (const x of [a, b, c]) await x.ok({ type: 'join', room });
      const { message } = await a.ok<{ message: Message }>({
        type: 'send',
        room,
        text: 'hello <script>x</script>',
        clientMsgId: 'm1',
      });
      expect(message).toMatchObject({ room, text: 'hello <script>x</script>', clientMsgId: 'm1' });
      expect(typeof message.ts).toBe('number');
      for (const x of [a, b, c]) {
        const ev = await x.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
        expect(ev).toEqual({ type: 'message', room, message });
      }
      await settle(b, room, [a, b, c]);
      for (const x of [a, b, c]) expect(withoutMarkers(x.messages(room))).toHaveLength(1);
    });

    it('keeps one order per room for every member and loses nothing under concurrent senders', async () => {
      const room = uniq('order');
      const members = await Promise.all(Array.from({ length: 6 }, (_, i) => client(uniq(`m${i}`))));
      for (const m of members) await m.ok({ type: 'join', room });
      const per = 15;
      await Promise.all(
        members.map(async (m, i) => {
          for (let k = 0; k < per; k++) await m.ok({ type: 'send', room, text: `${i}:${k}` });
        }),
      );
      const total = members.length * per;
      for (const m of members) await m.waitFor(() => m.messages(room).length >= total, 10_000, `${total} messages`);
      await settle(members[0]!, room, members);
      const orders = members.map((m) => withoutMarkers(m.messages(room)).map((x) => x.id));
      for (const o of orders) {
        expect(o).toHaveLength(total);
        expect(new Set(o).size).toBe(total);
        expect(o).toEqual(orders[0]);
      }
      // each sender's own messages arrive in the order sent
      const texts = members[0]!.messages(room).map((x) => x.text);
      for (let i = 0; i < members.length; i++) {
        const mine = texts.filter((t) => t.startsWith(`${i}:`));
        expect(mine).toEqual(Array.from({ length: per }, (_, k) => `${i}:${k}`));
      }
    });

    it('stores a retried clientMsgId once and broadcasts it once', async () => {
      const room = uniq('r');
      const a = await client(uniq('a'));
      const b = await client(uniq('b'));
      await a.ok({ type: 'join', room });
      await b.ok({ type: 'join', room });
      const first = await a.ok<{ message: Message }>({ type: 'send', room, text: 'once', clientMsgId: 'retry-1' });
      const second = await a.ok<{ message: Message }>({ type: 'send', room, text: 'once', clientMsgId: 'retry-1' });
      expect(second.message).toEqual(first.message);
      await settle(b, room, [b]);
      expect(withoutMarkers(b.messages(room))).toHaveLength(1);
      const h = await b.ok<{ messages: Message[] }>({ type: 'history', room });
      expect(h.messages.filter((m) => m.clientMsgId === 'retry-1')).toHaveLength(1);
    });

    it('pages history backwards and caps the limit at 200', async () => {
      const room = uniq('hist');
      const a = await client(uniq('a'));
      await a.ok({ type: 'join', room });
      const b = await client(uniq('b'));
      await b.ok({ type: 'join', room });
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        // Two senders take turns: each stays within its send burst (20) without waiting for the bucket to refill.
        const sender = i % 2 === 0 ? a : b;
        ids.push((await sender.ok<{ message: Message }>({ type: 'send', room, text: `h${i}` })).message.id);
      }
      const p1 = await a.ok<{ messages: Message[]; hasMore: boolean }>({ type: 'history', room, limit: 10 });
      expect(p1.messages.map((m) => m.id)).toEqual(ids.slice(15));
      expect(p1.hasMore).toBe(true);
      const p2 = await a.ok<{ messages: Message[]; hasMore: boolean }>({
        type: 'history',
        room,
        limit: 20,
        before: p1.messages[0]!.id,
      });
      expect(p2.messages.map((m) => m.id)).toEqual(ids.slice(0, 15));
      expect(p2.hasMore).toBe(false);
      const big = await a.ok<{ messages: Message[] }>({ type: 'history', room, limit: 100000 });
      expect(big.messages).toHaveLength(25);
      const def = await a.ok<{ messages: Message[] }>({ type: 'history', room });
      expect(def.messages).toHaveLength(25);
    });

    it('recovers exactly the missed messages with join since, without duplicates', async () => {
      const room = uniq('rec');
      const a = await client(uniq('a'));
      const sender = await client(uniq('s'));
      await a.ok({ type: 'join', room });
      await sender.ok({ type: 'join', room });
      const m0 = (await sender.ok<{ message: Message }>({ type: 'send', room, text: 'before' })).message;
      await a.waitFor((f) => f.type === 'message' && (f.message as Message).id === m0.id);
      a.close();
      const missed: string[] = [];
      for (let i = 0; i < 5; i++)
        missed.push((await sender.ok<{ message: Message }>({ type: 'send', room, text: `missed${i}` })).message.id);
      const back = await client(uniq('a2'));
      // live traffic while the recovering join is in flight
      const live = (async () => {
        const out: string[] = [];
        for (let i = 0; i < 5; i++)
          out.push((await sender.ok<{ message: Message }>({ type: 'send', room, text: `live${i}` })).message.id);
        return out;
      })();
      const j = await back.ok<{ messages: Message[]; recovered: boolean; lastMessageId: string }>({
        type: 'join',
        room,
        since: m0.id,
      });
      const liveIds = await live;
      expect(j.recovered).toBe(true);
      const batch = j.messages.map((m) => m.id);
      expect(batch.slice(0, 5)).toEqual(missed);
      await back.waitFor(() => batch.length + back.messages(room).length >= 10, 5000, 'all live');
      await settle(sender, room, [back]);
      const seen = [...batch, ...withoutMarkers(back.messages(room)).map((m) => m.id)];
      expect(seen).toEqual([...missed, ...liveIds]);
    });

    it('says recovered:false for an unknown since', async () => {
      const room = uniq('rec');
      const a = await client(uniq('a'));
      await a.ok({ type: 'join', room });
      await a.ok({ type: 'send', room, text: 'x' });
      const b = await client(uniq('b'));
      const j = await b.ok<{ recovered: boolean }>({ type: 'join', room, since: '1-0' });
      expect(j.recovered).toBe(false);
    });

    it('refuses what the protocol refuses, with the right codes, and keeps the connection', async () => {
      const room = uniq('r');
      const a = await client(uniq('a'));
      const nj = await a.request({ type: 'send', room, text: 'x' });
      expect(nj).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
      const unk = await a.request({ type: 'dance' });
      expect(unk).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
      const bad = await a.request({ type: 'join', room: 'bad room!' });
      expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      const wrongType = await a.request({ type: 'send', room, text: 42 });
      expect(wrongType).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      const leave = await a.request({ type: 'leave', room });
      expect(leave).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
      a.sendRaw('{not json');
      const err = await a.waitFor((f) => f.type === 'error');
      expect(err).toMatchObject({ error: { code: 'BAD_REQUEST' } });
      await a.ok({ type: 'join', room });
      const big = await a.request({ type: 'send', room, text: 'x'.repeat(4001) });
      expect(big).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
      const fits = await a.request({ type: 'send', room, text: '😀'.repeat(4000) });
      expect(fits.ok).toBe(true);
      const dm = await a.request({ type: 'join', room: 'dm:someone:zed' });
      expect(dm).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(await a.ok({ type: 'ping' })).toEqual({});
    });

    it('rate-limits sends per connection', async () => {
      const room = uniq('rate');
      const a = await client(uniq('a'));
      await a.ok({ type: 'join', room });
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => a.request({ type: 'send', room, text: `f${i}` })),
      );
      const limited = replies.filter((r) => !r.ok);
      expect(limited.length).toBeGreaterThanOrEqual(5);
      expect(limited[0]).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      expect(replies.filter((r) => r.ok).length).toBeGreaterThanOrEqual(20);
    });

    it('stops delivering after leave', async () => {
      const room = uniq('r');
      const a = await client(uniq('a'));
      const b = await client(uniq('b'));
      await a.ok({ type: 'join', room });
      const other = uniq('r');
      await b.ok({ type: 'join', room });
      await a.ok({ type: 'join', room: other });
      await b.ok({ type: 'join', room: other });
      expect(await b.ok({ type: 'leave', room })).toEqual({});
      await a.ok({ type: 'send', room, text: 'after leave' });
      await a.waitFor((f) => f.type === 'message');
      // The marker goes to a room b is still in, after the message: a's node publishes both in this order and b's
      // node receives them on its one subscriber connection in that order.
      await settle(a, other, [b]);
      expect(b.messages(room)).toHaveLength(0);
    });

    it('closes with 1003 on a binary frame and 1009 on an oversize frame', async () => {
      const a = await client(uniq('a'));
      a.sendRaw(Buffer.from([1, 2, 3]), true);
      expect((await a.closed).code).toBe(1003);
      const b = await client(uniq('b'));
      b.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
      expect((await b.closed).code).toBe(1009);
      const c = await client(uniq('c'));
      expect(await c.ok({ type: 'ping' })).toEqual({});
    });
  });
}
