/** Messages between the bench orchestrator (run.ts) and the load generator process (loadgen.ts). */
import type { SystemKind } from './clients.js';

export interface FanoutTask {
  task: 'fanout';
  kind: SystemKind;
  /** One port per server node; connections are spread over them. */
  ports: number[];
  connections: number;
  rooms: number;
  /** Messages per second per room. */
  rate: number;
  warmupMs: number;
  measureMs: number;
  /** Length of each message text, characters (at least the marker). */
  textBytes: number;
  /** Longest wait for in-flight deliveries after the last send. */
  drainMs: number;
  /** Prefix of user and room ids (unique per run). */
  prefix: string;
}

export interface IdleTask {
  task: 'idle';
  kind: SystemKind;
  port: number;
  connections: number;
  roomSize: number;
  prefix: string;
}

export interface PresenceTask {
  task: 'presence';
  ports: [number, number];
  /** Users changing status, all on the first node, each in its own room. */
  changers: number;
  /** Status commands in flight per changer. */
  inflight: number;
  durationMs: number;
  prefix: string;
}

export interface KillTask {
  task: 'kill';
  ports: [number, number];
  /** Users on the first node (the one to be killed), all in one room watched from the second. */
  users: number;
  timeoutMs: number;
  prefix: string;
}

export interface HistoryTask {
  task: 'history';
  port: number;
  stored: number;
  fillers: number;
  iterations: number;
  missed: number;
  prefix: string;
}

export type LoadTask = FanoutTask | IdleTask | PresenceTask | KillTask | HistoryTask | ChurnTask;

/** Orchestrator -> load generator while a task runs. */
export type LoadCommand = { cmd: 'release' } | { cmd: 'killed'; at: number };

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface FanoutResult {
  connections: number;
  rooms: number;
  roomSize: number;
  rate: number;
  targetSendPerSec: number;
  sentPerSec: number;
  /** Sends in the whole run (warm-up included). */
  sent: number;
  sendErrors: Record<string, number>;
  /** Sends skipped because the generator fell more than 100 ms behind schedule. */
  skipped: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Unique deliveries of the messages sent in the measured window. */
  windowDelivered: number;
  deliveredPerSec: number;
  orderOk: boolean;
  /** Rooms where two members saw two messages in different orders. */
  roomsOutOfOrder: number;
  latencyMs: LatencyStats;
  ackMs: LatencyStats;
  measureMs: number;
  setupMs: number;
  /** CPU seconds the load generator used in the measured window. */
  loadgenCpuSec: number;
  setupErrors: string[];
}

export interface IdleResult {
  connected: number;
  joined: number;
  setupMs: number;
  errors: string[];
}

export interface PresenceResult {
  changers: number;
  acked: number;
  ackedPerSec: number;
  errors: Record<string, number>;
  /** Update events seen by the watcher on the same node / on the other node. */
  watcherSameNode: number;
  watcherOtherNode: number;
  otherNodeLatencyMs: LatencyStats;
  ackMs: LatencyStats;
  durationMs: number;
  setupErrors: string[];
}

export interface KillResult {
  users: number;
  /** Ms from the SIGKILL to the first / the last user seen offline (leave) on the other node; null when not seen in time. */
  firstOfflineMs: number | null;
  allOfflineMs: number | null;
  seen: number;
  setupErrors: string[];
}

export interface HistoryResult {
  stored: number;
  fillMs: number;
  historyMs: LatencyStats;
  historyBad: number;
  joinSinceMs: LatencyStats;
  joinSinceBad: number;
  /** Edits and reactions applied after the plain pages (every 2nd message edited, every 5th reacted to). */
  changes: number;
  changeMs: number;
  /** The same pages once those changes are in. */
  editedHistoryMs: LatencyStats;
  editedHistoryBad: number;
  setupErrors: string[];
}

export type LoadEvent =
  | { event: 'ready'; info?: IdleResult }
  | { event: 'measure-start' }
  | { event: 'measure-end' }
  | { event: 'sample'; sample: ChurnWindow }
  | { event: 'result'; result: FanoutResult | IdleResult | PresenceResult | KillResult | HistoryResult | ChurnResult }
  | { event: 'failed'; error: string };

export function latencyStats(values: number[] | Float64Array): LatencyStats {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  const q = (p: number): number => (n === 0 ? NaN : (a[Math.min(n - 1, Math.floor(p * n))] as number));
  return { count: n, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: n === 0 ? NaN : (a[n - 1] as number) };
}

// ---------------------------------------------------------------- soak (scenarios/soak.ts, load/churn.ts)

export interface ChurnTask {
  task: 'churn';
  /** The two Parley nodes; clients start spread over both (member m of a room on node m % 2). */
  ports: [number, number];
  connections: number;
  rooms: number;
  /** Messages per second per room. */
  rate: number;
  textBytes: number;
  /** Sending time, from the first send to the last. */
  durationMs: number;
  /**
   * Clients that close and reconnect each second: half of them from each
   * node, each to the other node, so both nodes keep the same number of
   * connections. They rejoin their room with `since` = the last id they saw.
   */
  churnPerSec: number;
  /** Churn starts this long after the first send (every client has seen a message by then). */
  churnAfterMs: number;
  /** A window sample is reported this often (and once at the first send). */
  sampleMs: number;
  /** Longest wait for missing deliveries after the last send. */
  drainMs: number;
  prefix: string;
}

/** What the load generator saw in one sampling window (sent over IPC as it ends). */
export interface ChurnWindow {
  /** 0: the first send (an empty window); then 1, 2, ... */
  index: number;
  /** Ms from the first send to the end of this window. */
  atMs: number;
  windowMs: number;
  /** Sends acknowledged ok in the window. */
  sent: number;
  sendErrors: number;
  /** Unique deliveries in the window (live events plus messages recovered by `join since`). */
  delivered: number;
  /** Of those, recovered by a rejoin's `since` reply. */
  recovered: number;
  /** Send-to-delivery latency of the live deliveries in the window. */
  latencyMs: LatencyStats;
  /** Reconnects completed in the window (closed, reconnected, rejoined). */
  reconnects: number;
  /** Rejoins in the window answered `recovered: false`. */
  notRecovered: number;
  reconnectErrors: number;
  /** Sockets the server closed (not churn) in the window; they reconnect like churn. */
  unexpectedCloses: number;
  /** Close to rejoin reply, ms. */
  rejoinMs: LatencyStats;
  /** Open connections per node when the window ended. */
  open: [number, number];
  /** Sends skipped because the generator fell more than 100 ms behind. */
  skipped: number;
  /** The load generator's RSS, bytes. */
  loadgenRss: number;
}

export interface ChurnResult {
  connections: number;
  rooms: number;
  roomSize: number;
  rate: number;
  churnPerSec: number;
  durationMs: number;
  /** Sends acknowledged ok over the run. */
  sent: number;
  sendErrors: Record<string, number>;
  skipped: number;
  /** Deliveries owed: every ok send of a room to every member of that room. */
  expected: number;
  /** Unique deliveries of those (live or recovered). */
  delivered: number;
  lost: number;
  duplicates: number;
  /** Clients that missed at least one message. */
  clientsWithLoss: number;
  /** Messages delivered by `join since` replies. */
  recoveredMessages: number;
  reconnects: number;
  notRecovered: number;
  reconnectErrors: Record<string, number>;
  unexpectedCloses: number;
  /** Live deliveries over the whole run (from a log histogram, ±2%). */
  latencyMs: LatencyStats;
  rejoinMs: LatencyStats;
  setupMs: number;
  drainMs: number;
  loadgenCpuSec: number;
  setupErrors: string[];
}
