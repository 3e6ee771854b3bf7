/**
 * Builds one Parley node from a Config or options: engine, features,
 * transports. The composition root. A node serves on its own HTTP server
 * (start) or on an app's (attach, attachParley); main.ts adds process
 * concerns (signals, exit codes).
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from '../api/router.js';
import { DevAuthenticator, type Authenticator } from '../auth/authenticator.js';
import { storageMode, type Config } from '../config.js';
import { configFromOptions, type SettingOptions } from '../options.js';
import type { Engine } from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory/memory-engine.js';
import { ChatFeature } from '../features/chat/chat.js';
import { MessageLifecycle } from '../features/chat/lifecycle.js';
import { Fanout } from '../features/fanout.js';
import { ModerationFeature } from '../features/moderation/moderation.js';
import { WebhookFeature } from '../features/webhooks/webhooks.js';
import { PresenceFeature } from '../features/presence/presence.js';
import { RoomsFeature } from '../features/rooms/rooms.js';
import { SessionRegistry } from '../features/sessions.js';
import { createLogger, type Logger } from '../logger.js';
import { instrumentEngine, isBusCounters, Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import { Dispatcher, type Handlers } from '../session/commands.js';
import { ParleyError } from '../protocol/errors.js';
import { createHttpServer, createRequestListener, servesPath, type HttpDeps } from '../transport/http.js';
import { SocketIoGateway } from '../transport/socketio.js';
import { WsGateway, type WsDeps } from '../transport/ws.js';
import { prepareFrame } from '../transport/ws-frame.js';
import { CommandGate, SocketTracker, within } from './shutdown.js';
import { NodeStats } from './stats.js';
import { mergeStateSizes } from '../state-sizes.js';

/** A client transport besides /ws (Socket.IO at /socket.io/), on the HTTP server the node serves on. */
export interface ExtraTransport {
  /** Path prefix of its requests and upgrades (e.g. '/socket.io/'): Parley's /ws handler leaves them alone. */
  readonly path: string;
  /** Refuses new connections (first step of a graceful stop). */
  stopAccepting(): void;
  /** Resolves when the cleanups of its closed connections have finished. */
  drained(): Promise<void>;
  /** Releases its listeners and resources (last step). */
  close(): Promise<void> | void;
}

/** What a client transport needs: the same deps as the WebSocket gateway (sessions, dispatcher, features). */
export type TransportDeps = WsDeps;

/**
 * The client transports besides /ws, attached to `server` (the node's own or
 * the embedding app's). Socket.IO plugs in here; the node stops them with
 * its own: stopAccepting, then drained, then close.
 */
function attachTransports(server: Server, deps: TransportDeps): ExtraTransport[] {
  const transports: ExtraTransport[] = [];
  if (deps.config.socketio) transports.push(new SocketIoGateway(server, deps));
  return transports;
}

/** Route groups an embedded node serves on the app's server, besides /ws (and /socket.io/). */
export interface AttachRoutes {
  /** /api/* (needs the apiKey setting). Default: true when an API key is set. */
  api?: boolean;
  /** /healthz and /readyz. Default false. */
  health?: boolean;
  /** /metrics (Prometheus text). Default false. */
  metrics?: boolean;
}

export interface ParleyNode {
  readonly config: Config;
  readonly engine: Engine;
  readonly metrics: Metrics;
  /** Starts listening on its own HTTP server (`port`, `host`); resolves with the bound port. */
  start(): Promise<number>;
  /**
   * Serves on an HTTP server the app owns instead of start(): adds /ws (and
   * the extra transports' paths) and the chosen routes; other requests and
   * upgrades stay the app's. The server may listen already or later.
   */
  attach(server: Server, routes?: AttachRoutes): Promise<void>;
  /**
   * Graceful stop within `config.shutdownTimeoutMs` (90% of it; main.ts's
   * hard timer has the rest): refuse new sockets and new commands, let
   * in-flight commands finish and reply, close clients with 1001, remove
   * presence, wait for closing handshakes (then drop the rest), close storage.
   * An attached node leaves the app's server open and removes its listeners.
   */
  stop(): Promise<void>;
  /** Same as stop() (the name Node servers use). */
  close(): Promise<void>;
  /** The bound port (0 before start(); an attached node reports the app server's port once it listens). */
  readonly port: number;
}

