/**
 * Configuration from the environment and an optional JSON file
 * (`PARLEY_CONFIG=/etc/parley/parley.json`, keys named like the environment
 * variables; the environment wins), validated once at start. A bad value
 * throws ConfigError naming the setting; main.ts prints it and exits 1.
 *
 * This file is the Config (its shape, defaults, parsing and validation of
 * the values); the table of setting names is settings.ts, the reading of the
 * JSON file config-file.ts.
 */
import { randomBytes } from 'node:crypto';
import { JwtKeyError, resolveJwtKeys } from './auth/keys.js';
import { readConfigFile } from './config-file.js';
import { ConfigError, SETTINGS, type SettingName } from './settings.js';

export interface Limits {
  /** Largest accepted WebSocket frame, bytes (close 1009). */
  maxFrameBytes: number;
  /** Longest message text, characters (TOO_LARGE). */
  maxTextChars: number;
  /** Sends per second per connection (token bucket refill). */
  sendRate: number;
  /** Token bucket size for sends. */
  sendBurst: number;
  /** Typing events per second per connection. */
  typingRate: number;
  /** Unsent bytes queued for one client before it is closed with 4008. */
  maxBufferedBytes: number;
  /** After a 4008 close, how long the socket may linger before it is dropped, ms. */
  slowConsumerGraceMs: number;
  /** Rooms one connection may join (LIMIT). */
  maxRoomsPerConnection: number;
  /** Longest status text, characters (TOO_LARGE). */
  maxStatusTextChars: number;
  /** Most user ids in one `presence` query (TOO_LARGE). */
  maxPresenceUsers: number;
  /** Most members listed in a join reply or a room `presence` reply (count is always exact). */
  roomMembersCap: number;
  /** Most missed messages returned by `join since` (more: recovered:false). */
  recoveryMax: number;
  /** Live connections per user, per node (HTTP 429 before the upgrade beyond). */
  maxConnectionsPerUser: number;
  /** Live connections per client IP, per node (HTTP 429 beyond). */
  maxConnectionsPerIp: number;
  /** Commands of any type per second per connection (token bucket refill; RATE_LIMITED). */
  commandRate: number;
  /** Token bucket size for commands (at least the rooms a reconnecting client rejoins). */
  commandBurst: number;
  /** WebSocket handshakes being authenticated at once, per node (HTTP 503 beyond). */
  maxPendingUpgrades: number;
  /** Longest time to authenticate an upgrade request, ms (HTTP 503 beyond). */
  handshakeTimeoutMs: number;
  /** Largest HTTP request head (request line and headers), bytes (HTTP 431 beyond). */
  maxHeaderBytes: number;
  /** Most HTTP request headers read; the rest are ignored. */
  maxHeaders: number;
  /** Time a client has to send the request head, ms (slowloris guard). */
  headersTimeoutMs: number;
  /** Time a client has to send a whole HTTP request, ms (0: no limit). */
  requestTimeoutMs: number;
}

/** Webhook delivery (PARLEY_WEBHOOK_*); null in Config when no URL is set. */
export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key of `X-Parley-Signature`. */
  secret: string;
  /** An answer must start within this, ms (default 5000); else the attempt failed. */
  timeoutMs: number;
  /** First retry delay, ms (doubles per attempt, with jitter). */
  retryBaseMs: number;
  /** Longest retry delay, ms. */
  retryMaxMs: number;
  /** An event still undelivered this long after it was queued is dropped, ms (at least an hour). */
  retryForMs: number;
  /** How often a node looks for events queued by other nodes, ms. */
  pollMs: number;
  /** Deliveries in flight per node. */
  concurrency: number;
}

/** A Redis server address (REDIS_CLUSTER_NODES, REDIS_SENTINELS). */
export interface HostPort {
  host: string;
  port: number;
}

/** Which storage a node runs on: from exactly one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS, or none. */
export type StorageMode = 'memory' | 'single' | 'sentinel' | 'cluster';

