/**
 * Frames of the Parley wire protocol v1: the client commands (as TypeBox
 * schemas, so one definition gives both the static type and the compiled
 * validator) and the server frames (as types). See docs/protocol.md.
 *
 * This module imports nothing of Parley's and is shared with the SDK.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ErrorBody } from './errors.js';

const Id = Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$' });
const MessageId = Type.String({ pattern: '^\\d{1,16}-\\d{1,16}$' });
const RequestId = Type.Optional(Type.Integer({ minimum: 1 }));

export const JoinCommand = Type.Object({
  type: Type.Literal('join'),
  id: RequestId,
  room: Id,
  since: Type.Optional(MessageId),
});
export const LeaveCommand = Type.Object({
  type: Type.Literal('leave'),
  id: RequestId,
  room: Id,
  /** v2: also end the stored membership. */
  forget: Type.Optional(Type.Boolean()),
});
export const SendCommand = Type.Object({
  type: Type.Literal('send'),
  id: RequestId,
  room: Id,
  text: Type.String(),
  clientMsgId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  /** v2: id of the message this one answers (same room). */
  replyTo: Type.Optional(MessageId),
});
export const HistoryCommand = Type.Object({
  type: Type.Literal('history'),
  id: RequestId,
  room: Id,
  before: Type.Optional(MessageId),
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
});
export const StatusValues = ['online', 'away', 'busy', 'invisible'] as const;
export const StatusCommand = Type.Object({
  type: Type.Literal('status'),
  id: RequestId,
  status: Type.Union(StatusValues.map((s) => Type.Literal(s))),
  text: Type.Optional(Type.String()),
});
export const PresenceCommand = Type.Object({
  type: Type.Literal('presence'),
  id: RequestId,
  room: Type.Optional(Id),
  users: Type.Optional(Type.Array(Id)),
});
export const TypingCommand = Type.Object({ type: Type.Literal('typing'), id: RequestId, room: Id });
export const PingCommand = Type.Object({ type: Type.Literal('ping'), id: RequestId });

// ---- v2: message lifecycle --------------------------------------------------

/** An emoji or `:name:`: 1-32 code points without whitespace (checked in full by the feature). */
const Emoji = Type.String({ minLength: 1, maxLength: 64 });
export const EditCommand = Type.Object({
  type: Type.Literal('edit'),
  id: RequestId,
  room: Id,
  messageId: MessageId,
  text: Type.String(),
});
export const DeleteCommand = Type.Object({
  type: Type.Literal('delete'),
  id: RequestId,
  room: Id,
  messageId: MessageId,
});
export const ReactCommand = Type.Object({
  type: Type.Literal('react'),
  id: RequestId,
  room: Id,
  messageId: MessageId,
  emoji: Emoji,
});
export const UnreactCommand = Type.Object({
  type: Type.Literal('unreact'),
  id: RequestId,
  room: Id,
  messageId: MessageId,
  emoji: Emoji,
});

// ---- v2: memberships and read state -------------------------------------------

export const ReadCommand = Type.Object({ type: Type.Literal('read'), id: RequestId, room: Id, messageId: MessageId });
export const RoomsCommand = Type.Object({ type: Type.Literal('rooms'), id: RequestId });
export const DirectoryCommand = Type.Object({
  type: Type.Literal('directory'),
  id: RequestId,
  prefix: Type.Optional(Type.String({ maxLength: 128 })),
});

// ---- v2: moderation -----------------------------------------------------------

const Seconds = Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600 }));
export const BanCommand = Type.Object({
  type: Type.Literal('ban'),
  id: RequestId,
  room: Id,
  user: Id,
  seconds: Seconds,
});
export const UnbanCommand = Type.Object({ type: Type.Literal('unban'), id: RequestId, room: Id, user: Id });
export const MuteCommand = Type.Object({
  type: Type.Literal('mute'),
  id: RequestId,
  room: Id,
  user: Id,
  seconds: Seconds,
});
export const UnmuteCommand = Type.Object({ type: Type.Literal('unmute'), id: RequestId, room: Id, user: Id });

