/**
 * Chat: join (with reconnect recovery), leave, send (stored, deduped,
 * fanned out), history. Talks to the engine interface only.
 */
import { canAccessRoom } from '../../auth/identity.js';
import type { Limits } from '../../config.js';
import type { AppendEvent, Engine, MessageDraft } from '../../engine/engine.js';
import type { ChangeKind } from '../../engine/lifecycle-store.js';
import type { Metrics } from '../../metrics.js';
import { ParleyError } from '../../protocol/errors.js';
import type { HistoryResult, JoinResult, Message, SendResult } from '../../protocol/frames.js';
import { compareMessageIds } from '../../protocol/ids.js';
import type { CommandContext, Handlers } from '../../session/commands.js';
import type { RoomState, Session } from '../../session/session.js';
import type { Fanout } from '../fanout.js';
import type { PresenceFeature } from '../presence/presence.js';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;

/** Text length in characters (code points), cheap for the common short case. */
export function charLength(text: string, max: number): number {
  if (text.length <= max) return text.length;
  if (text.length > 2 * max) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Another feature's part in chat commands (moderation, memberships,
 * webhooks), so chat does not import them. Hooks run in the order they were
 * added; a hook that throws a ParleyError refuses the command.
 */
export interface ChatHook {
  /** Before a join is served (e.g. FORBIDDEN for a banned user). */
  beforeJoin?(session: Session, room: string): Promise<void> | void;
  /** Fields merged into the join reply (e.g. lastReadId, unread, topic). */
  joinFields?(session: Session, room: string): Promise<Partial<JoinResult>>;
  /**
   * Before a session's message is stored (e.g. FORBIDDEN when muted, RATE_LIMITED in slow mode).
   * Also called when the room is not joined (so a banned user hears FORBIDDEN, not NOT_JOINED):
   * `session.rooms.has(room)` tells; chat answers NOT_JOINED when no hook throws.
   */
  beforeSend?(session: Session, room: string, draft: SendDraft): Promise<void> | void;
  /** Before a session reads a room's history. */
  beforeHistory?(session: Session, room: string): Promise<void> | void;
  /**
   * An event to store with the message in one atomic step where the engine
   * can (MessageDraft.event: webhooks, so that their order is the stored order).
   */
  appendEvent?(draft: MessageDraft): AppendEvent | undefined;
  /**
   * After a message was stored (also for the HTTP API); awaited before the reply. Not called for duplicates.
   * `eventQueued`: the engine stored this hook's appendEvent with the message.
   */
  afterSend?(message: Message, eventQueued: boolean): Promise<void> | void;
  /** Before a session's edit, delete, react or unreact is applied (e.g. FORBIDDEN when muted). */
  beforeChange?(session: Session, room: string, kind: ChangeKind): Promise<void> | void;
  /** After a stored message changed (edit, delete, reaction; also over HTTP); awaited before the reply. Not called when nothing changed. */
  afterChange?(kind: 'edited' | 'deleted' | 'reaction', message: Message): Promise<void> | void;
}

/** What a hook sees of a send before it is stored. */
export interface SendDraft {
  text: string;
  clientMsgId?: string;
}

export class ChatFeature {
  private readonly hooks: ChatHook[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly fanout: Fanout,
    private readonly presence: PresenceFeature,
    private readonly limits: Limits,
    private readonly metrics: Metrics,
  ) {}

  /** Adds a feature's hook (see ChatHook). */
  use(hook: ChatHook): void {
    this.hooks.push(hook);
  }

  /** Runs one kind of hook in order; nothing to await when no feature registered it. */
  private async runHooks<K extends 'beforeJoin' | 'beforeHistory'>(
    kind: K,
    session: Session,
    room: string,
  ): Promise<void> {
    for (const h of this.hooks) await h[kind]?.(session, room);
  }

  /** Runs the beforeChange hooks (features/chat/lifecycle.ts); nothing to await when none is registered. */
  async beforeChange(session: Session, room: string, kind: ChangeKind): Promise<void> {
    for (const h of this.hooks) if (h.beforeChange) await h.beforeChange(session, room, kind);
  }

  /** Runs the afterChange hooks after a change that changed something. */
  async afterChange(kind: 'edited' | 'deleted' | 'reaction', message: Message): Promise<void> {
    for (const h of this.hooks) if (h.afterChange) await h.afterChange(kind, message);
  }