export interface Config {
  port: number;
  host: string;
  /** Pending TCP connections the kernel queues for accept (PARLEY_LISTEN_BACKLOG; capped by net.core.somaxconn). */
  listenBacklog: number;
  /** One Redis (REDIS_URL). At most one of redisUrl, redisClusterNodes, redisSentinels is set. */
  redisUrl: string | null;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES). */
  redisClusterNodes: HostPort[] | null;
  /** Sentinels of a Sentinel-managed primary (REDIS_SENTINELS). */
  redisSentinels: HostPort[] | null;
  /** The primary's name at the sentinels (REDIS_SENTINEL_NAME, default mymaster). */
  redisSentinelName: string;
  /** Replicas that must hold a write before its reply (PARLEY_ACK_REPLICAS, default 0). */
  ackReplicas: number;
  /** How long replicas have to confirm a write, ms (PARLEY_ACK_TIMEOUT_MS, default 1000). */
  ackTimeoutMs: number;
  nodeId: string;
  logLevel: string;
  jwtSecret: string | null;
  jwtPublicKey: string | null;
  jwksUrl: string | null;
  jwtAudience: string | null;
  jwtIssuer: string | null;
  apiKey: string | null;
  allowedOrigins: string[] | null;
  historyMax: number;
  dedupeWindowMs: number;
  nodeTimeoutMs: number;
  /** Presence records of users offline longer than this expire, ms (PARLEY_PRESENCE_RETENTION_MS, default 30 days). */
  presenceRetentionMs: number;
  /** Memory engine: messages stored across all rooms (PARLEY_MEMORY_MAX_MESSAGES, default 1,000,000). */
  memoryMaxMessages: number;
  shutdownTimeoutMs: number;
  /** Folder of the built web page (served at /). */
  webRoot: string | null;
  /** Behind a reverse proxy: the client IP is the last `X-Forwarded-For` entry (PARLEY_TRUST_PROXY). */
  trustProxy: boolean;
  /** Serve Socket.IO v4 clients at /socket.io/ (PARLEY_SOCKETIO, default on; `0` turns it off). */
  socketio: boolean;
  limits: Limits;
  /** Webhooks; null when PARLEY_WEBHOOK_URL is unset. */
  webhook: WebhookConfig | null;
  /** The JSON config file read (PARLEY_CONFIG), if any. */
  configFile?: string | null;
}

