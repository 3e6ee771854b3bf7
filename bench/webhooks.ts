/**
 * Webhook delivery benchmark: two Parley nodes on one Redis POST to a local
 * receiver that answers 200 at once. Two figures:
 *
 * - steady: messages published through the HTTP API at `--rate` per second
 *   (alternating nodes, `--rooms` rooms) for `--duration` seconds; lag =
 *   receipt time - the event's `ts` (both on this machine's clock), p50/p99;
 * - drain: `--backlog` events queued while the receiver answers 500, then it
 *   answers 200: events/s until the queue is empty (the delivery ceiling).
 *
 * Also checks that every event arrived and each room's arrived in order.
 *
 *     npm run build && tsc -p bench/tsconfig.json && node dist/bench/webhooks.js [--rate 500] [--duration 10] [--rooms 50] [--backlog 10000]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCluster } from './lib/nodes.js';
import { startBenchRedis } from './lib/redis.js';
import { latencyStats } from './lib/types.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RATE = opt('rate', 500);
const DURATION = opt('duration', 10);
const ROOMS = opt('rooms', 50);
const BACKLOG = opt('backlog', 10_000);
const KEY = 'bench-key';

interface Got {
  id: string;
  at: number;
  ts: number;
  room: string;
  text: string;
}

async function main(): Promise<void> {
  let failing = false;
  /** First deliveries only (a receiver dedupes by id); duplicates are counted. */
  const got: Got[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failing) {
        res.writeHead(500).end();
        return;
      }
      const at = Date.now();
      const ev = JSON.parse(Buffer.concat(chunks).toString()) as {
        id: string;
        ts: number;
        room: string;
        message: { text: string };
      };
      if (seen.has(ev.id)) duplicates++;
      else {
        seen.add(ev.id);
        got.push({ id: ev.id, at, ts: ev.ts, room: ev.room, text: ev.message.text });
      }
      res.writeHead(200).end();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const redis = await startBenchRedis();
  const nodes = await startCluster('parley', 2, redis.url, {
    PARLEY_API_KEY: KEY,
    PARLEY_WEBHOOK_URL: url,
    PARLEY_WEBHOOK_SECRET: 'bench',
    PARLEY_WEBHOOK_RETRY_BASE_MS: '50',
    PARLEY_WEBHOOK_RETRY_MAX_MS: '200',
    LOG_LEVEL: 'warn',
  });
  const publish = async (i: number, tag: string): Promise<void> => {
    const node = nodes[i % nodes.length]!;
    const room = `wh-${i % ROOMS}`;
    const res = await fetch(`http://127.0.0.1:${node.port}/api/rooms/${room}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: 'bench', text: `${tag}|${i}` }),
    });
    if (res.status !== 201) throw new Error(`publish answered ${res.status}`);
    await res.arrayBuffer();
  };
  const waitCount = async (n: number, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  };
  const inOrder = (tag: string): boolean => {
    const last = new Map<string, number>();
    for (const g of got) {
      const [t, n] = g.text.split('|');
      if (t !== tag) continue;
      const i = Number(n);
      if ((last.get(g.room) ?? -1) > i) return false;
      last.set(g.room, i);
    }
    return true;
  };
  try {
    // Steady load.
    const total = RATE * DURATION;
    const started = Date.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // Sends of one room wait for the previous one of that room (so the room order is defined).
      const prev = inflight[i - ROOMS] ?? Promise.resolve();
      inflight[i] = prev.then(() => publish(i, 's'));
    }
    await Promise.all(inflight);
    await waitCount(total, 60_000);
    const steady = got.filter((g) => g.text.startsWith('s|'));
    const lag = latencyStats(steady.map((g) => g.at - g.ts));
    const span = (Math.max(...steady.map((g) => g.at)) - Math.min(...steady.map((g) => g.ts))) / 1000;
    console.log(
      `steady: ${steady.length}/${total} delivered at ${RATE}/s target, ${(steady.length / span).toFixed(0)} events/s, ` +
        `lag p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms, in order per room: ${inOrder('s')}, duplicates ${duplicates}`,
    );
    // Backlog drain.
    failing = true;
    const queued: Promise<void>[] = [];
    for (let i = 0; i < BACKLOG; i++) {
      const prev = queued[i - ROOMS] ?? Promise.resolve();
      queued[i] = prev.then(() => publish(i, 'd'));
    }
    await Promise.all(queued);
    const before = got.length;
    failing = false;
    const t0 = Date.now();
    await waitCount(before + BACKLOG, 120_000);
    const secs = (Date.now() - t0) / 1000;
    const drained = got.length - before;
    console.log(
      `drain: ${drained}/${BACKLOG} delivered in ${secs.toFixed(2)} s = ${(drained / secs).toFixed(0)} events/s, ` +
        `in order per room: ${inOrder('d')}, duplicates ${duplicates}`,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
