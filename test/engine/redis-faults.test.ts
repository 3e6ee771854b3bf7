/**
 * The Redis engine when Redis misbehaves: killed and restarted, frozen,
 * unreachable at start, and a subscriber connection killed under load
 * (gap fill). Every test asserts real outcomes: errors and their codes,
 * bounded times, and the exact sequence of delivered messages.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../src/engine/redis/redis-engine.js';
import { encodeBody, messageFrame, messageJson } from '../../src/engine/codec.js';
import type { BusEvent, EngineOptions } from '../../src/engine/engine.js';
import type { Message } from '../../src/protocol/frames.js';
import { ParleyError } from '../../src/protocol/errors.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { freePort, sleep, waitFor } from '../support/ports.js';

let redis: RedisProcess;
/**
 * "Settles instead of hanging": far above the 2 s command timeout, so a busy
 * shared box never fails these; a hung command would never settle at all.
 */
const HANG_MS = 15_000;
let admin: Redis;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  redis = await startRedis();
  // The admin connection outlives restarts: it reconnects and queues meanwhile.
  admin = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  admin?.disconnect();
  await redis?.stop();
});

const engines: RedisEngine[] = [];
let n = 0;
const make = async (options?: Partial<EngineOptions> & { heartbeatMs?: number }): Promise<RedisEngine> => {
  const e = new RedisEngine({ url: redis.url, nodeId: `faults-${process.pid}-${++n}`, ...options });
  engines.push(e);
  await e.start();
  return e;
};
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  expect(unhandled).toEqual([]);
});

let seq = 0;
const room = (): string => `faults-${process.pid}-${++seq}`;

