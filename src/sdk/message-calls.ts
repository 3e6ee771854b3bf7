/**
 * The message calls of the SDK: send, edit, delete, react, unreact and
 * typing. They need the room joined, so they wait for its (re)join like a
 * send; frames over `maxFrameBytes` are refused before they go out.
 */
import type { Message } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import { ParleyClientError } from './errors.js';
import type { RequestQueue } from './requests.js';
import type { RoomSet } from './rooms.js';
import type { ClientOptions, RequestOptions, SendOptions } from './types.js';
import { randomId, utf8Length } from './util.js';

/** Send and the changes to sent messages, for the facade. */
export class MessageCalls {
  /** When this client last sent `typing` per room (the throttle). */
  private readonly lastTyping = new Map<string, number>();

  constructor(
    private readonly opts: ClientOptions,
    private readonly conn: Connection,
    private readonly queue: RequestQueue,
    private readonly roomSet: RoomSet,
  ) {}

  /** ParleyClient.send: queued while offline; `clientMsgId` generated unless given. */
  send(room: string, text: string, options: SendOptions): Promise<Message> {
    const closed = this.closedError('send');
    if (closed) return Promise.reject(closed);
    if (!this.roomSet.get(room)) {
      return Promise.reject(
        new ParleyClientError('NOT_JOINED', `join "${room}" before sending to it`, { command: 'send' }),
      );
    }
    const fields: Record<string, unknown> = { room, text, clientMsgId: options.clientMsgId ?? randomId() };
    if (options.replyTo !== undefined) fields.replyTo = options.replyTo;
    const tooLarge = this.checkSize('send', fields);
    if (tooLarge) return Promise.reject(tooLarge);
    this.lastTyping.delete(room);
    return this.queue.roomRequest('send', room, fields, options.timeoutMs, true).then((r) => r.message);
  }

  /** ParleyClient.edit. */
  edit(room: string, messageId: string, text: string, options: RequestOptions): Promise<Message> {
    const fields = { room, messageId, text };
    const tooLarge = this.checkSize('edit', fields);
    if (tooLarge) return Promise.reject(tooLarge);
    return this.roomCommand('edit', room, fields, options);
  }

  /** ParleyClient.delete. */
  delete(room: string, messageId: string, options: RequestOptions): Promise<Message> {
    return this.roomCommand('delete', room, { room, messageId }, options);
  }

  /** ParleyClient.react. */
  react(room: string, messageId: string, emoji: string, options: RequestOptions): Promise<Message> {
    return this.roomCommand('react', room, { room, messageId, emoji }, options);
  }

  /** ParleyClient.unreact. */
  unreact(room: string, messageId: string, emoji: string, options: RequestOptions): Promise<Message> {
    return this.roomCommand('unreact', room, { room, messageId, emoji }, options);
  }

  /** ParleyClient.typing: at most one frame per room per `typingThrottleMs`; dropped while offline. */
  async typing(room: string): Promise<void> {
    const state = this.roomSet.get(room);
    if (!state || !this.conn.isOpen || state.joinedOn !== this.conn.serial) return;
    const now = Date.now();
    const last = this.lastTyping.get(room);
    if (last !== undefined && now - last < (this.opts.typingThrottleMs ?? 2000)) return;
    this.lastTyping.set(room, now);
    await this.queue.internal('typing', { room }).catch(() => undefined);
  }

  /** CLOSED before anything else once the client is closed (a kick clears the rooms too). */
  private closedError(command: string): ParleyClientError | null {
    if (this.conn.active) return null;
    return new ParleyClientError('CLOSED', 'the client is closed; call connect() first', { command });
  }

  private checkSize(type: 'send' | 'edit', fields: Record<string, unknown>): ParleyClientError | null {
    const size = utf8Length(JSON.stringify({ type, id: 2 ** 31, ...fields }));
    const max = this.opts.maxFrameBytes ?? 65_536;
    return size > max
      ? new ParleyClientError('TOO_LARGE', `message frame is ${size} bytes, over ${max}`, { command: type })
      : null;
  }

  /** edit/delete/react/unreact: they need the room joined, so they wait for its (re)join like a send. */
  private roomCommand(
    type: 'edit' | 'delete' | 'react' | 'unreact',
    room: string,
    fields: Record<string, unknown>,
    options: RequestOptions,
  ): Promise<Message> {
    const closed = this.closedError(type);
    if (closed) return Promise.reject(closed);
    if (!this.roomSet.get(room)) {
      return Promise.reject(new ParleyClientError('NOT_JOINED', `join "${room}" first`, { command: type }));
    }
    return this.queue.roomRequest(type, room, fields, options.timeoutMs, type !== 'delete').then((r) => r.message);
  }
}
