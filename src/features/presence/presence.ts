/**
 * Presence: statuses across devices and nodes, room members, join/leave/update
 * events, typing, and the dead-node sweep. Facts live in the engine's
 * presence store; this feature turns transitions into events.
 */
import { canAccessRoom } from '../../auth/identity.js';
import type { Limits } from '../../config.js';
import type { Engine } from '../../engine/engine.js';
import type { ArrivalTransition, DepartureTransition, UserState } from '../../engine/presence-store.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { ParleyError } from '../../protocol/errors.js';
import type {
  OwnPresenceEntry,
  PresenceEntry,
  PresenceEvent,
  PresenceResult,
  StatusResult,
} from '../../protocol/frames.js';
import type { Handlers } from '../../session/commands.js';
import type { Session } from '../../session/session.js';
import type { StateSizes } from '../../state-sizes.js';

/** What everyone else sees: invisible and disconnected users are offline. */
export function publicEntry(s: UserState): PresenceEntry {
  const visible = s.online && s.status !== 'invisible';
  const e: PresenceEntry = { user: s.user, status: s.online && s.status !== 'invisible' ? s.status : 'offline' };
  if (s.name !== undefined) e.name = s.name;
  if (visible && s.text !== undefined) e.text = s.text;
  if (!s.online && s.lastSeen !== undefined) e.lastSeen = s.lastSeen;
  return e;
}

/** What the user sees of themself: their true chosen status, `invisible` included. */
export function ownEntry(s: UserState): OwnPresenceEntry {
  const e: OwnPresenceEntry = {
    user: s.user,
    status: s.online ? s.status : 'offline',
  };
  if (s.name !== undefined) e.name = s.name;
  if (s.text !== undefined) e.text = s.text;
  if (!s.online && s.lastSeen !== undefined) e.lastSeen = s.lastSeen;
  return e;
}

function isVisible(s: UserState): boolean {
  return s.online && s.status !== 'invisible';
}

export interface PresenceOptions {
  /** How often this node looks for dead nodes, ms. */
  sweepIntervalMs: number;
}

/** Refuses a typing event by throwing a ParleyError (e.g. FORBIDDEN while muted). */
export type TypingGuard = (session: Session, room: string) => Promise<void> | void;
/** Told when a user's first connection anywhere opens (`online`) or their last one ends. */
export type UserTransitionListener = (user: string, online: boolean) => Promise<void> | void;

