/**
 * Bounded storage (issue 20): presence records of users offline for longer
 * than presenceRetentionMs expire on both engines, and the memory engine
 * bounds the messages it holds across rooms, evicting the least recently
 * active rooms. Time is moved with a faked Date (never waited for), except
 * where Redis's own TTL clock is the thing under test.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine, EngineOptions } from '../../src/engine/engine.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { presenceBucket, presenceKeys } from '../../src/engine/redis/keys.js';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

const DAY = 24 * 3600_000;
let seq = 0;
const uniq = (p: string): string => `${p}-${process.pid}-${++seq}`;

let redis: RedisProcess;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

const started: Engine[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(started.splice(0).map((e) => e.close()));
});

async function memory(options: Partial<EngineOptions> = {}): Promise<MemoryEngine> {
  const e = new MemoryEngine({ nodeId: uniq('mem'), ...options });
  await e.start();
  started.push(e);
  return e;
}

async function onRedis(options: Partial<EngineOptions> = {}): Promise<RedisEngine> {
  const e = new RedisEngine({ url: redis.url, nodeId: uniq('ret'), ...options });
  await e.start();
  started.push(e);
  return e;
}

/** Connects `user`, sets a status, disconnects: an offline user with a record. */
async function visit(e: Engine, user: string): Promise<void> {
  const connId = uniq('c');
  await e.presence.connect({ connId, user, name: 'Ann' });
  await e.presence.joinRoom(connId, user, uniq('room'));
  await e.presence.setStatus(user, 'busy', 'away for a while');
  await e.presence.disconnect(connId);
}

/** Moves Date.now (only Date is faked: sockets and Redis keep running). */
function jump(ms: number): void {
  const now = Date.now();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now + ms);
}

const unknown = (user: string): object => ({ user, status: 'online', online: false });

describe('presence retention: memory engine', () => {
  it('keeps an offline user for the retention, then forgets the record', async () => {
    const e = await memory({ presenceRetentionMs: DAY });
    const ann = uniq('ann');
    await visit(e, ann);
    const [s] = await e.presence.users([ann]);
    expect(s).toMatchObject({ user: ann, name: 'Ann', status: 'busy', online: false });
    expect(s!.lastSeen).toBeTypeOf('number');
    jump(DAY - 1000);
    expect((await e.presence.users([ann]))[0]).toMatchObject({ status: 'busy', name: 'Ann' });
    jump(2000);
    expect(await e.presence.users([ann])).toEqual([unknown(ann)]);
    // The sweep drops the record itself, not only hides it.
    expect(e.presence.storedUsers).toBe(1);
    await e.presence.sweep();
    expect(e.presence.storedUsers).toBe(0);
  });

  it('never expires a connected user, and a reconnect starts the clock again', async () => {
    const e = await memory({ presenceRetentionMs: DAY });
    const [ann, bob] = [uniq('ann'), uniq('bob')];
    await e.presence.connect({ connId: uniq('c'), user: ann });
    await visit(e, bob);
    jump(DAY / 2);
    const c = uniq('c');
    await e.presence.connect({ connId: c, user: bob });
    await e.presence.disconnect(c);
    jump(DAY - 1000);
    await e.presence.sweep();
    const [a, b] = await e.presence.users([ann, bob]);
    expect(a).toMatchObject({ online: true });
    expect(b).toMatchObject({ online: false, status: 'busy' });
    jump(2 * DAY);
    await e.presence.sweep();
    expect(e.presence.storedUsers).toBe(1); // ann, still connected
    expect((await e.presence.users([ann]))[0]).toMatchObject({ online: true });
  });
});

