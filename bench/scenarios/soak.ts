/**
 * The soak (`npm run bench:soak`, `--only soak`; never part of the default
 * run): two Parley nodes on the bench's Redis under the main scenario's load
 * for `--soak-minutes`, with reconnect churn (load/churn.ts). Every 10 s it
 * samples each node's RSS (/proc, no forced GC) and `parley_state_entries`
 * (/metrics), Redis `INFO memory`, and the load generator's window (latency,
 * sent and delivered per second, rejoins); a row a minute while it runs, and
 * at the end growth after the warm-up (2 min) with a least-squares slope,
 * PASS under 5%, and whether every state map came back to its 2-min value.
 */
import { nextPrefix, parleyEnv, type BenchContext } from '../lib/context.js';
import { startCluster, type ServerNode } from '../lib/nodes.js';
import { rssBytes } from '../lib/proc.js';
import type { BenchRedis } from '../lib/redis.js';
import type { ChurnResult, ChurnTask, ChurnWindow } from '../lib/types.js';

/** One 10 s sample of everything the soak watches. */
export interface SoakSample {
  index: number;
  /** Seconds since the first send. */
  atSec: number;
  nodes: Array<{ rss: number; state: Record<string, number> }>;
  redis: { usedMemory: number; usedMemoryRss: number; processRss: number; keys: number };
  window: ChurnWindow;
}

const SAMPLE_MS = 10_000;
/** Clients reconnecting per second, as a share of all (issue: 1%). */
const CHURN_SHARE = 0.01;
/** Growth after the warm-up that fails the soak. */
const MAX_GROWTH = 0.05;
const MB = 2 ** 20;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** The sum of `field:<n>` lines in INFO text (a cluster answers once per master). */
function infoField(text: string, field: string): number {
  let sum = 0;
  let found = false;
  for (const m of text.matchAll(new RegExp(`^${field}:(\\d+)`, 'gm'))) {
    sum += Number(m[1]);
    found = true;
  }
  return found ? sum : NaN;
}

async function stateEntries(node: ServerNode): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const res = await fetch(`http://127.0.0.1:${node.port}/metrics`);
    for (const line of (await res.text()).split('\n')) {
      const m = /^parley_state_entries\{map="([^"]+)"\} (\S+)$/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
  } catch {
    // A scrape that fails leaves the sample without state; the summary reports the gap as missing values.
  }
  return out;
}

async function redisMemory(redis: BenchRedis): Promise<{ usedMemory: number; usedMemoryRss: number; keys: number }> {
  try {
    const info = await redis.command('INFO', 'memory');
    const keys = (await redis.command('DBSIZE')).match(/:(\d+)/g) ?? [];
    return {
      usedMemory: infoField(info, 'used_memory'),
      usedMemoryRss: infoField(info, 'used_memory_rss'),
      keys: keys.reduce((a, k) => a + Number(k.slice(1)), 0),
    };
  } catch {
    return { usedMemory: NaN, usedMemoryRss: NaN, keys: NaN };
  }
}

const pad = (s: string | number, w: number): string => String(s).padStart(w);
const ROW: Array<[string, number]> = [
  ['min', 5],
  ['RSS n1 MB', 10],
  ['RSS n2 MB', 10],
  ['redis used MB', 14],
  ['redis rss MB', 13],
  ['keys', 7],
  ['sent/s', 7],
  ['deliv/s', 8],
  ['p50 ms', 7],
  ['p99 ms', 7],
  ['rejoins/s', 10],
  ['not rec.', 9],
  ['conns n1/n2', 12],
  ['members n1/n2', 14],
  ['entries n1/n2', 14],
];

function header(): string {
  return ROW.map(([h, w]) => pad(h, w)).join(' ');
}

