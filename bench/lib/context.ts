/** What every bench scenario is handed by the orchestrator (run.ts), and helpers they share. */
import { isParley, type SystemKind } from './clients.js';
import type { LoadGen } from './generator.js';
import type { ServerNode } from './nodes.js';
import type { Options } from './options.js';
import { treeCpuSeconds } from './proc.js';
import type { BenchRedis } from './redis.js';

export interface BenchContext {
  o: Options;
  /** The systems asked for that are built (and fit the deployment). */
  systems: SystemKind[];
  redis: BenchRedis;
  loadgen: LoadGen;
  /** The results JSON being built, one key per part. */
  result: Record<string, unknown>;
  /** What went wrong; any entry fails the bench. */
  failures: string[];
  /** A progress line, stamped with the seconds since the start. */
  log: (s: string) => void;
  /** Where --profile writes profiles and heap snapshots (null without --profile). */
  profileDir: string | null;
}

let runCounter = 0;

/** A prefix of user and room ids unique in this bench process (`<letter><n>-`). */
export function nextPrefix(letter: string): string {
  return `${letter}${++runCounter}-`;
}

export interface CpuSample {
  at: number;
  nodes: number[];
  nodesSys: number[];
  /** Every redis-server process. */
  redis: number;
  /** Per shard (master + its replica). */
  shards: number[];
  loadgen: number;
}

/** CPU seconds so far of the nodes, every redis-server and the load generator. */
export function sampleCpu(nodes: ServerNode[], redis: BenchRedis, loadgen: LoadGen): CpuSample {
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
export function parleyEnv(o: Options): Record<string, string> {
  return o.ackReplicas > 0 ? { PARLEY_ACK_REPLICAS: String(o.ackReplicas) } : {};
}

/** What a node of `kind` is pointed at: the deployment's environment for Parley, its one URL for the peers. */
export function redisFor(kind: SystemKind, redis: BenchRedis): string | Record<string, string> {
  return isParley(kind) ? redis.env : redis.url;
}