describe('presence retention: redis engine', () => {
  it('sets a TTL of the retention on the user hash when the last connection ends, clears it on reconnect', async () => {
    const e = await onRedis({ presenceRetentionMs: DAY });
    const ann = uniq('ann');
    await visit(e, ann);
    const ttl = await admin.pttl(presenceKeys.user(ann));
    expect(ttl).toBeGreaterThan(DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(DAY);
    const c = uniq('c');
    await e.presence.connect({ connId: c, user: ann });
    expect(await admin.pttl(presenceKeys.user(ann))).toBe(-1);
    // A status change while connected or offline keeps what the connection state says.
    await e.presence.setStatus(ann, 'away', undefined);
    expect(await admin.pttl(presenceKeys.user(ann))).toBe(-1);
    await e.presence.disconnect(c);
    expect(await admin.pttl(presenceKeys.user(ann))).toBeGreaterThan(0);
    await e.presence.setStatus(ann, 'busy', undefined);
    expect(await admin.pttl(presenceKeys.user(ann))).toBeGreaterThan(0);
  });

  it("an expired user reads as unknown (Redis's own clock)", async () => {
    const e = await onRedis({ presenceRetentionMs: 1000 });
    const ann = uniq('ann');
    await visit(e, ann);
    expect((await e.presence.users([ann]))[0]).toMatchObject({ status: 'busy', online: false });
    await waitFor(async () => (await admin.exists(presenceKeys.user(ann))) === 0, 10_000, 'the user hash to expire');
    expect(await e.presence.users([ann])).toEqual([unknown(ann)]);
    expect(await admin.exists(presenceKeys.userRooms(ann), presenceKeys.userConns(ann))).toBe(0);
  });

  it('the sweep trims long-offline users from the last-seen index, never online ones', async () => {
    const e = await onRedis({ presenceRetentionMs: DAY });
    const [ann, bob] = [uniq('ann'), uniq('bob')];
    await visit(e, ann);
    await e.presence.connect({ connId: uniq('c'), user: bob });
    const usersKey = (u: string): string => presenceKeys.users(presenceBucket(u));
    const versionKey = (u: string): string => presenceKeys.version(presenceBucket(u));
    expect(Number(await admin.zscore(usersKey(ann), ann))).toBeGreaterThan(0);
    expect(await admin.zscore(usersKey(bob), bob)).toBe('0');
    // Within the retention: nothing is trimmed.
    jump(DAY - 60_000);
    await e.presence.sweep();
    expect(await admin.zscore(usersKey(ann), ann)).not.toBeNull();
    vi.useRealTimers();
    // A second engine (its first trim is due at once) past the retention.
    const other = await onRedis({ presenceRetentionMs: DAY });
    jump(DAY + 60_000);
    await other.presence.sweep();
    expect(await admin.zscore(usersKey(ann), ann)).toBeNull();
    expect(await admin.hget(versionKey(ann), ann)).toBeNull();
    expect(await admin.zscore(usersKey(bob), bob)).toBe('0');
    expect((await e.presence.users([bob]))[0]).toMatchObject({ online: true });
  });
});

describe('memory engine: total stored messages', () => {
  const send = async (e: Engine, room: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await e.append({ room, from: 'ann', text: `${room} ${i}` });
  };

  it('evicts the least recently active rooms when over the bound, never the room being written', async () => {
    const e = await memory({ maxStoredMessages: 10, historyMax: 100 });
    const [a, b, c] = [uniq('a'), uniq('b'), uniq('c')];
    await send(e, a, 4);
    await send(e, b, 4);
    await send(e, a, 1); // a is now more recently active than b
    expect(e.storedMessages).toBe(9);
    await send(e, c, 2); // 11 > 10: b (least recently active) goes
    expect(e.storedMessages).toBe(7);
    expect((await e.history(b, { limit: 50 })).messages).toEqual([]);
    expect(await e.lastMessageId(b)).toBeNull();
    expect((await e.history(a, { limit: 50 })).messages).toHaveLength(5);
    expect((await e.history(c, { limit: 50 })).messages).toHaveLength(2);
    // One room alone above the bound keeps its newest messages (historyMax bounds it).
    await send(e, c, 12);
    expect((await e.history(a, { limit: 50 })).messages).toEqual([]);
    expect((await e.history(c, { limit: 50 })).messages).toHaveLength(14);
    expect(e.storedMessages).toBe(14);
  });

  it('counts per-room trimming, so the total follows what is held', async () => {
    const e = await memory({ maxStoredMessages: 1000, historyMax: 10 });
    const r = uniq('r');
    await send(e, r, 100);
    const held = (await e.history(r, { limit: 1000 })).messages.length;
    expect(held).toBeLessThanOrEqual(11);
    expect(e.storedMessages).toBe(held);
  });

  it("an evicted room's edits, reactions and unread counts stay consistent", async () => {
    const e = await memory({ maxStoredMessages: 5, historyMax: 100 });
    const [a, b] = [uniq('a'), uniq('b')];
    await e.memberships.join('bob', a);
    const m = (await e.append({ room: a, from: 'ann', text: 'hello' })).message;
    await e.lifecycle.change({
      kind: 'react',
      room: a,
      messageId: m.id,
      emoji: '👍',
      by: { user: 'bob', moderator: false },
    });
    await send(e, a, 2);
    expect((await e.memberships.rooms('bob'))[0]).toMatchObject({ room: a, unread: 3 });
    await send(e, b, 5); // a goes
    expect(await e.lifecycle.get(a, m.id)).toBeNull();
    expect((await e.since(a, m.id, 100)).recovered).toBe(false);
    // New messages in the evicted room start a fresh history; the membership and counts go on.
    const next = (await e.append({ room: a, from: 'ann', text: 'again' })).message;
    expect((await e.history(a, { limit: 50 })).messages.map((x) => x.id)).toEqual([next.id]);
    expect((await e.memberships.rooms('bob'))[0]).toMatchObject({ room: a, unread: 4, lastMessage: next });
    await e.memberships.read('bob', a, next.id);
    expect((await e.memberships.rooms('bob'))[0]).toMatchObject({ room: a, unread: 0, lastReadId: next.id });
  });
});