export const defaultLimits: Limits = {
  maxFrameBytes: 64 * 1024,
  maxTextChars: 4000,
  sendRate: 10,
  sendBurst: 20,
  typingRate: 2,
  maxBufferedBytes: 1024 * 1024,
  slowConsumerGraceMs: 30_000,
  maxRoomsPerConnection: 100,
  maxStatusTextChars: 140,
  maxPresenceUsers: 500,
  roomMembersCap: 100,
  recoveryMax: 1000,
  maxConnectionsPerUser: 50,
  maxConnectionsPerIp: 1000,
  commandRate: 200,
  commandBurst: 1000,
  maxPendingUpgrades: 500,
  handshakeTimeoutMs: 10_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

type Env = Record<string, string | undefined>;

function int(env: Env, name: SettingName, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function str(env: Env, name: SettingName): string | null {
  const v = env[name];
  return v === undefined || v === '' ? null : v;
}

/**
 * Reads and validates the configuration: the environment, plus the JSON
 * file named by PARLEY_CONFIG when set (a setting set in the environment,
 * non-empty, wins over the file). A key in the file that is no setting is
 * an error, so typos do not pass silently.
 *
 * @example
 * const config = loadConfig({ PORT: '3000', REDIS_URL: 'redis://127.0.0.1:6379' });
 * const fromFile = loadConfig({ PARLEY_CONFIG: '/etc/parley/parley.json', PORT: '3001' }); // PORT from env wins
 */
export function loadConfig(env: Env = process.env): Config {
  const file = str(env, 'PARLEY_CONFIG');
  if (file === null) return buildConfig(env);
  return loadWithFile(env, file);
}

/**
 * Validates settings given as strings by name (what the environment holds),
 * without reading process.env or a file: the same checks and errors as
 * loadConfig. Used by `createParley(options)`.
 *
 * @example
 * const config = configFromValues({ PORT: '0', PARLEY_API_KEY: 'secret' });
 */
export function configFromValues(values: Env): Config {
  return buildConfig(values);
}

function loadWithFile(env: Env, file: string): Config {
  const fromFile = readConfigFile(file);
  const merged: Env = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || (value === '' && key in fromFile)) continue;
    merged[key] = value;
  }
  // Every setting buildConfig reads is recorded, so unknown file keys can be named.
  const read = new Set<string>();
  const tracked = new Proxy(merged, {
    get(target, prop) {
      if (typeof prop === 'string') read.add(prop);
      return Reflect.get(target, prop) as string | undefined;
    },
  });
  let config: Config;
  try {
    config = buildConfig(tracked);
  } catch (err) {
    if (err instanceof ConfigError && merged[err.setting] === fromFile[err.setting] && err.setting in fromFile) {
      const detail = err.message.startsWith(`${err.setting}: `)
        ? err.message.slice(err.setting.length + 2)
        : err.message;
      throw new ConfigError(err.setting, `${detail} (set in ${file})`);
    }
    throw err;
  }
  const unknown = Object.keys(fromFile).filter((key) => !read.has(key) && !(key in SETTINGS));
  if (unknown.length > 0) {
    throw new ConfigError(
      unknown[0]!,
      `unknown setting in ${file}${unknown.length > 1 ? ` (also: ${unknown.slice(1).join(', ')})` : ''}`,
    );
  }
  config.configFile = file;
  return config;
}

/** Parses `host:port,host:port,…` (at least one). */
function hostPorts(env: Env, name: SettingName): HostPort[] | null {
  const raw = str(env, name);
  if (raw === null) return null;
  const out: HostPort[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(name, `must be a comma-separated list of host:port, got "${item}"`);
    }
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (out.length === 0) throw new ConfigError(name, 'must name at least one host:port');
  return out;
}

/**
 * Which storage the config selects. Exactly one Redis setting may be set
 * (buildConfig refuses two), none means the in-process memory engine.
 *
 * @example
 * storageMode(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000' })); // 'cluster'
 */
export function storageMode(config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'redisSentinels'>): StorageMode {
  if (config.redisClusterNodes !== null) return 'cluster';
  if (config.redisSentinels !== null) return 'sentinel';
  if (config.redisUrl !== null) return 'single';
  return 'memory';
}

