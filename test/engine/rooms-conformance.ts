/**
 * Conformance of the engines' membership stores (memberships, read markers,
 * unread counts, DMs, directory), called from conformance.ts for every engine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, EngineOptions } from '../../src/engine/engine.js';
import { ParleyError } from '../../src/protocol/errors.js';
import { UNREAD_CAP, type Message } from '../../src/protocol/frames.js';
import { compareMessageIds } from '../../src/protocol/ids.js';
import { waitFor } from '../support/ports.js';
import type { EngineFactory } from './conformance.js';

let seq = 0;
const uniq = (p: string): string => `${p}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof ParleyError ? err.code : `not a ParleyError: ${String(err)}`;
  }
  return 'resolved';
}

/** Appends `n` messages from `from`, 50 at a time. */
async function fill(e: Engine, room: string, from: string, n: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => ({ room, from, text: `m${i + j}` }));
    for (const m of batch) out.push((await e.append(m)).message);
  }
  return out;
}

export function roomsConformance(name: string, factory: EngineFactory): void {
  describe(`membership conformance: ${name}`, () => {
    const started: Engine[] = [];
    const make = async (options?: Partial<EngineOptions>): Promise<Engine> => {
      const e = await factory.make(options);
      started.push(e);
      return e;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((e) => e.close()));
    });

    it('join stores a membership; rooms lists it with the newest message and unread from others', async () => {
      const e = await make();
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      expect(await e.memberships.rooms(ann)).toEqual([]);
      expect(await e.memberships.join(ann, r)).toEqual({ lastReadId: null, unread: 0 });
      const a1 = (await e.append({ room: r, from: ann, text: 'mine' })).message;
      const b1 = (await e.append({ room: r, from: bob, text: 'one' })).message;
      const b2 = (await e.append({ room: r, from: bob, text: 'two' })).message;
      expect(await e.memberships.rooms(ann)).toEqual([{ room: r, lastMessage: b2, lastReadId: a1.id, unread: 2 }]);
      // Joining again changes nothing; bob's marker is his last message (sending moved it).
      expect(await e.memberships.join(ann, r)).toEqual({ lastReadId: a1.id, unread: 2 });
      expect(await e.memberships.join(bob, r)).toEqual({ lastReadId: b2.id, unread: 0 });
      // A new member without a marker has every message of the others unread.
      expect(await e.memberships.join(uniq('cy'), r)).toEqual({ lastReadId: null, unread: 3 });
      expect(b1.id).not.toBe(b2.id);
    });

    it('moves a marker forward only, and answers the marker it keeps', async () => {
      const e = await make();
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      await e.memberships.join(ann, r);
      const ms = await fill(e, r, bob, 5);
      expect(await e.memberships.read(ann, r, ms[3]!.id)).toEqual({ lastReadId: ms[3]!.id, moved: true });
      expect((await e.memberships.join(ann, r)).unread).toBe(1);
      expect(await e.memberships.read(ann, r, ms[1]!.id)).toEqual({ lastReadId: ms[3]!.id, moved: false });
      expect(await e.memberships.read(ann, r, ms[3]!.id)).toEqual({ lastReadId: ms[3]!.id, moved: false });
      expect(await e.memberships.read(ann, r, ms[4]!.id)).toEqual({ lastReadId: ms[4]!.id, moved: true });
      expect(await e.memberships.join(ann, r)).toEqual({ lastReadId: ms[4]!.id, unread: 0 });
      // Sending moves the sender's marker past everything before it.
      await e.append({ room: r, from: bob, text: 'more' });
      const own = (await e.append({ room: r, from: ann, text: 'reply' })).message;
      expect(await e.memberships.join(ann, r)).toEqual({ lastReadId: own.id, unread: 0 });
    });

    it('refuses a read without a membership (NOT_JOINED) or of an unknown message (NOT_FOUND)', async () => {
      const e = await make();
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const m = (await e.append({ room: r, from: bob, text: 'x' })).message;
      expect(await code(e.memberships.read(ann, r, m.id))).toBe('NOT_JOINED');
      await e.memberships.join(ann, r);
      expect(await code(e.memberships.read(ann, r, '1-0'))).toBe('NOT_FOUND');
      expect(await code(e.memberships.read(ann, uniq('empty'), m.id))).toBe('NOT_JOINED');
      const other = uniq('other');
      await e.memberships.join(ann, other);
      expect(await code(e.memberships.read(ann, other, m.id))).toBe('NOT_FOUND');
    });

    it('caps unread at UNREAD_CAP and counts exactly below it', async () => {
      const e = await make();
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      await e.memberships.join(ann, r);
      const ms = await fill(e, r, bob, UNREAD_CAP + 6);
      expect((await e.memberships.join(ann, r)).unread).toBe(UNREAD_CAP);
      await e.memberships.read(ann, r, ms[5]!.id);
      expect((await e.memberships.join(ann, r)).unread).toBe(UNREAD_CAP);
      await e.memberships.read(ann, r, ms[6]!.id);
      expect((await e.memberships.join(ann, r)).unread).toBe(UNREAD_CAP - 1);
      await e.memberships.read(ann, r, ms[ms.length - 2]!.id);
      expect((await e.memberships.rooms(ann))[0]!.unread).toBe(1);
    });

    it('leaves deleted messages out of unread (only after the marker) and shows messages in their current state', async () => {
      const e = await make();
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      const del = (messageId: string) =>
        e.lifecycle.change({ kind: 'delete', room: r, messageId, by: { server: true } });
      await e.memberships.join(ann, r);
      // Appended back to back, so several share a millisecond: the count must split within one.
      const ms = await Promise.all(
        Array.from({ length: 12 }, (_, i) => e.append({ room: r, from: bob, text: `m${i}` })),
      );
      const ids = ms.map((m) => m.message.id).sort((a, b) => (a === b ? 0 : compareMessageIds(a, b)));
      await e.memberships.read(ann, r, ids[4]!);
      expect((await e.memberships.join(ann, r)).unread).toBe(7);
      await del(ids[5]!);
      expect((await e.memberships.join(ann, r)).unread).toBe(6);
      await del(ids[4]!); // the marker's own message and older ones were read already
      await del(ids[0]!);
      expect((await e.memberships.join(ann, r)).unread).toBe(6);
      await del(ids[11]!);
      const [entry] = await e.memberships.rooms(ann);
      expect(entry).toMatchObject({ room: r, unread: 5, lastReadId: ids[4] });
      expect(entry!.lastMessage).toMatchObject({ id: ids[11], deleted: true, text: '' });
      // A member without a marker: every retained deleted message is left out.
      expect((await e.memberships.join(uniq('cy'), r)).unread).toBe(8);
      const edited = (await e.append({ room: r, from: bob, text: 'typo' })).message;
      await e.lifecycle.change({ kind: 'edit', room: r, messageId: edited.id, text: 'fixed', by: { server: true } });
      expect((await e.memberships.rooms(ann))[0]!.lastMessage).toMatchObject({ id: edited.id, text: 'fixed' });
      const dir = await e.memberships.directory({ prefixes: [r], accept: (x) => x === r, limit: 5 });
      expect(dir[0]!.lastMessage).toMatchObject({ id: edited.id, text: 'fixed' });
    });

    it('forget ends the membership and keeps the marker for a later join', async () => {
      const e = await make();
      const [r1, r2] = [uniq('r'), uniq('r')];
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      await e.memberships.join(ann, r1);
      await e.memberships.join(ann, r2);
      const ms = await fill(e, r1, bob, 3);
      await e.memberships.read(ann, r1, ms[1]!.id);
      expect(await e.memberships.forget(ann, r1)).toBe(true);
      expect(await e.memberships.forget(ann, r1)).toBe(false);
      expect((await e.memberships.rooms(ann)).map((x) => x.room)).toEqual([r2]);
      expect(await code(e.memberships.read(ann, r1, ms[2]!.id))).toBe('NOT_JOINED');
      expect(await e.memberships.join(ann, r1)).toEqual({ lastReadId: ms[1]!.id, unread: 1 });
    });

    it('addMembers makes both users of a DM members, listed before they join', async () => {
      const e = await make();
      const [ann, bob] = [uniq('ann'), uniq('bob')].sort() as [string, string];
      const dm = `dm:${ann}:${bob}`;
      const m = (await e.append({ room: dm, from: ann, text: 'psst' })).message;
      await e.memberships.addMembers(dm, [ann, bob]);
      expect(await e.memberships.rooms(bob)).toEqual([{ room: dm, lastMessage: m, lastReadId: null, unread: 1 }]);
      expect(await e.memberships.rooms(ann)).toEqual([{ room: dm, lastMessage: m, lastReadId: m.id, unread: 0 }]);
      expect(await e.memberships.read(bob, dm, m.id)).toEqual({ lastReadId: m.id, moved: true });
    });

    it('keeps counting across trimming of the log', async () => {
      const e = await make({ historyMax: 20 });
      const r = uniq('r');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      await e.memberships.join(ann, r);
      const ms = await fill(e, r, bob, 60);
      const latest = await e.history(r, { limit: 100 });
      expect(latest.messages.length).toBeLessThan(60);
      await e.memberships.read(ann, r, ms[50]!.id);
      expect((await e.memberships.join(ann, r)).unread).toBe(9);
      expect(await code(e.memberships.read(ann, r, ms[0]!.id))).toBe('NOT_FOUND');
    });

    it('lists directory rooms that have messages, newest first, filtered, with membership counts', async () => {
      const e = await make();
      const p = uniq('dir');
      const [ann, bob] = [uniq('ann'), uniq('bob')];
      await e.memberships.join(ann, `${p}-empty`); // no messages: not listed
      await e.memberships.join(ann, `${p}-a`);
      await e.memberships.join(bob, `${p}-a`);
      await e.append({ room: `${p}-a`, from: ann, text: 'a' });
      await new Promise((res) => setTimeout(res, 5));
      await e.append({ room: `${p}-b`, from: ann, text: 'b' });
      await new Promise((res) => setTimeout(res, 5));
      const c = (await e.append({ room: `${p}-c`, from: bob, text: 'c' })).message;
      const [x, y] = [uniq('x'), uniq('y')].sort() as [string, string];
      await e.append({ room: `dm:${x}:${y}`, from: x, text: 'private' });
      const mine = (room: string): boolean => room.startsWith(p);
      for (const prefixes of [null, [p]]) {
        const all = await e.memberships.directory({ prefixes, accept: mine, limit: 100 });
        expect(all.map((d) => d.room)).toEqual([`${p}-c`, `${p}-b`, `${p}-a`]);
        expect(all[0]).toEqual({ room: `${p}-c`, members: 0, lastMessage: c });
        expect(all[2]!.members).toBe(2);
        const some = await e.memberships.directory({ prefixes, accept: (r) => mine(r) && !r.endsWith('-b'), limit: 1 });
        expect(some.map((d) => d.room)).toEqual([`${p}-c`]);
      }
      // Newer activity moves a room to the front.
      await new Promise((res) => setTimeout(res, 5));
      await e.append({ room: `${p}-a`, from: bob, text: 'again' });
      const again = await e.memberships.directory({ prefixes: [`${p}-`], accept: mine, limit: 100 });
      expect(again.map((d) => d.room)).toEqual([`${p}-a`, `${p}-c`, `${p}-b`]);
      const none = await e.memberships.directory({
        prefixes: [`${p}-zz`],
        accept: (r) => r.startsWith(`${p}-zz`),
        limit: 100,
      });
      expect(none).toEqual([]);
      const dms = await e.memberships.directory({ prefixes: ['dm:'], accept: (r) => r.startsWith('dm:'), limit: 100 });
      expect(dms).toEqual([]);
    });

    it('moves a busy room to the front of the directory soon after its newest message', async () => {
      const e = await make();
      const p = uniq('busy');
      const mine = (room: string): boolean => room.startsWith(p);
      await e.append({ room: `${p}-a`, from: 'u', text: '1' });
      await new Promise((res) => setTimeout(res, 5));
      await e.append({ room: `${p}-b`, from: 'u', text: '1' });
      await new Promise((res) => setTimeout(res, 5));
      await e.append({ room: `${p}-a`, from: 'u', text: '2' }); // a later message: a may be written a little later
      const top = async (): Promise<string | undefined> =>
        (await e.memberships.directory({ prefixes: null, accept: mine, limit: 1 }))[0]?.room;
      await waitFor(async () => (await top()) === `${p}-a`, 3000);
      expect((await e.memberships.directory({ prefixes: [p], accept: mine, limit: 1 }))[0]?.room).toBe(`${p}-a`);
    });

    if (factory.multiNode) {
      it('shares memberships and markers between nodes', async () => {
        const a = await make();
        const b = await make();
        const r = uniq('r');
        const [ann, bob] = [uniq('ann'), uniq('bob')];
        await a.memberships.join(ann, r);
        const ms = await fill(b, r, bob, 3);
        expect((await b.memberships.rooms(ann))[0]).toMatchObject({ room: r, unread: 3 });
        await b.memberships.read(ann, r, ms[2]!.id);
        expect(await a.memberships.join(ann, r)).toEqual({ lastReadId: ms[2]!.id, unread: 0 });
        await a.close();
        const c = await make();
        expect((await c.memberships.rooms(ann)).map((x) => x.room)).toEqual([r]);
      });
    }
  });
}
