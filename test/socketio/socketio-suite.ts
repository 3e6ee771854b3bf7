/**
 * Socket.IO clients (the real socket.io-client 4.x) on Parley, black box:
 * commands as events with acks, server events by frame name, a Socket.IO
 * client and a WebSocket client in one room, recovery after a reconnect,
 * presence, typing, bad payloads and limits. Run on one memory node and on
 * two Redis nodes, over the websocket and the polling transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import { sleep } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';
import { sioConnect, type SioClient, type Transport } from '../support/sio.js';

export interface Cluster {
  nodes: RunningNode[];
  stop(): Promise<void>;
}

let n = 0;
const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

export function socketIoSuite(name: string, makeCluster: () => Promise<Cluster>): void {
  describe.each<Transport>(['websocket', 'polling'])(`Socket.IO clients (%s): ${name}`, (transport) => {
    let cluster: Cluster;
    const sios: SioClient[] = [];
    const wss: TestClient[] = [];
    let opened = 0;
    const nodeFor = (i?: number): RunningNode => cluster.nodes[(i ?? opened++) % cluster.nodes.length]!;
    const sio = async (user: string, nameOf?: string, nodeIndex?: number): Promise<SioClient> => {
      const auth: Record<string, string> = { user };
      if (nameOf) auth.name = nameOf;
      const c = await sioConnect(nodeFor(nodeIndex).url, transport, auth);
      sios.push(c);
      return c;
    };
    const ws = async (user: string, nodeIndex?: number): Promise<TestClient> => {
      const c = await nodeFor(nodeIndex).client(user);
      wss.push(c);
      return c;
    };

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of sios) c.close();
      for (const c of wss) c.close();
      await cluster.stop();
    });

    it('joins with an ack shaped as the reply, and gets its own message as a `message` event', async () => {
      const room = uniq('r');
      const ann = await sio(uniq('ann'), 'Ann');
      const res = await ann.request('join', { room });
      expect(res).toMatchObject({ ok: true, data: { room, count: 1, lastMessageId: null } });
      const sent = await ann.ok<{ message: Message }>('send', { room, text: 'hello', clientMsgId: 'c1' });
      expect(sent.message).toMatchObject({ room, text: 'hello', name: 'Ann', clientMsgId: 'c1' });
      const ev = await ann.waitFor((f) => f.type === 'message' && (f.message as Message).id === sent.message.id);
      expect(ev).toEqual({ type: 'message', room, message: sent.message });
      expect(await ann.request('ping')).toEqual({ ok: true, data: {} });
    });

    it('a Socket.IO client and a WebSocket client in one room see the same messages in the same order', async () => {
      const room = uniq('mixed');
      const s = await sio(uniq('s'), undefined, 0);
      const w = await ws(uniq('w'), 1);
      await s.ok('join', { room });
      await w.ok({ type: 'join', room });
      const sends: Array<Promise<unknown>> = [];
      for (let i = 0; i < 10; i++) {
        sends.push(s.ok('send', { room, text: `s${i}` }));
        sends.push(w.ok({ type: 'send', room, text: `w${i}` }));
      }
      await Promise.all(sends);
      await s.until(() => s.messages(room).length >= 20, 10_000, '20 messages on socket.io');
      for (let i = 0; i < 200 && w.messages(room).length < 20; i++) await sleep(50);
      await sleep(100); // nothing more (no duplicates) arrives
      const ids = (ms: Array<{ id: string }>): string[] => ms.map((m) => m.id);
      expect(s.messages(room)).toHaveLength(20);
      expect(ids(s.messages(room))).toEqual(ids(w.messages(room)));
      expect(s.messages(room).map((m) => m.text)).toEqual(w.messages(room).map((m) => m.text));
    });

    it('answers bad payloads with BAD_REQUEST / UNKNOWN_COMMAND in the ack and keeps the connection', async () => {
      const room = uniq('bad');
      const c = await sio(uniq('bad'));
      for (const payload of [5, 'room', null, [room], { room: 'no spaces allowed' }, { room: 7 }]) {
        const res = await c.request('join', payload);
        expect(res.ok, JSON.stringify(payload)).toBe(false);
        if (!res.ok) expect(res.error.code).toBe('BAD_REQUEST');
      }
      const missing = await c.request('send', { room });
      expect(missing).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      const unknown = await c.request('teleport', { room });
      expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
      const notJoined = await c.request('send', { room, text: 'x' });
      expect(notJoined).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
      // No ack: nothing is answered, nothing breaks; an event named "error" does not crash the node.
      c.socket.emit('join', 42);
      c.socket.emit('error', { boom: true });
      c.socket.emit('send');
      // A payload's own type and id do not change the command.
      const joined = await c.request('join', { room, type: 'leave', id: 'x' });
      expect(joined).toMatchObject({ ok: true, data: { room } });
      const big = await c.request('send', { room, text: 'x'.repeat(4001) });
      expect(big).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
      expect(c.socket.connected).toBe(true);
      const { message } = await c.ok<{ message: Message }>('send', { room, text: 'still here' });
      await c.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
    });

    it('runs a command without an ack (typing) and shows presence and typing to others', async () => {
      const room = uniq('pt');
      const a = await sio(uniq('a'), 'A');
      const bUser = uniq('b');
      const b = await sio(bUser, 'B');
      await a.ok('join', { room });
      await b.ok('join', { room });
      const joined = await a.waitFor(
        (f) => f.type === 'presence' && f.event === 'join' && (f.member as { user: string }).user === bUser,
      );
      expect(joined).toMatchObject({ room, event: 'join', member: { user: bUser, status: 'online', name: 'B' } });
      b.socket.emit('typing', { room });
      const typing = await a.waitFor((f) => f.type === 'typing' && f.room === room);
      expect(typing).toEqual({ type: 'typing', room, user: bUser });
      const st = await b.ok<{ presence: { status: string } }>('status', { status: 'busy', text: 'meeting' });
      expect(st.presence.status).toBe('busy');
      await a.waitFor((f) => f.type === 'presence' && f.event === 'update' && f.room === room);
      const p = await a.ok<{ count: number }>('presence', { room });
      expect(p.count).toBe(2);
      b.close();
      const left = await a.waitFor((f) => f.type === 'presence' && f.event === 'leave' && f.room === room, 10_000);
      expect(left).toMatchObject({ member: { user: bUser, status: 'offline' } });
    });

    it('recovers the missed messages with join since after a Socket.IO reconnect', async () => {
      const room = uniq('rec');
      const user = uniq('r');
      const r = await sio(user, undefined, 0);
      const other = await ws(uniq('o'), 1);
      await r.ok('join', { room });
      await other.ok({ type: 'join', room });
      await other.ok({ type: 'send', room, text: 'before' });
      await r.until(() => r.messages(room).length === 1, 5000, 'first message');
      const last = r.messages(room)[0]!.id;
      r.close();
      await sleep(100);
      const missed: string[] = [];
      for (let i = 0; i < 3; i++) {
        const d = await other.ok<{ message: Message }>({ type: 'send', room, text: `missed ${i}` });
        missed.push(d.message.id);
      }
      // Reconnect the same socket (socket.io-client keeps its options).
      r.socket.connect();
      await new Promise<void>((resolve) => r.socket.once('connect', () => resolve()));
      const back = await r.ok<{ messages: Message[]; recovered: boolean }>('join', { room, since: last });
      expect(back.recovered).toBe(true);
      expect(back.messages.map((m) => m.id)).toEqual(missed);
      const after = await other.ok<{ message: Message }>({ type: 'send', room, text: 'after' });
      await r.waitFor((f) => f.type === 'message' && (f.message as Message).id === after.message.id);
      // Exactly once on this connection: the live events after the rejoin hold only the new one.
      await sleep(100);
      expect(r.messages(room).map((m) => m.text)).toEqual(['before', 'after']);
    });

    it('rate-limits sends per connection with RATE_LIMITED in the ack', async () => {
      const room = uniq('rate');
      const c = await sio(uniq('rl'));
      await c.ok('join', { room });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => c.request('send', { room, text: `m${i}` })),
      );
      const limited = results.filter((r) => !r.ok && r.error.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThan(0);
      expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(20);
      expect(c.socket.connected).toBe(true);
    });
  });
}
