/**
 * How messages are encoded for storage and for the bus. Shared by both
 * engines so that a message is serialized exactly once per append: the
 * stored body and the broadcast frame are spliced from the same JSON text.
 */
import type { Message } from '../protocol/frames.js';
import type { MessageDraft } from './engine.js';

/**
 * The draft's fields as a JSON fragment without its opening brace:
 * `"room":"r","from":"u","text":"hi"}`. The engine prepends id and ts.
 */
export function encodeBody(draft: MessageDraft): string {
  const body: Omit<Message, 'id' | 'ts'> = { room: draft.room, from: draft.from, text: draft.text };
  if (draft.name !== undefined) body.name = draft.name;
  if (draft.clientMsgId !== undefined) body.clientMsgId = draft.clientMsgId;
  if (draft.replyTo !== undefined) body.replyTo = draft.replyTo;
  return JSON.stringify(body).slice(1);
}

/** The full message JSON from its id, its time and the stored body fragment. */
export function messageJson(id: string, ts: number, body: string): string {
  return `{"id":"${id}","ts":${ts},${body}`;
}

/** The `message` event frame around a message's JSON. */
export function messageFrame(room: string, messageJsonText: string): string {
  return `{"type":"message","room":${JSON.stringify(room)},"message":${messageJsonText}}`;
}

/** Milliseconds part of a stream id (`<ms>-<seq>`), which is the message's `ts`. */
export function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}
