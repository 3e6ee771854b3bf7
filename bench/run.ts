/**
 * `npm run bench`: Parley against Socket.IO + redis-adapter and a bare ws +
 * Redis pub/sub relay, side by side on one fresh redis-server, driven by one
 * load generator in its own process; `--deployment cluster` runs Parley on a
 * 3-shard Redis Cluster instead (Redis CPU = every redis-server, plus the
 * busiest shard's share). See docs/performance.md.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { isParley, type SystemKind } from './lib/clients.js';
import {
  BENCH_DIST,
  REPO_ROOT,
  SYSTEMS,
  startCluster,
  startNode,
  systemAvailable,
  type MemoryUsage,
  type ServerNode,
} from './lib/nodes.js';
import { rssBytes, sleep, spawnTracked, stopChild, treeCpuSeconds } from './lib/proc.js';
import { startDeployment, type BenchRedis, type Deployment } from './lib/redis.js';
import { runSoak } from './scenarios/soak.js';
import type {
  FanoutResult,
  FanoutTask,
  HistoryResult,
  IdleResult,
  KillResult,
  LoadEvent,
  LoadTask,
  PresenceResult,
} from './lib/types.js';

// ---------------------------------------------------------------- options

interface Options {
  quick: boolean;
  runs: number;
  systems: SystemKind[];
  connections: number;
  rooms: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  textBytes: number;
  sweep: boolean;
  sweepRates: number[];
  sweepWarmupMs: number;
  sweepMeasureMs: number;
  idle: boolean;
  idleConnections: number;
  idleRoomSize: number;
  presence: boolean;
  kill: boolean;
  history: boolean;
  profile: boolean;
  out: string | null;
  /** Which Redis the Parley nodes use: one redis-server, or a 3-shard cluster. */
  deployment: Deployment;
  /** PARLEY_ACK_REPLICAS of the Parley nodes (needs replicas: the cluster deployment has one per shard). */
  ackReplicas: number;
  /** The soak (--only soak): minutes, and the PARLEY_HISTORY_MAX of its nodes. */
  soakMinutes: number;
  soakHistoryMax: number;
}

const HELP = `npm run bench -- [options]
  --quick                 small load, each system once, asserts no loss/dup/reorder (< 30 s)
  --runs N                runs of the main load per system, interleaved; medians reported (default 1)
  --systems a,b           parley,socketio,relay,parleysio (default: the first three)
  --connections N         default 2000 (split over both nodes)
  --rooms N               default 50 (members per room = connections / rooms)
  --rate N                messages per second per room (default 10)
  --warmup S / --duration S   seconds (default 2 / 10)
  --text-bytes N          default 100
  --no-sweep | --sweep-rates 10,15,20,30,40,60,80,120,160,240,320  (--sweep-warmup S, --sweep-duration S: 1 / 4)
  --no-idle | --idle-connections N (default 5000) | --idle-room-size N (default 40)
  --no-presence | --no-kill | --no-history
  --only main|profile|sweep|idle|presence|kill|history|soak   run just that part (repeatable; soak runs only when asked)
  --soak-minutes N        soak length (default 20); --soak-history-max N  PARLEY_HISTORY_MAX of its nodes (default 1000)
  --profile               one extra profiled run per system: .cpuprofile of every node in bench/results/profiles/
                          (and a .heapsnapshot of each system's idle node, first run)
  --out FILE              JSON result path (default bench/results/bench-<time>.json)
  --deployment single|cluster   Parley on one redis-server (default) or a 3-shard Redis Cluster
                          (3 masters + 3 replicas; Parley only); Redis CPU counts every redis-server
  --ack-replicas N        PARLEY_ACK_REPLICAS for the Parley nodes (default 0; use with --deployment cluster)`;