  /** Throws BAD_REQUEST for an empty text and TOO_LARGE past the limit (send, edit, HTTP). */
  checkText(text: string, command: string): void {
    if (text.length === 0) throw new ParleyError('BAD_REQUEST', `${command}: "text" must not be empty`);
    if (charLength(text, this.limits.maxTextChars) > this.limits.maxTextChars) {
      this.metrics.limitBreaches.inc({ limit: 'text_length' });
      throw new ParleyError('TOO_LARGE', `message text is longer than ${this.limits.maxTextChars} characters`);
    }
  }

  /** Throws FORBIDDEN unless the session may use the room. */
  checkAccess(session: Session, room: string): void {
    if (!canAccessRoom(session.identity, room)) {
      throw new ParleyError('FORBIDDEN', `you may not join room "${room}"`);
    }
  }

  /**
   * Validates and stores a message as `from`, returning the stored message
   * (the first one when `clientMsgId` repeats within the dedupe window).
   * Used by the `send` command and the HTTP API.
   */
  async publish(draft: MessageDraft): Promise<Message> {
    this.checkText(draft.text, 'send');
    if (draft.replyTo !== undefined) {
      const target = await this.engine.lifecycle.get(draft.room, draft.replyTo);
      if (target === null || target.deleted) {
        throw new ParleyError('NOT_FOUND', `replyTo: no message "${draft.replyTo}" in room "${draft.room}"`);
      }
    }
    // One event per message: the first hook that asks gets it stored with the message.
    let owner: ChatHook | undefined;
    let stored = draft;
    for (const h of this.hooks) {
      const event = owner === undefined ? h.appendEvent?.(draft) : undefined;
      if (event) {
        owner = h;
        stored = { ...draft, event };
      }
    }
    const { message, duplicate, eventQueued } = await this.engine.append(stored);
    if (!duplicate) {
      this.metrics.messagesIn.inc();
      for (const h of this.hooks) {
        const pending = h.afterSend?.(message, eventQueued === true && h === owner);
        if (pending) await pending;
      }
    }
    return message;
  }

