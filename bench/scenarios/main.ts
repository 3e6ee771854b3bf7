/**
 * The main load (the same fan-out for every system, interleaved runs, medians)
 * and the profiled run (--profile): two nodes per system on the bench's Redis.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { isParley, type SystemKind } from '../lib/clients.js';
import { nextPrefix, parleyEnv, redisFor, sampleCpu, type BenchContext, type CpuSample } from '../lib/context.js';
import type { LoadGen } from '../lib/generator.js';
import { SYSTEMS, startCluster } from '../lib/nodes.js';
import type { Options } from '../lib/options.js';
import type { BenchRedis } from '../lib/redis.js';
import { fmt, median, table } from '../lib/report.js';
import type { FanoutResult, FanoutTask } from '../lib/types.js';

/** One fan-out run of one system on two nodes, with the CPU of the measured window. */
export interface MainRun {
  system: SystemKind;
  run: number;
  rate: number;
  load: FanoutResult;
  /** CPU seconds in the measured window. */
  cpu: { nodes: number[]; redis: number; total: number; loadgen: number; wallSec: number };
  /** Server CPU (both node trees + redis-server) per delivered message, µs. */
  cpuUsPerMsg: number;
  /** The same without redis-server. */
  nodeCpuUsPerMsg: number;
  /** The nodes' kernel time (stime) alone per delivered message, µs: mostly socket writes. */
  nodeSysUsPerMsg: number;
  /** The busiest shard's share of all Redis CPU (1 on a single Redis; near 1/3 on a well-spread cluster). */
  busiestShardShare: number;
  error?: string;
}