function parseArgs(argv: string[]): Options & { only: Set<string> } {
  const o: Options & { only: Set<string> } = {
    quick: false,
    runs: 1,
    systems: ['parley', 'socketio', 'relay'],
    connections: 2000,
    rooms: 50,
    rate: 10,
    warmupMs: 2000,
    measureMs: 10_000,
    textBytes: 100,
    sweep: true,
    sweepRates: [10, 15, 20, 30, 40, 60, 80, 120, 160, 240, 320],
    sweepWarmupMs: 1000,
    sweepMeasureMs: 4000,
    idle: true,
    idleConnections: 5000,
    idleRoomSize: 40,
    presence: true,
    kill: true,
    history: true,
    profile: false,
    out: null,
    deployment: 'single',
    ackReplicas: 0,
    soakMinutes: 20,
    soakHistoryMax: 1000,
    only: new Set(),
  };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const v = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--runs':
        o.runs = Math.floor(num(v(), a));
        break;
      case '--systems':
        o.systems = (v() ?? '').split(',').map((s) => {
          if (s !== 'parley' && s !== 'socketio' && s !== 'relay' && s !== 'parleysio')
            throw new Error(`unknown system ${s}`);
          return s;
        });
        break;
      case '--connections':
        o.connections = Math.floor(num(v(), a));
        break;
      case '--rooms':
        o.rooms = Math.floor(num(v(), a));
        break;
      case '--rate':
        o.rate = num(v(), a);
        break;
      case '--warmup':
        o.warmupMs = num(v(), a) * 1000;
        break;
      case '--duration':
        o.measureMs = num(v(), a) * 1000;
        break;
      case '--text-bytes':
        o.textBytes = Math.floor(num(v(), a));
        break;
      case '--no-sweep':
        o.sweep = false;
        break;
      case '--sweep-rates':
        o.sweepRates = (v() ?? '').split(',').map((s) => num(s, a));
        break;
      case '--sweep-warmup':
        o.sweepWarmupMs = num(v(), a) * 1000;
        break;
      case '--sweep-duration':
        o.sweepMeasureMs = num(v(), a) * 1000;
        break;
      case '--no-idle':
        o.idle = false;
        break;
      case '--idle-room-size':
        o.idleRoomSize = Math.floor(num(v(), a));
        break;
      case '--idle-connections':
        o.idleConnections = Math.floor(num(v(), a));
        break;
      case '--no-presence':
        o.presence = false;
        break;
      case '--no-kill':
        o.kill = false;
        break;
      case '--no-history':
        o.history = false;
        break;
      case '--only':
        o.only.add(v() ?? '');
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--out':
        o.out = v() ?? null;
        break;
      case '--deployment': {
        const d = v();
        if (d !== 'single' && d !== 'cluster') throw new Error('--deployment is single or cluster');
        o.deployment = d;
        break;
      }
      case '--ack-replicas':
        o.ackReplicas = Math.floor(Number(v()));
        if (!Number.isInteger(o.ackReplicas) || o.ackReplicas < 0)
          throw new Error('--ack-replicas needs an integer >= 0');
        break;
      case '--soak-minutes':
        o.soakMinutes = num(v(), a);
        break;
      case '--soak-history-max':
        o.soakHistoryMax = Math.floor(num(v(), a));
        break;
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  if (o.quick) {
    Object.assign(o, {
      runs: 1,
      connections: 200,
      rooms: 10,
      rate: 10,
      warmupMs: 500,
      measureMs: 2000,
      sweep: false,
      idle: false,
      presence: false,
      kill: false,
      history: false,
      profile: false,
    });
  }
  return o;
}

// ---------------------------------------------------------------- load generator

class LoadGen {
  private readonly child: ChildProcess;
  private listener: ((e: LoadEvent) => void) | null = null;