/** `createParley(options)`: the documented settings as camelCase options, plus a logger. */
export interface ParleyOptions extends SettingOptions {
  /** A pino logger; default: JSON logs on stdout at `logLevel`. */
  logger?: Logger;
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
    presenceRetentionMs: config.presenceRetentionMs,
    maxStoredMessages: config.memoryMaxMessages,
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

function isConfig(value: ParleyOptions | Config): value is Config {
  return typeof (value as Config).limits === 'object' && typeof (value as Config).nodeId === 'string';
}

/**
 * Creates a node (not yet serving): from options (the documented settings,
 * camelCase, validated like the environment: a bad value throws ConfigError)
 * or from a Config made by loadConfig. Then `start()` it on its own port, or
 * `attach()` it to your HTTP server.
 *
 * @example
 * const node = await createParley({ port: 3000, redisUrl: 'redis://127.0.0.1:6379', apiKey: 'secret' });
 * await node.start();
 * // later: await node.stop();
 */
export async function createParley(options?: ParleyOptions): Promise<ParleyNode>;
/**
 * Creates a node from a validated Config (loadConfig) and a logger.
 *
 * @example
 * const config = loadConfig(process.env);
 * const node = await createParley(config, createLogger(config.logLevel, config.nodeId));
 */
export async function createParley(config: Config, log?: Logger): Promise<ParleyNode>;
export async function createParley(arg: ParleyOptions | Config = {}, log?: Logger): Promise<ParleyNode> {
  if (isConfig(arg)) return buildNode(arg, log ?? createLogger(arg.logLevel, arg.nodeId));
  const { logger, ...settings } = arg;
  const config = configFromOptions(settings);
  return buildNode(config, logger ?? createLogger(config.logLevel, config.nodeId));
}

/**
 * Adds Parley to an HTTP server your app owns (plain node:http, Express's
 * `app.listen()` server, Fastify's `fastify.server`), like Socket.IO's
 * `new Server(httpServer)`: WebSocket clients at /ws (Socket.IO clients at
 * /socket.io/ when enabled) and, with an API key, the HTTP API at /api.
 * Parley does not own the port: `close()` stops Parley gracefully and leaves
 * the server to you.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { attachParley } from 'parley';
 * const server = createServer(app); // your request handler (e.g. an Express app)
 * const parley = await attachParley(server, { apiKey: process.env.API_KEY, redisUrl: process.env.REDIS_URL });
 * server.listen(3000);
 * process.on('SIGTERM', async () => { await parley.close(); server.close(); });
 */
export async function attachParley(server: Server, options: ParleyOptions & AttachRoutes = {}): Promise<ParleyNode> {
  const { api, health, metrics, ...rest } = options;
  const node = await createParley(rest);
  const routes: AttachRoutes = {};
  if (api !== undefined) routes.api = api;
  if (health !== undefined) routes.health = health;
  if (metrics !== undefined) routes.metrics = metrics;
  await node.attach(server, routes);
  return node;
}

/** The node behind createParley: features, transports, and the graceful stop. */
async function buildNode(config: Config, log: Logger): Promise<ParleyNode> {
  const metrics = new Metrics();
  const rawEngine = await createEngine(config, log);
  const engine = instrumentEngine(rawEngine, metrics);
  const busStats = 'busStats' in rawEngine && isBusCounters(rawEngine.busStats) ? rawEngine.busStats : null;
  metrics.busCounters(() => busStats);
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
  const rooms = new RoomsFeature(engine, chat);
  rooms.use(moderation.roomsHook());
  const chatHandlers = chat.handlers();
  const dispatcher = new Dispatcher(
    {
      ...notYetBuilt,
      ...chatHandlers,
      ...lifecycle.handlers(),
      ...presence.handlers(),
      ...moderation.handlers(),
      ...rooms.handlers(chatHandlers.leave),
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
  const transportDeps: TransportDeps = { config, auth, dispatcher, chat, presence, sessions, metrics, log };
  const ws = new WsGateway(transportDeps);
  metrics.gaugeFn('parley_pending_upgrades', 'WebSocket upgrades still being authenticated', () => ws.pendingUpgrades);
  // Sizes of every per-room and per-connection structure, for leak checks (parley_state_entries).
  for (const owner of [sessions, fanout, presence, moderation, ws, rawEngine]) metrics.stateSizes(owner);
  if (webhooks) metrics.stateSizes(webhooks);
  metrics.stateSizes({
    stateSizes: () => ({
      'shutdown.commandsInFlight': gate.size,
      'shutdown.upgradedSockets': serving?.upgraded.size ?? 0,
      ...mergeStateSizes(serving?.extras ?? []),
    }),
  });
  let shuttingDown = false;
  const stats = new NodeStats({
    engine,
    metrics,
    log,
    nodeTimeoutMs: config.nodeTimeoutMs,
    localRooms: () => fanout.roomNames(),
    roomCount: () => fanout.roomCount,
  });
  const api = createApi({
    admin: stats,
    apiKey: config.apiKey,
    engine,
    chat,
    lifecycle,
    presence,
    rooms,
    moderation,
    maxBodyBytes: config.limits.maxFrameBytes,
    metrics,
  });
  const httpDeps: HttpDeps = {
    engine,
    metrics,
    log,
    api,
    webRoot: config.webRoot ?? defaultWebRoot(),
    isShuttingDown: () => shuttingDown,
  };

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
      for (const s of local) if (s.connId !== msg.skipConn) s.sendPrepared(frame);
    }
  });

