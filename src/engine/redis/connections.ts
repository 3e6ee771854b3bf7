/**
 * The Redis engine's connections: how the command and subscriber
 * connections are made for each deployment (one Redis, Sentinel, Cluster),
 * with fail-fast options (no offline queue, no per-request retries, a
 * command timeout), capped reconnect backoff and write coalescing per
 * event-loop turn; and the small helpers start and close use.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisCommands } from './client.js';
import type { HostPort } from './redis-engine.js';

/** What the connections are made from (a subset of RedisEngineOptions). */
export interface ConnectionSettings {
  nodeId: string;
  url?: string;
  clusterNodes?: HostPort[];
  sentinels?: HostPort[];
  sentinelName?: string;
  commandTimeoutMs?: number;
  maxReconnectDelayMs?: number;
  autoPipelining?: boolean;
}

/** The connections of one engine. */
export interface Connections {
  /** Commands: one Redis (plain or Sentinel-managed) or the Cluster. */
  cmd: RedisCommands;
  /** The bus connection; null on Cluster (ioredis owns one sharded subscriber per master). */
  sub: Redis | null;
  /** Where the engine connects, for messages (no password). */
  where: string;
}

/** Races a promise against a timer; the timer never keeps the process alive. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export const noop = (): void => {};

/** A connection error that retrying will not fix: the host does not exist, or nothing listens on the port. */
export function isPermanentConnectError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOTFOUND' || code === 'ECONNREFUSED';
}

/** A socket that can batch writes. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * The client's socket, if it can be corked. ioredis keeps it in an
 * undocumented `stream` field: detected, not assumed, so an ioredis that
 * moves it only loses the write coalescing.
 */
export function corkableStream(client: Redis): Corkable | null {
  const stream: unknown = (client as unknown as { stream?: unknown }).stream;
  if (typeof stream !== 'object' || stream === null) return null;
  const s = stream as Partial<Corkable>;
  return typeof s.cork === 'function' && typeof s.uncork === 'function' ? (stream as Corkable) : null;
}

/**
 * Coalesces the commands written in one event-loop turn into one socket
 * write: the first command of a turn corks the socket, a setImmediate
 * uncorks it. Same effect as ioredis auto-pipelining (one writev for a burst
 * of presence updates instead of one write per command) without building a
 * Pipeline object per flush, which cost more than it saved at chat rates.
 */
export function coalesceWrites(client: Redis, socketOf: (client: Redis) => Corkable | null = corkableStream): void {
  const send = client.sendCommand.bind(client);
  let corked: { uncork(): void } | null = null;
  const flush = (): void => {
    const s = corked;
    corked = null;
    s?.uncork();
  };
  client.sendCommand = (command, stream) => {
    if (corked === null && client.status === 'ready') {
      // Without a corkable socket (another ioredis, a wrapper) commands are written one by one: slower, same result.
      const socket = socketOf(client);
      if (socket) {
        socket.cork();
        corked = socket;
        setImmediate(flush);
      }
    }
    return send(command, stream);
  };
}

/**
 * Makes (without connecting: lazyConnect) the command and subscriber
 * connections for the deployment `s` names (exactly one of url,
 * clusterNodes, sentinels).
 *
 * @example
 * const { cmd, sub } = createConnections({ nodeId: 'n1', url: 'redis://127.0.0.1:6380' });
 */
export function createConnections(s: ConnectionSettings): Connections {
  const commandTimeout = s.commandTimeoutMs ?? 2000;
  const maxDelay = s.maxReconnectDelayMs ?? 2000;
  const name = s.nodeId.replace(/[^A-Za-z0-9_.:@-]/g, '_');
  const retryStrategy = (times: number): number =>
    Math.min(50 * 2 ** Math.min(times, 16), maxDelay) + Math.floor(Math.random() * 100);
  const base: RedisOptions = {
    lazyConnect: true,
    protocol: 3,
    // Fail fast instead of queueing: callers get UNAVAILABLE and may retry.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout,
    connectTimeout: Math.max(commandTimeout, 1000),
    retryStrategy,
  };
  const autoPipelining = s.autoPipelining ?? false;
  if (s.clusterNodes) {
    const where = `the Redis Cluster at ${s.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    const { retryStrategy: _r, enableOfflineQueue: _q, ...nodeOptions } = base;
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      shardedSubscribers: true,
      scaleReads: 'master',
      enableOfflineQueue: false,
      enableAutoPipelining: autoPipelining,
      // A command to a dead primary is retried while the cluster fails over,
      // bounded so that it answers (UNAVAILABLE) well within 5 s.
      maxRedirections: 6,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 1000,
      slotsRefreshInterval: 5000,
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...nodeOptions, connectionName: `parley:${name}:cmd` },
    };
    const cluster = new Cluster(s.clusterNodes, clusterOptions);
    if (!autoPipelining) cluster.on('+node', (node: Redis) => coalesceWrites(node));
    return { cmd: cluster, sub: null, where };
  }
  const target: RedisOptions = s.sentinels
    ? { sentinels: s.sentinels, name: s.sentinelName ?? 'mymaster', sentinelRetryStrategy: retryStrategy }
    : {};
  const where = s.sentinels
    ? `the Redis primary "${s.sentinelName ?? 'mymaster'}" via sentinels ${s.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`
    : `Redis at ${safeUrl(s.url!)}`;
  const connect = (extra: RedisOptions): Redis =>
    s.url !== undefined ? new Redis(s.url, { ...base, ...extra }) : new Redis({ ...base, ...target, ...extra });
  const cmd = connect({ connectionName: `parley:${name}:cmd`, enableAutoPipelining: autoPipelining });
  if (!autoPipelining) coalesceWrites(cmd);
  return { cmd, sub: connect({ connectionName: `parley:${name}:sub`, autoResubscribe: false }), where };
}

/** QUIT politely (bounded), then make sure the socket is gone and no reconnect follows. */
export async function quit(client: RedisCommands): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await withTimeout(client.quit(), 1000, 'QUIT');
    } catch {
      // Unreachable or slow: disconnect below.
    }
  }
  // QUIT leaves the status at 'end'; anything else still owns a socket or a reconnect timer.
  if ((client.status as string) !== 'end') client.disconnect();
}