/** Two fresh nodes of `kind` on the flushed Redis, one fan-out load at `rate`; profiles when `profileDir` is set. */
export async function mainRun(
  kind: SystemKind,
  run: number,
  rate: number,
  o: Options,
  redis: BenchRedis,
  loadgen: LoadGen,
  durations: { warmupMs: number; measureMs: number },
  profileDir: string | null = null,
): Promise<MainRun> {
  await redis.command('FLUSHALL');
  const nodes = await startCluster(kind, 2, redisFor(kind, redis), isParley(kind) ? parleyEnv(o) : {});
  let c0: CpuSample | null = null;
  let c1: CpuSample | null = null;
  const profiling: Promise<unknown>[] = [];
  const task: FanoutTask = {
    task: 'fanout',
    kind,
    ports: nodes.map((n) => n.port),
    connections: o.connections,
    rooms: o.rooms,
    rate,
    warmupMs: durations.warmupMs,
    measureMs: durations.measureMs,
    textBytes: o.textBytes,
    drainMs: 3000,
    prefix: nextPrefix('b'),
  };
  try {
    const load = await loadgen.run<FanoutResult>(task, {
      'measure-start': () => {
        c0 = sampleCpu(nodes, redis, loadgen);
        if (profileDir) for (const n of nodes) profiling.push(n.probe('prof-start'));
      },
      'measure-end': () => {
        c1 = sampleCpu(nodes, redis, loadgen);
        if (profileDir) {
          nodes.forEach((n, i) =>
            profiling.push(
              n.probe('prof-stop', { path: resolve(profileDir, `${kind}-node${i + 1}.cpuprofile`) }, 30_000),
            ),
          );
        }
      },
    });
    await Promise.all(profiling);
    const s0 = c0 as CpuSample | null;
    const s1 = c1 as CpuSample | null;
    if (!s0 || !s1) throw new Error('no measured window');
    const nodeCpu = s1.nodes.map((v, i) => v - (s0.nodes[i] as number));
    const redisCpu = s1.redis - s0.redis;
    const shardCpu = s1.shards.map((v, i) => v - (s0.shards[i] as number));
    const total = nodeCpu.reduce((a, b) => a + b, 0) + redisCpu;
    const delivered = Math.max(1, load.windowDelivered);
    return {
      system: kind,
      run,
      rate,
      load,
      cpu: {
        nodes: nodeCpu,
        redis: redisCpu,
        total,
        loadgen: s1.loadgen - s0.loadgen,
        wallSec: (s1.at - s0.at) / 1000,
      },
      cpuUsPerMsg: (total * 1e6) / delivered,
      nodeCpuUsPerMsg: ((total - redisCpu) * 1e6) / delivered,
      nodeSysUsPerMsg:
        ((s1.nodesSys.reduce((a, b) => a + b, 0) - s0.nodesSys.reduce((a, b) => a + b, 0)) * 1e6) / delivered,
      busiestShardShare: redisCpu > 0 ? Math.max(...shardCpu) / redisCpu : 1,
    };
  } catch (e) {
    const logs = nodes.map((n, i) => `--- node ${i + 1} log tail ---\n${n.log.slice(-1500)}`).join('\n');
    throw new Error(`${SYSTEMS[kind].label} run failed: ${(e as Error).message}\n${logs}`, { cause: e });
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** The medians (and sums of loss/dups/errors) of a system's main runs. */
export interface Summary {
  system: SystemKind;
  runs: number;
  targetSendPerSec: number;
  sentPerSec: number;
  deliveredPerSec: number;
  lost: number;
  duplicates: number;
  sendErrors: number;
  orderOk: boolean;
  roomsOutOfOrder: number;
  p50: number;
  p95: number;
  p99: number;
  cpuSec: number;
  cpuUsPerMsg: number;
  nodeCpuUsPerMsg: number;
  nodeSysUsPerMsg: number;
  redisCpuSec: number;
  busiestShardShare: number;
  loadgenCpuSec: number;
  cpuUsPerMsgRuns: number[];
}

/** Summarizes the runs of `kind`. */
export function summarize(kind: SystemKind, runs: MainRun[]): Summary {
  const rs = runs.filter((r) => r.system === kind);
  const med = (f: (r: MainRun) => number): number => median(rs.map(f));
  const sum = (f: (r: MainRun) => number): number => rs.reduce((a, r) => a + f(r), 0);
  return {
    system: kind,
    runs: rs.length,
    targetSendPerSec: rs[0]?.load.targetSendPerSec ?? NaN,
    sentPerSec: med((r) => r.load.sentPerSec),
    deliveredPerSec: med((r) => r.load.deliveredPerSec),
    lost: sum((r) => r.load.lost),
    duplicates: sum((r) => r.load.duplicates),
    sendErrors: sum((r) => Object.values(r.load.sendErrors).reduce((a, b) => a + b, 0)),
    orderOk: rs.every((r) => r.load.orderOk),
    roomsOutOfOrder: sum((r) => r.load.roomsOutOfOrder),
    p50: med((r) => r.load.latencyMs.p50),
    p95: med((r) => r.load.latencyMs.p95),
    p99: med((r) => r.load.latencyMs.p99),
    cpuSec: med((r) => r.cpu.total),
    cpuUsPerMsg: med((r) => r.cpuUsPerMsg),
    nodeCpuUsPerMsg: med((r) => r.nodeCpuUsPerMsg),
    nodeSysUsPerMsg: med((r) => r.nodeSysUsPerMsg),
    redisCpuSec: med((r) => r.cpu.redis),
    busiestShardShare: med((r) => r.busiestShardShare),
    loadgenCpuSec: med((r) => r.cpu.loadgen),
    cpuUsPerMsgRuns: rs.map((r) => r.cpuUsPerMsg),
  };
}

/**
 * The main load: `o.runs` interleaved runs per system, a table of medians, ratios; --quick asserts no loss.
 * `key` names the result (`main`; `bigRooms` for the same load in rooms of 200).
 */
export async function runMain(ctx: BenchContext, key = 'main'): Promise<void> {
  const { o, systems, redis, loadgen, result, failures, log } = ctx;
  const runs: MainRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const kind of systems) {
      log(
        `main load: ${SYSTEMS[kind].label} run ${run}/${o.runs} (${o.connections} conns, ${o.rooms} rooms, ${o.rate} msg/s/room)`,
      );
      try {
        const r = await mainRun(kind, run, o.rate, o, redis, loadgen, o);
        runs.push(r);
        log(
          `  sent ${fmt(r.load.sentPerSec)}/s, delivered ${fmt(r.load.deliveredPerSec)}/s, lost ${r.load.lost}, dup ${r.load.duplicates}, ` +
            `order ${r.load.orderOk ? 'ok' : `BAD in ${r.load.roomsOutOfOrder} rooms`}, p99 ${fmt(r.load.latencyMs.p99)} ms, ` +
            `${fmt(r.cpuUsPerMsg)} µs CPU/msg`,
        );
      } catch (e) {
        failures.push((e as Error).message);
        log(`  FAILED: ${(e as Error).message}`);
      }
    }
  }
  const summaries = systems.map((k) => summarize(k, runs));
  const by = (k: SystemKind): Summary | undefined => summaries.find((s) => s.system === k && s.runs > 0);
  const p = by('parley');
  const ratios = {
    parleyOverRelay: p && by('relay') ? p.cpuUsPerMsg / (by('relay') as Summary).cpuUsPerMsg : null,
    parleyOverSocketIo: p && by('socketio') ? p.cpuUsPerMsg / (by('socketio') as Summary).cpuUsPerMsg : null,
  };
  result[key] = { runs, summaries, ratios };
  console.log(
    `\nMain load (${o.connections} connections, ${o.rooms} rooms, ${o.rate} msg/s per room, ${o.measureMs / 1000} s measured; median of ${o.runs}; ` +
      `Redis: ${o.deployment === 'cluster' ? '3-shard cluster' : 'one redis-server'}${o.ackReplicas > 0 ? `, ACK_REPLICAS=${o.ackReplicas}` : ''})`,
  );
  console.log(
    table(
      [
        'system',
        'sent/s',
        'target',
        'deliv/s',
        'lost',
        'dups',
        'errs',
        'order',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'CPU s',
        'redis s',
        'top shard',
        'µs/msg',
        'node µs',
        'of it sys',
      ],
      summaries
        .filter((s) => s.runs > 0)
        .map((s) => [
          SYSTEMS[s.system].label,
          s.sentPerSec,
          s.targetSendPerSec,
          s.deliveredPerSec,
          s.lost,
          s.duplicates,
          s.sendErrors,
          s.orderOk ? 'ok' : `BAD(${s.roomsOutOfOrder})`,
          s.p50,
          s.p95,
          s.p99,
          s.cpuSec,
          s.redisCpuSec,
          s.busiestShardShare,
          s.cpuUsPerMsg,
          s.nodeCpuUsPerMsg,
          s.nodeSysUsPerMsg,
        ]),
    ),
  );
  if (ratios.parleyOverRelay !== null)
    console.log(`CPU per delivered message, Parley / relay: ${ratios.parleyOverRelay.toFixed(2)}`);
  if (ratios.parleyOverSocketIo !== null)
    console.log(`CPU per delivered message, Parley / Socket.IO: ${ratios.parleyOverSocketIo.toFixed(2)}`);
  if (o.quick) {
    for (const k of systems) {
      const s = by(k);
      if (!s) failures.push(`${SYSTEMS[k].label}: did not run`);
      // Socket.IO does not promise one order per room across nodes (local members get an emit at once,
      // remote ones through Redis): its order is reported, not asserted.
      else if (
        s.lost > 0 ||
        s.duplicates > 0 ||
        s.sendErrors > 0 ||
        s.deliveredPerSec <= 0 ||
        (!s.orderOk && k !== 'socketio')
      ) {
        failures.push(
          `${SYSTEMS[k].label}: lost ${s.lost}, duplicates ${s.duplicates}, send errors ${s.sendErrors}, ` +
            `order ${s.orderOk ? 'ok' : `BAD in ${s.roomsOutOfOrder} rooms`}`,
        );
      }
    }
  }
}

/** One profiled main run per system (--profile): a .cpuprofile of every node. */
export async function runProfile(ctx: BenchContext, dir: string): Promise<void> {
  const { o, systems, redis, loadgen, result, failures, log } = ctx;
  mkdirSync(dir, { recursive: true });
  for (const kind of systems) {
    if (o.only.size > 0 && !o.only.has('main') && !o.only.has('profile')) break;
    log(`profiled run: ${SYSTEMS[kind].label}`);
    try {
      await mainRun(kind, 0, o.rate, o, redis, loadgen, o, dir);
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  log(`profiles in ${dir} (summarize: node dist/bench/profile-summary.js ${dir}/parley-node1.cpuprofile)`);
  result.profiles = dir;
}