  constructor() {
    // BENCH_LOADGEN_NODE_OPTIONS: extra node flags for the load generator (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
    const extra = (process.env.BENCH_LOADGEN_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
    this.child = spawnTracked(process.execPath, [...extra, resolve(BENCH_DIST, 'loadgen.js')], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: unknown) => this.listener?.(m as LoadEvent));
    this.child.on('exit', (code, sig) => {
      this.listener?.({ event: 'failed', error: `load generator exited (${code ?? sig})` });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  run<R>(
    task: LoadTask,
    on: Partial<Record<'ready' | 'measure-start' | 'measure-end' | 'sample', (e: LoadEvent) => void>> = {},
    timeoutMs = 300_000,
  ): Promise<R> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.listener = null;
        reject(new Error(`load generator task ${task.task} timed out`));
      }, timeoutMs);
      this.listener = (e) => {
        if (e.event === 'result') {
          clearTimeout(timer);
          this.listener = null;
          resolvePromise(e.result as R);
        } else if (e.event === 'failed') {
          clearTimeout(timer);
          this.listener = null;
          reject(new Error(e.error));
        } else {
          on[e.event]?.(e);
        }
      };
      this.child.send(task);
    });
  }

  command(c: { cmd: 'release' } | { cmd: 'killed'; at: number }): void {
    this.child.send(c);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // It exits by itself once the channel closes (and writes a --cpu-prof profile then).
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    return Promise.race([exited, sleep(5000)]).then(() => stopChild(this.child, 2000));
  }
}

// ---------------------------------------------------------------- scenarios

interface CpuSample {
  at: number;
  nodes: number[];
  nodesSys: number[];
  /** Every redis-server process. */
  redis: number;
  /** Per shard (master + its replica). */
  shards: number[];
  loadgen: number;
}

function sampleCpu(nodes: ServerNode[], redis: BenchRedis, loadgen: LoadGen): CpuSample {
  const shards = redis.shards.map((pids) => pids.reduce((a, pid) => a + treeCpuSeconds(pid), 0));
  return {
    at: performance.now(),
    nodes: nodes.map((n) => n.cpuSeconds()),
    nodesSys: nodes.map((n) => n.sysSeconds()),
    redis: shards.reduce((a, b) => a + b, 0),
    shards,
    loadgen: treeCpuSeconds(loadgen.pid),
  };
}

/** The Parley node environment for the run's options (ack replicas). */
function parleyEnv(o: Options): Record<string, string> {
  return o.ackReplicas > 0 ? { PARLEY_ACK_REPLICAS: String(o.ackReplicas) } : {};
}

/** What a node of `kind` is pointed at: the deployment's environment for Parley, its one URL for the peers. */
function redisFor(kind: SystemKind, redis: BenchRedis): string | Record<string, string> {
  return isParley(kind) ? redis.env : redis.url;
}

