/**
 * The engine conformance suite: one set of behaviours, run against every
 * Engine implementation (memory.test.ts, redis.test.ts). The memory engine is
 * the specification; the Redis engine must behave the same.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BusEvent, Engine, EngineOptions } from '../../src/engine/engine.js';
import type { Message } from '../../src/protocol/frames.js';
import { compareMessageIds } from '../../src/protocol/ids.js';
import { waitFor } from '../support/ports.js';
import { roomsConformance } from './rooms-conformance.js';
import { messagesConformance } from './messages-conformance.js';
import { moderationConformance } from './moderation-conformance.js';

export interface EngineFactory {
  /** A started engine (a "node"); engines made by one factory share storage when multiNode is true. */
  make(options?: Partial<EngineOptions>): Promise<Engine>;
  /**
   * True when two engines of this factory are two nodes of one cluster; the
   * cross-node cases run only then (false for the memory engine: see memory.test.ts).
   */
  multiNode: boolean;
}

let seq = 0;
const room = (): string => `room-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

export function engineConformance(name: string, factory: EngineFactory): void {
  roomsConformance(name, factory);
  messagesConformance(name, factory);
  describe(`engine conformance: ${name}`, () => {
    const started: Engine[] = [];
    const make = async (options?: Partial<EngineOptions>): Promise<Engine> => {
      const e = await factory.make(options);
      started.push(e);
      return e;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((e) => e.close()));
    });

    describe('messages', () => {
      it('stores a message with an id, a server time and the draft fields', async () => {
        const e = await make();
        const r = room();
        const before = Date.now();
        const { message, duplicate } = await e.append({ room: r, from: 'ann', name: 'Ann', text: 'hi <b>' });
        expect(duplicate).toBe(false);
        expect(message).toMatchObject({ room: r, from: 'ann', name: 'Ann', text: 'hi <b>' });
        expect(message.id).toMatch(/^\d+-\d+$/);
        expect(message.ts).toBeGreaterThanOrEqual(before - 1000);
        expect(message.ts).toBeLessThanOrEqual(Date.now() + 1000);
        expect(message.clientMsgId).toBeUndefined();
        expect(await e.lastMessageId(r)).toBe(message.id);
      });

      it('gives increasing ids in send order', async () => {
        const e = await make();
        const r = room();
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) ids.push((await e.append({ room: r, from: 'u', text: `m${i}` })).message.id);
        for (let i = 1; i < ids.length; i++) expect(compareMessageIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
        // concurrent appends still get distinct ids
        const many = await Promise.all(
          Array.from({ length: 50 }, (_, i) => e.append({ room: r, from: 'u', text: `c${i}` })),
        );
        expect(new Set(many.map((m) => m.message.id)).size).toBe(50);
      });

      it('returns null as last id of an empty room', async () => {
        const e = await make();
        expect(await e.lastMessageId(room())).toBeNull();
      });

      it('dedupes a clientMsgId per user and room', async () => {
        const e = await make();
        const r = room();
        const a = await e.append({ room: r, from: 'ann', text: 'once', clientMsgId: 'c1' });
        const b = await e.append({ room: r, from: 'ann', text: 'once again', clientMsgId: 'c1' });
        expect(b.duplicate).toBe(true);
        expect(b.message).toEqual(a.message);
        expect(a.message.clientMsgId).toBe('c1');
        const other = await e.append({ room: r, from: 'bob', text: 'x', clientMsgId: 'c1' });
        expect(other.duplicate).toBe(false);
        const elsewhere = await e.append({ room: room(), from: 'ann', text: 'x', clientMsgId: 'c1' });
        expect(elsewhere.duplicate).toBe(false);
        const page = await e.history(r, { limit: 50 });
        expect(page.messages.map((m) => m.text)).toEqual(['once', 'x']);
      });

      it('forgets a clientMsgId after the dedupe window', async () => {
        const e = await make({ dedupeWindowMs: 1000 });
        const r = room();
        await e.append({ room: r, from: 'ann', text: 'a', clientMsgId: 'k' });
        await new Promise((res) => setTimeout(res, 1300));
        const again = await e.append({ room: r, from: 'ann', text: 'a', clientMsgId: 'k' });
        expect(again.duplicate).toBe(false);
      });

      it('pages history backwards with before, limit and hasMore', async () => {
        const e = await make();
        const r = room();
        const all: Message[] = [];
        for (let i = 0; i < 25; i++) all.push((await e.append({ room: r, from: 'u', text: `m${i}` })).message);
        const p1 = await e.history(r, { limit: 10 });
        expect(p1.messages.map((m) => m.text)).toEqual(all.slice(15).map((m) => m.text));
        expect(p1.hasMore).toBe(true);
        const p2 = await e.history(r, { before: p1.messages[0]!.id, limit: 10 });
        expect(p2.messages.map((m) => m.id)).toEqual(all.slice(5, 15).map((m) => m.id));
        expect(p2.hasMore).toBe(true);
        const p3 = await e.history(r, { before: p2.messages[0]!.id, limit: 10 });
        expect(p3.messages.map((m) => m.id)).toEqual(all.slice(0, 5).map((m) => m.id));
        expect(p3.hasMore).toBe(false);
        const exact = await e.history(r, { limit: 25 });
        expect(exact.messages).toHaveLength(25);
        expect(exact.hasMore).toBe(false);
        expect(await e.history(room(), { limit: 10 })).toEqual({ messages: [], hasMore: false });
      });

      it('returns exactly the messages after since, and recovered:true', async () => {
        const e = await make();
        const r = room();
        const all: Message[] = [];
        for (let i = 0; i < 10; i++) all.push((await e.append({ room: r, from: 'u', text: `m${i}` })).message);
        const s = await e.since(r, all[6]!.id, 100);
        expect(s.recovered).toBe(true);
        expect(s.messages.map((m) => m.id)).toEqual(all.slice(7).map((m) => m.id));
        const none = await e.since(r, all[9]!.id, 100);
        expect(none).toMatchObject({ messages: [], recovered: true, changed: [] });
      });

      it('says recovered:false when since is unknown, trimmed away, or too far back', async () => {
        const e = await make({ historyMax: 20 });
        const r = room();
        const all: Message[] = [];
        for (let i = 0; i < 100; i++) all.push((await e.append({ room: r, from: 'u', text: `m${i}` })).message);
        const page = await e.history(r, { limit: 200 });
        expect(page.messages.length).toBeGreaterThanOrEqual(20);
        expect(page.messages.length).toBeLessThan(100);
        expect(page.messages.at(-1)!.id).toBe(all[99]!.id);
        const trimmed = await e.since(r, all[0]!.id, 1000);
        expect(trimmed.recovered).toBe(false);
        const unknown = await e.since(r, '1-0', 1000);
        expect(unknown.recovered).toBe(false);
        const capped = await e.since(r, all[90]!.id, 5);
        expect(capped.recovered).toBe(false);
        expect(capped.messages.map((m) => m.id)).toEqual(all.slice(95).map((m) => m.id));
        const fits = await e.since(r, all[90]!.id, 9);
        expect(fits.recovered).toBe(true);
        expect(fits.messages).toHaveLength(9);
      });
    });

    describe('bus', () => {
      it('delivers each stored message once, in order, as a ready frame', async () => {
        const e = await make();
        const r = room();
        const got: BusEvent[] = [];
        await e.subscribe(r, (ev) => got.push(ev));
        const sent: Message[] = [];
        for (let i = 0; i < 20; i++) sent.push((await e.append({ room: r, from: 'u', text: `m${i}` })).message);
        await waitFor(() => got.length >= 20, 3000, '20 events');
        expect(got.map((g) => (g.kind === 'message' ? g.id : ''))).toEqual(sent.map((m) => m.id));
        const first = got[0]!;
        expect(JSON.parse(first.frame)).toEqual({ type: 'message', room: r, message: sent[0] });
      });

      it('does not publish a duplicate', async () => {
        const e = await make();
        const r = room();
        const got: BusEvent[] = [];
        await e.subscribe(r, (ev) => got.push(ev));
        await e.append({ room: r, from: 'u', text: 'a', clientMsgId: 'x' });
        await e.append({ room: r, from: 'u', text: 'a', clientMsgId: 'x' });
        await e.append({ room: r, from: 'u', text: 'b' });
        await waitFor(() => got.length >= 2, 3000);
        await new Promise((res) => setTimeout(res, 100));
        expect(got).toHaveLength(2);
      });

      it('publishes ephemeral events and stops after unsubscribe', async () => {
        const e = await make();
        const r = room();
        const got: BusEvent[] = [];
        await e.subscribe(r, (ev) => got.push(ev));
        await e.publish(r, { kind: 'event', frame: '{"type":"typing","room":"x","user":"u"}', skipUser: 'u' });
        await waitFor(() => got.length === 1, 3000);
        expect(got[0]).toEqual({ kind: 'event', frame: '{"type":"typing","room":"x","user":"u"}', skipUser: 'u' });
        await e.unsubscribe(r);
        await e.append({ room: r, from: 'u', text: 'after' });
        await e.publish(r, { kind: 'event', frame: '{}' });
        await new Promise((res) => setTimeout(res, 150));
        expect(got).toHaveLength(1);
        // other rooms are independent
        const r2 = room();
        const got2: BusEvent[] = [];
        await e.subscribe(r2, (ev) => got2.push(ev));
        await e.append({ room: r, from: 'u', text: 'not for r2' });
        await e.append({ room: r2, from: 'u', text: 'for r2' });
        await waitFor(() => got2.length === 1, 3000);
      });

      it('delivers control messages', async () => {
        const e = await make();
        const got: unknown[] = [];
        e.onControl((m) => got.push(m));
        await e.publishControl({ kind: 'disconnect', user: 'ann', code: 4003, reason: 'kicked' });
        await waitFor(() => got.length === 1, 3000);
        expect(got[0]).toEqual({ kind: 'disconnect', user: 'ann', code: 4003, reason: 'kicked' });
      });

      if (factory.multiNode) {
        it('delivers to every node in one order, and control messages to every node', async () => {
          const a = await make();
          const b = await make();
          const r = room();
          const gotA: string[] = [];
          const gotB: string[] = [];
          await a.subscribe(r, (ev) => ev.kind === 'message' && gotA.push(ev.id));
          await b.subscribe(r, (ev) => ev.kind === 'message' && gotB.push(ev.id));
          await Promise.all(
            Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append({ room: r, from: 'u', text: `m${i}` })),
          );
          await waitFor(() => gotA.length === 40 && gotB.length === 40, 5000, 'both nodes');
          expect(gotA).toEqual(gotB);
          const sorted = [...gotA].sort(compareMessageIds);
          expect(gotA).toEqual(sorted);
          const ctl: string[] = [];
          a.onControl(() => ctl.push('a'));
          b.onControl(() => ctl.push('b'));
          await a.publishControl({ kind: 'user-frame', user: 'x', frame: '{}' });
          await waitFor(() => ctl.length === 2, 3000);
          expect(ctl.sort()).toEqual(['a', 'b']);
        });
      }
    });

    moderationConformance(make, factory.multiNode);

    describe('presence store', () => {
      it('tracks devices: online on the first, offline only after the last', async () => {
        const e = await make();
        const u = `u-${room()}`;
        const c1 = await e.presence.connect({ connId: `${u}-1`, user: u, name: 'U' });
        expect(c1.wentOnline).toBe(true);
        expect(c1.state).toMatchObject({ user: u, name: 'U', status: 'online', online: true });
        const c2 = await e.presence.connect({ connId: `${u}-2`, user: u });
        expect(c2.wentOnline).toBe(false);
        const d1 = await e.presence.disconnect(`${u}-1`);
        expect(d1?.wentOffline).toBe(false);
        const d2 = await e.presence.disconnect(`${u}-2`);
        expect(d2?.wentOffline).toBe(true);
        expect(d2?.state.online).toBe(false);
        expect(d2?.state.lastSeen).toBeGreaterThan(Date.now() - 5000);
        expect(await e.presence.disconnect(`${u}-2`)).toBeNull();
        const [st] = await e.presence.users([u]);
        expect(st).toMatchObject({ user: u, online: false, name: 'U' });
      });

      it('counts a user once per room across devices', async () => {
        const e = await make();
        const r = room();
        const u = `u-${r}`;
        await e.presence.connect({ connId: `${u}-1`, user: u });
        await e.presence.connect({ connId: `${u}-2`, user: u });
        expect(await e.presence.joinRoom(`${u}-1`, u, r)).toEqual({ first: true });
        expect(await e.presence.joinRoom(`${u}-2`, u, r)).toEqual({ first: false });
        const m = await e.presence.roomMembers(r, 100);
        expect(m.count).toBe(1);
        expect(m.members.map((x) => x.user)).toEqual([u]);
        expect(await e.presence.leaveRoom(`${u}-1`, u, r)).toEqual({ last: false });
        const d = await e.presence.disconnect(`${u}-2`);
        expect(d?.leftRooms).toEqual([r]);
        expect((await e.presence.roomMembers(r, 100)).count).toBe(0);
      });

      it('keeps status and text; invisible users stay members but leave status lists', async () => {
        const e = await make();
        const r = room();
        const u = `u-${r}`;
        await e.presence.connect({ connId: `${u}-1`, user: u });
        await e.presence.joinRoom(`${u}-1`, u, r);
        const s = await e.presence.setStatus(u, 'busy', 'in a call');
        expect(s.before.status).toBe('online');
        expect(s.after).toMatchObject({ status: 'busy', text: 'in a call', online: true });
        expect(s.rooms).toEqual([r]);
        expect(s.connections).toBe(1);
        const busy = await e.presence.listByStatus('busy', 1000);
        expect(busy.users.map((x) => x.user)).toContain(u);
        await e.presence.setStatus(u, 'invisible', undefined);
        const m = await e.presence.roomMembers(r, 100);
        expect(m.count).toBe(1);
        expect(m.members[0]).toMatchObject({ user: u, status: 'invisible' });
        const stillBusy = await e.presence.listByStatus('busy', 1000);
        expect(stillBusy.users.map((x) => x.user)).not.toContain(u);
        const [st] = await e.presence.users([u]);
        expect(st).toMatchObject({ status: 'invisible', online: true });
        expect(st?.text).toBeUndefined();
      });

      it('caps room members but counts them all', async () => {
        const e = await make();
        const r = room();
        for (let i = 0; i < 30; i++) {
          await e.presence.connect({ connId: `${r}-c${i}`, user: `${r}-u${i}` });
          await e.presence.joinRoom(`${r}-c${i}`, `${r}-u${i}`, r);
        }
        const m = await e.presence.roomMembers(r, 10);
        expect(m.count).toBe(30);
        expect(m.members).toHaveLength(10);
      });

      it('removes every local connection on shutdown', async () => {
        const e = await make();
        const r = room();
        await e.presence.connect({ connId: `${r}-a`, user: `${r}-ua` });
        await e.presence.joinRoom(`${r}-a`, `${r}-ua`, r);
        const out = await e.presence.removeAllLocal();
        const mine = out.find((t) => t.user === `${r}-ua`);
        expect(mine).toMatchObject({ wentOffline: true, leftRooms: [r] });
        expect((await e.presence.roomMembers(r, 10)).count).toBe(0);
        // The memory store has no dead nodes; a shut-down node has nothing left to sweep.
        const swept = await e.presence.sweep();
        expect(swept.departures.filter((t) => t.user === `${r}-ua`)).toEqual([]);
      });

      it('answers for unknown users, keeps the order asked, and a status chosen while offline', async () => {
        const e = await make();
        const r = room();
        const ids = Array.from({ length: 500 }, (_, i) => `${r}-n${i}`);
        await e.presence.connect({ connId: `${r}-c`, user: ids[7]!, name: 'Seven' });
        const states = await e.presence.users(ids);
        expect(states.map((s) => s.user)).toEqual(ids);
        expect(states[0]).toEqual({ user: ids[0], status: 'online', online: false });
        expect(states[7]).toMatchObject({ user: ids[7], name: 'Seven', status: 'online', online: true });
        expect(states[7]?.lastSeen).toBeUndefined();
        expect(await e.presence.users([])).toEqual([]);
        const off = await e.presence.setStatus(ids[1]!, 'away', 'back soon');
        expect(off.before).toMatchObject({ online: false, status: 'online' });
        expect(off.after).toMatchObject({ online: false, status: 'away', text: 'back soon' });
        expect(off.rooms).toEqual([]);
        expect(off.connections).toBe(0);
        expect((await e.presence.listByStatus('away', 1000)).users.map((x) => x.user)).not.toContain(ids[1]);
        // Coming online later shows the status chosen meanwhile.
        const c = await e.presence.connect({ connId: `${r}-c1`, user: ids[1]! });
        expect(c.state).toMatchObject({ status: 'away', text: 'back soon', online: true });
        expect((await e.presence.listByStatus('away', 1000)).users.map((x) => x.user)).toContain(ids[1]);
      });

      it('lists by status exactly: moves users between lists, drops them when offline, caps but counts', async () => {
        const e = await make();
        const r = room();
        const before = (await e.presence.listByStatus('busy', 0)).count;
        for (let i = 0; i < 12; i++) {
          await e.presence.connect({ connId: `${r}-c${i}`, user: `${r}-u${i}` });
          await e.presence.setStatus(`${r}-u${i}`, 'busy', undefined);
        }
        const some = await e.presence.listByStatus('busy', 5);
        expect(some.count).toBe(before + 12);
        expect(some.users).toHaveLength(5);
        for (const u of some.users) expect(u).toMatchObject({ status: 'busy', online: true });
        await e.presence.setStatus(`${r}-u0`, 'away', undefined);
        await e.presence.disconnect(`${r}-c1`);
        const busy = await e.presence.listByStatus('busy', 10_000);
        expect(busy.count).toBe(before + 10);
        const mine = busy.users.map((x) => x.user).filter((u) => u.startsWith(`${r}-`));
        expect(mine.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `${r}-u${i + 2}`).sort());
        expect((await e.presence.listByStatus('away', 10_000)).users.map((x) => x.user)).toContain(`${r}-u0`);
        const [gone] = await e.presence.users([`${r}-u1`]);
        expect(gone).toMatchObject({ online: false, status: 'busy' });
        expect(gone?.lastSeen).toBeGreaterThan(Date.now() - 5000);
        await e.presence.removeAllLocal();
      });

      it('joins and leaves idempotently per connection and reports the rooms a status change reaches', async () => {
        const e = await make();
        const r1 = room();
        const r2 = room();
        const u = `u-${r1}`;
        await e.presence.connect({ connId: `${u}-1`, user: u });
        await e.presence.connect({ connId: `${u}-2`, user: u });
        expect(await e.presence.joinRoom(`${u}-1`, u, r1)).toEqual({ first: true });
        expect(await e.presence.joinRoom(`${u}-1`, u, r1)).toEqual({ first: false });
        expect(await e.presence.joinRoom(`${u}-2`, u, r2)).toEqual({ first: true });
        expect(await e.presence.joinRoom('no-such-conn', u, r1)).toEqual({ first: false });
        const s = await e.presence.setStatus(u, 'away', undefined);
        expect(s.rooms.sort()).toEqual([r1, r2].sort());
        expect(await e.presence.leaveRoom(`${u}-2`, u, r1)).toEqual({ last: false });
        expect(await e.presence.leaveRoom(`${u}-1`, u, r1)).toEqual({ last: true });
        expect(await e.presence.leaveRoom(`${u}-1`, u, r1)).toEqual({ last: false });
        expect((await e.presence.setStatus(u, 'online', undefined)).rooms).toEqual([r2]);
        const d1 = await e.presence.disconnect(`${u}-1`);
        expect(d1).toMatchObject({ leftRooms: [], wentOffline: false });
        const d2 = await e.presence.disconnect(`${u}-2`);
        expect(d2).toMatchObject({ leftRooms: [r2], wentOffline: true });
        expect((await e.presence.setStatus(u, 'online', undefined)).rooms).toEqual([]);
      });

      if (factory.multiNode) {
        it('is one presence across nodes: devices on two nodes, status seen everywhere', async () => {
          const a = await make();
          const b = await make();
          const r = room();
          const u = `u-${r}`;
          expect((await a.presence.connect({ connId: `${u}-a`, user: u, name: 'U' })).wentOnline).toBe(true);
          expect((await b.presence.connect({ connId: `${u}-b`, user: u })).wentOnline).toBe(false);
          expect(await a.presence.joinRoom(`${u}-a`, u, r)).toEqual({ first: true });
          expect(await b.presence.joinRoom(`${u}-b`, u, r)).toEqual({ first: false });
          expect((await b.presence.setStatus(u, 'busy', 'deep work')).connections).toBe(2);
          expect((await a.presence.users([u]))[0]).toMatchObject({ status: 'busy', text: 'deep work', online: true });
          expect((await a.presence.listByStatus('busy', 10_000)).users.map((x) => x.user)).toContain(u);
          expect(await a.presence.disconnect(`${u}-a`)).toMatchObject({ wentOffline: false, leftRooms: [] });
          expect((await b.presence.roomMembers(r, 10)).count).toBe(1);
          expect(await b.presence.disconnect(`${u}-b`)).toMatchObject({ wentOffline: true, leftRooms: [r] });
          expect((await a.presence.listByStatus('busy', 10_000)).users.map((x) => x.user)).not.toContain(u);
        });

        it('sweeps the connections of a node that stopped without removing them, once', async () => {
          const a = await make({ nodeTimeoutMs: 1500 });
          const b = await make({ nodeTimeoutMs: 1500 });
          const c = await make({ nodeTimeoutMs: 1500 });
          const r = room();
          const u = `u-${r}`;
          await a.presence.connect({ connId: `${u}-a1`, user: u });
          await a.presence.connect({ connId: `${u}-a2`, user: u });
          await a.presence.joinRoom(`${u}-a1`, u, r);
          await a.presence.joinRoom(`${u}-a2`, u, r);
          await b.presence.connect({ connId: `${r}-v`, user: `v-${r}` });
          await b.presence.joinRoom(`${r}-v`, `v-${r}`, r);
          await a.presence.setStatus(u, 'away', undefined);
          await a.close(); // no removeAllLocal: a's connections are left to the others
          const [sb, sc] = await Promise.all([b.presence.sweep(), c.presence.sweep()]);
          const mine = [...sb.departures, ...sc.departures].filter((t) => t.user === u);
          expect(mine).toHaveLength(2); // one per connection, by one sweeper
          expect(mine.filter((t) => t.wentOffline)).toHaveLength(1);
          expect(mine.flatMap((t) => t.leftRooms)).toEqual([r]);
          const [st] = await b.presence.users([u]);
          expect(st).toMatchObject({ online: false, status: 'away' });
          expect(st?.lastSeen).toBeGreaterThan(Date.now() - 10_000);
          const m = await c.presence.roomMembers(r, 10);
          expect(m.count).toBe(1);
          expect(m.members.map((x) => x.user)).toEqual([`v-${r}`]);
          expect((await c.presence.listByStatus('away', 10_000)).users.map((x) => x.user)).not.toContain(u);
          expect((await b.presence.sweep()).departures.filter((t) => t.user === u)).toEqual([]);
        });
      }
    });
  });
}