function row(s: SoakSample): string {
  const w = s.window;
  const sec = Math.max(1, w.windowMs / 1000);
  const pair = (f: (st: Record<string, number>) => number): string =>
    s.nodes.map((nd) => (Object.keys(nd.state).length ? String(f(nd.state)) : '?')).join('/');
  const total = (st: Record<string, number>): number => Object.values(st).reduce((a, b) => a + b, 0);
  const cells = [
    fmt(s.atSec / 60),
    fmt(s.nodes[0]!.rss / MB),
    fmt(s.nodes[1]!.rss / MB),
    fmt(s.redis.usedMemory / MB, 2),
    fmt(s.redis.usedMemoryRss / MB),
    s.redis.keys,
    fmt(w.sent / sec, 0),
    fmt(w.delivered / sec, 0),
    fmt(w.latencyMs.p50, 2),
    fmt(w.latencyMs.p99, 2),
    fmt(w.reconnects / sec),
    w.notRecovered,
    pair((st) => st['sessions.connections'] ?? NaN),
    pair((st) => st['fanout.members'] ?? NaN),
    pair(total),
  ];
  return cells.map((c, i) => pad(c, ROW[i]![1])).join(' ');
}

interface GrowthLine {
  series: string;
  at2: number;
  end: number;
  growthPct: number;
  slopePerMin: number;
  verdict: 'PASS' | 'FAIL' | 'info';
}

interface MapLine {
  map: string;
  node: number;
  at2: number;
  min: number;
  max: number;
  last: number;
  /** Least-squares slope after the warm-up, entries per minute. */
  slopePerMin: number;
  tolerance: number;
  flat: boolean;
}

/** Growth and slope of each memory series after the warm-up; per-map ranges and whether each came back. */
export function summarize(
  samples: SoakSample[],
  warmupSec: number,
  noise: { churnPerSec: number; rooms: number },
  /** False while the streams still fill at the warm-up (a short run): Redis growth is then stored history. */
  judgeRedis = true,
): { growth: GrowthLine[]; maps: MapLine[] } {
  const after = samples.filter((s) => s.atSec >= warmupSec - 1);
  const ref = after[0];
  const last = samples.at(-1);
  const growth: GrowthLine[] = [];
  const maps: MapLine[] = [];
  if (!ref || !last) return { growth, maps };
  const xs = after.map((s) => s.atSec / 60);
  const line = (series: string, f: (s: SoakSample) => number, judged: boolean): void => {
    const a = f(ref);
    const b = f(last);
    const g = (b - a) / a;
    growth.push({
      series,
      at2: a / MB,
      end: b / MB,
      growthPct: g * 100,
      slopePerMin: slope(
        xs,
        after.map((s) => f(s) / MB),
      ),
      verdict: judged ? (g < MAX_GROWTH ? 'PASS' : 'FAIL') : 'info',
    });
  };
  ref.nodes.forEach((_, i) => line(`node ${i + 1} RSS`, (s) => s.nodes[i]!.rss, true));
  line('Redis used_memory', (s) => s.redis.usedMemory, judgeRedis);
  line('Redis used_memory_rss', (s) => s.redis.usedMemoryRss, false);
  line('redis-server RSS (/proc)', (s) => s.redis.processRss, false);
  ref.nodes.forEach((nd, i) => {
    const names = new Set([...Object.keys(nd.state), ...Object.keys(last.nodes[i]!.state)]);
    for (const map of [...names].sort()) {
      const seen = after.filter((s) => s.nodes[i]!.state[map] !== undefined);
      const vals = seen.map((s) => s.nodes[i]!.state[map]!);
      const at2 = nd.state[map] ?? NaN;
      const end = last.nodes[i]!.state[map] ?? NaN;
      // Churn noise: the reconnects in flight at a sample, one entry per room for the per-room queues
      // that a flush empties (directory touches, bus chains), and 2% of the value.
      const tolerance = noise.churnPerSec + noise.rooms + Math.ceil(0.02 * Math.abs(at2));
      maps.push({
        map,
        node: i + 1,
        at2,
        min: Math.min(...vals),
        max: Math.max(...vals),
        last: end,
        slopePerMin: slope(
          seen.map((s) => s.atSec / 60),
          vals,
        ),
        tolerance,
        flat: Math.abs(end - at2) <= tolerance,
      });
    }
  });
  return { growth, maps };
}

/**
 * Runs the soak and prints its progress and summary (result.soak: samples, summary, load).
 *
 * @example
 * if (o.only.has('soak')) await runSoak(ctx);
 */
