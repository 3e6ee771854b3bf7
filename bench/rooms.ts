/**
 * Bench of the read-state commands (issue 15), Parley only, one node on a
 * fresh Redis:
 *
 * - `rooms` for a user with 100 memberships in rooms of 1,000 messages each
 *   (half the rooms with a marker in the middle, some deleted messages after
 *   it, half without a marker: unread at the 999 cap), sequential calls from
 *   one connection: p50/p99/max of the round trip, every reply checked;
 * - `directory` with 10,000 rooms that have messages: no prefix, a prefix;
 * - `read` round trips.
 *
 * Run: `npm run bench:rooms` (builds first) or `node dist/bench/rooms.js [--iterations N]`.
 * The plain `send` cost is the main bench (`npm run bench -- --only main`), see docs/performance.md.
 */
import { connectClient, pool, type BenchClient, type Reply } from './lib/clients.js';
import { startNode } from './lib/nodes.js';
import { treeCpuSeconds } from './lib/proc.js';
import { startBenchRedis } from './lib/redis.js';
import { latencyStats, type LatencyStats } from './lib/types.js';

const ROOMS = 100;
const PER_ROOM = 1000;
const DIRECTORY_ROOMS = 10_000;
const FILLERS = 4;

function arg(name: string, dflt: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : dflt;
}

function must(r: Reply, what: string): unknown {
  if (!r.ok) throw new Error(`${what}: ${r.error?.code} ${r.error?.message}`);
  return r.data;
}

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<LatencyStats> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    lat.push(performance.now() - t);
  }
  return latencyStats(lat);
}

const fmt = (s: LatencyStats): string =>
  `p50 ${s.p50.toFixed(2)} / p95 ${s.p95.toFixed(2)} / p99 ${s.p99.toFixed(2)} / max ${s.max.toFixed(2)} ms`;

