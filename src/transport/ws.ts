/**
 * The WebSocket edge: upgrade with origin, limits and authentication checked
 * before a socket exists; then one Session per socket, the frame loop and
 * cleanup on close.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import type { Identity } from '../auth/identity.js';
import type { Config } from '../config.js';
import type { ChatFeature } from '../features/chat/chat.js';
import type { PresenceFeature } from '../features/presence/presence.js';
import type { SessionRegistry } from '../features/sessions.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import { ParleyError, toErrorBody } from '../protocol/errors.js';
import type { Dispatcher } from '../session/commands.js';
import { Session, type Conn } from '../session/session.js';
import { refuseUpgrade } from './handshake.js';

export interface WsDeps {
  config: Config;
  auth: Authenticator;
  dispatcher: Dispatcher;
  chat: ChatFeature;
  presence: PresenceFeature;
  sessions: SessionRegistry;
  metrics: Metrics;
  log: Logger;
}

function wsConn(ws: WebSocket): Conn {
  return {
    send: (data) => ws.send(data, { binary: false }),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}

function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export class WsGateway {
  private readonly wss: WebSocketServer;
  private readonly perIp = new Map<string, number>();
  private seq = 0;
  private accepting = true;
  private pendingCleanups = new Set<Promise<void>>();

  constructor(private readonly deps: WsDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  /** Handles an HTTP upgrade request (wired to the http server's 'upgrade' event). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.upgrade(req, socket, head).catch((err: unknown) => {
      this.deps.log.error({ err }, 'upgrade failed');
      refuseUpgrade(socket, toErrorBody(err));
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { config, auth, metrics } = this.deps;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') {
      refuseUpgrade(socket, { code: 'NOT_FOUND', message: 'WebSocket endpoint is /ws' });
      return;
    }
    if (!this.accepting) {
      refuseUpgrade(socket, { code: 'UNAVAILABLE', message: 'server is shutting down' });
      return;
    }
    const origin = req.headers.origin;
    if (config.allowedOrigins && (origin === undefined || !config.allowedOrigins.includes(origin))) {
      metrics.limitBreaches.inc({ limit: 'origin' });
      refuseUpgrade(socket, { code: 'FORBIDDEN', message: 'origin not allowed' });
      return;
    }
    const ip = clientIp(req);
    if ((this.perIp.get(ip) ?? 0) >= config.limits.maxConnectionsPerIp) {
      metrics.limitBreaches.inc({ limit: 'connections_per_ip' });
      refuseUpgrade(socket, { code: 'LIMIT', message: 'too many connections from this address' });
      return;
    }
    let identity: Identity;
    try {
      identity = await auth.authenticate(req, url);
    } catch (err) {
      if (err instanceof ParleyError) metrics.limitBreaches.inc({ limit: 'auth' });
      refuseUpgrade(socket, err instanceof ParleyError ? err.toBody() : { code: 'UNAUTHORIZED', message: 'unauthorized' }, 401);
      return;
    }
    if (this.deps.sessions.countOf(identity.user) >= config.limits.maxConnectionsPerUser) {
      metrics.limitBreaches.inc({ limit: 'connections_per_user' });
      refuseUpgrade(socket, { code: 'LIMIT', message: 'too many connections for this user' });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, identity, ip));
  }

  private open(ws: WebSocket, identity: Identity, ip: string): void {
    const { config, dispatcher, chat, presence, sessions, metrics, log } = this.deps;
    const connId = `${config.nodeId}:${++this.seq}`;
    const session = new Session(connId, identity, wsConn(ws), config.limits, {
      onSlowConsumer: (s) => {
        metrics.slowConsumers.inc();
        log.warn({ user: s.user, conn: s.connId }, 'closing slow consumer');
      },
    });
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    sessions.add(session);
    metrics.connections.inc();
    metrics.connectionsTotal.inc();

    // Commands wait until presence knows the connection, so its joins are counted.
    let ready: Promise<void> = presence.connect(session).catch((err: unknown) => {
      log.warn({ err, user: session.user }, 'presence connect failed');
    });
    let expiry: NodeJS.Timeout | null = null;
    if (identity.expiresAt !== undefined) {
      expiry = setTimeout(() => session.close(CloseCodes.TOKEN_EXPIRED, 'token expired'), Math.max(0, identity.expiresAt - Date.now()));
      expiry.unref();
    }

    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        session.close(CloseCodes.UNSUPPORTED_DATA, 'binary frames are not supported');
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
      // Commands of one connection run in order.
      ready = ready.then(() => dispatcher.handle(session, text));
    });
    ws.on('error', (err) => log.debug({ err, user: session.user }, 'socket error'));
    ws.on('close', () => {
      session.closed = true;
      if (expiry) clearTimeout(expiry);
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
      sessions.remove(session);
      metrics.connections.dec();
      const cleanup = ready
        .then(() => {
          chat.dropSession(session);
          return presence.disconnect(session);
        })
        .catch((err: unknown) => log.warn({ err, user: session.user }, 'presence cleanup failed'))
        .finally(() => this.pendingCleanups.delete(cleanup));
      this.pendingCleanups.add(cleanup);
    });
  }

  /** Stops accepting new sockets. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Waits for the cleanup of closed connections (presence) to finish. */
  async drained(): Promise<void> {
    while (this.pendingCleanups.size > 0) await Promise.allSettled([...this.pendingCleanups]);
  }

  close(): void {
    this.wss.close();
  }
}