function buildConfig(env: Env): Config {
  const redisUrl = str(env, 'REDIS_URL');
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', `must start with redis:// or rediss://, got "${redisUrl}"`);
  }
  // An auth setting present but empty is a mistake (an unset shell variable), never dev mode.
  for (const name of ['PARLEY_JWT_SECRET', 'PARLEY_JWT_PUBLIC_KEY', 'PARLEY_JWKS_URL'] as const) {
    if (env[name] === '') throw new ConfigError(name, 'is set but empty (unset it for dev mode, or give a value)');
  }
  const redisClusterNodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const redisSentinels = hostPorts(env, 'REDIS_SENTINELS');
  const redisSet = [
    ['REDIS_URL', redisUrl],
    ['REDIS_CLUSTER_NODES', redisClusterNodes],
    ['REDIS_SENTINELS', redisSentinels],
  ].filter(([, v]) => v !== null);
  if (redisSet.length > 1) {
    const names = redisSet.map(([k]) => k as string);
    throw new ConfigError(
      names[1]!,
      `set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (got ${names.join(' and ')})`,
    );
  }
  const sentinelName = str(env, 'REDIS_SENTINEL_NAME') ?? 'mymaster';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(sentinelName)) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'must be 1-64 letters, digits, _ . -');
  }
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  const origins = str(env, 'PARLEY_ALLOWED_ORIGINS');
  const nodeId = str(env, 'PARLEY_NODE_ID') ?? `node-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId)) {
    throw new ConfigError('PARLEY_NODE_ID', 'must be 1-64 letters, digits, _ . -');
  }
  const L = defaultLimits;
  const trustProxy = str(env, 'PARLEY_TRUST_PROXY');
  if (trustProxy !== null && !['0', '1', 'true', 'false'].includes(trustProxy)) {
    throw new ConfigError('PARLEY_TRUST_PROXY', `must be 1, 0, true or false, got "${trustProxy}"`);
  }
  const socketio = str(env, 'PARLEY_SOCKETIO');
  if (socketio !== null && !['0', '1', 'true', 'false'].includes(socketio)) {
    throw new ConfigError('PARLEY_SOCKETIO', `must be 1, 0, true or false, got "${socketio}"`);
  }
  const webhookUrl = str(env, 'PARLEY_WEBHOOK_URL');
  let webhook: WebhookConfig | null = null;
  if (webhookUrl !== null) {
    if (!/^https?:\/\/[^\s]+$/.test(webhookUrl)) {
      throw new ConfigError('PARLEY_WEBHOOK_URL', `must be an http:// or https:// URL, got "${webhookUrl}"`);
    }
    const secret = str(env, 'PARLEY_WEBHOOK_SECRET');
    if (secret === null) throw new ConfigError('PARLEY_WEBHOOK_SECRET', 'must be set when PARLEY_WEBHOOK_URL is');
    webhook = {
      url: webhookUrl,
      secret,
      timeoutMs: int(env, 'PARLEY_WEBHOOK_TIMEOUT_MS', 5000, 100),
      retryBaseMs: int(env, 'PARLEY_WEBHOOK_RETRY_BASE_MS', 1000, 10),
      retryMaxMs: int(env, 'PARLEY_WEBHOOK_RETRY_MAX_MS', 5 * 60_000, 10),
      retryForMs: int(env, 'PARLEY_WEBHOOK_RETRY_FOR_MS', 24 * 3600_000, 3600_000),
      pollMs: int(env, 'PARLEY_WEBHOOK_POLL_MS', 250, 10),
      concurrency: int(env, 'PARLEY_WEBHOOK_CONCURRENCY', 64, 1, 10_000),
    };
  }
  const config: Config = {
    webhook,
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST ?? '0.0.0.0',
    listenBacklog: int(env, 'PARLEY_LISTEN_BACKLOG', 4096, 1),
    redisUrl,
    redisClusterNodes,
    redisSentinels,
    redisSentinelName: sentinelName,
    ackReplicas: int(env, 'PARLEY_ACK_REPLICAS', 0, 0, 16),
    ackTimeoutMs: int(env, 'PARLEY_ACK_TIMEOUT_MS', 1000, 1, 60_000),
    nodeId,
    logLevel,
    jwtSecret: str(env, 'PARLEY_JWT_SECRET'),
    jwtPublicKey: str(env, 'PARLEY_JWT_PUBLIC_KEY'),
    jwksUrl: str(env, 'PARLEY_JWKS_URL'),
    jwtAudience: str(env, 'PARLEY_JWT_AUDIENCE'),
    jwtIssuer: str(env, 'PARLEY_JWT_ISSUER'),
    apiKey: str(env, 'PARLEY_API_KEY'),
    allowedOrigins:
      origins === null
        ? null
        : origins
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    historyMax: int(env, 'PARLEY_HISTORY_MAX', 10_000, 1),
    dedupeWindowMs: int(env, 'PARLEY_DEDUPE_WINDOW_MS', 5 * 60_000, 1000),
    nodeTimeoutMs: int(env, 'PARLEY_NODE_TIMEOUT_MS', 15_000, 1000),
    presenceRetentionMs: int(env, 'PARLEY_PRESENCE_RETENTION_MS', 30 * 24 * 3600_000, 1000),
    memoryMaxMessages: int(env, 'PARLEY_MEMORY_MAX_MESSAGES', 1_000_000, 1),
    shutdownTimeoutMs: int(env, 'PARLEY_SHUTDOWN_TIMEOUT_MS', 10_000, 100),
    webRoot: str(env, 'PARLEY_WEB_ROOT'),
    trustProxy: trustProxy === '1' || trustProxy === 'true',
    socketio: socketio === null || socketio === '1' || socketio === 'true',
    limits: {
      maxFrameBytes: int(env, 'PARLEY_MAX_FRAME_BYTES', L.maxFrameBytes, 256),
      maxTextChars: int(env, 'PARLEY_MAX_TEXT_CHARS', L.maxTextChars, 1),
      sendRate: int(env, 'PARLEY_SEND_RATE', L.sendRate, 1),
      sendBurst: int(env, 'PARLEY_SEND_BURST', L.sendBurst, 1),
      typingRate: int(env, 'PARLEY_TYPING_RATE', L.typingRate, 1),
      maxBufferedBytes: int(env, 'PARLEY_MAX_BUFFERED_BYTES', L.maxBufferedBytes, 1024),
      slowConsumerGraceMs: int(env, 'PARLEY_SLOW_CONSUMER_GRACE_MS', L.slowConsumerGraceMs, 0),
      maxRoomsPerConnection: int(env, 'PARLEY_MAX_ROOMS_PER_CONNECTION', L.maxRoomsPerConnection, 1),
      maxStatusTextChars: int(env, 'PARLEY_MAX_STATUS_TEXT_CHARS', L.maxStatusTextChars, 0),
      maxPresenceUsers: int(env, 'PARLEY_MAX_PRESENCE_USERS', L.maxPresenceUsers, 1),
      roomMembersCap: int(env, 'PARLEY_ROOM_MEMBERS_CAP', L.roomMembersCap, 1),
      recoveryMax: int(env, 'PARLEY_RECOVERY_MAX', L.recoveryMax, 1),
      maxConnectionsPerUser: int(env, 'PARLEY_MAX_CONNECTIONS_PER_USER', L.maxConnectionsPerUser, 1),
      maxConnectionsPerIp: int(env, 'PARLEY_MAX_CONNECTIONS_PER_IP', L.maxConnectionsPerIp, 1),
      commandRate: int(env, 'PARLEY_COMMAND_RATE', L.commandRate, 1),
      commandBurst: int(env, 'PARLEY_COMMAND_BURST', L.commandBurst, 1),
      maxPendingUpgrades: int(env, 'PARLEY_MAX_PENDING_UPGRADES', L.maxPendingUpgrades, 1),
      handshakeTimeoutMs: int(env, 'PARLEY_HANDSHAKE_TIMEOUT_MS', L.handshakeTimeoutMs, 100),
      maxHeaderBytes: int(env, 'PARLEY_MAX_HEADER_BYTES', L.maxHeaderBytes, 1024, 1024 * 1024),
      maxHeaders: int(env, 'PARLEY_MAX_HEADERS', L.maxHeaders, 10),
      headersTimeoutMs: int(env, 'PARLEY_HEADERS_TIMEOUT_MS', L.headersTimeoutMs, 100),
      requestTimeoutMs: int(env, 'PARLEY_REQUEST_TIMEOUT_MS', L.requestTimeoutMs, 0),
    },
  };
  const { headersTimeoutMs, requestTimeoutMs } = config.limits;
  if (requestTimeoutMs !== 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'PARLEY_HEADERS_TIMEOUT_MS',
      `must not exceed PARLEY_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  // A bad JWT key is a start-up error, not a failure at the first connection.
  try {
    resolveJwtKeys(config);
  } catch (err) {
    if (err instanceof JwtKeyError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
  return config;
}
