/**
 * Scale (issue 20): 10,000 connections on ONE node, Parley on the memory
 * engine, Parley on Redis, and the relay (on Redis) as the reference. Per row:
 * a fresh node and its RSS baseline; a connect storm (a bounded window of
 * connects in flight); the joins (500 rooms x 20); idle RSS per connection
 * 5 s after the last join, read from /proc (no forced GC); then the fan-out
 * load (2 msg/s per room) with the peak RSS of its measured window.
 */
import { readFileSync } from 'node:fs';
import { isParley, type SystemKind } from '../lib/clients.js';
import { nextPrefix, parleyEnv, redisFor, sampleCpu, type BenchContext, type CpuSample } from '../lib/context.js';
import { startNode } from '../lib/nodes.js';
import { rssBytes, sleep } from '../lib/proc.js';
import { fmt, table } from '../lib/report.js';
import type { FanoutResult, FanoutSetup, FanoutTask } from '../lib/types.js';

/** The issue 20 targets the table marks. */
export const SCALE_TARGETS = { p99Ms: 50, idleKBPerConn: 12, stormMs: 10_000, refused: 0 } as const;

/** Seconds after the last join at which the idle RSS is read. */
const IDLE_AFTER_MS = 5000;
/** RSS sampling period, ms. */
const SAMPLE_MS = 200;

interface ScaleRowDef {
  label: string;
  kind: SystemKind;
  engine: 'memory' | 'redis';
}

export interface ScaleRun {
  label: string;
  system: SystemKind;
  engine: 'memory' | 'redis';
  connections: number;
  rooms: number;
  roomSize: number;
  /** Connects in flight at once during the storm. */
  window: number;
  storm: FanoutSetup & {
    /**
     * TcpExt ListenOverflows / SyncookiesSent from the first connect to the last join (/proc/net/netstat,
     * the whole network namespace): connects that found the accept queue full and were retried by TCP.
     */
    listenOverflows: number | null;
    syncookiesSent: number | null;
  };
  rss: {
    /** The fresh node before the storm, MB. */
    baselineMB: number;
    /** Highest sample from the first connect to the last join, KB per connection over the baseline. */
    setupPeakKB: number;
    /** 5 s after the last join, KB per connection over the baseline. */
    idleKB: number;
    /** Highest sample in the measured window of the load, KB per connection over the baseline. */
    loadPeakKB: number;
  };
  load: FanoutResult;
  /** CPU seconds in the measured window: the node's process tree and every redis-server. */
  cpu: { node: number; redis: number; wallSec: number };
  /** (node + redis) CPU per delivered message, µs. */
  cpuUsPerMsg: number;
  /** The node alone, µs per delivered message. */
  nodeCpuUsPerMsg: number;
  pass: { p99: boolean; idle: boolean; storm: boolean; refused: boolean };
}

/** The soft limit of open files of a process ("Max open files" in /proc/<pid>/limits); Infinity if unreadable. */
export function openFilesLimit(pid: number): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
    return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return Infinity;
  }
}

/** TcpExt counters of this network namespace (null when /proc/net/netstat cannot be read). */
function tcpExt(): Record<string, number> | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'latin1')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'));
    const names = (lines[0] ?? '').split(' ').slice(1);
    const values = (lines[1] ?? '').split(' ').slice(1).map(Number);
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? NaN]));
  } catch {
    return null;
  }
}

/** The rows asked for: Parley (memory, then Redis) if Parley runs, the relay if it does. */
function rowsFor(systems: SystemKind[], cluster: boolean): ScaleRowDef[] {
  const rows: ScaleRowDef[] = [];
  if (systems.includes('parley')) {
    rows.push({ label: 'Parley memory', kind: 'parley', engine: 'memory' });
    rows.push({ label: cluster ? 'Parley redis cluster' : 'Parley redis', kind: 'parley', engine: 'redis' });
  }
  if (systems.includes('relay')) rows.push({ label: 'relay (redis)', kind: 'relay', engine: 'redis' });
  return rows;
}

