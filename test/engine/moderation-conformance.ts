/**
 * Conformance of the engine's moderation store and webhook queue (run by
 * conformance.ts on every engine): the memory engine is the specification.
 */
import { describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../src/engine/engine.js';
import { isRestricted } from '../../src/engine/moderation-store.js';
import { shardOf } from '../../src/engine/webhook-queue.js';
import { sleep } from '../support/ports.js';

let seq = 0;
const uniq = (p: string): string => `${p}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

export function moderationConformance(
  make: (options?: Partial<EngineOptions>) => Promise<Engine>,
  multiNode: boolean,
): void {
  describe('moderation store', () => {
    it('starts empty, stores bans and mutes with and without an end, and lifts them', async () => {
      const e = await make();
      const room = uniq('mod');
      expect(await e.moderation.room(room)).toEqual({
        bans: new Map(),
        mutes: new Map(),
        slowModeSeconds: 0,
        topic: null,
      });
      const until = Date.now() + 60_000;
      await e.moderation.restrict(room, 'ban', 'bob:x', 0);
      await e.moderation.restrict(room, 'mute', 'cat', until);
      let st = await e.moderation.room(room);
      expect(st.bans.get('bob:x')).toBe(0);
      expect(st.mutes.get('cat')).toBe(until);
      expect(isRestricted(st.bans, 'bob:x', Date.now())).toBe(true);
      expect(isRestricted(st.mutes, 'cat', until + 1)).toBe(false);
      expect(isRestricted(st.bans, 'cat', Date.now())).toBe(false);
      // a second ban replaces the first; lifting removes; lifting nothing is fine
      await e.moderation.restrict(room, 'ban', 'bob:x', until);
      expect((await e.moderation.room(room)).bans.get('bob:x')).toBe(until);
      await e.moderation.lift(room, 'ban', 'bob:x');
      await e.moderation.lift(room, 'mute', 'nobody');
      st = await e.moderation.room(room);
      expect(st.bans.size).toBe(0);
      expect(st.mutes.size).toBe(1);
    });

    it('refuses an append that enforces restrictions from a banned or muted author, atomically', async () => {
      const e = await make();
      const room = uniq('gate');
      const draft = { room, from: 'bob:x', text: 'hi', enforceRestrictions: true };
      expect((await e.append(draft)).duplicate).toBe(false);
      await e.moderation.restrict(room, 'mute', 'bob:x', 0);
      await expect(e.append(draft)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(e.append({ ...draft, from: 'cat' })).resolves.toMatchObject({ duplicate: false });
      // The HTTP API publishes as a moderator: no check.
      await expect(e.append({ room, from: 'bob:x', text: 'as the server' })).resolves.toMatchObject({
        duplicate: false,
      });
      await e.moderation.lift(room, 'mute', 'bob:x');
      await e.moderation.restrict(room, 'ban', 'bob:x', Date.now() + 60_000);
      await expect(e.append(draft)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      // An ended restriction no longer refuses.
      await e.moderation.restrict(room, 'ban', 'bob:x', Date.now() - 1);
      await expect(e.append(draft)).resolves.toMatchObject({ duplicate: false });
      const page = await e.history(room, { limit: 10 });
      expect(page.messages.map((m) => m.from)).toEqual(['bob:x', 'cat', 'bob:x', 'bob:x']);
    });

    it('drops expired restrictions when another is set', async () => {
      const e = await make();
      const room = uniq('mod');
      await e.moderation.restrict(room, 'ban', 'old', Date.now() - 1);
      await e.moderation.restrict(room, 'ban', 'new', 0);
      expect([...(await e.moderation.room(room)).bans.keys()]).toEqual(['new']);
    });

    it('patches settings: left-out fields keep their value, 0 and "" turn off', async () => {
      const e = await make();
      const room = uniq('set');
      expect(await e.moderation.updateSettings(room, { slowModeSeconds: 5 })).toEqual({
        slowModeSeconds: 5,
        topic: null,
      });
      expect(await e.moderation.updateSettings(room, { topic: 'Café ☕' })).toEqual({
        slowModeSeconds: 5,
        topic: 'Café ☕',
      });
      expect(await e.moderation.updateSettings(room, {})).toEqual({ slowModeSeconds: 5, topic: 'Café ☕' });
      expect(await e.moderation.updateSettings(room, { slowModeSeconds: 0 })).toEqual({
        slowModeSeconds: 0,
        topic: 'Café ☕',
      });
      const other = uniq('set');
      expect(await e.moderation.topics([room, other])).toEqual(['Café ☕', null]);
      expect(await e.moderation.updateSettings(room, { topic: '' })).toEqual({ slowModeSeconds: 0, topic: null });
      expect((await e.moderation.room(room)).topic).toBeNull();
    });

    it('gives one slow-mode slot per user per period, and lets a retry of the same send through', async () => {
      const e = await make();
      const room = uniq('slow');
      expect(await e.moderation.takeSlowSlot(room, 'ann', 1, 'c1')).toBe(true);
      expect(await e.moderation.takeSlowSlot(room, 'ann', 1, 'c2')).toBe(false);
      expect(await e.moderation.takeSlowSlot(room, 'ann', 1, undefined)).toBe(false);
      expect(await e.moderation.takeSlowSlot(room, 'ann', 1, 'c1')).toBe(true); // same clientMsgId
      expect(await e.moderation.takeSlowSlot(room, 'bob', 1, undefined)).toBe(true);
      expect(await e.moderation.takeSlowSlot(room, 'bob', 1, undefined)).toBe(false);
      await sleep(1100);
      expect(await e.moderation.takeSlowSlot(room, 'ann', 1, undefined)).toBe(true);
    });

    if (multiNode) {
      it('is shared by every node', async () => {
        const [a, b] = [await make(), await make()];
        const room = uniq('shared');
        await a.moderation.restrict(room, 'mute', 'zed', 0);
        await a.moderation.updateSettings(room, { topic: 't' });
        const st = await b.moderation.room(room);
        expect(st.mutes.get('zed')).toBe(0);
        expect(st.topic).toBe('t');
        expect(await a.moderation.takeSlowSlot(room, 'zed', 5, undefined)).toBe(true);
        expect(await b.moderation.takeSlowSlot(room, 'zed', 5, undefined)).toBe(false);
      });
    }
  });

  describe('webhook queue', () => {
    it('keeps a partition in order in its shard, reads after a position, acks and counts', async () => {
      const e = await make();
      const q = e.webhooks;
      const held = await q.lease(q.shards);
      const p = uniq('room');
      const shard = shardOf(p, q.shards);
      expect(held).toContain(shard);
      const before = await q.read(shard, null, 10_000);
      const skip = before.at(-1)?.seq ?? null;
      for (let i = 0; i < 5; i++) await q.enqueue(p, `{"n":${i}}`);
      const got = (await q.read(shard, skip, 100)).filter((ev) => ev.partition === p);
      expect(got.map((ev) => ev.body)).toEqual([0, 1, 2, 3, 4].map((i) => `{"n":${i}}`));
      expect(got[0]!.queuedAt).toBeGreaterThan(Date.now() - 10_000);
      const after2 = await q.read(shard, got[1]!.seq, 2);
      expect(after2.map((ev) => ev.seq)).toEqual([got[2]!.seq, got[3]!.seq]);
      const stats = await q.stats();
      expect(stats.depth).toBeGreaterThanOrEqual(5);
      expect(stats.oldestQueuedAt).not.toBeNull();
      await q.ack(
        shard,
        got.map((ev) => ev.seq),
      );
      expect((await q.read(shard, skip, 100)).filter((ev) => ev.partition === p)).toEqual([]);
      await q.release(held);
    });

    if (multiNode) {
      it('gives each shard to one node at a time and hands it over on release', async () => {
        const a = await make({ nodeTimeoutMs: 5000 });
        const b = await make({ nodeTimeoutMs: 5000 });
        const ha = await a.webhooks.lease(a.webhooks.shards);
        const hb = await b.webhooks.lease(b.webhooks.shards);
        expect(ha.filter((s) => hb.includes(s))).toEqual([]);
        await a.webhooks.release(ha);
        const hb2 = await b.webhooks.lease(b.webhooks.shards);
        for (const s of ha) expect(hb2).toContain(s);
        await b.webhooks.release(hb2);
      });
    }
  });
}
