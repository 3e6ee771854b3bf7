/**
 * Decoding of server frames: one JSON text frame becomes a reply for the
 * request queue, a room event for the room set, or a typed event for the
 * app. Malformed frames are dropped (the server never sends them; a proxy
 * might).
 */
import type { ErrorCode } from '../protocol/codes.js';
import type { Message, PresenceEntry } from '../protocol/frames.js';
import { ParleyClientError } from './errors.js';
import type { RoomFrame } from './rooms.js';
import type { PresenceChange, ReadChange, RemovedChange, TypingChange } from './types.js';

/** Where decoded frames go. */
export interface InboundSink {
  reply(frame: Record<string, unknown>): void;
  roomEvent(room: string, frame: RoomFrame): void;
  read(change: ReadChange): void;
  removed(change: RemovedChange): void;
  presence(change: PresenceChange): void;
  typing(change: TypingChange): void;
  error(err: ParleyClientError): void;
}

/** Decodes one WebSocket message and hands it to `sink`. */
export function dispatchFrame(raw: unknown, sink: InboundSink): void {
  if (typeof raw !== 'string') return;
  let frame: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return;
    frame = parsed as Record<string, unknown>;
  } catch {
    return;
  }
  const str = (v: unknown): v is string => typeof v === 'string';
  switch (frame.type) {
    case 'reply':
      sink.reply(frame);
      return;
    case 'message':
    case 'edited': {
      const m = frame.message as Message | undefined;
      if (!m || !str(m.id)) return;
      const room = str(m.room) ? m.room : frame.room;
      if (str(room)) sink.roomEvent(room, { type: frame.type, message: m });
      return;
    }
    case 'deleted':
      if (str(frame.room) && str(frame.messageId)) {
        sink.roomEvent(frame.room, { type: 'deleted', messageId: frame.messageId });
      }
      return;
    case 'reaction': {
      const { room, messageId, emoji, user, op, count } = frame;
      if (!str(room) || !str(messageId) || !str(emoji) || !str(user) || typeof count !== 'number') return;
      if (op !== 'add' && op !== 'remove') return;
      sink.roomEvent(room, { type: 'reaction', room, messageId, emoji, user, op, count });
      return;
    }
    case 'read':
      if (str(frame.room) && str(frame.user) && str(frame.messageId)) {
        sink.read({ room: frame.room, user: frame.user, messageId: frame.messageId });
      }
      return;
    case 'removed':
      if (str(frame.room)) sink.removed({ room: frame.room, reason: str(frame.reason) ? frame.reason : 'removed' });
      return;
    case 'presence': {
      const change: PresenceChange = {
        event: frame.event as PresenceChange['event'],
        member: frame.member as PresenceEntry,
      };
      if (str(frame.room)) change.room = frame.room;
      sink.presence(change);
      return;
    }
    case 'typing':
      if (str(frame.room) && str(frame.user)) sink.typing({ room: frame.room, user: frame.user });
      return;
    case 'error': {
      const body = (frame.error ?? {}) as { code?: ErrorCode; message?: string };
      sink.error(new ParleyClientError(body.code ?? 'INTERNAL', body.message ?? 'server error', { fromServer: true }));
      return;
    }
    default:
      return;
  }
}
