/**
 * `npm start`: reads the environment, starts one node, stops it gracefully
 * on SIGTERM/SIGINT (exit 0). A bad setting exits 1 with a clear message.
 */
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { createParley } from './parley.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`parley: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, config.nodeId);
  if (config.jwtSecret === null && config.jwtPublicKey === null && config.jwksUrl === null) {
    log.warn(
      'DEV MODE: no PARLEY_JWT_SECRET / PARLEY_JWT_PUBLIC_KEY / PARLEY_JWKS_URL set; identities (?user=) are NOT verified. Do not expose this node.',
    );
  }
  if (config.redisUrl === null) {
    log.info('engine: in-process memory (single node; set REDIS_URL to run several nodes)');
  } else {
    log.info({ redis: config.redisUrl.replace(/\/\/[^@]*@/, '//***@') }, 'engine: redis (cluster mode)');
  }
  const node = await createParley(config, log);
  let port: number;
  try {
    port = await node.start();
  } catch (err) {
    log.fatal({ err }, 'could not start');
    process.exit(1);
  }
  log.info({ port, host: config.host, node: config.nodeId }, `parley listening on http://${config.host}:${port}`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return; // npm forwards the signal: it may arrive twice
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    node.stop().then(
      () => {
        log.info('stopped');
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

main().catch((err: unknown) => {
  process.stderr.write(`parley: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
