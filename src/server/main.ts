/**
 * `npm start` / `parley serve`: reads the configuration (environment and the
 * optional PARLEY_CONFIG file), starts one node and stops it gracefully on
 * SIGTERM/SIGINT (exit 0). A bad setting exits 1 with one clear line naming
 * it; so does a node that cannot start (port taken, Redis unreachable).
 *
 * Exit codes: 0 clean stop; 1 bad configuration, failed start, failed or
 * timed-out shutdown, or a crash.
 */
import { loadConfig, storageMode, type Config } from '../config.js';
import { ConfigError } from '../settings.js';
import { createLogger, type Logger } from '../logger.js';
import { unknownSettings } from '../options.js';
import { createParley, type ParleyNode } from './parley.js';

/** Prints one line to stderr and exits (no stack trace: the message says what to fix). */
function die(message: string, code = 1): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}

function describeStartError(err: unknown, config: Config): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE')
    return `cannot listen on ${config.host}:${config.port}: the address is in use (PORT/HOST)`;
  if (e?.code === 'EACCES') return `cannot listen on ${config.host}:${config.port}: permission denied (PORT/HOST)`;
  if (e?.code === 'EADDRNOTAVAIL' || e?.code === 'ENOTFOUND')
    return `cannot listen on ${config.host}: no such local address (HOST)`;
  return err instanceof Error ? err.message : String(err);
}

/** The settings worth a start-log line, without secrets. */
function summary(config: Config): Record<string, unknown> {
  return {
    port: config.port,
    host: config.host,
    engine: storageMode(config) === 'memory' ? 'memory' : 'redis',
    redisMode: storageMode(config),
    ackReplicas: config.ackReplicas,
    auth: config.jwtSecret !== null || config.jwtPublicKey !== null || config.jwksUrl !== null ? 'jwt' : 'dev',
    api: config.apiKey === null ? 'disabled' : 'enabled',
    allowedOrigins: config.allowedOrigins ?? 'any',
    historyMax: config.historyMax,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    configFile: config.configFile ?? null,
  };
}

function installShutdown(node: ParleyNode, config: Config, log: Logger): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return; // npm forwards the signal: it may arrive twice
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    const started = Date.now();
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    node.stop().then(
      () => {
        log.info({ ms: Date.now() - started }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) die(`invalid configuration: ${err.message}`);
    throw err;
  }
  const log = createLogger(config.logLevel, config.nodeId);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled promise rejection');
    process.exit(1);
  });
  for (const { name, suggestion } of unknownSettings(process.env)) {
    log.warn(
      { setting: name, suggestion },
      `unknown setting ${name} (ignored)${suggestion ? `: did you mean ${suggestion}?` : ''}`,
    );
  }
  if (config.jwtSecret === null && config.jwtPublicKey === null && config.jwksUrl === null) {
    log.warn(
      'DEV MODE: no PARLEY_JWT_SECRET / PARLEY_JWT_PUBLIC_KEY / PARLEY_JWKS_URL set; identities (?user=, ?roles=) are NOT verified (anyone may claim to be a moderator). Do not expose this node.',
    );
  }
  const mode = storageMode(config);
  if (mode === 'memory') {
    log.info(
      'engine: in-process memory (single node; set REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS to run several nodes)',
    );
  } else if (mode === 'single') {
    log.info({ redis: config.redisUrl!.replace(/\/\/[^@]*@/, '//***@') }, 'engine: redis (one Redis)');
  } else if (mode === 'cluster') {
    log.info({ redisCluster: config.redisClusterNodes }, 'engine: redis (Redis Cluster, sharded pub/sub)');
  } else {
    log.info({ sentinels: config.redisSentinels, name: config.redisSentinelName }, 'engine: redis (Sentinel)');
  }
  log.info(summary(config), 'configuration');

  let node: ParleyNode;
  try {
    node = await createParley(config, log);
  } catch (err) {
    if (err instanceof ConfigError) die(`invalid configuration: ${err.message}`);
    log.debug({ err }, 'could not start'); // the one line below says it; the stack only at LOG_LEVEL=debug
    die(`cannot start: ${describeStartError(err, config)}`);
  }
  let port: number;
  try {
    port = await node.start();
  } catch (err) {
    log.debug({ err }, 'could not start'); // the one line below says it; the stack only at LOG_LEVEL=debug
    await node.stop().catch(() => undefined);
    die(`cannot start: ${describeStartError(err, config)}`);
  }
  installShutdown(node, config, log);
  log.info({ port, host: config.host, pid: process.pid }, `parley listening on http://${config.host}:${port}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`parley: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