async function main(): Promise<void> {
  const iterations = arg('--iterations', 1000);
  const redis = await startBenchRedis();
  const node = await startNode('parley', redis.url, {
    PARLEY_SEND_RATE: '1000000',
    PARLEY_SEND_BURST: '1000000',
    PARLEY_COMMAND_RATE: '1000000',
    PARLEY_COMMAND_BURST: '1000000',
  });
  const clients: BenchClient[] = [];
  try {
    const rooms = Array.from({ length: ROOMS }, (_, i) => `bench-r${i}`);
    const reader = await connectClient('parley', node.port, 'reader');
    clients.push(reader);
    for (const r of rooms) must(await reader.join(r), 'reader join');
    for (const r of rooms) must(await reader.leave(r), 'reader leave'); // a member, no longer joined

    // Fill: filler f owns rooms f, f+4, ...; 16 sends in flight per filler.
    const fillers = await Promise.all(
      Array.from({ length: FILLERS }, (_, f) => connectClient('parley', node.port, `filler${f}`)),
    );
    clients.push(...fillers);
    const ids = new Map<string, string[]>(rooms.map((r) => [r, []]));
    const t0 = performance.now();
    await Promise.all(
      fillers.map(async (c, f) => {
        const mine = rooms.filter((_, i) => i % FILLERS === f);
        for (const r of mine) must(await c.join(r), 'filler join');
        const jobs = mine.flatMap((r) => Array.from({ length: PER_ROOM }, (_, k) => [r, k] as const));
        await pool(jobs, 16, async ([r, k]) => {
          const d = must(await c.send(r, `filler ${k} ${'x'.repeat(60)}`), 'fill send') as { message: { id: string } };
          ids.get(r)!.push(d.message.id);
        });
      }),
    );
    const fillS = (performance.now() - t0) / 1000;
    const cmp = (a: string, b: string): number => {
      const [am, as] = a.split('-').map(Number) as [number, number];
      const [bm, bs] = b.split('-').map(Number) as [number, number];
      return am - bm || as - bs;
    };
    for (const list of ids.values()) list.sort(cmp);

    // Even rooms: marker at message 500 and 10 deleted messages after it (unread 489); odd: no marker (999).
    const expected = new Map<string, number>();
    for (let i = 0; i < ROOMS; i++) {
      const r = rooms[i]!;
      const list = ids.get(r)!;
      if (i % 2 === 0) {
        must(await reader.request({ type: 'read', room: r, messageId: list[499]! }), 'read');
        const owner = fillers[i % FILLERS]!;
        for (let k = 0; k < 10; k++) {
          must(await owner.request({ type: 'delete', room: r, messageId: list[600 + k]! }), 'delete');
        }
        expected.set(r, PER_ROOM - 500 - 10);
      } else {
        expected.set(r, 999);
      }
    }
    for (const c of fillers) c.close();

    let bad = 0;
    const check = (data: unknown): void => {
      const list = (data as { rooms: Array<{ room: string; unread: number; lastMessage: unknown }> }).rooms;
      if (list.length !== ROOMS) bad++;
      else if (list.some((e) => e.unread !== expected.get(e.room) || e.lastMessage === null)) bad++;
    };
    // Warm-up, then measured.
    for (let i = 0; i < 50; i++) check(must(await reader.request({ type: 'rooms' }), 'rooms'));
    const cpu0 = { node: node.cpuSeconds(), redis: treeCpuSeconds(redis.pid) };
    const roomsLat = await timed(iterations, async () => check(must(await reader.request({ type: 'rooms' }), 'rooms')));
    // CPU per call (the node and Redis): what a quiet box's latency is made of, whatever the contention.
    const roomsCpuMs = {
      node: ((node.cpuSeconds() - cpu0.node) * 1000) / iterations,
      redis: ((treeCpuSeconds(redis.pid) - cpu0.redis) * 1000) / iterations,
    };

    const readLat = await timed(Math.min(iterations, 500), async (i) => {
      const r = rooms[(i * 2) % ROOMS]!;
      must(await reader.request({ type: 'read', room: r, messageId: ids.get(r)![500 + Math.floor(i / 50)]! }), 'read');
    });

    // Directory: 10,000 rooms with one message each (from 4 writers over the HTTP-free path: WS sends).
    const writers = await Promise.all(
      Array.from({ length: FILLERS }, (_, f) => connectClient('parley', node.port, `writer${f}`)),
    );
    clients.push(...writers);
    const t1 = performance.now();
    await Promise.all(
      writers.map(async (c, f) => {
        const mine = Array.from({ length: DIRECTORY_ROOMS / FILLERS }, (_, k) => `dir-${k * FILLERS + f}`);
        await pool(mine, 16, async (r) => {
          must(await c.join(r), 'dir join');
          must(await c.send(r, 'hello'), 'dir send');
          must(await c.leave(r), 'dir leave');
        });
      }),
    );
    const dirFillS = (performance.now() - t1) / 1000;
    let dirBad = 0;
    const dirAll = await timed(Math.min(iterations, 300), async () => {
      const d = must(await reader.request({ type: 'directory' }), 'directory') as { rooms: unknown[] };
      if (d.rooms.length !== 100) dirBad++;
    });
    const dirPrefix = await timed(Math.min(iterations, 300), async (i) => {
      const d = must(await reader.request({ type: 'directory', prefix: `dir-${(i % 9) + 1}` }), 'directory') as {
        rooms: unknown[];
      };
      if (d.rooms.length !== 100) dirBad++;
    });

    const out = {
      memberships: ROOMS,
      messagesPerRoom: PER_ROOM,
      fillSeconds: fillS,
      roomsMs: roomsLat,
      roomsBad: bad,
      roomsCpuMsPerCall: roomsCpuMs,
      readMs: readLat,
      directoryRooms: DIRECTORY_ROOMS,
      directoryFillSeconds: dirFillS,
      directoryMs: dirAll,
      directoryPrefixMs: dirPrefix,
      directoryBad: dirBad,
    };
    console.log(`filled ${ROOMS} rooms x ${PER_ROOM} messages in ${fillS.toFixed(1)} s`);
    console.log(`rooms (100 memberships, ${iterations} calls): ${fmt(roomsLat)}; wrong replies: ${bad}`);
    console.log(`  CPU per rooms call: node ${roomsCpuMs.node.toFixed(2)} ms, redis ${roomsCpuMs.redis.toFixed(2)} ms`);
    console.log(`read: ${fmt(readLat)}`);
    console.log(`directory over ${DIRECTORY_ROOMS} rooms (filled in ${dirFillS.toFixed(1)} s): ${fmt(dirAll)}`);
    console.log(`directory with a prefix (~1,100 matches): ${fmt(dirPrefix)}; wrong replies: ${dirBad}`);
    console.log(JSON.stringify(out));
    if (bad > 0 || dirBad > 0) process.exitCode = 1;
  } finally {
    for (const c of clients) c.close();
    await node.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