async function scaleRun(ctx: BenchContext, def: ScaleRowDef): Promise<ScaleRun> {
  const { o, redis, loadgen } = ctx;
  await redis.command('FLUSHALL');
  // No REDIS_URL at all for the memory engine (startNode drops the parent's Redis settings).
  const target = def.engine === 'memory' ? {} : redisFor(def.kind, redis);
  // All connections come from 127.0.0.1: SystemDef env lifts the per-IP cap (the one default that
  // refuses this storm). PARLEY_MAX_PENDING_UPGRADES (500) stays: dev-mode identities resolve at once,
  // so even 10,000 connects in flight never had 500 handshakes pending.
  const env: Record<string, string> = isParley(def.kind) && def.engine === 'redis' ? parleyEnv(o) : {};
  const node = await startNode(def.kind, target, env);
  const needFds = o.scaleConnections + 256;
  for (const [who, pid] of [
    ['load generator', loadgen.pid],
    [def.label, node.pid],
  ] as const) {
    const limit = openFilesLimit(pid);
    if (limit < needFds) {
      await node.stop();
      throw new Error(
        `${who} may open ${limit} files, ${o.scaleConnections} connections need ~${needFds}: raise the hard limit (ulimit -Hn)`,
      );
    }
  }
  try {
    await sleep(1000);
    const pid = node.pid;
    const baseRss = rssBytes(pid);
    let phase: 'setup' | 'idle' | 'load' = 'setup';
    let setupPeak = baseRss;
    let loadPeak = 0;
    let idleRss = NaN;
    const sample = (): void => {
      const rss = rssBytes(pid);
      if (phase === 'setup') setupPeak = Math.max(setupPeak, rss);
      else if (phase === 'load') loadPeak = Math.max(loadPeak, rss);
    };
    const sampler = setInterval(sample, SAMPLE_MS);
    const net0 = tcpExt();
    let net1: Record<string, number> | null = null;
    let c0: CpuSample | null = null;
    let c1: CpuSample | null = null;
    const task: FanoutTask = {
      task: 'fanout',
      kind: def.kind,
      ports: [node.port],
      connections: o.scaleConnections,
      rooms: o.scaleRooms,
      rate: o.scaleRate,
      warmupMs: o.scaleWarmupMs,
      measureMs: o.scaleMeasureMs,
      textBytes: o.textBytes,
      drainMs: 3000,
      prefix: nextPrefix('s'),
      connectWindow: o.scaleWindow,
      holdBeforeLoad: true,
    };
    let load: FanoutResult;
    try {
      load = await loadgen.run<FanoutResult>(task, {
        ready: () => {
          net1 = tcpExt();
          sample();
          phase = 'idle';
          void sleep(IDLE_AFTER_MS).then(() => {
            idleRss = rssBytes(pid);
            loadgen.command({ cmd: 'release' });
          });
        },
        'measure-start': () => {
          c0 = sampleCpu([node], redis, loadgen);
          phase = 'load';
          sample();
        },
        'measure-end': () => {
          sample();
          phase = 'idle';
          c1 = sampleCpu([node], redis, loadgen);
        },
      });
    } finally {
      clearInterval(sampler);
    }
    const netEnd = net1 as Record<string, number> | null;
    const netDelta = (name: string): number | null =>
      net0 && netEnd && Number.isFinite(net0[name]) && Number.isFinite(netEnd[name])
        ? (netEnd[name] as number) - (net0[name] as number)
        : null;
    const s0 = c0 as CpuSample | null;
    const s1 = c1 as CpuSample | null;
    if (!s0 || !s1) throw new Error('no measured window');
    const nodeCpu = (s1.nodes[0] as number) - (s0.nodes[0] as number);
    const redisCpu = s1.redis - s0.redis;
    const delivered = Math.max(1, load.windowDelivered);
    const n = Math.max(1, load.connections);
    const perConn = (rss: number): number => (rss - baseRss) / n / 1024;
    const rss = {
      baselineMB: baseRss / 2 ** 20,
      setupPeakKB: perConn(setupPeak),
      idleKB: perConn(idleRss),
      loadPeakKB: perConn(loadPeak),
    };
    return {
      label: def.label,
      system: def.kind,
      engine: def.engine,
      connections: load.connections,
      rooms: load.rooms,
      roomSize: load.roomSize,
      window: o.scaleWindow,
      storm: {
        connectMs: load.connectMs,
        connectFailures: load.connectFailures,
        connectFailed: load.connectFailed,
        joinMs: load.joinMs,
        listenOverflows: netDelta('ListenOverflows'),
        syncookiesSent: netDelta('SyncookiesSent'),
      },
      rss,
      load,
      cpu: { node: nodeCpu, redis: redisCpu, wallSec: (s1.at - s0.at) / 1000 },
      cpuUsPerMsg: ((nodeCpu + redisCpu) * 1e6) / delivered,
      nodeCpuUsPerMsg: (nodeCpu * 1e6) / delivered,
      pass: {
        p99: load.latencyMs.p99 < SCALE_TARGETS.p99Ms,
        idle: rss.idleKB <= SCALE_TARGETS.idleKBPerConn,
        storm: load.connectMs < SCALE_TARGETS.stormMs,
        refused: load.connectFailures + load.connectFailed <= SCALE_TARGETS.refused,
      },
    };
  } catch (e) {
    throw new Error(
      `${def.label} scale run failed: ${(e as Error).message}\n--- node log tail ---\n${node.log.slice(-1500)}`,
      {
        cause: e,
      },
    );
  } finally {
    await node.stop();
  }
}