  /** How the node is served: on its own server (start) or on the app's (attach); set once. */
  let serving: {
    server: Server;
    extras: ExtraTransport[];
    upgraded: SocketTracker;
    /** Stops taking HTTP requests; resolves when the server side is done. */
    close(): Promise<void>;
    closeIdle(): void;
    closeAll(): void;
  } | null = null;
  const extraOwns = (path: string): boolean => serving?.extras.some((t) => path.startsWith(t.path)) ?? false;
  const pathOf = (url: string | undefined): string => new URL(url ?? '/', 'http://localhost').pathname;
  const claim = (): void => {
    if (serving !== null) throw new Error('this Parley node is already serving (start() or attach() once)');
  };
  /** False until storage started: a node that failed to start has no presence to remove. */
  let engineStarted = false;
  const startEngine = async (): Promise<void> => {
    await engine.start();
    engineStarted = true;
    presence.start();
    stats.start();
    webhooks?.start();
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // The waits below use unref'd timers: this keeps the process alive until the stop has finished.
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await stopSteps();
      } finally {
        clearInterval(keepAlive);
      }
    })();
    return stopping;
  };
  const stopSteps = async (): Promise<void> => {
    const deadline = Date.now() + Math.floor(config.shutdownTimeoutMs * 0.9);
    const left = (share = 1): number => Math.max(0, Math.floor((deadline - Date.now()) * share));
    const side = serving;
    shuttingDown = true;
    gate.close();
    ws.stopAccepting();
    for (const t of side?.extras ?? []) t.stopAccepting();
    presence.stop();
    const closing = side?.close() ?? Promise.resolve();
    side?.closeIdle();
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
    if (engineStarted) {
      await within(
        presence.removeAllLocal().catch((err: unknown) => log.warn({ err }, 'presence removal on shutdown failed')),
        left(0.5),
      );
    }
    const dropped = side === null ? 0 : await side.upgraded.closeAll(left(0.5), closeSessions);
    if (dropped > 0) {
      log.warn({ sockets: dropped }, 'shutdown: dropped clients that did not finish the closing handshake');
    }
    const drained = Promise.all([ws.drained(), ...(side?.extras ?? []).map((t) => t.drained())]);
    if (!(await within(drained, left(0.7)))) log.warn('shutdown: connection cleanup did not finish');
    ws.close();
    for (const t of side?.extras ?? []) await within(Promise.resolve(t.close()), left(0.5));
    if (webhooks) await within(webhooks.stop(), left(0.5));
    if (engineStarted) await within(stats.stop(), left(0.3));
    if (!(await within(engine.close(), left()))) log.warn('shutdown: storage did not close in time');
    side?.closeAll();
    await within(closing, left());
  };

  const node: ParleyNode = {
    config,
    engine,
    metrics,
    get port() {
      const address = serving?.server.address();
      return address !== null && typeof address === 'object' ? address.port : 0;
    },
    async start() {
      claim();
      const http: Server = createHttpServer(httpDeps);
      const upgraded = new SocketTracker();
      upgraded.watch(http);
      // Edge limits of the request head (huge or many headers, slowloris). maxHeaderSize is read per
      // connection from the server object (same as the createServer option; test/security checks it).
      const L = config.limits;
      (http as Server & { maxHeaderSize?: number }).maxHeaderSize = L.maxHeaderBytes;
      http.maxHeadersCount = L.maxHeaders;
      http.headersTimeout = L.headersTimeoutMs;
      http.requestTimeout = L.requestTimeoutMs;
      http.on('upgrade', (req, socket, head) => {
        if (!extraOwns(pathOf(req.url))) ws.handleUpgrade(req, socket, head);
      });
      serving = {
        server: http,
        extras: attachTransports(http, transportDeps),
        upgraded,
        close: () => new Promise<void>((r) => http.close(() => r())),
        closeIdle: () => http.closeIdleConnections(),
        closeAll: () => http.closeAllConnections(),
      };
      await startEngine();
      await new Promise<void>((resolveListen, reject) => {
        http.once('error', reject);
        // A reconnect storm after a restart: Node's default backlog (511) overflows and clients wait for SYN retries.
        http.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, () => {
          http.off('error', reject);
          resolveListen();
        });
      });
      return (http.address() as AddressInfo).port;
    },
    async attach(server, routes = {}) {
      claim();
      await startEngine();
      const served = {
        api: routes.api ?? config.apiKey !== null,
        health: routes.health ?? false,
        metrics: routes.metrics ?? false,
        web: false,
      };
      const listener = createRequestListener({ ...httpDeps, routes: served });
      // Like Socket.IO's attach: Parley's paths first, every other request to the app's listeners.
      const appListeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
      server.removeAllListeners('request');
      const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
        const path = pathOf(req.url);
        if (!extraOwns(path) && servesPath(served, path)) listener(req, res);
        else for (const l of appListeners) l.call(server, req, res);
      };
      server.on('request', onRequest);
      const upgraded = new SocketTracker();
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (pathOf(req.url) !== '/ws') return; // the app's (or another transport's) upgrade
        upgraded.track(socket);
        ws.handleUpgrade(req, socket, head);
      };
      server.on('upgrade', onUpgrade);
      serving = {
        server,
        extras: attachTransports(server, transportDeps),
        upgraded,
        close: () => Promise.resolve(),
        closeIdle: () => {},
        closeAll: () => {
          // The app's server stays up: only Parley's listeners go.
          server.off('upgrade', onUpgrade);
          server.off('request', onRequest);
          for (const l of appListeners) server.on('request', l);
        },
      };
    },
    stop,
    close: stop,
  };
  return node;
}