  /** A page of history, oldest first. */
  async history(room: string, before: string | undefined, limit: number | undefined): Promise<HistoryResult> {
    const n = Math.min(limit ?? HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
    return this.engine.history(room, before === undefined ? { limit: n } : { before, limit: n });
  }

  /** Leaves every room of a closing session (presence is handled by the presence feature). */
  dropSession(session: Session): void {
    for (const room of session.rooms.keys()) this.fanout.remove(session, room);
    session.rooms.clear();
  }

  private async join(
    session: Session,
    room: string,
    since: string | undefined,
    ctx: CommandContext,
  ): Promise<JoinResult> {
    this.checkAccess(session, room);
    if (this.hooks.length > 0) await this.runHooks('beforeJoin', session, room);
    const existing = session.rooms.get(room);
    if (existing) return this.rejoin(session, room, existing, since);
    if (session.rooms.size >= this.limits.maxRoomsPerConnection) {
      this.metrics.limitBreaches.inc({ limit: 'rooms_per_connection' });
      throw new ParleyError('LIMIT', `a connection may join at most ${this.limits.maxRoomsPerConnection} rooms`);
    }
    const st: RoomState = { buffer: [], floor: null, filtering: false, changeFloor: null, changeFiltering: false };
    session.rooms.set(room, st);
    let presenceJoined = false;
    try {
      await this.fanout.add(session, room, st);
      // The subscription is live: every read below sees at least what precedes held events.
      const [who, recovery, lastId, extras] = await Promise.all([
        this.presence.joinRoom(session, room).then((r) => {
          presenceJoined = true;
          return r;
        }),
        since === undefined ? null : this.engine.since(room, since, this.limits.recoveryMax),
        this.engine.lastMessageId(room),
        this.joinFields(session, room),
      ]);
      this.metrics.joins.inc();
      const result: JoinResult = { room, members: who.members, count: who.count, lastMessageId: lastId, ...extras };
      if (recovery) {
        const last = recovery.messages.at(-1)?.id ?? null;
        st.floor = last ?? (recovery.recovered ? since! : null);
        if (last !== null && (lastId === null || compareMessageIds(last, lastId) > 0)) result.lastMessageId = last;
        result.messages = recovery.messages;
        result.recovered = recovery.recovered;
        result.changed = recovery.changed;
        // Change events up to the read are in `messages`/`changed` already.
        st.changeFloor = recovery.changeId;
      } else {
        st.floor = lastId;
      }
      ctx.defer(() => session.flushRoom(room));
      return result;
    } catch (err) {
      if (session.rooms.get(room) === st) session.rooms.delete(room);
      this.fanout.remove(session, room);
      if (presenceJoined) await this.presence.leaveRoom(session, room).catch(() => undefined);
      throw err;
    }
  }

  /** The join reply fields other features add. */
  private async joinFields(session: Session, room: string): Promise<Partial<JoinResult>> {
    if (this.hooks.length === 0) return {};
    const parts = await Promise.all(this.hooks.map((h) => h.joinFields?.(session, room)));
    return Object.assign({}, ...parts) as Partial<JoinResult>;
  }

  /** Join of a room already joined: no new subscription; `since` returns only what was not sent live. */
  private async rejoin(session: Session, room: string, st: RoomState, since: string | undefined): Promise<JoinResult> {
    const [who, lastId, recovery, extras] = await Promise.all([
      this.presence.roomMembers(session, room),
      this.engine.lastMessageId(room),
      since === undefined ? null : this.engine.since(room, since, this.limits.recoveryMax),
      this.joinFields(session, room),
    ]);
    const result: JoinResult = { room, members: who.members, count: who.count, lastMessageId: lastId, ...extras };
    if (recovery) {
      const floor = st.floor;
      result.messages = floor === null ? [] : recovery.messages.filter((m) => compareMessageIds(m.id, floor) <= 0);
      result.recovered = recovery.recovered;
      result.changed = recovery.changed;
    }
    return result;
  }

  private async leave(session: Session, room: string): Promise<Record<string, never>> {
    if (!(await this.evict(session, room))) throw new ParleyError('NOT_JOINED', `you have not joined room "${room}"`);
    return {};
  }

  /**
   * Takes a session out of a room as a leave does (fan-out, presence `leave`
   * to the others); false when it had not joined. Used by moderation (bans).
   */
  async evict(session: Session, room: string): Promise<boolean> {
    const st = session.rooms.get(room);
    if (!st) return false;
    // Presence first: when storage fails (UNAVAILABLE) the session is still joined, so a retry works and
    // sends the `leave` event; local state goes only once the leave is recorded.
    await this.presence.leaveRoom(session, room);
    if (session.rooms.get(room) === st) {
      session.rooms.delete(room);
      this.fanout.remove(session, room);
    }
    return true;
  }

  private async runBeforeSend(
    session: Session,
    room: string,
    text: string,
    clientMsgId: string | undefined,
  ): Promise<void> {
    const draft: SendDraft = clientMsgId === undefined ? { text } : { text, clientMsgId };
    for (const h of this.hooks) {
      // A hook that answers synchronously (a cache hit) costs no promise on the send path.
      const pending = h.beforeSend?.(session, room, draft);
      if (pending) await pending;
    }
  }

  private async send(
    session: Session,
    room: string,
    text: string,
    clientMsgId: string | undefined,
    replyTo: string | undefined,
  ): Promise<SendResult> {
    if (!session.rooms.has(room)) {
      if (this.hooks.length > 0) await this.runBeforeSend(session, room, text, clientMsgId);
      throw new ParleyError('NOT_JOINED', `join room "${room}" before sending to it`);
    }
    if (!session.sendBucket.take()) {
      this.metrics.limitBreaches.inc({ limit: 'send_rate' });
      throw new ParleyError('RATE_LIMITED', `at most ${this.limits.sendRate} messages per second`);
    }
    if (this.hooks.length > 0) await this.runBeforeSend(session, room, text, clientMsgId);
    // A session's message: the engine refuses it atomically if the author is banned or muted by now.
    const draft: MessageDraft = { room, from: session.user, text, enforceRestrictions: true };
    if (session.name !== undefined) draft.name = session.name;
    if (clientMsgId !== undefined) draft.clientMsgId = clientMsgId;
    if (replyTo !== undefined) draft.replyTo = replyTo;
    return { message: await this.publish(draft) };
  }

  handlers(): Pick<Handlers, 'join' | 'leave' | 'send' | 'history'> {
    return {
      join: (s, c, ctx) => this.join(s, c.room, c.since, ctx),
      leave: (s, c) => this.leave(s, c.room),
      send: (s, c) => this.send(s, c.room, c.text, c.clientMsgId, c.replyTo),
      history: async (s, c) => {
        this.checkAccess(s, c.room);
        if (this.hooks.length > 0) await this.runHooks('beforeHistory', s, c.room);
        return this.history(c.room, c.before, c.limit);
      },
    };
  }
}
