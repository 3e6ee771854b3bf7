/**
 * The Socket.IO edge: `/socket.io/` on the node's HTTP server, served by the
 * official `socket.io` server (engine.io does the handshake, polling and the
 * websocket upgrade). Each Socket.IO socket of the default namespace is a
 * Parley Session exactly like a /ws connection: same authentication (from
 * the handshake's `auth` object), limits, presence, commands (events with an
 * acknowledgement, through the same Dispatcher) and shutdown. No Socket.IO
 * adapter or rooms: Parley's fan-out writes each event's packet, encoded once
 * per fan-out (socketio-packet.ts), to every member's engine.io socket.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server as SocketIoServer, type Socket } from 'socket.io';
import type { Identity } from '../auth/identity.js';
import { CloseCodes } from '../protocol/codes.js';
import { ParleyError, toErrorBody, type ErrorBody } from '../protocol/errors.js';
import type { AckReply } from '../session/commands.js';
import { Session, type Conn, type PreparedFrame } from '../session/session.js';
import { encodeSioPacket, sioEventText, type SioWriteOptions } from './socketio-packet.js';
import { Cleanups, ConnectionLife } from './connection-life.js';
import { authenticateWithin, clientIp, type WsDeps } from './ws.js';
import { sumValues, type StateSizes } from '../state-sizes.js';

/** Where Socket.IO clients connect (the socket.io-client default). */
export const SOCKETIO_PATH = '/socket.io/';

/** Events of one connection waiting for their turn; beyond, a command is answered RATE_LIMITED unrun. */
const MAX_QUEUED_EVENTS = 256;

type EngineSocket = Socket['conn'];

/**
 * The Conn of a Socket.IO socket. Writes go straight to its engine.io socket
 * as pre-encoded packets; the queue (for the slow-consumer guard) is what
 * engine.io holds back (packets written since its last flush to the
 * transport) plus what the websocket transport's socket has not sent.
 */
class SioConn implements Conn {
  private readonly eio: EngineSocket;
  /** Characters written since engine.io last handed its buffer to the transport. */
  private held = 0;

  constructor(private readonly socket: Socket) {
    this.eio = socket.conn;
    this.eio.on('flush', () => {
      this.held = 0;
    });
  }

  send(data: Buffer | string): void {
    this.write(sioEventText(typeof data === 'string' ? data : data.toString()), undefined);
  }

  sendPrepared(frame: PreparedFrame): void {
    const packet = frame.encoded(encodeSioPacket);
    this.write(packet.text, packet.options);
  }

  private write(text: string, options: SioWriteOptions | undefined): void {
    if (this.eio.readyState !== 'open') return;
    this.held += text.length;
    this.eio.write(text, options);
  }

  /**
   * Tells the client why (a `closing` event with the WebSocket close code),
   * then ends the connection. Shutdown (1001) and slow consumer (4008) close
   * the transport, so socket.io-client reconnects by itself (elsewhere); the
   * other reasons (kicked, token expired, policy) disconnect the socket, which
   * socket.io-client does not retry on its own.
   */
  close(code: number, reason: string): void {
    this.write(sioEventText(JSON.stringify({ type: 'closing', code, reason })), undefined);
    if (code === CloseCodes.GOING_AWAY || code === CloseCodes.SLOW_CONSUMER) this.eio.close();
    else this.socket.disconnect(true);
  }

  terminate(): void {
    const raw = this.transportSocket();
    if (raw?.terminate) raw.terminate();
    else this.eio.close(true);
  }

  get bufferedAmount(): number {
    return this.held + (this.transportSocket()?.bufferedAmount ?? 0);
  }

  /** The `ws` socket under the websocket transport (none for polling). */
  private transportSocket(): { bufferedAmount?: number; terminate?: () => void } | undefined {
    // engine.io keeps it untyped on its WebSocket transport.
    return (this.eio.transport as unknown as { socket?: { bufferedAmount?: number; terminate?: () => void } }).socket;
  }
}

