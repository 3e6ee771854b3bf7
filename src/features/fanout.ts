/**
 * Local fan-out: which sessions of this node are in which room, one engine
 * subscription per room per node (subscribe on the first local member,
 * unsubscribe after the last), and delivery of bus events to local members
 * with the frame encoded once per event, not once per member.
 */
import type { BusEvent, Engine } from '../engine/engine.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import type { FramePreparer, RoomState, Session } from '../session/session.js';
import type { StateSizes } from '../state-sizes.js';

interface LocalRoom {
  /** Local members with their state for this room (no per-delivery lookup). */
  members: Map<Session, RoomState>;
  /** Resolves when the node's subscription to the room is active. */
  ready: Promise<void>;
}

export class Fanout {
  private readonly rooms = new Map<string, LocalRoom>();

  constructor(
    private readonly engine: Engine,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Encodes a frame once for all members (the transport's wire format). */
    private readonly prepare: FramePreparer,
  ) {}

  /** Adds a session to a room's local members; resolves once the room's events flow. */
  async add(session: Session, room: string, state: RoomState): Promise<void> {
    let local = this.rooms.get(room);
    if (!local) {
      const created: LocalRoom = {
        members: new Map(),
        ready: this.engine.subscribe(room, (ev) => this.deliver(room, ev)),
      };
      local = created;
      this.rooms.set(room, created);
      created.ready.catch(() => {
        // A failed subscription must not stick: the next join tries again.
        if (this.rooms.get(room) === created) this.rooms.delete(room);
      });
    }
    local.members.set(session, state);
    try {
      await local.ready;
    } catch (err) {
      local.members.delete(session);
      throw err;
    }
  }

  /** Removes a session from a room; the last local member ends the subscription. */
  remove(session: Session, room: string): void {
    const local = this.rooms.get(room);
    if (!local || !local.members.delete(session)) return;
    if (local.members.size > 0) return;
    this.rooms.delete(room);
    this.engine.unsubscribe(room).catch((err: unknown) => this.log.warn({ err, room }, 'unsubscribe failed'));
  }

  /** Number of local members of a room. */
  localCount(room: string): number {
    return this.rooms.get(room)?.members.size ?? 0;
  }

  /** The rooms this node is subscribed to (rooms with local members). */
  roomNames(): IterableIterator<string> {
    return this.rooms.keys();
  }

  /** Number of rooms this node is subscribed to. */
  get roomCount(): number {
    return this.rooms.size;
  }

  /** A member's delivery threw: logged; the connection is closed (it can no longer be trusted to be in step). */
  private memberFailed(s: Session, room: string, err: unknown): void {
    this.metrics.fanoutErrors.inc();
    this.log.warn({ err, room, conn: s.connId }, 'fan-out to a member failed; closing it');
    try {
      s.close(CloseCodes.INTERNAL_ERROR, 'internal error');
    } catch {
      /* the connection is gone already */
    }
  }

  private deliver(room: string, ev: BusEvent): void {
    const local = this.rooms.get(room);
    if (!local || local.members.size === 0) return;
    const started = process.hrtime.bigint();
    const frame = this.prepare(ev.frame);
    const members = local.members;
    // forEach, not for-of: no [key, value] entry array per member.
    // Each member is guarded: one connection whose write throws must not cost the rest of the room the event.
    if (ev.kind === 'message') {
      const id = ev.id;
      members.forEach((st, s) => {
        try {
          s.pushMessage(st, id, frame);
        } catch (err) {
          this.memberFailed(s, room, err);
        }
      });
      this.metrics.messagesOut.inc(members.size);
    } else if (ev.kind === 'change') {
      const id = ev.id;
      members.forEach((st, s) => {
        try {
          s.pushChange(st, id, frame);
        } catch (err) {
          this.memberFailed(s, room, err);
        }
      });
    } else {
      // Presence and typing are held during a join too: nothing reaches a client before its join reply.
      const skip = ev.skipUser;
      members.forEach((st, s) => {
        if (s.user === skip) return;
        try {
          s.pushEvent(st, frame);
        } catch (err) {
          this.memberFailed(s, room, err);
        }
      });
    }
    this.metrics.fanoutSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Rooms with local members and the members over all of them (parley_state_entries). */
  stateSizes(): StateSizes {
    let members = 0;
    for (const local of this.rooms.values()) members += local.members.size;
    return { 'fanout.rooms': this.rooms.size, 'fanout.members': members };
  }
}