export async function runSoak(ctx: BenchContext): Promise<void> {
  const { o, redis, loadgen, result, failures, log } = ctx;
  const durationMs = Math.round(o.soakMinutes * 60_000);
  // 2 minutes (the issue's warm-up) when at least one minute follows; a shorter check run takes half.
  const warmupSec = durationMs >= 180_000 ? 120 : durationMs / 2000;
  const churnPerSec = Math.max(2, Math.round(o.connections * CHURN_SHARE));
  const historyMax = o.soakHistoryMax;
  const fillSec = historyMax / o.rate;
  log(
    `soak: ${o.soakMinutes} min, 2 Parley nodes, ${o.connections} conns, ${o.rooms} rooms, ${o.rate} msg/s/room; ` +
      `churn ${churnPerSec} clients/s (half from each node, each reconnecting to the other node, rejoin with since)`,
  );
  log(
    `soak: nodes run with PARLEY_HISTORY_MAX=${historyMax}: each room's stream reaches its cap after ~${fmt(fillSec, 0)} s, ` +
      `so Redis memory after the ${fmt(warmupSec / 60)}-min warm-up measures leaks, not stored history ` +
      `(the default 10,000 would keep growing for ${fmt(10_000 / o.rate, 0)} s)`,
  );
  await redis.command('FLUSHALL');
  const nodes = await startCluster('parley', 2, redis.env, { ...parleyEnv(o), PARLEY_HISTORY_MAX: String(historyMax) });
  const samples: SoakSample[] = [];
  let chain = Promise.resolve();
  let printedMinute = -1;
  let printedIndex = -1;
  const redisPids = redis.shards.flat();
  const task: ChurnTask = {
    task: 'churn',
    ports: [nodes[0]!.port, nodes[1]!.port],
    connections: o.connections,
    rooms: o.rooms,
    rate: o.rate,
    textBytes: o.textBytes,
    durationMs,
    churnPerSec,
    churnAfterMs: 3000,
    sampleMs: SAMPLE_MS,
    drainMs: 10_000,
    prefix: nextPrefix('s'),
  };
  try {
    const load = await loadgen.run<ChurnResult>(
      task,
      {
        sample: (e) => {
          if (e.event !== 'sample') return;
          const w = e.sample;
          // RSS now (it is what the window ends at); the scrapes follow, in order.
          const rss = nodes.map((nd) => rssBytes(nd.pid));
          const processRss = redisPids.reduce((a, pid) => a + rssBytes(pid), 0);
          chain = chain.then(async () => {
            const [states, mem] = await Promise.all([Promise.all(nodes.map(stateEntries)), redisMemory(redis)]);
            const s: SoakSample = {
              index: w.index,
              atSec: w.atMs / 1000,
              nodes: nodes.map((_, i) => ({ rss: rss[i]!, state: states[i]! })),
              redis: { ...mem, processRss },
              window: w,
            };
            samples.push(s);
            const minute = Math.floor((s.atSec + 1) / 60);
            if (minute > printedMinute) {
              if (printedMinute < 0) console.log(header());
              printedMinute = minute;
              printedIndex = s.index;
              console.log(row(s));
            }
          });
        },
      },
      durationMs + 10 * 60_000,
    );
    await chain;
    const last = samples.at(-1);
    if (last && last.index !== printedIndex) console.log(row(last));
    // The streams trim at historyMax + 10%: until then Redis memory grows by design.
    const filling = warmupSec < fillSec * 1.1;
    if (filling) {
      log(
        `soak: the warm-up (${fmt(warmupSec, 0)} s) ends before the streams are full (~${fmt(fillSec * 1.1, 0)} s): ` +
          `Redis used_memory is reported, not judged (run at least 3 minutes)`,
      );
    }
    const { growth, maps } = summarize(samples, warmupSec, { churnPerSec, rooms: o.rooms }, !filling);
    const moved = maps.filter((m) => !m.flat);
    result.soak = {
      minutes: o.soakMinutes,
      historyMax,
      churnPerSec,
      reconnectTo: 'the other node (half of the churn from each node)',
      warmupSec,
      sampleMs: SAMPLE_MS,
      samples,
      summary: { growth, maps },
      load,
    };

    console.log(
      `\nSoak: ${o.soakMinutes} min, ${load.connections} connections, ${o.rooms} rooms, ${o.rate} msg/s/room, ` +
        `PARLEY_HISTORY_MAX=${historyMax}; churn ${churnPerSec}/s to the other node; warm-up ${fmt(warmupSec / 60)} min`,
    );
    console.log(
      [
        `${pad('series', 26)} ${pad('at warm-up MB', 14)} ${pad('end MB', 9)} ${pad('growth %', 9)} ${pad('slope MB/min', 13)}  verdict (< 5%)`,
        ...growth.map(
          (g) =>
            `${pad(g.series, 26)} ${pad(fmt(g.at2, 2), 14)} ${pad(fmt(g.end, 2), 9)} ${pad(fmt(g.growthPct, 2), 9)} ${pad(fmt(g.slopePerMin, 3), 13)}  ${g.verdict}`,
        ),
      ].join('\n'),
    );
    const errs = Object.values(load.sendErrors).reduce((a, b) => a + b, 0);
    const rerrs = Object.values(load.reconnectErrors).reduce((a, b) => a + b, 0);
    console.log(
      `Deliveries: sent ${load.sent} (errors ${errs}, skipped ${load.skipped}), owed ${load.expected}, delivered ${load.delivered}, ` +
        `lost ${load.lost} (${load.clientsWithLoss} clients), dups ${load.duplicates}; ` +
        `reconnects ${load.reconnects} (errors ${rerrs}, unexpected closes ${load.unexpectedCloses}), ` +
        `recovered:false ${load.notRecovered}, messages recovered by since ${load.recoveredMessages}; ` +
        `latency p50 ${fmt(load.latencyMs.p50, 2)} / p99 ${fmt(load.latencyMs.p99, 2)} ms; ` +
        `close-to-rejoin p50 ${fmt(load.rejoinMs.p50, 1)} / p99 ${fmt(load.rejoinMs.p99, 1)} ms`,
    );
    const shown = maps.filter((m) => m.max > 0 || m.last > 0 || !m.flat);
    console.log(
      `State maps after the warm-up (parley_state_entries; flat = last within ±tolerance of the warm-up value; ` +
        `${maps.length - shown.length} more stayed 0):`,
    );
    console.log(
      [
        `${pad('map', 34)} ${pad('node', 4)} ${pad('at warm-up', 10)} ${pad('min', 7)} ${pad('max', 7)} ${pad('last', 7)} ${pad('slope/min', 9)} ${pad('tol', 5)}  verdict`,
        ...shown.map(
          (m) =>
            `${pad(m.map, 34)} ${pad(m.node, 4)} ${pad(m.at2, 10)} ${pad(m.min, 7)} ${pad(m.max, 7)} ${pad(m.last, 7)} ${pad(fmt(m.slopePerMin, 2), 9)} ${pad(m.tolerance, 5)}  ${m.flat ? 'flat' : 'MOVED'}`,
        ),
      ].join('\n'),
    );
    if (load.lost > 0 || load.duplicates > 0) {
      failures.push(`soak: lost ${load.lost}, duplicates ${load.duplicates} (expected 0/0)`);
    }
    for (const g of growth.filter((x) => x.verdict === 'FAIL')) {
      failures.push(`soak: ${g.series} grew ${fmt(g.growthPct, 2)}% after the warm-up (limit 5%)`);
    }
    if (moved.length > 0) {
      failures.push(
        `soak: state maps not back at their warm-up value: ${moved.map((m) => `${m.map}@node${m.node} ${m.at2}->${m.last}`).join(', ')}`,
      );
    }
    const verdict = failures.some((f) => f.startsWith('soak:')) ? 'FAIL' : 'PASS';
    console.log(`Soak verdict: ${verdict}`);
  } catch (e) {
    const logs = nodes.map((nd, i) => `--- node ${i + 1} log tail ---\n${nd.log.slice(-1500)}`).join('\n');
    failures.push(`soak failed: ${(e as Error).message}\n${logs}`);
    log(`  FAILED: ${(e as Error).message}`);
  } finally {
    await Promise.all(nodes.map((nd) => nd.stop()));
  }
}
