/**
 * Engine conformance of the message lifecycle (edits, deletes, reactions,
 * replies, current state in history and `since`), run on every engine from
 * conformance.ts. The memory engine is the specification.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BusEvent, Engine, EngineOptions } from '../../src/engine/engine.js';
import type { Actor, ChangeRequest } from '../../src/engine/lifecycle-store.js';
import { ParleyError } from '../../src/protocol/errors.js';
import type { Message } from '../../src/protocol/frames.js';
import { compareMessageIds } from '../../src/protocol/ids.js';
import { waitFor } from '../support/ports.js';
import type { EngineFactory } from './conformance.js';

let seq = 0;
const room = (): string => `lc-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
const as = (user: string, moderator = false): { user: string; moderator: boolean } => ({ user, moderator });
const server: Actor = { server: true };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof ParleyError ? err.code : `thrown: ${String(err)}`;
  }
}

export function messagesConformance(name: string, factory: EngineFactory): void {
  describe(`engine conformance, message lifecycle: ${name}`, () => {
    const started: Engine[] = [];
    const make = async (options?: Partial<EngineOptions>): Promise<Engine> => {
      const e = await factory.make(options);
      started.push(e);
      return e;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((e) => e.close()));
    });
    const send = async (e: Engine, r: string, from: string, text: string, replyTo?: string): Promise<Message> =>
      (await e.append(replyTo === undefined ? { room: r, from, text } : { room: r, from, text, replyTo })).message;
    const change = (e: Engine, req: ChangeRequest) => e.lifecycle.change(req);
    const react = (e: Engine, r: string, id: string, user: string, emoji: string) =>
      change(e, { kind: 'react', room: r, messageId: id, emoji, by: as(user) });
    const unreact = (e: Engine, r: string, id: string, user: string, emoji: string) =>
      change(e, { kind: 'unreact', room: r, messageId: id, emoji, by: as(user) });

    it('stores replyTo with the message', async () => {
      const e = await make();
      const r = room();
      const a = await send(e, r, 'ann', 'question?');
      const b = await send(e, r, 'bob', 'answer', a.id);
      expect(b.replyTo).toBe(a.id);
      const page = await e.history(r, { limit: 10 });
      expect(page.messages[1]).toEqual(b);
      expect(await e.lifecycle.get(r, a.id)).toEqual(a);
      expect(await e.lifecycle.get(r, '1-0')).toBeNull();
      expect(await e.lifecycle.get(room(), a.id)).toBeNull();
    });

    it('edits: the author only (or the server), new text and editedAt, event with the new state', async () => {
      const e = await make();
      const r = room();
      const got: BusEvent[] = [];
      await e.subscribe(r, (ev) => got.push(ev));
      const m = await send(e, r, 'ann', 'helo');
      expect(await codeOf(change(e, { kind: 'edit', room: r, messageId: m.id, text: 'x', by: as('bob', true) }))).toBe(
        'FORBIDDEN',
      );
      const before = Date.now();
      const res = await change(e, { kind: 'edit', room: r, messageId: m.id, text: 'hello', by: as('ann') });
      expect(res.changed).toBe(true);
      expect(res.message).toMatchObject({ id: m.id, room: r, from: 'ann', ts: m.ts, text: 'hello' });
      expect(res.message.editedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(compareMessageIds(res.changeId!, m.id)).toBeGreaterThan(0);
      await waitFor(() => got.some((g) => g.kind === 'change'), 3000, 'edited event');
      const ev = got.find((g) => g.kind === 'change')!;
      expect(ev.kind === 'change' && ev.id).toBe(res.changeId);
      expect(JSON.parse(ev.frame)).toEqual({ type: 'edited', room: r, message: res.message });
      // the same text again changes nothing and publishes nothing
      const same = await change(e, { kind: 'edit', room: r, messageId: m.id, text: 'hello', by: as('ann') });
      expect(same).toEqual({ message: res.message, changed: false, changeId: null });
      const byServer = await change(e, { kind: 'edit', room: r, messageId: m.id, text: 'fixed', by: server });
      expect(byServer.message).toMatchObject({ from: 'ann', text: 'fixed' });
      await waitFor(() => got.filter((g) => g.kind === 'change').length === 2, 3000, 'second edit');
      await new Promise((res) => setTimeout(res, 50));
      expect(got.filter((g) => g.kind === 'change')).toHaveLength(2);
      expect((await e.history(r, { limit: 10 })).messages).toEqual([byServer.message]);
      expect(await e.lifecycle.get(r, m.id)).toEqual(byServer.message);
    });

    it('deletes: the author, a moderator or the server; a tombstone; NOT_FOUND afterwards', async () => {
      const e = await make();
      const r = room();
      const got: BusEvent[] = [];
      await e.subscribe(r, (ev) => got.push(ev));
      const m1 = await send(e, r, 'ann', 'one');
      const m2 = await send(e, r, 'ann', 'two');
      const m3 = await send(e, r, 'ann', 'three');
      await react(e, r, m1.id, 'bob', '👍');
      expect(await codeOf(change(e, { kind: 'delete', room: r, messageId: m1.id, by: as('bob') }))).toBe('FORBIDDEN');
      const own = await change(e, { kind: 'delete', room: r, messageId: m1.id, by: as('ann') });
      expect(own.message).toEqual({ id: m1.id, room: r, from: 'ann', ts: m1.ts, text: '', deleted: true });
      const mod = await change(e, { kind: 'delete', room: r, messageId: m2.id, by: as('mod', true) });
      expect(mod.message.deleted).toBe(true);
      const srv = await change(e, { kind: 'delete', room: r, messageId: m3.id, by: server });
      expect(srv.message.deleted).toBe(true);
      for (const req of [
        { kind: 'delete', room: r, messageId: m1.id, by: as('ann') },
        { kind: 'edit', room: r, messageId: m1.id, text: 'x', by: as('ann') },
        { kind: 'react', room: r, messageId: m1.id, emoji: '👍', by: as('ann') },
        { kind: 'unreact', room: r, messageId: m1.id, emoji: '👍', by: as('bob') },
        { kind: 'edit', room: r, messageId: '1-0', text: 'x', by: as('ann') },
        { kind: 'delete', room: room(), messageId: m1.id, by: server },
      ] as ChangeRequest[]) {
        expect(await codeOf(change(e, req)), JSON.stringify(req)).toBe('NOT_FOUND');
      }
      expect((await e.history(r, { limit: 10 })).messages.map((m) => m.deleted)).toEqual([true, true, true]);
      expect(await e.lifecycle.get(r, m1.id)).toEqual(own.message);
      expect(await e.lifecycle.deletedAfter(r, null, 10)).toEqual([m1.id, m2.id, m3.id]);
      expect(await e.lifecycle.deletedAfter(r, m1.id, 10)).toEqual([m2.id, m3.id]);
      expect(await e.lifecycle.deletedAfter(r, m1.id, 1)).toEqual([m2.id]);
      await waitFor(() => got.filter((g) => g.kind === 'change').length === 4, 3000, 'four changes');
      const frames = got.filter((g) => g.kind === 'change').map((g) => JSON.parse(g.frame) as Record<string, unknown>);
      expect(frames.slice(1)).toEqual([
        { type: 'deleted', room: r, messageId: m1.id },
        { type: 'deleted', room: r, messageId: m2.id },
        { type: 'deleted', room: r, messageId: m3.id },
      ]);
    });

    it('reacts: exact counts, the first 20 users in order, idempotent, emoji gone at zero, 20 distinct at most', async () => {
      const e = await make();
      const r = room();
      const got: BusEvent[] = [];
      await e.subscribe(r, (ev) => got.push(ev));
      const m = await send(e, r, 'ann', 'vote');
      const a = await react(e, r, m.id, 'bob', '👍');
      expect(a.changed).toBe(true);
      expect(a.message.reactions).toEqual({ '👍': { count: 1, users: ['bob'] } });
      expect((await react(e, r, m.id, 'bob', '👍')).changed).toBe(false);
      expect((await unreact(e, r, m.id, 'cat', '👍')).changed).toBe(false);
      expect((await unreact(e, r, m.id, 'bob', ':tada:')).changed).toBe(false);
      const users = Array.from({ length: 25 }, (_, i) => `u${String(i).padStart(2, '0')}`);
      for (const u of users) await react(e, r, m.id, u, ':tada:');
      let state = (await e.lifecycle.get(r, m.id))!;
      expect(state.reactions![':tada:']).toEqual({ count: 25, users: users.slice(0, 20) });
      // one of the first 20 leaves: the 21st moves up
      const left = await unreact(e, r, m.id, 'u03', ':tada:');
      expect(left.message.reactions![':tada:']).toEqual({
        count: 24,
        users: [...users.slice(0, 3), ...users.slice(4, 21)],
      });
      await unreact(e, r, m.id, 'bob', '👍');
      state = (await e.lifecycle.get(r, m.id))!;
      expect(Object.keys(state.reactions!)).toEqual([':tada:']);
      // 20 distinct emoji at most
      for (let i = 1; i < 20; i++) await react(e, r, m.id, 'bob', `:e${i}:`);
      expect(await codeOf(react(e, r, m.id, 'bob', ':one-too-many:'))).toBe('LIMIT');
      expect((await react(e, r, m.id, 'cat', ':e1:')).message.reactions![':e1:']!.count).toBe(2);
      // the last reaction of every emoji gone: reactions absent
      const m2 = await send(e, r, 'ann', 'x');
      await react(e, r, m2.id, 'bob', '🎉');
      const gone = await unreact(e, r, m2.id, 'bob', '🎉');
      expect(gone.message.reactions).toBeUndefined();
      expect((await e.history(r, { limit: 1 })).messages[0]!.reactions).toBeUndefined();
      await waitFor(() => got.filter((g) => g.kind === 'change').length >= 50, 3000, 'reaction events');
      const frames = got.filter((g) => g.kind === 'change').map((g) => JSON.parse(g.frame) as Record<string, unknown>);
      expect(frames[0]).toEqual({
        type: 'reaction',
        room: r,
        messageId: m.id,
        emoji: '👍',
        user: 'bob',
        op: 'add',
        count: 1,
      });
      expect(frames.at(-1)).toEqual({
        type: 'reaction',
        room: r,
        messageId: m2.id,
        emoji: '🎉',
        user: 'bob',
        op: 'remove',
        count: 0,
      });
      // change ids increase
      const ids = got.filter((g) => g.kind === 'change').map((g) => (g.kind === 'change' ? g.id : ''));
      for (let i = 1; i < ids.length; i++) expect(compareMessageIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
    });

    it('applies concurrent reactions from many users (and nodes) in one order: the same state everywhere', async () => {
      const e1 = await make();
      const e2 = factory.multiNode ? await make() : e1;
      const r = room();
      const seen1: string[] = [];
      const seen2: string[] = [];
      await e1.subscribe(r, (ev) => ev.kind === 'change' && seen1.push(ev.frame));
      if (e2 !== e1) await e2.subscribe(r, (ev) => ev.kind === 'change' && seen2.push(ev.frame));
      const m = await send(e1, r, 'ann', 'hot');
      const users = Array.from({ length: 40 }, (_, i) => `user${i}`);
      await Promise.all(
        users.flatMap((u, i) => [
          react(i % 2 ? e1 : e2, r, m.id, u, '🔥'),
          react(i % 2 ? e2 : e1, r, m.id, u, '👀'),
          ...(i % 4 === 0 ? [unreact(i % 2 ? e1 : e2, r, m.id, u, '👀')] : []),
        ]),
      );
      const s1 = (await e1.lifecycle.get(r, m.id))!;
      const s2 = (await e2.lifecycle.get(r, m.id))!;
      expect(s1).toEqual(s2);
      expect(s1.reactions!['🔥']!.count).toBe(40);
      expect(s1.reactions!['🔥']!.users).toHaveLength(20);
      const fire = (await e1.history(r, { limit: 1 })).messages[0]!;
      expect(fire).toEqual(s1);
      await waitFor(() => seen1.length >= 80, 5000, 'events on node 1');
      if (e2 !== e1) {
        await waitFor(() => seen2.length === seen1.length, 5000, 'events on node 2');
        expect(seen2).toEqual(seen1);
      }
      // counts in events follow the one order: the last 🔥 event says 40
      const fires = seen1.map((f) => JSON.parse(f) as { emoji: string; count: number }).filter((f) => f.emoji === '🔥');
      expect(fires.map((f) => f.count)).toEqual(users.map((_, i) => i + 1));
    });

    it('since: messages in current state, and `changed` for older messages changed after since', async () => {
      const e = await make();
      const r = room();
      const old = await send(e, r, 'ann', 'old');
      const older = await send(e, r, 'ann', 'older');
      const untouched = await send(e, r, 'ann', 'untouched');
      const since = await send(e, r, 'ann', 'since');
      // changed before `since` was stored would not count; this one is after
      await change(e, { kind: 'edit', room: r, messageId: old.id, text: 'old, edited', by: as('ann') });
      await react(e, r, older.id, 'bob', '👍');
      const after = await send(e, r, 'bob', 'after');
      await change(e, { kind: 'delete', room: r, messageId: after.id, by: as('bob') });
      await react(e, r, since.id, 'cat', '✅');
      const s = await e.since(r, since.id, 100);
      expect(s.recovered).toBe(true);
      expect(s.messages).toEqual([{ id: after.id, room: r, from: 'bob', ts: after.ts, text: '', deleted: true }]);
      expect(s.changed.map((m) => m.id)).toEqual([old.id, older.id, since.id]);
      expect(s.changed[0]).toMatchObject({ text: 'old, edited' });
      expect(s.changed[1]!.reactions).toEqual({ '👍': { count: 1, users: ['bob'] } });
      expect(s.changed.some((m) => m.id === untouched.id)).toBe(false);
      expect(s.changeId).not.toBeNull();
      // a fresh history gives the same view
      const page = await e.history(r, { limit: 50 });
      for (const m of [...s.messages, ...s.changed]) expect(page.messages.find((p) => p.id === m.id)).toEqual(m);
      // since a message stored after all those changes: nothing changed (in a later millisecond: a change
      // in the same millisecond as the since message may compare after it, and show in `changed` once more)
      await new Promise((res) => setTimeout(res, 3));
      const later = await send(e, r, 'ann', 'later');
      const s2 = await e.since(r, later.id, 100);
      expect(s2).toEqual({ messages: [], recovered: true, changed: [], changeId: s.changeId });
      // a change made after `since` was stored counts even when its message is older
      const c = await react(e, r, untouched.id, 'dan', '👋');
      const s3 = await e.since(r, later.id, 100);
      expect(s3.changed.map((m) => m.id)).toEqual([untouched.id]);
      expect(s3.changeId).toBe(c.changeId);
    });

    it('since: recovered:false with more changes than the limit', async () => {
      const e = await make();
      const r = room();
      const m = await send(e, r, 'ann', 'popular');
      const since = await send(e, r, 'ann', 'since');
      for (let i = 0; i < 6; i++) await react(e, r, m.id, `u${i}`, '👍');
      expect((await e.since(r, since.id, 6)).recovered).toBe(true);
      const capped = await e.since(r, since.id, 5);
      expect(capped.recovered).toBe(false);
    });

    it('since: recovered:false when the change log was trimmed past since', async () => {
      const e = await make({ historyMax: 10 });
      const r = room();
      const m = await send(e, r, 'ann', 'popular');
      const since = await send(e, r, 'ann', 'since');
      for (let i = 0; i < 30; i++) await react(e, r, m.id, `u${i}`, '👍');
      const s = await e.since(r, since.id, 1000);
      expect(s.recovered).toBe(false);
      expect((await e.lifecycle.get(r, m.id))!.reactions!['👍']!.count).toBe(30);
    });
  });
}
