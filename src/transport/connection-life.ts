/**
 * The life of one client connection's session, the same on every transport
 * (/ws and /socket.io/): registered and counted on open, presence told,
 * commands run one after another once presence knows the connection, and on
 * close the session dropped from its rooms and presence, with the cleanups
 * of closed connections awaited by a graceful shutdown.
 */
import type { ChatFeature } from '../features/chat/chat.js';
import type { PresenceFeature } from '../features/presence/presence.js';
import type { SessionRegistry } from '../features/sessions.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import type { Session } from '../session/session.js';

/** setTimeout fires at once for delays over ~24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Closes the session with 4001 when its credential expires; returns the disarm function.
 *
 * @example
 * const stopExpiry = armExpiry(session);
 */
export function armExpiry(session: Session): () => void {
  const expiresAt = session.identity.expiresAt;
  let expiry: NodeJS.Timeout | null = null;
  if (expiresAt !== undefined) {
    // Re-armed in steps: setTimeout fires at once for delays over ~24.8 days.
    const arm = (): void => {
      const left = expiresAt - Date.now();
      if (left <= 0) {
        session.close(CloseCodes.TOKEN_EXPIRED, 'token expired');
        return;
      }
      expiry = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      expiry.unref();
    };
    arm();
  }
  return () => {
    if (expiry) clearTimeout(expiry);
  };
}

export interface ConnectionDeps {
  chat: ChatFeature;
  presence: PresenceFeature;
  sessions: SessionRegistry;
  metrics: Metrics;
  log: Logger;
}

/** The cleanups of a transport's closed connections, for a graceful shutdown to await. */
export class Cleanups {
  private readonly pending = new Set<Promise<void>>();

  add(p: Promise<void>): void {
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Resolves once every cleanup so far (and those they led to) has finished. */
  async drained(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Cleanups still running. */
  get size(): number {
    return this.pending.size;
  }
}

/** One connection's session from open to cleanup (see the module comment). */
export class ConnectionLife {
  /** The chain commands run on, in the order they arrived. */
  private ready: Promise<void>;
  private readonly stopExpiry: () => void;
  /** Set when the client ended the connection; the commands it sent before still run. */
  private clientClosed = false;

  constructor(
    private readonly session: Session,
    private readonly deps: ConnectionDeps,
    private readonly cleanups: Cleanups,
  ) {
    deps.sessions.add(session);
    deps.metrics.connections.inc();
    deps.metrics.connectionsTotal.inc();
    // Commands wait until presence knows the connection, so its joins are counted.
    this.ready = deps.presence.connect(session).catch((err: unknown) => {
      deps.log.warn({ err, user: session.user }, 'presence connect failed');
    });
    this.stopExpiry = armExpiry(session);
  }

  /** Runs a command after the ones before it (skipped once the server closed the session); `done` always runs. */
  run(command: () => Promise<void>, done: () => void): void {
    this.ready = this.ready.then(async () => {
      try {
        if (!this.session.closed || this.clientClosed) await command();
      } finally {
        done();
      }
    });
  }

  /** The transport's connection is gone: unregister, then leave rooms and presence after the queued commands. */
  ended(): void {
    const { session, deps } = this;
    if (!session.closed) this.clientClosed = true;
    session.closed = true;
    this.stopExpiry();
    deps.sessions.remove(session);
    deps.metrics.connections.dec();
    this.cleanups.add(
      this.ready
        .then(() => {
          deps.chat.dropSession(session);
          return deps.presence.disconnect(session);
        })
        .catch((err: unknown) => deps.log.warn({ err, user: session.user }, 'presence cleanup failed')),
    );
  }
}
