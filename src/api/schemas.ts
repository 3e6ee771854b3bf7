/**
 * JSON Schemas (TypeBox) of the HTTP API: request bodies are validated with
 * them and the OpenAPI document (openapi.ts) is built from the same objects,
 * so the document cannot drift from what the server accepts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ErrorCodes } from '../protocol/codes.js';
import { ID_PATTERN_SOURCE } from '../protocol/ids.js';

export const IdSchema = Type.String({
  pattern: ID_PATTERN_SOURCE,
  description: 'A user or room id: letters, digits and _ . : @ -, 1 to 128 characters',
  examples: ['lobby'],
});

export const MessageIdSchema = Type.String({
  pattern: '^\\d{1,16}-\\d{1,16}$',
  description: 'An opaque message id, unique and increasing within its room',
  examples: ['1732683600000-0'],
});

export const PublishBody = Type.Object(
  {
    text: Type.String({
      minLength: 1,
      description: 'The message text (at most PARLEY_MAX_TEXT_CHARS characters, default 4000)',
    }),
    from: Type.String({ pattern: ID_PATTERN_SOURCE, description: 'The user id the message is published as' }),
    name: Type.Optional(
      Type.String({
        maxLength: 256,
        description: 'Display name stored with the message (trimmed, cut to 64 characters)',
      }),
    ),
    clientMsgId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'Idempotency key: the same value from the same user in the same room within the dedupe window returns the first stored message',
      }),
    ),
    replyTo: Type.Optional(
      Type.String({
        pattern: '^\\d{1,16}-\\d{1,16}$',
        description:
          'Id of the message this one answers, in the same room (404 NOT_FOUND when there is none or it was deleted)',
      }),
    ),
  },
  {
    additionalProperties: true,
    examples: [{ text: 'Deploy finished', from: 'deploy-bot', clientMsgId: 'deploy-4711' }],
  },
);
export type PublishBody = Static<typeof PublishBody>;

export const EditBody = Type.Object(
  {
    text: Type.String({
      minLength: 1,
      description: 'The new text (at most PARLEY_MAX_TEXT_CHARS characters, default 4000)',
    }),
  },
  { additionalProperties: true, examples: [{ text: 'Deploy finished (v2.3.1)' }] },
);
export type EditBody = Static<typeof EditBody>;

export const ReactionSchema = Type.Object({
  count: Type.Integer({ description: 'Exact number of users who reacted with this emoji' }),
  users: Type.Array(Type.String(), { description: 'The first 20 of them, in the order they reacted' }),
});

export const MessageSchema = Type.Object({
  id: MessageIdSchema,
  room: Type.String(),
  from: Type.String(),
  name: Type.Optional(Type.String()),
  text: Type.String({ description: 'The current text; "" for a deleted message' }),
  ts: Type.Integer({ description: 'Server time, ms since the epoch' }),
  clientMsgId: Type.Optional(Type.String()),
  replyTo: Type.Optional(Type.String({ description: 'Id of the message this one answers' })),
  editedAt: Type.Optional(Type.Integer({ description: 'Ms time of the latest edit' })),
  deleted: Type.Optional(
    Type.Literal(true, { description: 'A deleted message (a tombstone: id, room, from, ts kept)' }),
  ),
  reactions: Type.Optional(
    Type.Record(Type.String(), ReactionSchema, { description: 'Emoji -> its reactions; absent when none' }),
  ),
});

export const PresenceEntrySchema = Type.Object({
  user: Type.String(),
  name: Type.Optional(Type.String()),
  status: Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('busy'), Type.Literal('offline')]),
  text: Type.Optional(Type.String()),
  lastSeen: Type.Optional(Type.Integer({ description: 'Ms time the last connection ended (offline users)' })),
});

export const PublishResult = Type.Object({ message: MessageSchema });
export const MessageResultSchema = Type.Object({ message: MessageSchema });
export const HistoryPageSchema = Type.Object({
  messages: Type.Array(MessageSchema, { description: 'Oldest first' }),
  hasMore: Type.Boolean({ description: 'True when older messages exist before the first one returned' }),
});
export const RoomPresenceSchema = Type.Object({
  members: Type.Array(PresenceEntrySchema, { description: 'Members, capped at PARLEY_ROOM_MEMBERS_CAP (default 100)' }),
  count: Type.Integer({ description: 'Exact number of members' }),
});
export const UsersByStatusSchema = Type.Object({
  users: Type.Array(PresenceEntrySchema),
  count: Type.Integer({ description: 'Exact number of users with that status cluster-wide' }),
});
export const RoomEntrySchema = Type.Object({
  room: Type.String(),
  lastMessage: Type.Union([MessageSchema, Type.Null()], { description: "The room's newest message, or null" }),
  lastReadId: Type.Union([MessageIdSchema, Type.Null()], { description: "The user's read marker, or null" }),
  unread: Type.Integer({
    minimum: 0,
    maximum: 999,
    description: 'Messages after the marker from other users, not deleted; 999 means 999 or more',
  }),
  topic: Type.Optional(Type.String()),
});
export const UserRoomsSchema = Type.Object({
  rooms: Type.Array(RoomEntrySchema, { description: 'One entry per membership, most recent message first' }),
});
export const EmptySchema = Type.Object({}, { additionalProperties: false });
export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.Union(ErrorCodes.map((c) => Type.Literal(c))),
    message: Type.String(),
  }),
});
export const HealthSchema = Type.Object({ status: Type.String() });
export const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  engine: Type.Union([Type.Literal('memory'), Type.Literal('redis')]),
});