/** Awaits a promise expected to reject with UNAVAILABLE; returns how long it took. */
async function expectUnavailable(p: Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  const err = await p.then(
    () => new Error('resolved, expected UNAVAILABLE'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ParleyError);
  expect((err as ParleyError).code).toBe('UNAVAILABLE');
  return Date.now() - t0;
}

/**
 * redis.restart(), tolerating a slow start: the helper's wait loop can give
 * up within milliseconds when connections are refused at once, while the
 * new redis-server (still tracked by the helper) is coming up.
 */
async function restartRedis(): Promise<void> {
  try {
    await redis.restart();
  } catch {
    await waitFor(
      () =>
        admin.ping().then(
          () => true,
          () => false,
        ),
      10_000,
      'redis-server after restart',
    );
  }
}

/** The Redis client id of the named connection. */
async function clientId(name: string): Promise<string> {
  const list = (await admin.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  if (!line) throw new Error(`no client named ${name}`);
  return /(?:^|\s)id=(\d+)/.exec(line)![1]!;
}

describe('redis engine faults', () => {
  it('answers UNAVAILABLE while Redis is down, then recovers and keeps existing subscriptions', async () => {
    const a = await make();
    const r = room();
    const got: string[] = [];
    await a.subscribe(r, (ev) => {
      if (ev.kind === 'message') got.push(ev.id);
    });
    const first = (await a.append({ room: r, from: 'u', text: 'before' })).message;
    await waitFor(() => got.length === 1, 10_000);

    // Commands in flight when Redis dies settle too (stored or UNAVAILABLE), none hangs.
    const inflight = Array.from({ length: 50 }, (_, i) =>
      a.append({ room: r, from: 'u', text: `inflight ${i}` }).then(
        () => 'stored',
        (e: unknown) => (e instanceof ParleyError ? e.code : String(e)),
      ),
    );
    await redis.kill();
    const t0 = Date.now();
    const outcomes = await Promise.all(inflight);
    expect(Date.now() - t0).toBeLessThan(HANG_MS);
    for (const o of outcomes) expect(['stored', 'UNAVAILABLE']).toContain(o);

    expect(await expectUnavailable(a.append({ room: r, from: 'u', text: 'down' }))).toBeLessThan(HANG_MS);
    expect(await expectUnavailable(a.history(r, { limit: 10 }))).toBeLessThan(HANG_MS);
    expect(await expectUnavailable(a.since(r, first.id, 10))).toBeLessThan(HANG_MS);
    expect(await expectUnavailable(a.lastMessageId(r))).toBeLessThan(HANG_MS);
    expect(await expectUnavailable(a.publish(r, { kind: 'event', frame: '{}' }))).toBeLessThan(HANG_MS);
    expect(await expectUnavailable(a.subscribe(room(), () => {}))).toBeLessThan(HANG_MS);
    const t1 = Date.now();
    expect(await a.ready()).toBe(false);
    expect(Date.now() - t1).toBeLessThan(HANG_MS);
    await a.unsubscribe(room()); // never rejects

    await restartRedis();
    await waitFor(() => a.ready(), 10_000, 'ready after restart');
    const after = (await a.append({ room: r, from: 'u', text: 'after restart' })).message;
    // The subscription made before the restart delivers without a new subscribe().
    await waitFor(() => got.includes(after.id), 5000, 'message on the old subscription');
    expect(got.filter((id) => id === after.id)).toHaveLength(1);
    expect(a.busStats.resyncs).toBeGreaterThanOrEqual(1);
    // and a new engine (node) works against the restarted server too
    const b = await make();
    const gotB: string[] = [];
    await b.subscribe(r, (ev) => {
      if (ev.kind === 'message') gotB.push(ev.id);
    });
    const third = (await a.append({ room: r, from: 'u', text: 'third' })).message;
    await waitFor(() => gotB.includes(third.id) && got.includes(third.id), 10_000);
  });

  it('rejects with UNAVAILABLE within the command timeout when Redis stops answering', async () => {
    const a = await make({ heartbeatMs: 0 });
    const r = room();
    await a.append({ room: r, from: 'u', text: 'x' });
    const info = await admin.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)![1]);
    process.kill(pid, 'SIGSTOP');
    try {
      const took = await expectUnavailable(a.append({ room: r, from: 'u', text: 'frozen' }));
      // It waited for the command timeout (2 s by default), and then gave up rather than hang.
      expect(took).toBeGreaterThanOrEqual(1500);
      expect(took).toBeLessThan(HANG_MS);
      const t0 = Date.now();
      expect(await a.ready()).toBe(false);
      expect(Date.now() - t0).toBeLessThan(HANG_MS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => a.ready(), 5000);
    const { message } = await a.append({ room: r, from: 'u', text: 'thawed' });
    expect(message.text).toBe('thawed');
  });

  it('rejects start() at once with a clear error when nothing listens on the Redis port (no waiting for the timeout)', async () => {
    const port = await freePort();
    const e = new RedisEngine({ url: `redis://127.0.0.1:${port}`, nodeId: 'nowhere', startTimeoutMs: 60_000 });
    const t0 = Date.now();
    await expect(e.start()).rejects.toThrow(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(HANG_MS); // far below the 60 s start timeout
    expect(await e.ready()).toBe(false);
    await e.close();
  });

  it('gap-fills after its subscriber connection is killed: every message exactly once, in order', async () => {
    const a = await make();
    const b = await make();
    const rooms = [room(), room()];
    const got = new Map<string, BusEvent[]>(rooms.map((r) => [r, []]));
    for (const r of rooms) await a.subscribe(r, (ev) => got.get(r)!.push(ev));
    const sent = new Map<string, Message[]>(rooms.map((r) => [r, []]));
    let stop = false;
    let i = 0;
    const producer = (async () => {
      while (!stop) {
        const r = rooms[i++ % 2]!;
        sent.get(r)!.push((await b.append({ room: r, from: 'u', text: `m${i}` })).message);
      }
    })();

    try {
      const subName = `parley:${a.options.nodeId}:sub`;
      for (let k = 1; k <= 3; k++) {
        await sleep(150);
        const before = a.busStats.filled;
        const killed = await admin.client('KILL', 'ID', await clientId(subName));
        expect(killed).toBe(1);
        await waitFor(() => a.busStats.resyncs === k, 5000, `resync ${k}`);
        // Messages were appended while A was disconnected: the fill delivered them.
        expect(a.busStats.filled).toBeGreaterThan(before);
      }
      await sleep(150);
    } finally {
      stop = true;
      await producer;
    }

    for (const r of rooms) {
      const want = sent.get(r)!;
      expect(want.length).toBeGreaterThan(50);
      await waitFor(() => got.get(r)!.length >= want.length, 5000, `all of ${r}`);
    }
    await sleep(100);
    for (const r of rooms) {
      const want = sent.get(r)!;
      // Exactly once and in order; filled and live frames are byte-identical to codec's.
      const expected: BusEvent[] = want.map((m) => ({
        kind: 'message',
        id: m.id,
        frame: messageFrame(r, messageJson(m.id, m.ts, encodeBody({ room: r, from: 'u', text: m.text }))),
      }));
      expect(got.get(r)).toEqual(expected);
    }
  });

  it('gap-fills change events too after its subscriber connection is killed: each change once, in order', async () => {
    const a = await make();
    const b = await make();
    const r = room();
    const got: BusEvent[] = [];
    await a.subscribe(r, (ev) => ev.kind === 'change' && got.push(ev));
    const { message } = await b.append({ room: r, from: 'u', text: 'react to me' });
    const changeIds: string[] = [];
    let stop = false;
    let i = 0;
    const producer = (async () => {
      while (!stop) {
        const res = await b.lifecycle.change({
          kind: 'react',
          room: r,
          messageId: message.id,
          emoji: '👍',
          by: { user: `user${i++}`, moderator: false },
        });
        changeIds.push(res.changeId!);
      }
    })();
    try {
      const subName = `parley:${a.options.nodeId}:sub`;
      for (let k = 1; k <= 2; k++) {
        await sleep(150);
        const before = a.busStats.filled;
        expect(await admin.client('KILL', 'ID', await clientId(subName))).toBe(1);
        await waitFor(() => a.busStats.resyncs === k, 5000, `resync ${k}`);
        expect(a.busStats.filled).toBeGreaterThan(before);
      }
      await sleep(150);
    } finally {
      stop = true;
      await producer;
    }
    expect(changeIds.length).toBeGreaterThan(20);
    await waitFor(() => got.length >= changeIds.length, 5000, 'every change');
    await sleep(100);
    expect(got.map((g) => (g.kind === 'change' ? g.id : ''))).toEqual(changeIds);
    const counts = got.map((g) => (JSON.parse(g.frame) as { count: number }).count);
    expect(counts).toEqual(changeIds.map((_, k) => k + 1));
  });
});
