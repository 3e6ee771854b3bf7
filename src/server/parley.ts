/**
 * Builds one Parley node from a Config: engine, features, transports. The
 * composition root; main.ts adds process concerns (signals, exit codes).
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from '../api/router.js';
import { DevAuthenticator, type Authenticator } from '../auth/authenticator.js';
import { storageMode, type Config } from '../config.js';
import type { Engine } from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory/memory-engine.js';
import { ChatFeature } from '../features/chat/chat.js';
import { MessageLifecycle } from '../features/chat/lifecycle.js';
import { Fanout } from '../features/fanout.js';
import { ModerationFeature } from '../features/moderation/moderation.js';
import { WebhookFeature } from '../features/webhooks/webhooks.js';
import { PresenceFeature } from '../features/presence/presence.js';
import { SessionRegistry } from '../features/sessions.js';
import type { Logger } from '../logger.js';
import { instrumentEngine, Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import { Dispatcher, type Handlers } from '../session/commands.js';
import { ParleyError } from '../protocol/errors.js';
import { createHttpServer } from '../transport/http.js';
import { SocketIoGateway } from '../transport/socketio.js';
import { WsGateway } from '../transport/ws.js';
import { prepareFrame } from '../transport/ws-frame.js';
import { CommandGate, SocketTracker, within } from './shutdown.js';

export interface ParleyNode {
  readonly config: Config;
  readonly engine: Engine;
  readonly metrics: Metrics;
  /** Starts listening; resolves with the bound port. */
  start(): Promise<number>;
  /**
   * Graceful stop within `config.shutdownTimeoutMs` (90% of it; main.ts's
   * hard timer has the rest): refuse new sockets and new commands, let
   * in-flight commands finish and reply, close clients with 1001, remove
   * presence, wait for closing handshakes (then drop the rest), close storage.
   */
  stop(): Promise<void>;
  readonly port: number;
}

/** Default location of the built web page: dist/web next to dist/server. */
function defaultWebRoot(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../web'), resolve(here, '../../dist/web')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}

/** A v2 command whose feature has not landed yet answers UNKNOWN_COMMAND (each feature replaces its own). */
function notBuilt(type: string): () => never {
  return () => {
    throw new ParleyError('UNKNOWN_COMMAND', `"${type}" is not supported by this server yet`);
  };
}
const notYetBuilt = {
  edit: notBuilt('edit'),
  delete: notBuilt('delete'),
  react: notBuilt('react'),
  unreact: notBuilt('unreact'),
  read: notBuilt('read'),
  rooms: notBuilt('rooms'),
  directory: notBuilt('directory'),
  ban: notBuilt('ban'),
  unban: notBuilt('unban'),
  mute: notBuilt('mute'),
  unmute: notBuilt('unmute'),
} satisfies Partial<Handlers>;

async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const options = {
    nodeId: config.nodeId,
    historyMax: config.historyMax,
    dedupeWindowMs: config.dedupeWindowMs,
    nodeTimeoutMs: config.nodeTimeoutMs,
  };
  const mode = storageMode(config);
  if (mode === 'memory') return new MemoryEngine(options);
  const { RedisEngine } = await import('../engine/redis/redis-engine.js');
  const durability = { ackReplicas: config.ackReplicas, ackTimeoutMs: config.ackTimeoutMs, log };
  if (mode === 'cluster')
    return new RedisEngine({ ...options, ...durability, clusterNodes: config.redisClusterNodes! });
  if (mode === 'sentinel') {
    return new RedisEngine({
      ...options,
      ...durability,
      sentinels: config.redisSentinels!,
      sentinelName: config.redisSentinelName,
    });
  }
  return new RedisEngine({ ...options, ...durability, url: config.redisUrl! });
}

async function createAuthenticator(config: Config): Promise<Authenticator> {
  if (config.jwtSecret === null && config.jwtPublicKey === null && config.jwksUrl === null)
    return new DevAuthenticator();
  const mod = (await import('../auth/jwt.js')) as { JwtAuthenticator: new (config: Config) => Authenticator };
  return new mod.JwtAuthenticator(config);
}

/**
 * Creates a node (not yet listening).
 *
 * @example
 * const node = await createParley(loadConfig({ PORT: '0' }), logger);
 * const port = await node.start();
 */
