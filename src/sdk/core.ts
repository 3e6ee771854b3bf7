/**
 * The inside of a ParleyClient: builds its parts (connection, request queue,
 * read state, room set and the calls of each concern) and wires what each
 * tells the others: socket open/drop/end, decoded server frames, room gates.
 * The facade (client.ts) is the public surface and delegates here.
 */
import { Connection } from './connection.js';
import { dispatchFrame, type InboundSink } from './inbound.js';
import { MessageCalls } from './message-calls.js';
import { ModerationCalls } from './moderation-calls.js';
import { ReadCalls } from './read-calls.js';
import { RequestQueue } from './requests.js';
import { RoomCalls } from './room-calls.js';
import { RoomSet } from './rooms.js';
import { StatusCalls } from './status-calls.js';
import type { ClientEvents, ClientOptions } from './types.js';
import { ReadState } from './unread.js';

/** Emits one of the client's events to the app. */
export type EmitFn = <K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>) => void;

/** The parts of one client, wired together. */
export class ClientCore {
  readonly conn: Connection;
  readonly queue: RequestQueue;
  readonly reads: ReadState;
  readonly roomSet: RoomSet;
  readonly messages: MessageCalls;
  readonly rooms: RoomCalls;
  readonly readCalls: ReadCalls;
  readonly status: StatusCalls;
  readonly moderation: ModerationCalls;

  /** `me`: the client's user id (its own messages and markers are told apart by it). */
  constructor(
    opts: ClientOptions,
    private readonly emit: EmitFn,
    me: () => string | undefined,
  ) {
    this.conn = new Connection(opts, {
      opened: () => this.onOpened(),
      frame: (raw) => dispatchFrame(raw, this.inbound),
      dropped: () => {
        this.queue.dropInflight();
        this.roomSet.onDropped();
      },
      ended: (err) => {
        this.queue.failAll(err);
        this.roomSet.clear(err);
        this.status.reset();
      },
      state: (change) => emit('state', change),
      ping: (timeoutMs) => this.queue.internal('ping', {}, timeoutMs),
    });
    this.queue = new RequestQueue(
      {
        active: () => this.conn.active,
        isOpen: () => this.conn.isOpen,
        write: (text) => this.conn.send(text),
        roomGate: (room) => {
          const state = this.roomSet.get(room);
          if (!state) return 'gone';
          return state.joinedOn === this.conn.serial && !state.joining ? 'ready' : 'wait';
        },
      },
      opts.requestTimeoutMs ?? 10_000,
      opts.maxQueue ?? 1000,
    );
    this.reads = new ReadState((info) => emit('unread', info));
    this.roomSet = new RoomSet(
      {
        serial: () => this.conn.serial,
        isOpen: () => this.conn.isOpen,
        internal: (type, fields) => this.queue.internal(type, fields),
        emit,
        failRoom: (room, err) => this.queue.failRoom(room, () => err),
        pump: () => this.queue.pump(),
        me,
      },
      this.reads,
      opts.storeLimit,
    );
    this.messages = new MessageCalls(opts, this.conn, this.queue, this.roomSet);
    this.rooms = new RoomCalls(this.conn, this.queue, this.roomSet, this.reads);
    this.readCalls = new ReadCalls(this.queue, this.roomSet, this.reads, me);
    this.status = new StatusCalls(this.queue);
    this.moderation = new ModerationCalls(this.queue);
  }

  private onOpened(): void {
    // Status first, so that rejoins announce the right status; then rooms; then the queue.
    this.status.restore();
    this.roomSet.rejoinAll();
    this.queue.pump();
  }

  /** Where decoded server frames go. */
  private readonly inbound: InboundSink = {
    reply: (frame) => this.queue.onReply(frame),
    roomEvent: (room, frame) => this.roomSet.onEvent(room, frame),
    read: (change) => {
      this.readCalls.onReadEvent(change);
      this.emit('read', change);
    },
    removed: ({ room, reason }) => {
      this.rooms.onRemoved(room, reason);
      this.emit('removed', { room, reason });
    },
    presence: (change) => this.emit('presence', change),
    typing: (change) => this.emit('typing', change),
    error: (err) => this.emit('error', err, {}),
  };
}