/** Every client command schema by its `type`. */
export const CommandSchemas = {
  join: JoinCommand,
  leave: LeaveCommand,
  send: SendCommand,
  history: HistoryCommand,
  status: StatusCommand,
  presence: PresenceCommand,
  typing: TypingCommand,
  ping: PingCommand,
  edit: EditCommand,
  delete: DeleteCommand,
  react: ReactCommand,
  unreact: UnreactCommand,
  read: ReadCommand,
  rooms: RoomsCommand,
  directory: DirectoryCommand,
  ban: BanCommand,
  unban: UnbanCommand,
  mute: MuteCommand,
  unmute: UnmuteCommand,
} as const;

export type CommandType = keyof typeof CommandSchemas;
export type JoinCommand = Static<typeof JoinCommand>;
export type LeaveCommand = Static<typeof LeaveCommand>;
export type SendCommand = Static<typeof SendCommand>;
export type HistoryCommand = Static<typeof HistoryCommand>;
export type StatusCommand = Static<typeof StatusCommand>;
export type PresenceCommand = Static<typeof PresenceCommand>;
export type TypingCommand = Static<typeof TypingCommand>;
export type PingCommand = Static<typeof PingCommand>;
export type EditCommand = Static<typeof EditCommand>;
export type DeleteCommand = Static<typeof DeleteCommand>;
export type ReactCommand = Static<typeof ReactCommand>;
export type UnreactCommand = Static<typeof UnreactCommand>;
export type ReadCommand = Static<typeof ReadCommand>;
export type RoomsCommand = Static<typeof RoomsCommand>;
export type DirectoryCommand = Static<typeof DirectoryCommand>;
export type BanCommand = Static<typeof BanCommand>;
export type UnbanCommand = Static<typeof UnbanCommand>;
export type MuteCommand = Static<typeof MuteCommand>;
export type UnmuteCommand = Static<typeof UnmuteCommand>;
export type Command = { [K in CommandType]: Static<(typeof CommandSchemas)[K]> }[CommandType];
export type CommandOf<T extends CommandType> = Static<(typeof CommandSchemas)[T]>;

/** A user's chosen status. `invisible` shows as `offline` to everyone else. */
export type ChosenStatus = (typeof StatusValues)[number];
/** A status as others see it. */
export type PresenceStatus = 'online' | 'away' | 'busy' | 'offline';
/** A status as the user sees it of themself: their true chosen status, `invisible` included. */
export type OwnPresenceStatus = PresenceStatus | 'invisible';

/** A stored chat message. `id` is opaque, unique and increasing within its room. */
export interface Message {
  id: string;
  room: string;
  from: string;
  name?: string;
  text: string;
  /** Server time in ms. */
  ts: number;
  clientMsgId?: string;
  /** v2: id of the message this one answers. */
  replyTo?: string;
  /** v2: ms time of the latest edit. */
  editedAt?: number;
  /** v2: a tombstone (`text` is ""). */
  deleted?: true;
  /** v2: emoji -> exact count and the first 20 reactors in reaction order. Absent when none. */
  reactions?: Record<string, Reaction>;
}

/** One emoji's reactions on a message. */
export interface Reaction {
  count: number;
  /** The first 20 users who reacted, in the order they did. */
  users: string[];
}

/** One user's presence (all their devices are one entry). */
export interface PresenceEntry {
  user: string;
  name?: string;
  status: PresenceStatus;
  text?: string;
  /** Ms time the user's last connection ended (offline users only). */
  lastSeen?: number;
}

/**
 * The user's own entry (the `status` reply, their own line in member lists,
 * updates to their other devices): their true status, so `invisible` can
 * appear here and only here.
 */
export interface OwnPresenceEntry extends Omit<PresenceEntry, 'status'> {
  status: OwnPresenceStatus;
}

// ---- reply payloads -------------------------------------------------------

