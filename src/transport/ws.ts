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
import { ParleyError, toErrorBody, type ErrorBody } from '../protocol/errors.js';
import type { Dispatcher } from '../session/commands.js';
import { Session, type Conn, type PreparedFrame } from '../session/session.js';
import { Cleanups, ConnectionLife } from './connection-life.js';
import { refuseUpgrade } from './handshake.js';
import { sumValues, type StateSizes } from '../state-sizes.js';
import { textFrame } from './ws-frame.js';

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

const TEXT = { binary: false };

/**
 * The Conn of a ws socket. A class (not an object literal with a getter per
 * connection) so the per-delivery property reads stay monomorphic.
 */
export class WsConn implements Conn {
  // ws keeps its socket private; a prepared frame is written to it directly
  // (one write per member, no per-member framing). Safe because compression is
  // off, so ws's sender never holds frames back that this write could overtake.
  // Null (not found, or compression negotiated): every frame goes through ws.send.
  private readonly socket: Duplex | null;

  constructor(
    private readonly ws: WebSocket,
    socket: Duplex | null = rawSocketOf(ws),
  ) {
    this.socket = socket;
  }

  send(data: Buffer | string): void {
    // A reply is written like a fan-out frame: one Buffer, one write.
    if (typeof data === 'string' && this.socket !== null && this.ws.readyState === 1)
      this.socket.write(textFrame(data));
    else this.ws.send(data, TEXT);
  }

  sendPrepared(frame: PreparedFrame): void {
    if (this.socket !== null && this.ws.readyState === 1) this.socket.write(frame.wire);
    else this.ws.send(frame.payload, TEXT);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  get bufferedAmount(): number {
    // Without compression ws queues nothing itself: the socket's queue is all of it.
    return this.socket !== null ? this.socket.writableLength : this.ws.bufferedAmount;
  }
}

/**
 * The socket under a `ws` WebSocket, for direct writes of prepared frames:
 * `ws` keeps it in the private `_socket`, so it is detected, not assumed.
 * Null when it is missing or not a writable stream, or when an extension
 * (compression) is in use: then ws.send is the (slower, equally correct) path.
 */
export function rawSocketOf(ws: WebSocket): Duplex | null {
  if (ws.extensions !== '') return null;
  const raw: unknown = (ws as unknown as { _socket?: unknown })._socket;
  if (typeof raw !== 'object' || raw === null) return null;
  const d = raw as Partial<Duplex>;
  return typeof d.write === 'function' && typeof d.writableLength === 'number' ? (raw as Duplex) : null;
}

/** The client's address; behind a trusted proxy, the last `X-Forwarded-For` entry (the one the proxy added). */
export function clientIp(req: IncomingMessage, trustProxy = false): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').at(-1)?.trim();
    if (last) return last.slice(0, 64);
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * Authenticates a handshake within `timeoutMs`. Rejects with a ParleyError:
 * UNAUTHORIZED for a refused credential (any non-Parley error too), UNAVAILABLE
 * on timeout; both counted as limit breaches.
 *
 * @example
 * const identity = await authenticateWithin(auth, req, url, 10_000, metrics);
 */
export async function authenticateWithin(
  auth: Authenticator,
  req: IncomingMessage,
  url: URL,
  timeoutMs: number,
  metrics: Metrics,
): Promise<Identity> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        metrics.limitBreaches.inc({ limit: 'handshake_timeout' });
        reject(new ParleyError('UNAVAILABLE', 'authentication timed out; retry later'));
      }, timeoutMs);
    });
    return await Promise.race([auth.authenticate(req, url), timeout]);
  } catch (err) {
    const body: ErrorBody =
      err instanceof ParleyError ? err.toBody() : { code: 'UNAUTHORIZED', message: 'unauthorized' };
    if (body.code === 'UNAUTHORIZED') metrics.limitBreaches.inc({ limit: 'auth' });
    throw new ParleyError(body.code, body.message);
  } finally {
    clearTimeout(timer);
  }
}

/** Frames of one connection waiting for their turn before its socket stops being read. */
const MAX_QUEUED_FRAMES = 64;

export class WsGateway {
  private readonly wss: WebSocketServer;
  private readonly perIp = new Map<string, number>();
  /** Upgrades being authenticated, per client IP (they count toward the per-IP limit). */
  private readonly pendingPerIp = new Map<string, number>();
  private pending = 0;
  private seq = 0;
  private accepting = true;
  private readonly cleanups = new Cleanups();

