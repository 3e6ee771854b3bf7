/** Idle memory: many connections on one node, each joined to a room, RSS and heap per connection. */
import { resolve } from 'node:path';
import type { SystemKind } from '../lib/clients.js';
import { nextPrefix, redisFor, type BenchContext } from '../lib/context.js';
import type { LoadGen } from '../lib/generator.js';
import { SYSTEMS, startNode, type MemoryUsage } from '../lib/nodes.js';
import type { Options } from '../lib/options.js';
import { rssBytes, sleep } from '../lib/proc.js';
import type { BenchRedis } from '../lib/redis.js';
import { fmt, median, table } from '../lib/report.js';
import type { IdleResult } from '../lib/types.js';

/** One idle run: memory of one node before and after the connections joined. */
export interface IdleRun {
  system: SystemKind;
  connections: number;
  before: MemoryUsage;
  after: MemoryUsage;
  rssPerConnKB: number;
  heapPerConnKB: number;
  /** Memory V8 tracks outside its heap (Buffers and ArrayBuffers included), per connection. */
  externalPerConnKB: number;
  /**
   * RSS per connection as the operator sees it: read from /proc, never after
   * a forced GC; the highest sample (every 200 ms) until the last join, then
   * 5 s and 60 s after it. Baseline: the idle node before the storm.
   */
  outside: { peakKB: number; at5sKB: number; at60sKB: number };
  info: IdleResult;
}

/** Seconds after the last join at which the outside RSS is read. */
const OUTSIDE_AT_S = [5, 60] as const;

/** One node, `o.idleConnections` joined connections; memory from the probe (after GC) and from /proc. */
export async function idleRun(
  kind: SystemKind,
  o: Options,
  redis: BenchRedis,
  loadgen: LoadGen,
  snapshotDir: string | null,
): Promise<IdleRun> {
  await redis.command('FLUSHALL');
  const node = await startNode(kind, redisFor(kind, redis));
  try {
    await sleep(1000);
    const pid = node.child.pid ?? 0;
    const baseRss = rssBytes(pid);
    const before = await node.memory();
    let after = before;
    let peakRss = baseRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(pid))), 200);
    const outsideRss: number[] = [];
    const info = await loadgen.run<IdleResult>(
      {
        task: 'idle',
        kind,
        port: node.port,
        connections: o.idleConnections,
        roomSize: o.idleRoomSize,
        prefix: nextPrefix('i'),
      },
      {
        ready: () => {
          void (async () => {
            peakRss = Math.max(peakRss, rssBytes(pid));
            clearInterval(sampler);
            let waited = 0;
            for (const at of OUTSIDE_AT_S) {
              await sleep(at * 1000 - waited);
              waited = at * 1000;
              outsideRss.push(rssBytes(pid));
            }
            after = await node.memory();
            if (snapshotDir) {
              await node.probe('heap-snapshot', { path: resolve(snapshotDir, `${kind}-idle.heapsnapshot`) }, 120_000);
            }
            loadgen.command({ cmd: 'release' });
          })();
        },
      },
    );
    clearInterval(sampler);
    const n = Math.max(1, info.joined);
    const perConn = (rss: number | undefined): number => ((rss ?? NaN) - baseRss) / n / 1024;
    return {
      outside: { peakKB: perConn(peakRss), at5sKB: perConn(outsideRss[0]), at60sKB: perConn(outsideRss[1]) },
      system: kind,
      connections: info.joined,
      before,
      after,
      rssPerConnKB: (after.rss - before.rss) / n / 1024,
      heapPerConnKB: (after.heapUsed - before.heapUsed) / n / 1024,
      externalPerConnKB: (after.external - before.external) / n / 1024,
      info,
    };
  } finally {
    await node.stop();
  }
}

/** `o.runs` idle runs per system; prints the after-GC table and the outside (/proc) table. */
export async function runIdle(ctx: BenchContext): Promise<void> {
  const { o, systems, redis, loadgen, result, failures, log, profileDir } = ctx;
  // RSS after a burst of joins depends on what malloc kept: runs are repeated like the main load.
  const idle: IdleRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const kind of systems) {
      log(`idle: ${SYSTEMS[kind].label}, ${o.idleConnections} connections on one node (run ${run}/${o.runs})`);
      try {
        const r = await idleRun(kind, o, redis, loadgen, run === 1 ? profileDir : null);
        idle.push(r);
        if (r.info.errors.length > 0) log(`  errors: ${r.info.errors.join('; ')}`);
      } catch (e) {
        failures.push((e as Error).message);
        log(`  FAILED: ${(e as Error).message}`);
      }
    }
  }
  const idleSummary = systems
    .map((kind) => {
      const rs = idle.filter((r) => r.system === kind);
      const med = (f: (r: IdleRun) => number): number => median(rs.map(f));
      return {
        system: kind,
        runs: rs.length,
        connections: med((r) => r.connections),
        rssBeforeMB: med((r) => r.before.rss / 2 ** 20),
        rssAfterMB: med((r) => r.after.rss / 2 ** 20),
        rssPerConnKB: med((r) => r.rssPerConnKB),
        heapPerConnKB: med((r) => r.heapPerConnKB),
        externalPerConnKB: med((r) => r.externalPerConnKB),
        rssPerConnKBRuns: rs.map((r) => r.rssPerConnKB),
        outsidePeakKB: med((r) => r.outside.peakKB),
        outside5sKB: med((r) => r.outside.at5sKB),
        outside60sKB: med((r) => r.outside.at60sKB),
      };
    })
    .filter((x) => x.runs > 0);
  result.idle = { runs: idle, summaries: idleSummary };
  console.log(
    `\nIdle: ${o.idleConnections} connections on one node, each joined to a room of ${o.idleRoomSize} (after GC; median of ${o.runs})`,
  );
  console.log(
    table(
      [
        'system',
        'joined',
        'RSS before MB',
        'RSS after MB',
        'RSS KB/conn',
        'heap KB/conn',
        'external KB/conn',
        'RSS KB/conn runs',
      ],
      idleSummary.map((r) => [
        SYSTEMS[r.system].label,
        r.connections,
        r.rssBeforeMB,
        r.rssAfterMB,
        r.rssPerConnKB,
        r.heapPerConnKB,
        r.externalPerConnKB,
        r.rssPerConnKBRuns.map(fmt).join(' '),
      ]),
    ),
  );
  console.log(
    `\nMemory as the operator sees it: RSS per connection from /proc, no forced GC, after the same join storm (median of ${o.runs})`,
  );
  console.log(
    table(
      ['system', 'joined', 'peak KB/conn', '5 s after KB/conn', '60 s after KB/conn'],
      idleSummary.map((r) => [SYSTEMS[r.system].label, r.connections, r.outsidePeakKB, r.outside5sKB, r.outside60sKB]),
    ),
  );
}
