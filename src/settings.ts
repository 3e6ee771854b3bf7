/**
 * The settings table: every setting Parley reads, by its environment name
 * and kind, and the error that names a setting whose value is bad. Parsing
 * and validation are in config.ts, the JSON config file in config-file.ts.
 */

/** A bad setting: the message starts with its name; main.ts prints it and exits 1. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** How a setting's value is written: integer, text, boolean (1/0/true/false) or comma-separated list. */
export type SettingKind = 'int' | 'string' | 'bool' | 'list';

/**
 * Every setting Parley reads, by its environment name. The one table of
 * names: reads go through it (int/str take a SettingName), the unknown
 * `PARLEY_*` warning and the option names of `createParley(options)` come
 * from it. A new setting is one line here plus its read in buildConfig (config.ts).
 */
export const SETTINGS = {
  PORT: 'int',
  HOST: 'string',
  PARLEY_LISTEN_BACKLOG: 'int',
  REDIS_URL: 'string',
  LOG_LEVEL: 'string',
  PARLEY_CONFIG: 'string',
  PARLEY_NODE_ID: 'string',
  PARLEY_JWT_SECRET: 'string',
  PARLEY_JWT_PUBLIC_KEY: 'string',
  PARLEY_JWKS_URL: 'string',
  PARLEY_JWT_AUDIENCE: 'string',
  PARLEY_JWT_ISSUER: 'string',
  PARLEY_API_KEY: 'string',
  PARLEY_ALLOWED_ORIGINS: 'list',
  PARLEY_HISTORY_MAX: 'int',
  PARLEY_DEDUPE_WINDOW_MS: 'int',
  PARLEY_NODE_TIMEOUT_MS: 'int',
  PARLEY_PRESENCE_RETENTION_MS: 'int',
  PARLEY_MEMORY_MAX_MESSAGES: 'int',
  PARLEY_SHUTDOWN_TIMEOUT_MS: 'int',
  PARLEY_WEB_ROOT: 'string',
  PARLEY_TRUST_PROXY: 'bool',
  PARLEY_SOCKETIO: 'bool',
  PARLEY_MAX_FRAME_BYTES: 'int',
  PARLEY_MAX_TEXT_CHARS: 'int',
  PARLEY_SEND_RATE: 'int',
  PARLEY_SEND_BURST: 'int',
  PARLEY_TYPING_RATE: 'int',
  PARLEY_MAX_BUFFERED_BYTES: 'int',
  PARLEY_SLOW_CONSUMER_GRACE_MS: 'int',
  PARLEY_MAX_ROOMS_PER_CONNECTION: 'int',
  PARLEY_MAX_STATUS_TEXT_CHARS: 'int',
  PARLEY_MAX_PRESENCE_USERS: 'int',
  PARLEY_ROOM_MEMBERS_CAP: 'int',
  PARLEY_RECOVERY_MAX: 'int',
  PARLEY_MAX_CONNECTIONS_PER_USER: 'int',
  PARLEY_MAX_CONNECTIONS_PER_IP: 'int',
  PARLEY_COMMAND_RATE: 'int',
  PARLEY_COMMAND_BURST: 'int',
  PARLEY_MAX_PENDING_UPGRADES: 'int',
  PARLEY_HANDSHAKE_TIMEOUT_MS: 'int',
  PARLEY_MAX_HEADER_BYTES: 'int',
  PARLEY_MAX_HEADERS: 'int',
  PARLEY_HEADERS_TIMEOUT_MS: 'int',
  PARLEY_REQUEST_TIMEOUT_MS: 'int',
  REDIS_CLUSTER_NODES: 'list',
  REDIS_SENTINELS: 'list',
  REDIS_SENTINEL_NAME: 'string',
  PARLEY_ACK_REPLICAS: 'int',
  PARLEY_ACK_TIMEOUT_MS: 'int',
  PARLEY_WEBHOOK_URL: 'string',
  PARLEY_WEBHOOK_SECRET: 'string',
  PARLEY_WEBHOOK_TIMEOUT_MS: 'int',
  PARLEY_WEBHOOK_RETRY_BASE_MS: 'int',
  PARLEY_WEBHOOK_RETRY_MAX_MS: 'int',
  PARLEY_WEBHOOK_RETRY_FOR_MS: 'int',
  PARLEY_WEBHOOK_POLL_MS: 'int',
  PARLEY_WEBHOOK_CONCURRENCY: 'int',
} as const satisfies Record<string, SettingKind>;

/** The name of a setting (its environment variable). */
export type SettingName = keyof typeof SETTINGS;