  /** Upgrades still being authenticated (exported as `parley_pending_upgrades`). */
  get pendingUpgrades(): number {
    return this.pending;
  }

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
    const ip = clientIp(req, config.trustProxy);
    if ((this.perIp.get(ip) ?? 0) + (this.pendingPerIp.get(ip) ?? 0) >= config.limits.maxConnectionsPerIp) {
      metrics.limitBreaches.inc({ limit: 'connections_per_ip' });
      refuseUpgrade(socket, { code: 'LIMIT', message: 'too many connections from this address' });
      return;
    }
    if (this.pending >= config.limits.maxPendingUpgrades) {
      metrics.limitBreaches.inc({ limit: 'pending_upgrades' });
      refuseUpgrade(socket, { code: 'UNAVAILABLE', message: 'too many handshakes in progress; retry later' });
      return;
    }
    let identity: Identity;
    this.pending++;
    this.pendingPerIp.set(ip, (this.pendingPerIp.get(ip) ?? 0) + 1);
    try {
      identity = await authenticateWithin(auth, req, url, config.limits.handshakeTimeoutMs, metrics);
    } catch (err) {
      refuseUpgrade(socket, toErrorBody(err));
      return;
    } finally {
      this.pending--;
      const n = (this.pendingPerIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.pendingPerIp.delete(ip);
      else this.pendingPerIp.set(ip, n);
    }
    if (this.deps.sessions.countOf(identity.user) >= config.limits.maxConnectionsPerUser) {
      metrics.limitBreaches.inc({ limit: 'connections_per_user' });
      refuseUpgrade(socket, { code: 'LIMIT', message: 'too many connections for this user' });
      return;
    }
    if (!this.accepting) {
      refuseUpgrade(socket, { code: 'UNAVAILABLE', message: 'server is shutting down' });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, identity, ip));
  }

  private open(ws: WebSocket, identity: Identity, ip: string): void {
    const { config, dispatcher, metrics, log } = this.deps;
    const connId = `${config.nodeId}:${++this.seq}`;
    const session = new Session(connId, identity, new WsConn(ws), config.limits, {
      onSlowConsumer: (s) => {
        metrics.slowConsumers.inc();
        metrics.limitBreaches.inc({ limit: 'slow_consumer' });
        log.warn({ user: s.user, conn: s.connId }, 'closing slow consumer');
      },
    });
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const life = new ConnectionLife(session, this.deps, this.cleanups);

    let queued = 0;
    ws.on('message', (data, isBinary) => {
      // Frames that arrive after the server closed (kick, expiry, 4008, 1003) are not acted on.
      if (session.closed) return;
      if (isBinary) {
        metrics.limitBreaches.inc({ limit: 'binary_frame' });
        session.close(CloseCodes.UNSUPPORTED_DATA, 'binary frames are not supported');
        return;
      }
      const text = Buffer.isBuffer(data)
        ? data.toString()
        : Array.isArray(data)
          ? Buffer.concat(data).toString()
          : Buffer.from(data).toString();
      // A client that pipelines faster than its commands complete is not read further until they catch up.
      if (++queued >= MAX_QUEUED_FRAMES && !ws.isPaused) ws.pause();
      // Commands of one connection run in order.
      life.run(
        () => dispatcher.handle(session, text),
        () => {
          if (--queued < MAX_QUEUED_FRAMES / 2 && ws.isPaused) ws.resume();
        },
      );
    });
    ws.on('error', (err) => {
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
        metrics.limitBreaches.inc({ limit: 'frame_size' });
      log.debug({ err, user: session.user }, 'socket error');
    });
    ws.on('close', () => {
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
      life.ended();
    });
  }

  /** Stops accepting new sockets. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Waits for the cleanup of closed connections (presence) to finish. */
  drained(): Promise<void> {
    return this.cleanups.drained();
  }

  close(): void {
    this.wss.close();
  }

  /** Per-IP connection accounting and pending cleanups (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'ws.ips': this.perIp.size,
      'ws.ipConnections': sumValues(this.perIp),
      'ws.pendingIps': this.pendingPerIp.size,
      'ws.cleanups': this.cleanups.size,
    };
  }
}
