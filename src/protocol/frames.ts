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
export const LeaveCommand = Type.Object({ type: Type.Literal('leave'), id: RequestId, room: Id });
export const SendCommand = Type.Object({
  type: Type.Literal('send'),
  id: RequestId,
  room: Id,
  text: Type.String(),
  clientMsgId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
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
export type Command = { [K in CommandType]: Static<(typeof CommandSchemas)[K]> }[CommandType];
export type CommandOf<T extends CommandType> = Static<(typeof CommandSchemas)[T]>;

/** A user's chosen status. `invisible` shows as `offline` to everyone else. */
export type ChosenStatus = (typeof StatusValues)[number];
/** A status as others see it. */
export type PresenceStatus = 'online' | 'away' | 'busy' | 'offline';

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

// ---- reply payloads -------------------------------------------------------

export interface JoinResult {
  room: string;
  members: PresenceEntry[];
  count: number;
  lastMessageId: string | null;
  /** Only with `since`: the missed messages, oldest first. */
  messages?: Message[];
  /** Only with `since`: true when nothing was missed beyond `messages`. */
  recovered?: boolean;
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
  presence: PresenceEntry;
}
export interface PresenceResult {
  members?: PresenceEntry[];
  users?: PresenceEntry[];
  count: number;
}
export type EmptyResult = Record<string, never>;

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
  member: PresenceEntry;
}
export interface TypingEvent {
  type: 'typing';
  room: string;
  user: string;
}
export type ServerEvent = MessageEvent | PresenceEvent | TypingEvent;
export type ServerFrame = ServerEvent | ReplyFrame | ErrorFrame;