export async function createParley(config: Config, log: Logger): Promise<ParleyNode> {
  const metrics = new Metrics();
  const engine = instrumentEngine(await createEngine(config, log), metrics);
  metrics.info.set({ node: config.nodeId, engine: engine.kind, redis_mode: storageMode(config) }, 1);
  const auth = await createAuthenticator(config);
  const sessions = new SessionRegistry();
  const fanout = new Fanout(engine, metrics, log, prepareFrame);
  const presence = new PresenceFeature(engine, config.limits, metrics, log, {
    sweepIntervalMs: Math.max(250, Math.floor(config.nodeTimeoutMs / 3)),
  });
  const chat = new ChatFeature(engine, fanout, presence, config.limits, metrics);
  const moderation = new ModerationFeature(engine, chat, sessions, metrics, log);
  chat.use(moderation.chatHook());
  presence.guardTyping(moderation.typingGuard());
  const webhooks = config.webhook ? new WebhookFeature(engine, config.webhook, metrics, log) : null;
  if (webhooks) {
    chat.use(webhooks.chatHook());
    presence.onUserTransition((user, online) => webhooks.userTransition(user, online));
  }
  const lifecycle = new MessageLifecycle(engine, chat);
  const dispatcher = new Dispatcher(
    {
      ...notYetBuilt,
      ...chat.handlers(),
      ...lifecycle.handlers(),
      ...presence.handlers(),
      ...moderation.handlers(),
      ping: () => ({}),
    },
    log,
    metrics,
  );
  metrics.gaugeFn('parley_rooms_local', 'Rooms with members on this node (one bus subscription each)', () =>
    Number(fanout.roomCount),
  );
  const gate = new CommandGate();
  gate.wrap(dispatcher);
  const ws = new WsGateway({ config, auth, dispatcher, chat, presence, sessions, metrics, log });
  metrics.gaugeFn('parley_pending_upgrades', 'WebSocket upgrades still being authenticated', () => ws.pendingUpgrades);
  let shuttingDown = false;
  const api = createApi({
    apiKey: config.apiKey,
    engine,
    chat,
    lifecycle,
    presence,
    moderation,
    maxBodyBytes: config.limits.maxFrameBytes,
    metrics,
  });
  const http: Server = createHttpServer({
    engine,
    metrics,
    log,
    api,
    webRoot: config.webRoot ?? defaultWebRoot(),
    isShuttingDown: () => shuttingDown,
  });
  const upgraded = new SocketTracker();
  upgraded.watch(http);
  // Edge limits of the request head (huge or many headers, slowloris). maxHeaderSize is read per
  // connection from the server object (same as the createServer option; test/security checks it).
  const L = config.limits;
  (http as Server & { maxHeaderSize?: number }).maxHeaderSize = L.maxHeaderBytes;
  http.maxHeadersCount = L.maxHeaders;
  http.headersTimeout = L.headersTimeoutMs;
  http.requestTimeout = L.requestTimeoutMs;
  // Socket.IO clients at /socket.io/ (its requests and upgrades); everything else as before.
  const sio = config.socketio
    ? new SocketIoGateway(http, { config, auth, dispatcher, chat, presence, sessions, metrics, log })
    : null;
  http.on('upgrade', (req, socket, head) => {
    if (!sio?.handles(req)) ws.handleUpgrade(req, socket, head);
  });

  engine.onControl((msg) => {
    if (msg.kind === 'moderation') {
      moderation.onControl(msg).catch((err: unknown) => log.warn({ err }, 'moderation control message failed'));
      return;
    }
    if (msg.kind === 'webhook-wake') {
      webhooks?.wake(msg.shards);
      return;
    }
    const local = sessions.ofUser(msg.user);
    if (local.size === 0) return;
    if (msg.kind === 'disconnect') {
      for (const s of [...local]) s.close(msg.code, msg.reason);
    } else {
      const frame = prepareFrame(msg.frame);
      for (const s of local) s.sendPrepared(frame);
    }
  });

  let port = 0;
  let stopping: Promise<void> | null = null;
  const node: ParleyNode = {
    config,
    engine,
    metrics,
    get port() {
      return port;
    },
    async start() {
      await engine.start();
      presence.start();
      webhooks?.start();
      await new Promise<void>((resolveListen, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          http.off('error', reject);
          resolveListen();
        });
      });
      port = (http.address() as AddressInfo).port;
      return port;
    },
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + Math.floor(config.shutdownTimeoutMs * 0.9);
        const left = (share = 1): number => Math.max(0, Math.floor((deadline - Date.now()) * share));
        shuttingDown = true;
        gate.close();
        ws.stopAccepting();
        sio?.stopAccepting();
        presence.stop();
        const closing = new Promise<void>((r) => http.close(() => r()));
        http.closeIdleConnections();
        // Commands in flight finish, so their replies precede the close frame.
        if (!(await gate.drained(left(0.4)))) log.warn({ commands: gate.size }, 'shutdown: commands still running');
        const closeSessions = (): void => {
          for (const s of [...sessions.all()]) {
            if (s.closed) continue;
            s.close(CloseCodes.GOING_AWAY, 'server shutting down');
            metrics.shutdownClosed.inc();
          }
        };
        closeSessions();
        // Presence is removed at once for every local connection, then per-socket cleanups finish.
        await within(
          presence.removeAllLocal().catch((err: unknown) => log.warn({ err }, 'presence removal on shutdown failed')),
          left(0.5),
        );
        const dropped = await upgraded.closeAll(left(0.5), closeSessions);
        if (dropped > 0) {
          log.warn({ sockets: dropped }, 'shutdown: dropped clients that did not finish the closing handshake');
        }
        const cleanups = Promise.all([ws.drained(), sio?.drained()]);
        if (!(await within(cleanups, left(0.7)))) log.warn('shutdown: connection cleanup did not finish');
        ws.close();
        sio?.close();
        if (webhooks) await within(webhooks.stop(), left(0.5));
        if (!(await within(engine.close(), left()))) log.warn('shutdown: storage did not close in time');
        http.closeAllConnections();
        await within(closing, left());
      })();
      return stopping;
    },
  };
  return node;
}
