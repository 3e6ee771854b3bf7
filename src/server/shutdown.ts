/**
 * Pieces of the graceful stop (used by parley.ts):
 *
 * - CommandGate: counts commands in flight; once closed, a new command is
 *   not run and not answered, so the in-flight set drains and every reply is
 *   written before the 1001 close frame. The close that follows at once is
 *   the answer: a client resends what was unanswered after reconnecting (the
 *   SDK does so with the same `clientMsgId`, so nothing is stored twice).
 *   An `UNAVAILABLE` reply would say the same, but clients surface it as an
 *   error instead of retrying transparently.
 * - SocketTracker: the sockets taken over by WebSocket upgrades (the HTTP
 *   server forgets them), so a stop can wait for closing handshakes and then
 *   drop the clients that do not answer.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Inbound } from '../session/commands.js';
import type { Session } from '../session/session.js';

/** What CommandGate wraps: the dispatcher's `handle` (WebSocket frames and Socket.IO events alike). */
export interface CommandHandler {
  handle(session: Session, input: Inbound): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class CommandGate {
  private open = true;
  private readonly inFlight = new Set<Promise<void>>();
  private dropped = 0;

  /**
   * Routes `target.handle` through the gate (patched in place, so holders of
   * `target` use the gate too).
   *
   * @example
   * const gate = new CommandGate();
   * gate.wrap(dispatcher);
   * // later, on SIGTERM:
   * gate.close();
   * await gate.drained(5000);
   */
  wrap(target: CommandHandler): void {
    const inner = target.handle.bind(target);
    target.handle = (session, input) => {
      if (!this.open) {
        this.dropped++;
        return Promise.resolve();
      }
      const p: Promise<void> = inner(session, input).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
      return p;
    };
  }

  /**
   * Commands not run because they arrived after close().
   *
   * @example
   * log.info({ refused: gate.refused }, 'stopped');
   */
  get refused(): number {
    return this.dropped;
  }

  /**
   * Commands running now.
   *
   * @example
   * if (gate.size > 0) log.warn({ commands: gate.size }, 'still running');
   */
  get size(): number {
    return this.inFlight.size;
  }

  /**
   * Refuses new commands from now on (they are neither run nor answered).
   *
   * @example
   * gate.close();
   */
  close(): void {
    this.open = false;
  }

  /**
   * Waits until no command is in flight, at most `ms`; true when drained.
   *
   * @example
   * if (!(await gate.drained(2000))) log.warn('commands still running');
   */
  async drained(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (this.inFlight.size > 0) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await Promise.race([Promise.allSettled([...this.inFlight]), sleep(left)]);
    }
    return true;
  }
}

export class SocketTracker {
  private readonly sockets = new Set<Duplex>();

  /**
   * Tracks every socket upgraded by `server` (call before other 'upgrade' listeners run).
   *
   * @example
   * const tracker = new SocketTracker();
   * tracker.watch(httpServer);
   */
  watch(server: Server): void {
    server.on('upgrade', (_req, socket: Duplex) => this.track(socket));
  }

  /**
   * Tracks one upgraded socket (for a server shared with an app: only Parley's own upgrades).
   *
   * @example
   * server.on('upgrade', (req, socket, head) => { if (isOurs(req)) { tracker.track(socket); handle(req, socket, head); } });
   */
  track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Upgraded sockets still open.
   *
   * @example
   * log.info({ sockets: tracker.size }, 'waiting for closing handshakes');
   */
  get size(): number {
    return this.sockets.size;
  }

  /**
   * Waits up to `ms` for every upgraded socket to close, calling `poll`
   * every 25 ms meanwhile (e.g. to close sessions that opened late); then
   * destroys the rest. Resolves with how many were destroyed.
   *
   * @example
   * const dropped = await tracker.closeAll(3000, () => closeSessions());
   */
  async closeAll(ms: number, poll: () => void = () => {}): Promise<number> {
    const end = Date.now() + ms;
    while (this.sockets.size > 0 && Date.now() < end) {
      poll();
      await sleep(Math.min(25, Math.max(1, end - Date.now())));
    }
    const rest = [...this.sockets];
    for (const s of rest) s.destroy();
    return rest.length;
  }
}

/**
 * Resolves when `p` settles or after `ms`, whichever is first; true when `p` settled.
 *
 * @example
 * const closed = await within(engine.close(), 1000);
 */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  await Promise.race([
    p.then(
      () => (settled = true),
      () => (settled = true),
    ),
    sleep(Math.max(0, ms)),
  ]);
  return settled;
}