export interface JoinResult {
  room: string;
  /** Others as they see them; the joining user's own line is their own entry. */
  members: Array<PresenceEntry | OwnPresenceEntry>;
  count: number;
  lastMessageId: string | null;
  /** Only with `since`: the missed messages, oldest first. */
  messages?: Message[];
  /** Only with `since`: true when nothing was missed beyond `messages`. */
  recovered?: boolean;
  /** v2, only with `since`: current state of older messages changed after `since` was stored. */
  changed?: Message[];
  /** v2: the user's read marker in the room. */
  lastReadId?: string | null;
  /** v2: messages after the marker from others, not deleted (capped at 999). */
  unread?: number;
  /** v2: the room's topic, when set. */
  topic?: string;
}
export type LeaveResult = Record<string, never>;
export interface SendResult {
  message: Message;
}
export interface HistoryResult {
  messages: Message[];
  hasMore: boolean;
}
export interface StatusResult {
  presence: OwnPresenceEntry;
}
export interface PresenceResult {
  /** The asking user's own line, when listed, is their own entry. */
  members?: Array<PresenceEntry | OwnPresenceEntry>;
  users?: Array<PresenceEntry | OwnPresenceEntry>;
  count: number;
}
export type EmptyResult = Record<string, never>;
export interface MessageResult {
  message: Message;
}
export interface ReadResult {
  lastReadId: string;
}
/** One membership in the `rooms` reply. */
export interface RoomEntry {
  room: string;
  lastMessage: Message | null;
  lastReadId: string | null;
  unread: number;
  topic?: string;
}
export interface RoomsResult {
  rooms: RoomEntry[];
}
/** One room in the `directory` reply. */
export interface DirectoryEntry {
  room: string;
  /** Number of memberships. */
  members: number;
  lastMessage: Message | null;
}
export interface DirectoryResult {
  rooms: DirectoryEntry[];
}

/** The most `unread` counts exactly; more shows as this. */
export const UNREAD_CAP = 999;

/** The `data` of a successful reply, by command type. */
export interface ResultOf {
  join: JoinResult;
  leave: LeaveResult;
  send: SendResult;
  history: HistoryResult;
  status: StatusResult;
  presence: PresenceResult;
  typing: EmptyResult;
  ping: EmptyResult;
  edit: MessageResult;
  delete: MessageResult;
  react: MessageResult;
  unreact: MessageResult;
  read: ReadResult;
  rooms: RoomsResult;
  directory: DirectoryResult;
  ban: EmptyResult;
  unban: EmptyResult;
  mute: EmptyResult;
  unmute: EmptyResult;
}

// ---- server frames --------------------------------------------------------

export interface ReplyOk<D = unknown> {
  type: 'reply';
  id: number;
  ok: true;
  data: D;
}
export interface ReplyErr {
  type: 'reply';
  id: number;
  ok: false;
  error: ErrorBody;
}
export type ReplyFrame<D = unknown> = ReplyOk<D> | ReplyErr;
export interface ErrorFrame {
  type: 'error';
  error: ErrorBody;
}
export interface MessageEvent {
  type: 'message';
  room: string;
  message: Message;
}
export interface PresenceEvent {
  type: 'presence';
  /** Absent for a user-level change (e.g. your own status on another device). */
  room?: string;
  event: 'join' | 'leave' | 'update';
  /** A room event carries the public entry; a user-level one (no `room`) the user's own entry. */
  member: PresenceEntry | OwnPresenceEntry;
}
export interface TypingEvent {
  type: 'typing';
  room: string;
  user: string;
}
export interface EditedEvent {
  type: 'edited';
  room: string;
  message: Message;
}
export interface DeletedEvent {
  type: 'deleted';
  room: string;
  messageId: string;
}
export interface ReactionEvent {
  type: 'reaction';
  room: string;
  messageId: string;
  emoji: string;
  user: string;
  op: 'add' | 'remove';
  /** The emoji's count after the change. */
  count: number;
}
export interface ReadEvent {
  type: 'read';
  room: string;
  user: string;
  messageId: string;
}
export interface RemovedEvent {
  type: 'removed';
  room: string;
  reason: 'banned' | (string & {});
}
export type ServerEvent =
  MessageEvent | PresenceEvent | TypingEvent | EditedEvent | DeletedEvent | ReactionEvent | ReadEvent | RemovedEvent;
export type ServerFrame = ServerEvent | ReplyFrame | ErrorFrame;