/** A refusal for socket.io-client's `connect_error`: the reason as message, `{code, message}` as data. */
function refusal(err: unknown): Error & { data: ErrorBody } {
  const body = toErrorBody(err);
  return Object.assign(new Error(body.message), { data: body });
}

/** The handshake's credentials as the query the authenticators read (`auth` first, else the query). */
function credentialsUrl(socket: Socket): URL {
  const url = new URL(SOCKETIO_PATH, 'http://localhost');
  const { auth, query } = socket.handshake;
  for (const key of ['token', 'user', 'name']) {
    const value = auth[key] ?? query[key];
    if (typeof value === 'string') url.searchParams.set(key, value);
  }
  return url;
}

type Listener = (...args: unknown[]) => void;

export class SocketIoGateway {
  /** Requests and upgrades under this prefix are this gateway's (the node's other handlers leave them). */
  readonly path = SOCKETIO_PATH;
  private readonly io: SocketIoServer;
  /** Restores the server's request and upgrade listeners as they were before the attach. */
  private readonly detach: () => void;
  /** Engine.io connections per client IP (counted from the handshake, before any namespace). */
  private readonly perIp = new Map<string, number>();
  private readonly identities = new WeakMap<Socket, Identity>();
  private pending = 0;
  private seq = 0;
  private accepting = true;
  private readonly cleanups = new Cleanups();

  /**
   * Attaches `/socket.io/` to `http` (its requests and upgrades; other paths
   * are left to the node's own handlers).
   *
   * @example
   * const sio = new SocketIoGateway(httpServer, { config, auth, dispatcher, chat, presence, sessions, metrics, log });
   */
  constructor(
    http: HttpServer,
    private readonly deps: WsDeps,
  ) {
    const { config } = deps;
    // engine.io has no detach: note the listeners it replaces and adds, to undo them in close().
    const emitter: EventEmitter = http;
    const listeners = (event: 'request' | 'upgrade'): Listener[] => emitter.listeners(event) as Listener[];
    const before = { request: listeners('request'), upgrade: listeners('upgrade') };
    this.io = new SocketIoServer(http, {
      path: SOCKETIO_PATH,
      serveClient: false,
      transports: ['polling', 'websocket'],
      maxHttpBufferSize: config.limits.maxFrameBytes,
      perMessageDeflate: false,
      httpCompression: false,
      connectTimeout: config.limits.handshakeTimeoutMs,
      // Upgrades of other paths (/ws) belong to the WebSocket gateway.
      destroyUpgrade: false,
      cors: { origin: config.allowedOrigins ?? '*', methods: ['GET', 'POST'] },
      allowRequest: (req, fn) => {
        const why = this.refuseHandshake(req);
        fn(why, why === null);
      },
    });
    this.io.engine.on('connection', (conn: EngineSocket) => {
      const ip = clientIp(conn.request, config.trustProxy);
      this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
      conn.once('close', () => {
        const n = (this.perIp.get(ip) ?? 1) - 1;
        if (n <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, n);
      });
    });
    this.io.use((socket, next) => {
      this.admit(socket).then(
        (identity) => {
          this.identities.set(socket, identity);
          next();
        },
        (err: unknown) => next(refusal(err)),
      );
    });
    this.io.on('connection', (socket) => this.open(socket));
    this.detach = () => {
      for (const event of ['request', 'upgrade'] as const) {
        const prior = before[event];
        for (const l of listeners(event)) if (!prior.includes(l)) emitter.off(event, l);
        for (const l of prior) if (!listeners(event).includes(l)) emitter.on(event, l);
      }
    };
  }

  /** Engine.io-level refusal of a new handshake (a message), or null to accept. */
  private refuseHandshake(req: IncomingMessage): string | null {
    const { config, metrics } = this.deps;
    if (!this.accepting) return 'server is shutting down';
    if ((this.perIp.get(clientIp(req, config.trustProxy)) ?? 0) >= config.limits.maxConnectionsPerIp) {
      metrics.limitBreaches.inc({ limit: 'connections_per_ip' });
      return 'too many connections from this address';
    }
    return null;
  }