interface MainRun {
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

let runCounter = 0;

async function mainRun(
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
    prefix: `b${++runCounter}-`,
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

interface IdleRun {
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

async function idleRun(
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
        prefix: `i${++runCounter}-`,
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

interface PresenceRun extends PresenceResult {
  /** CPU seconds of the changers' node and of redis-server while the status changes ran. */
  nodeACpuSec: number;
  nodeBCpuSec: number;
  redisCpuSec: number;
  /** Node A CPU per acknowledged status change, µs. */
  nodeAUsPerChange: number;
}

async function presenceRun(redis: BenchRedis, loadgen: LoadGen, profileDir: string | null): Promise<PresenceRun> {
  await redis.command('FLUSHALL');
  const nodes = await startCluster('parley', 2, redis.env);
  try {
    const a = nodes[0] as ServerNode;
    const b = nodes[1] as ServerNode;
    let c0 = [0, 0, 0];
    let c1 = [0, 0, 0];
    const sample = (): number[] => [a.cpuSeconds(), b.cpuSeconds(), treeCpuSeconds(redis.pid)];
    const profiling: Promise<unknown>[] = [];
    const r = await loadgen.run<PresenceResult>(
      {
        task: 'presence',
        ports: [a.port, b.port],
        changers: 100,
        inflight: 4,
        durationMs: 5000,
        prefix: `p${++runCounter}-`,
      },
      {
        'measure-start': () => {
          c0 = sample();
          if (profileDir) profiling.push(a.probe('prof-start'));
        },
        'measure-end': () => {
          c1 = sample();
          if (profileDir) {
            profiling.push(
              a.probe('prof-stop', { path: resolve(profileDir, 'parley-presence-nodeA.cpuprofile') }, 30_000),
            );
          }
        },
      },
    );
    await Promise.all(profiling);
    const d = c1.map((v, i) => v - (c0[i] as number));
    return {
      ...r,
      nodeACpuSec: d[0] as number,
      nodeBCpuSec: d[1] as number,
      redisCpuSec: d[2] as number,
      nodeAUsPerChange: ((d[0] as number) * 1e6) / Math.max(1, r.acked),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function killRun(redis: BenchRedis, loadgen: LoadGen): Promise<KillResult> {
  await redis.command('FLUSHALL');
  const nodes = await startCluster('parley', 2, redis.env);
  try {
    const a = nodes[0] as ServerNode;
    const b = nodes[1] as ServerNode;
    return await loadgen.run<KillResult>(
      { task: 'kill', ports: [a.port, b.port], users: 50, timeoutMs: 40_000, prefix: `k${++runCounter}-` },
      {
        ready: () => {
          const at = Date.now();
          void a.kill().then(() => loadgen.command({ cmd: 'killed', at }));
        },
      },
      120_000,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function historyRun(redis: BenchRedis, loadgen: LoadGen): Promise<HistoryResult> {
  await redis.command('FLUSHALL');
  // Send limits are raised on this node only, so that filling the room takes seconds (they do not touch reads).
  const node = await startNode('parley', redis.env, {
    PARLEY_HISTORY_MAX: '10000',
    PARLEY_SEND_RATE: '1000000',
    PARLEY_SEND_BURST: '1000000',
    PARLEY_COMMAND_RATE: '1000000',
    PARLEY_COMMAND_BURST: '1000000',
  });
  try {
    return await loadgen.run<HistoryResult>({
      task: 'history',
      port: node.port,
      stored: 10_000,
      fillers: 4,
      iterations: 300,
      missed: 100,
      prefix: `h${++runCounter}-`,
    });
  } finally {
    await node.stop();
  }
}

// ---------------------------------------------------------------- reporting

function median(xs: number[]): number {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? (a[m] as number) : ((a[m - 1] as number) + (a[m] as number)) / 2;
}

interface Summary {
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

function summarize(kind: SystemKind, runs: MainRun[]): Summary {
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

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]): string => r.map((c, i) => String(c).padStart(widths[i] as number)).join('  ');
  return [line(cells[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join(
    '\n',
  );
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const wants = (part: string, flag: boolean): boolean => (o.only.size > 0 ? o.only.has(part) : flag);
  const started = new Date();
  const t0 = performance.now();
  const systems = o.systems.filter((k) => {
    if (systemAvailable(k)) return true;
    const msg = `${SYSTEMS[k].label}: ${SYSTEMS[k].script} not found (run npm run build first)`;
    if (o.quick) throw new Error(msg);
    console.warn(`SKIPPED ${msg}`);
    return false;
  });
  const outDir = resolve(REPO_ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const log = (s: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}`);

  if (o.deployment === 'cluster' && systems.some((k) => k !== 'parley')) {
    console.warn('--deployment cluster: only Parley runs on a Redis Cluster; the peers are left out');
    systems.splice(0, systems.length, ...systems.filter((k) => k === 'parley'));
  }
  const redis = await startDeployment(o.deployment);
  const loadgen = new LoadGen();
  log(
    `${o.deployment === 'cluster' ? `redis cluster (3 shards) seeded at` : 'redis-server on'} :${redis.port}` +
      `${o.ackReplicas > 0 ? `, PARLEY_ACK_REPLICAS=${o.ackReplicas}` : ''}; load generator pid ${loadgen.pid}; ${cpus().length} cores, load avg ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );

  const result: Record<string, unknown> = {
    startedAt: started.toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
    options: { ...o, only: [...o.only] },
  };
  const failures: string[] = [];
  try {
    // Main load, interleaved runs.
    if (wants('main', true)) {
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
      result.main = { runs, summaries, ratios };
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
          else if (s.lost > 0 || s.duplicates > 0 || s.sendErrors > 0 || s.deliveredPerSec <= 0 || !s.orderOk) {
            failures.push(
              `${SYSTEMS[k].label}: lost ${s.lost}, duplicates ${s.duplicates}, send errors ${s.sendErrors}, ` +
                `order ${s.orderOk ? 'ok' : `BAD in ${s.roomsOutOfOrder} rooms`}`,
            );
          }
        }
      }
    }

    const profileDir = o.profile ? resolve(outDir, 'profiles', stamp) : null;
    if (profileDir) {
      const dir = profileDir;
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

    if (wants('sweep', o.sweep)) {
      const sweep: {
        system: SystemKind;
        steps: { rate: number; attempt: number; ok: boolean; why: string; run: MainRun | null }[];
        capacity: number;
      }[] = [];
      for (const kind of systems) {
        const steps: { rate: number; attempt: number; ok: boolean; why: string; run: MainRun | null }[] = [];
        let capacity = 0;
        for (const rate of o.sweepRates) {
          // A failing step is tried once more: the box is shared, one bad 4 s window proves little.
          let passed = false;
          for (let attempt = 1; attempt <= 2 && !passed; attempt++) {
            log(`sweep: ${SYSTEMS[kind].label} at ${rate} msg/s/room${attempt > 1 ? ' (retry)' : ''}`);
            let r: MainRun | null = null;
            let why = '';
            try {
              r = await mainRun(kind, 0, rate, o, redis, loadgen, {
                warmupMs: o.sweepWarmupMs,
                measureMs: o.sweepMeasureMs,
              });
              const l = r.load;
              const errs = Object.values(l.sendErrors).reduce((x, y) => x + y, 0);
              if (l.lost > 0) why = `lost ${l.lost}`;
              else if (l.duplicates > 0) why = `${l.duplicates} dups`;
              else if (errs > 0) why = `${errs} send errors`;
              else if (!(l.latencyMs.p99 < 50)) why = `p99 ${fmt(l.latencyMs.p99)} ms`;
              else if (l.sentPerSec < 0.95 * l.targetSendPerSec) why = `generator sent only ${fmt(l.sentPerSec)}/s`;
              log(
                `  p99 ${fmt(l.latencyMs.p99)} ms, lost ${l.lost}, order ${l.orderOk ? 'ok' : `BAD(${l.roomsOutOfOrder})`}, ` +
                  `sent ${fmt(l.sentPerSec)}/${l.targetSendPerSec}/s, ${fmt(r.cpuUsPerMsg)} µs/msg, ${why || 'ok'}`,
              );
            } catch (e) {
              why = (e as Error).message.split('\n')[0] ?? 'failed';
              log(`  FAILED: ${why}`);
            }
            passed = why === '';
            steps.push({ rate, attempt, ok: passed, why, run: r });
          }
          if (!passed) break;
          capacity = rate;
        }
        sweep.push({ system: kind, steps, capacity });
      }
      result.sweep = sweep;
      console.log(
        '\nCapacity sweep: highest msg/s per room with p99 < 50 ms, no loss, no dups, generator on target (a failing step is retried once)',
      );
      console.log(
        table(
          ['system', 'capacity', 'deliv/s at cap', 'µs/msg at cap', 'p99 at cap', 'order up to cap', 'stopped by'],
          sweep.map((s) => {
            const cap = s.steps.find((x) => x.rate === s.capacity && x.ok)?.run;
            const stop = s.steps.filter((x) => x.rate > s.capacity).at(-1);
            const orderOk = s.steps.every((x) => x.rate > s.capacity || !x.run || x.run.load.orderOk);
            return [
              SYSTEMS[s.system].label,
              s.capacity,
              cap?.load.deliveredPerSec ?? NaN,
              cap?.cpuUsPerMsg ?? NaN,
              cap?.load.latencyMs.p99 ?? NaN,
              orderOk ? 'ok' : 'BAD',
              stop ? `${stop.rate}: ${stop.why} (twice)` : '-',
            ];
          }),
        ),
      );
    }

    if (wants('idle', o.idle)) {
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
          idleSummary.map((r) => [
            SYSTEMS[r.system].label,
            r.connections,
            r.outsidePeakKB,
            r.outside5sKB,
            r.outside60sKB,
          ]),
        ),
      );
    }

    if (systems.includes('parley')) {
      if (wants('presence', o.presence)) {
        log('presence: status changes on one node, watchers on both');
        try {
          const r = await presenceRun(redis, loadgen, profileDir);
          result.presence = r;
          console.log(
            `\nPresence: ${fmt(r.ackedPerSec)} status changes/s acked on one node (${r.changers} users, ${fmt(r.durationMs / 1000)} s; ` +
              `node CPU ${fmt(r.nodeACpuSec)} s = ${fmt(r.nodeAUsPerChange)} µs per change, other node ${fmt(r.nodeBCpuSec)} s, redis ${fmt(r.redisCpuSec)} s); ` +
              `errors ${JSON.stringify(r.errors)}; watcher same node saw ${r.watcherSameNode}, other node ${r.watcherOtherNode} of ${r.acked}; ` +
              `other-node delay p50 ${fmt(r.otherNodeLatencyMs.p50)} / p99 ${fmt(r.otherNodeLatencyMs.p99)} ms; ack p99 ${fmt(r.ackMs.p99)} ms`,
          );
          if (r.setupErrors.length) console.log(`  setup errors: ${r.setupErrors.join('; ')}`);
        } catch (e) {
          failures.push((e as Error).message);
          log(`  FAILED: ${(e as Error).message}`);
        }
      }
      if (wants('kill', o.kill)) {
        log('presence: kill -9 of a node, until its users are offline on the other');
        try {
          const r = await killRun(redis, loadgen);
          result.kill = r;
          console.log(
            `\nNode death: kill -9 -> first user offline on the other node after ${r.firstOfflineMs ?? 'never'} ms, all ${r.users} after ${r.allOfflineMs ?? `never (${r.seen} seen)`} ms`,
          );
          if (r.setupErrors.length) console.log(`  setup errors: ${r.setupErrors.join('; ')}`);
        } catch (e) {
          failures.push((e as Error).message);
          log(`  FAILED: ${(e as Error).message}`);
        }
      }
      if (wants('history', o.history)) {
        log('history: 10,000 messages in one room');
        try {
          const r = await historyRun(redis, loadgen);
          result.history = r;
          console.log(
            `\nHistory (${r.stored} stored, filled in ${fmt(r.fillMs / 1000)} s): 50-message page p50 ${fmt(r.historyMs.p50)} / p99 ${fmt(r.historyMs.p99)} ms (${r.historyBad} bad); ` +
              `join since (100 missed) p50 ${fmt(r.joinSinceMs.p50)} / p99 ${fmt(r.joinSinceMs.p99)} ms (${r.joinSinceBad} bad)`,
          );
          console.log(
            `History after ${r.changes} edits/reactions (every 2nd message edited, every 5th reacted to; applied in ${fmt(r.changeMs / 1000)} s): ` +
              `50-message page p50 ${fmt(r.editedHistoryMs.p50)} / p99 ${fmt(r.editedHistoryMs.p99)} ms (${r.editedHistoryBad} bad)`,
          );
          if (r.setupErrors.length) console.log(`  errors: ${r.setupErrors.join('; ')}`);
        } catch (e) {
          failures.push((e as Error).message);
          log(`  FAILED: ${(e as Error).message}`);
        }
      }
    }
    if (o.only.has('soak')) await runSoak({ o, redis, loadgen, result, failures, log });
  } finally {
    await loadgen.stop();
    await redis.stop();
  }

  result.failures = failures;
  result.elapsedSec = (performance.now() - t0) / 1000;
  const out = o.out ? resolve(o.out) : resolve(outDir, `bench-${stamp}${o.quick ? '-quick' : ''}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2));
  log(`results: ${out}`);
  if (failures.length > 0) {
    console.error(`\nBENCH FAILED:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  if (o.quick)
    console.log(
      `bench quick: all ${systems.length} systems ran and delivered every message (no loss, no duplicates, one order per room)`,
    );
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