export class PresenceFeature {
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly typingGuards: TypingGuard[] = [];
  private readonly transitionListeners: UserTransitionListener[] = [];
  /** `connId\0room` of leaves stored whose `leave` event has not gone out yet (retried by the next leave). */
  private readonly unsentLeaves = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: PresenceOptions,
  ) {}

  /** Adds a check run before every typing event (moderation: mutes). */
  guardTyping(guard: TypingGuard): void {
    this.typingGuards.push(guard);
  }

  /** Adds a listener of users going online / offline cluster-wide (webhooks); awaited, errors logged. */
  onUserTransition(listener: UserTransitionListener): void {
    this.transitionListeners.push(listener);
  }

  private async transition(user: string, online: boolean): Promise<void> {
    for (const l of this.transitionListeners) {
      try {
        await l(user, online);
      } catch (err) {
        this.log.warn({ err, user }, 'presence transition listener failed');
      }
    }
  }

  /** Registers a new connection. */
  async connect(session: Session): Promise<void> {
    const { wentOnline } = await this.engine.presence.connect(
      session.name === undefined
        ? { connId: session.connId, user: session.user }
        : { connId: session.connId, user: session.user, name: session.name },
    );
    if (wentOnline && this.transitionListeners.length > 0) await this.transition(session.user, true);
  }

  /** Forgets a closed connection and tells rooms the user left (when it was their last connection there). */
  async disconnect(session: Session): Promise<void> {
    if (this.unsentLeaves.size > 0) {
      for (const k of this.unsentLeaves) if (k.startsWith(`${session.connId}\u0000`)) this.unsentLeaves.delete(k);
    }
    const t = await this.engine.presence.disconnect(session.connId);
    if (t) await this.announceDeparture(t);
  }

  /** Adds the session to the room's members; returns the members as the joiner sees them. */
  async joinRoom(
    session: Session,
    room: string,
  ): Promise<{ members: Array<PresenceEntry | OwnPresenceEntry>; count: number }> {
    const { first } = await this.engine.presence.joinRoom(session.connId, session.user, room);
    if (first) {
      const [state] = await this.engine.presence.users([session.user]);
      if (state && isVisible(state)) await this.publishRoom(room, 'join', publicEntry(state));
    }
    return this.roomMembers(session, room);
  }

  async leaveRoom(session: Session, room: string): Promise<void> {
    // Marked until the event is out: a failed attempt may have been applied by the store (a timeout) or lost
    // with it (Redis restarted empty); the retry then hears "not last" and must still send the event.
    const key = `${session.connId}\u0000${room}`;
    const retried = this.unsentLeaves.has(key);
    this.unsentLeaves.add(key);
    const { last } = await this.engine.presence.leaveRoom(session.connId, session.user, room);
    if (last || retried) {
      const [state] = await this.engine.presence.users([session.user]);
      // A retry sends it even when the store forgot the user (Redis restarted empty): this session is alive.
      const visible = state && (isVisible(state) || (retried && state.status !== 'invisible'));
      if (visible) await this.publishRoom(room, 'leave', publicEntry(state));
    }
    this.unsentLeaves.delete(key);
  }

  /** Members of a room, capped, with the exact count; the caller sees their own true status. */
  async roomMembers(
    session: Session | null,
    room: string,
  ): Promise<{ members: Array<PresenceEntry | OwnPresenceEntry>; count: number }> {
    const { members, count } = await this.engine.presence.roomMembers(room, this.limits.roomMembersCap);
    return {
      members: members.map((m) => (session && m.user === session.user ? ownEntry(m) : publicEntry(m))),
      count,
    };
  }

  /** Presence entries of up to `maxPresenceUsers` users, in the order asked. */
  async users(ids: string[], viewer: string | null): Promise<Array<PresenceEntry | OwnPresenceEntry>> {
    if (ids.length > this.limits.maxPresenceUsers) {
      this.metrics.limitBreaches.inc({ limit: 'presence_users' });
      throw new ParleyError('TOO_LARGE', `at most ${this.limits.maxPresenceUsers} users per presence query`);
    }
    const states = await this.engine.presence.users(ids);
    return states.map((s) => (s.user === viewer ? ownEntry(s) : publicEntry(s)));
  }

  /** Online users with a given public status, cluster-wide (invisible users are never listed). */
  async listByStatus(
    status: 'online' | 'away' | 'busy',
    limit: number,
  ): Promise<{ users: PresenceEntry[]; count: number }> {
    const r = await this.engine.presence.listByStatus(status, limit);
    return { users: r.users.map(publicEntry), count: r.count };
  }

  async setStatus(session: Session, status: UserState['status'], text: string | undefined): Promise<StatusResult> {
    if (text !== undefined && [...text].length > this.limits.maxStatusTextChars) {
      this.metrics.limitBreaches.inc({ limit: 'status_text' });
      throw new ParleyError('TOO_LARGE', `status text is longer than ${this.limits.maxStatusTextChars} characters`);
    }
    const { before, after, rooms, connections } = await this.engine.presence.setStatus(session.user, status, text);
    const was = publicEntry(before);
    const now = publicEntry(after);
    const own = ownEntry(after);
    const sends: Promise<void>[] = [];
    if (was.status !== now.status || was.text !== now.text) {
      for (const room of rooms) sends.push(this.publishRoom(room, 'update', now));
    }
    // The user's other devices learn their new true status (a user-level event, no room);
    // with one connection there is no other device, and the reply says it all.
    if (connections > 1) {
      const frame: PresenceEvent = { type: 'presence', event: 'update', member: own };
      sends.push(this.engine.publishControl({ kind: 'user-frame', user: session.user, frame: JSON.stringify(frame) }));
    }
    await Promise.all(sends);
    return { presence: own };
  }

  /** Publishes the join/leave/update events for a departure (disconnect, dead node, shutdown). */
  async announceDeparture(t: DepartureTransition): Promise<void> {
    if (t.wentOffline && this.transitionListeners.length > 0) await this.transition(t.user, false);
    if (t.leftRooms.length === 0) return;
    if (t.state.status === 'invisible') return; // nobody saw them
    const entry = publicEntry(t.state);
    await Promise.all(t.leftRooms.map((room) => this.publishRoom(room, 'leave', entry)));
  }

  private async publishRoom(room: string, event: PresenceEvent['event'], member: PresenceEntry): Promise<void> {
    const frame: PresenceEvent = { type: 'presence', room, event, member };
    this.metrics.presenceEvents.inc({ event });
    await this.engine.publish(room, { kind: 'event', frame: JSON.stringify(frame) });
  }

  private async typing(session: Session, room: string): Promise<Record<string, never>> {
    if (!session.rooms.has(room)) throw new ParleyError('NOT_JOINED', `join room "${room}" before typing in it`);
    for (const guard of this.typingGuards) await guard(session, room);
    if (!session.typingBucket.take()) {
      this.metrics.limitBreaches.inc({ limit: 'typing_rate' });
      throw new ParleyError('RATE_LIMITED', `at most ${this.limits.typingRate} typing events per second`);
    }
    const [state] = await this.engine.presence.users([session.user]);
    if (state && state.status === 'invisible') return {}; // typing would reveal them
    await this.engine.publish(room, {
      kind: 'event',
      frame: JSON.stringify({ type: 'typing', room, user: session.user }),
      skipUser: session.user,
    });
    return {};
  }

  /**
   * Starts the periodic sweep for dead nodes. The first sweep runs at once:
   * it announces what the store cleaned up while starting (the connections a
   * previous run with this node id left behind) and any node already dead.
   */
  start(): void {
    if (this.sweepTimer) return;
    let running = false;
    const sweep = (): void => {
      if (running) return; // a slow sweep is not overlapped by the next tick
      running = true;
      this.sweepOnce()
        .catch((err: unknown) => this.log.warn({ err }, 'presence sweep failed'))
        .finally(() => (running = false));
    };
    this.sweepTimer = setInterval(sweep, this.options.sweepIntervalMs);
    this.sweepTimer.unref();
    sweep();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /**
   * One sweep: removes dead nodes' connections and announces the departures
   * (and the returns of this node's users after it had lost its lease).
   * Returns the number of departures.
   */
  async sweepOnce(): Promise<number> {
    const { departures, arrivals } = await this.engine.presence.sweep();
    await Promise.all(departures.map((t) => this.announceDeparture(t)));
    await Promise.all(arrivals.map((t) => this.announceArrival(t)));
    if (departures.length > 0) this.log.info({ connections: departures.length }, 'swept connections of dead nodes');
    if (arrivals.length > 0)
      this.log.warn({ users: arrivals.length }, 'presence lease was lost; connections re-registered');
    return departures.length;
  }

  /** Publishes `join` for a user restored into rooms (see ArrivalTransition). */
  async announceArrival(t: ArrivalTransition): Promise<void> {
    if (!isVisible(t.state)) return;
    const entry = publicEntry(t.state);
    await Promise.all(t.joinedRooms.map((room) => this.publishRoom(room, 'join', entry)));
  }

  /** Clean shutdown: removes every local connection at once and announces it. */
  async removeAllLocal(): Promise<void> {
    const transitions = await this.engine.presence.removeAllLocal();
    await Promise.all(transitions.map((t) => this.announceDeparture(t)));
  }

  handlers(): Pick<Handlers, 'status' | 'presence' | 'typing'> {
    return {
      status: (s, c) => this.setStatus(s, c.status, c.text),
      presence: async (s, c): Promise<PresenceResult> => {
        if (c.room !== undefined) {
          if (!canAccessRoom(s.identity, c.room))
            throw new ParleyError('FORBIDDEN', `you may not see room "${c.room}"`);
          return this.roomMembers(s, c.room);
        }
        if (c.users !== undefined) {
          const users = await this.users(c.users, s.user);
          return { users, count: users.length };
        }
        throw new ParleyError('BAD_REQUEST', 'presence: give "room" or "users"');
      },
      typing: (s, c) => this.typing(s, c.room),
    };
  }

  /** Leaves stored whose event is still to be sent (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'presence.unsentLeaves': this.unsentLeaves.size };
  }
}