  /** The checks of a /ws upgrade, for a Socket.IO connect: origin, handshake load, credentials, per-user cap. */
  private async admit(socket: Socket): Promise<Identity> {
    const { config, auth, metrics, sessions } = this.deps;
    if (!this.accepting) throw new ParleyError('UNAVAILABLE', 'server is shutting down');
    const origin = socket.handshake.headers.origin;
    if (config.allowedOrigins && (origin === undefined || !config.allowedOrigins.includes(origin))) {
      metrics.limitBreaches.inc({ limit: 'origin' });
      throw new ParleyError('FORBIDDEN', 'origin not allowed');
    }
    if (this.pending >= config.limits.maxPendingUpgrades) {
      metrics.limitBreaches.inc({ limit: 'pending_upgrades' });
      throw new ParleyError('UNAVAILABLE', 'too many handshakes in progress; retry later');
    }
    let identity: Identity;
    this.pending++;
    try {
      identity = await authenticateWithin(
        auth,
        socket.request,
        credentialsUrl(socket),
        config.limits.handshakeTimeoutMs,
        metrics,
      );
    } finally {
      this.pending--;
    }
    if (sessions.countOf(identity.user) >= config.limits.maxConnectionsPerUser) {
      metrics.limitBreaches.inc({ limit: 'connections_per_user' });
      throw new ParleyError('LIMIT', 'too many connections for this user');
    }
    if (!this.accepting) throw new ParleyError('UNAVAILABLE', 'server is shutting down');
    return identity;
  }

  private open(socket: Socket): void {
    const { config, dispatcher, metrics, log } = this.deps;
    const identity = this.identities.get(socket);
    if (identity === undefined || !this.accepting) {
      socket.disconnect(true);
      return;
    }
    const connId = `${config.nodeId}:sio${++this.seq}`;
    const session = new Session(connId, identity, new SioConn(socket), config.limits, {
      onSlowConsumer: (s) => {
        metrics.slowConsumers.inc();
        metrics.limitBreaches.inc({ limit: 'slow_consumer' });
        log.warn({ user: s.user, conn: s.connId }, 'closing slow consumer (socket.io)');
      },
    });
    const life = new ConnectionLife(session, this.deps, this.cleanups);
    let queued = 0;

    // A client may emit an event named "error": without a listener EventEmitter would throw it.
    socket.on('error', (err: unknown) => log.debug({ err, user: session.user }, 'socket.io socket error'));
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (session.closed) return;
      const last = args.at(-1);
      const ack = typeof last === 'function' ? (last as (reply: AckReply) => void) : undefined;
      const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
      if (queued >= MAX_QUEUED_EVENTS) {
        metrics.limitBreaches.inc({ limit: 'command_rate' });
        ack?.({ ok: false, error: { code: 'RATE_LIMITED', message: 'too many commands in flight; slow down' } });
        return;
      }
      queued++;
      // Commands of one connection run in order.
      life.run(
        () => dispatcher.handle(session, { event, payload, ack }),
        () => {
          queued--;
        },
      );
    });
    socket.once('disconnect', () => life.ended());
  }

  /** Stops accepting new handshakes and connects. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Waits for the cleanup of closed connections (presence) to finish. */
  drained(): Promise<void> {
    return this.cleanups.drained();
  }

  /**
   * Closes every engine.io connection left (polling ones included) and gives
   * the HTTP server's request and upgrade handling back as it was (an app's
   * server that embeds Parley stays up).
   */
  close(): void {
    this.io.engine.close();
    this.detach();
  }

  /** Per-IP connection accounting and pending cleanups (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'socketio.ips': this.perIp.size,
      'socketio.ipConnections': sumValues(this.perIp),
      'socketio.cleanups': this.cleanups.size,
    };
  }
}
