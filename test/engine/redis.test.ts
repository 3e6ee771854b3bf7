/**
 * The Redis engine against the shared conformance suite (several engines on
 * one redis-server behave as a cluster), plus Redis-specific checks: key
 * layout, byte-identical frames, script reload after SCRIPT FLUSH, trimming.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeBody, messageFrame, messageJson } from '../../src/engine/codec.js';
import type { BusEvent, EngineOptions } from '../../src/engine/engine.js';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { dedupeKey } from '../../src/engine/redis/keys.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { waitFor } from '../support/ports.js';
import { engineConformance } from './conformance.js';

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

let n = 0;
const makeEngine = async (options?: Partial<EngineOptions> & { autoPipelining?: boolean }): Promise<RedisEngine> => {
  const e = new RedisEngine({ url: redis.url, nodeId: `redis-test-${process.pid}-${++n}`, ...options });
  await e.start();
  return e;
};

engineConformance('redis', { multiNode: true, make: makeEngine });
// The same behaviour without auto-pipelining (each command written on its own).
engineConformance('redis (no auto-pipelining)', {
  multiNode: true,
  make: (options) => makeEngine({ ...options, autoPipelining: false }),
});

describe('redis engine specifics', () => {
  const engines: RedisEngine[] = [];
  const make = async (options?: Partial<EngineOptions>): Promise<RedisEngine> => {
    const e = await makeEngine(options);
    engines.push(e);
    return e;
  };
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });
  let seq = 0;
  const room = (): string => `spec-${process.pid}-${++seq}`;

  it('uses the documented, hash-tagged key layout', async () => {
    const e = await make({ dedupeWindowMs: 60_000 });
    const r = room();
    const { message } = await e.append({ room: r, from: 'ann:x', text: 'hi', clientMsgId: 'c:1' });
    expect(await admin.type(`parley:{r:${r}}:log`)).toBe('stream');
    const entries = await admin.xrange(`parley:{r:${r}}:log`, '-', '+');
    expect(entries).toEqual([
      [message.id, ['d', encodeBody({ room: r, from: 'ann:x', text: 'hi', clientMsgId: 'c:1' }), 's', '1']],
    ]);
    // the per-room sequence number and the sender's read marker (membership-keys.ts)
    expect(await admin.get(`parley:{r:${r}}:seq`)).toBe('1');
    expect(await admin.hget(`parley:{r:${r}}:reads`, 'ann:x')).toBe(`1|${message.id}`);
    const dk = dedupeKey(r, 'ann:x', 'c:1');
    expect(dk).toBe(`parley:{r:${r}}:dedupe:ann%3Ax:c:1`);
    expect(JSON.parse((await admin.get(dk))!)).toEqual(message);
    const ttl = await admin.pttl(dk);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // a user id with ':' cannot collide with another user's clientMsgId
    const other = await e.append({ room: r, from: 'ann', text: 'x', clientMsgId: 'x:c:1' });
    expect(other.duplicate).toBe(false);
  });

  it('publishes frames byte-identical to codec.messageFrame(messageJson(...))', async () => {
    const a = await make();
    const r = room();
    const got: BusEvent[] = [];
    await a.subscribe(r, (ev) => got.push(ev));
    const draft = {
      room: r,
      from: 'u',
      name: 'Ü "quoted" \\ \u2028',
      text: 'emoji 😀 <b>&amp;</b>\n\t',
      clientMsgId: 'k"1',
    };
    const { message } = await a.append(draft);
    await waitFor(() => got.length === 1, 3000);
    const expected = messageFrame(r, messageJson(message.id, message.ts, encodeBody(draft)));
    expect(got[0]).toEqual({ kind: 'message', id: message.id, frame: expected });
    expect(message).toEqual(JSON.parse(messageJson(message.id, message.ts, encodeBody(draft))));
    expect(Object.keys(message)).toEqual(['id', 'ts', 'room', 'from', 'text', 'name', 'clientMsgId']);
    const page = await a.history(r, { limit: 5 });
    expect(page.messages).toEqual([message]);
  });

  it('subscribes each room once per node, on its own connection', async () => {
    const a = await make();
    const r = room();
    await Promise.all([a.subscribe(r, () => {}), a.subscribe(r, () => {}), a.unsubscribe(r), a.subscribe(r, () => {})]);
    const counts = (await admin.call('PUBSUB', 'NUMSUB', `parley:{r:${r}}`)) as [string, number];
    expect(counts[1]).toBe(1);
    await a.unsubscribe(r);
    const after = (await admin.call('PUBSUB', 'NUMSUB', `parley:{r:${r}}`)) as [string, number];
    expect(after[1]).toBe(0);
  });

  it('serializes concurrent subscribe/unsubscribe of a room: the last call wins', async () => {
    const a = await make();
    const r = room();
    const got: string[] = [];
    const ops: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      ops.push(a.subscribe(r, (ev) => ev.kind === 'message' && got.push(`l${i}`)));
      ops.push(a.unsubscribe(r));
    }
    ops.push(a.subscribe(r, (ev) => ev.kind === 'message' && got.push('last')));
    await Promise.all(ops);
    await a.append({ room: r, from: 'u', text: 'x' });
    await waitFor(() => got.length === 1, 3000);
    await new Promise((res) => setTimeout(res, 100));
    expect(got).toEqual(['last']);
  });

  it('keeps edits, deletes and reactions in the documented hash-tagged keys', async () => {
    const e = await make();
    const r = room();
    const tag = `parley:{r:${r}}`;
    const m1 = (await e.append({ room: r, from: 'ann', text: 'one' })).message;
    const m2 = (await e.append({ room: r, from: 'ann', text: 'two' })).message;
    const by = { user: 'bob', moderator: false };
    await e.lifecycle.change({ kind: 'react', room: r, messageId: m1.id, emoji: '👍', by });
    const edited = await e.lifecycle.change({
      kind: 'edit',
      room: r,
      messageId: m1.id,
      text: 'uno',
      by: { server: true },
    });
    await e.lifecycle.change({ kind: 'delete', room: r, messageId: m2.id, by: { server: true } });
    expect(await admin.type(`${tag}:state`)).toBe('hash');
    expect(JSON.parse((await admin.hget(`${tag}:state`, m1.id))!)).toEqual(edited.message);
    expect(await admin.type(`${tag}:changes`)).toBe('stream');
    const changes = await admin.xrange(`${tag}:changes`, '-', '+');
    expect(changes.map(([, f]) => f[1])).toEqual([m1.id, m1.id, m2.id]);
    expect(JSON.parse(changes[2]![1][3]!)).toEqual({ type: 'deleted', room: r, messageId: m2.id });
    expect(await admin.zrange(`${tag}:deleted`, '0', '-1', 'WITHSCORES')).toEqual([m2.id, String(m2.ts)]);
    expect(await admin.zrange(`${tag}:changed`, '0', '-1')).toEqual([m1.id, m2.id]);
    expect(await admin.zrange(`${tag}:rx:${m1.id}`, '0', '-1')).toEqual(['👍\u0000000000000001\u0000bob']);
    expect(await admin.hget(`${tag}:rxu:${m1.id}`, '👍\u0000bob')).toBe('👍\u0000000000000001\u0000bob');
    // a delete drops the message's reactions
    expect(await admin.exists(`${tag}:rx:${m2.id}`, `${tag}:rxu:${m2.id}`)).toBe(0);
    // the stream keeps the message as sent
    expect((await admin.xrange(`${tag}:log`, m1.id, m1.id))[0]![1][1]).toBe(
      encodeBody({ room: r, from: 'ann', text: 'one' }),
    );
  });

  it('reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const a = await make();
    const r = room();
    await a.append({ room: r, from: 'u', text: 'before' });
    await admin.script('FLUSH');
    const { message } = await a.append({ room: r, from: 'u', text: 'after' });
    expect(message.text).toBe('after');
    const s = await a.since(r, message.id, 10);
    expect(s).toEqual({ messages: [], recovered: true, changed: [], changeId: null });
    await admin.script('FLUSH');
    const edited = await a.lifecycle.change({
      kind: 'edit',
      room: r,
      messageId: message.id,
      text: 'edited',
      by: { user: 'u', moderator: false },
    });
    expect(edited.message.text).toBe('edited');
    expect((await a.history(r, { limit: 1 })).messages[0]!.text).toBe('edited');
  });

  it('trims the stream to about historyMax', async () => {
    const a = await make({ historyMax: 50 });
    const r = room();
    for (let i = 0; i < 300; i++) await a.append({ room: r, from: 'u', text: `m${i}` });
    const len = await admin.xlen(`parley:{r:${r}}:log`);
    expect(len).toBeGreaterThanOrEqual(50);
    expect(len).toBeLessThanOrEqual(55);
  });

  it('treats a since id lost with the storage as unknown (recovered false)', async () => {
    const a = await make();
    const r = room();
    const all = [];
    for (let i = 0; i < 5; i++) all.push((await a.append({ room: r, from: 'u', text: `m${i}` })).message);
    await admin.del(`parley:{r:${r}}:log`); // what a restart without persistence looks like
    // A restarted Redis starts a new stream at its current time, later than the lost ids.
    await new Promise((res) => setTimeout(res, 5));
    const fresh = (await a.append({ room: r, from: 'u', text: 'new' })).message;
    const s = await a.since(r, all[4]!.id, 100);
    expect(s.recovered).toBe(false);
    expect(s.messages.map((m) => m.id)).toEqual([fresh.id]);
  });

  it('does not let a throwing listener break delivery', async () => {
    const a = await make();
    const r = room();
    const got: string[] = [];
    await a.subscribe(r, (ev) => {
      if (ev.kind !== 'message') return;
      got.push(ev.id);
      if (got.length === 1) throw new Error('listener bug');
    });
    await a.append({ room: r, from: 'u', text: '1' });
    await a.append({ room: r, from: 'u', text: '2' });
    await waitFor(() => got.length === 2, 3000);
    expect(a.busStats.listenerErrors).toBe(1);
  });

  it('answers ready() and closes idempotently', async () => {
    const a = await make();
    expect(await a.ready()).toBe(true);
    await Promise.all([a.close(), a.close()]);
    await a.close();
    expect(await a.ready()).toBe(false);
  });
});