const mark = (ok: boolean): string => (ok ? 'ok' : 'MISS');

/** The scale rows, one after the other, and their table. */
export async function runScale(ctx: BenchContext): Promise<void> {
  const { o, systems, result, failures, log } = ctx;
  const rows = rowsFor(systems, o.deployment === 'cluster');
  if (rows.length === 0) {
    log('scale: needs parley or relay in --systems; skipped');
    return;
  }
  const runs: ScaleRun[] = [];
  for (const def of rows) {
    log(
      `scale: ${def.label}, ${o.scaleConnections} connections on one node (storm window ${o.scaleWindow}), ` +
        `${o.scaleRooms} rooms, ${o.scaleRate} msg/s/room`,
    );
    try {
      const r = await scaleRun(ctx, def);
      runs.push(r);
      const l = r.load;
      log(
        `  storm ${fmt(r.storm.connectMs / 1000)} s (${r.storm.connectFailures} failed attempts, ` +
          `${r.storm.listenOverflows ?? '?'} listen overflows), joins ${fmt(r.storm.joinMs / 1000)} s, ` +
          `idle ${fmt(r.rss.idleKB)} KB/conn; sent ${fmt(l.sentPerSec)}/s, delivered ${fmt(l.deliveredPerSec)}/s, lost ${l.lost}, ` +
          `p99 ${fmt(l.latencyMs.p99)} ms, ${fmt(r.cpuUsPerMsg)} µs CPU/msg, ${fmt(r.rss.loadPeakKB)} KB/conn under load`,
      );
      if (l.setupErrors.length > 0) log(`  errors: ${l.setupErrors.join('; ')}`);
    } catch (e) {
      failures.push((e as Error).message);
      log(`  FAILED: ${(e as Error).message}`);
    }
  }
  result.scale = { targets: SCALE_TARGETS, runs };
  const t = SCALE_TARGETS;
  console.log(
    `\nScale: ${o.scaleConnections} connections on ONE node, ${o.scaleRooms} rooms, ${o.scaleRate} msg/s per room ` +
      `(${o.scaleWarmupMs / 1000} s warm-up, ${o.scaleMeasureMs / 1000} s measured); connect storm with ${o.scaleWindow} in flight; ` +
      `RSS from /proc, no forced GC, over the fresh node's baseline. Targets: storm < ${t.stormMs / 1000} s, ${t.refused} refused, ` +
      `idle <= ${t.idleKBPerConn} KB/conn (5 s after the last join), p99 < ${t.p99Ms} ms`,
  );
  console.log(
    table(
      [
        'row',
        'conns',
        'storm s',
        'refused',
        'joins s',
        'idle KB/conn',
        'sent/s',
        'deliv/s',
        'lost',
        'dups',
        'order',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'µs/msg',
        'load KB/conn',
        'targets',
      ],
      runs.map((r) => [
        r.label,
        r.connections,
        `${fmt(r.storm.connectMs / 1000)} ${mark(r.pass.storm)}`,
        `${r.storm.connectFailures} ${mark(r.pass.refused)}`,
        r.storm.joinMs / 1000,
        `${fmt(r.rss.idleKB)} ${mark(r.pass.idle)}`,
        r.load.sentPerSec,
        r.load.deliveredPerSec,
        r.load.lost,
        r.load.duplicates,
        r.load.orderOk ? 'ok' : `BAD(${r.load.roomsOutOfOrder})`,
        r.load.latencyMs.p50,
        r.load.latencyMs.p95,
        `${fmt(r.load.latencyMs.p99)} ${mark(r.pass.p99)}`,
        r.cpuUsPerMsg,
        r.rss.loadPeakKB,
        Object.values(r.pass).every(Boolean) ? 'all met' : `${Object.values(r.pass).filter((x) => !x).length} missed`,
      ]),
    ),
  );
}
