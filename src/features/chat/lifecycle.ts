/**
 * The message lifecycle commands: `edit`, `delete`, `react`, `unreact`
 * (WebSocket) and the server's edit and delete (HTTP API). They validate,
 * run chat's beforeChange hooks, let the engine apply the change atomically
 * (it checks existence, permission and the emoji limit, and publishes the
 * event), then run the afterChange hooks.
 */
import { isModerator } from '../../auth/identity.js';
import type { Engine } from '../../engine/engine.js';
import type { ChangeRequest, ChangeResult } from '../../engine/lifecycle-store.js';
import { ParleyError } from '../../protocol/errors.js';
import type { Message, MessageResult } from '../../protocol/frames.js';
import type { Handlers } from '../../session/commands.js';
import type { Session } from '../../session/session.js';
import type { ChatFeature } from './chat.js';

/** Most code points in an emoji (or `:name:`). */
export const EMOJI_MAX_CHARS = 32;
const NOT_ALLOWED_IN_EMOJI = /[\s\p{Cc}\p{Z}]/u;

/**
 * Throws BAD_REQUEST unless `emoji` is 1 to 32 code points with no
 * whitespace or control characters.
 *
 * @example
 * checkEmoji('👍');        // ok
 * checkEmoji(':tada:');    // ok
 * checkEmoji('thumbs up'); // throws BAD_REQUEST
 */
export function checkEmoji(emoji: string): void {
  let n = 0;
  for (const _ of emoji) if (++n > EMOJI_MAX_CHARS) break;
  if (n === 0 || n > EMOJI_MAX_CHARS) {
    throw new ParleyError('BAD_REQUEST', `"emoji" must be 1 to ${EMOJI_MAX_CHARS} characters`);
  }
  if (NOT_ALLOWED_IN_EMOJI.test(emoji)) {
    throw new ParleyError('BAD_REQUEST', '"emoji" must not contain whitespace or control characters');
  }
}

const AFTER_KIND = { edit: 'edited', delete: 'deleted', react: 'reaction', unreact: 'reaction' } as const;

export class MessageLifecycle {
  constructor(
    private readonly engine: Engine,
    private readonly chat: ChatFeature,
  ) {}

  /**
   * Edits a message as the server (HTTP API: any author's message, `from` kept).
   *
   * @example
   * const message = await lifecycle.editAsServer('lobby', '1732683600000-0', 'fixed typo');
   */
  async editAsServer(room: string, messageId: string, text: string): Promise<Message> {
    this.chat.checkText(text, 'edit');
    return (await this.apply({ kind: 'edit', room, messageId, text, by: { server: true } })).message;
  }

  /**
   * Deletes a message as the server (HTTP API, a moderator): returns the tombstone.
   *
   * @example
   * const tombstone = await lifecycle.deleteAsServer('lobby', '1732683600000-0');
   */
  async deleteAsServer(room: string, messageId: string): Promise<Message> {
    return (await this.apply({ kind: 'delete', room, messageId, by: { server: true } })).message;
  }

  handlers(): Pick<Handlers, 'edit' | 'delete' | 'react' | 'unreact'> {
    return {
      edit: async (s, c) => {
        this.joined(s, c.room);
        this.chat.checkText(c.text, 'edit');
        await this.chat.beforeChange(s, c.room, 'edit');
        return this.reply({ kind: 'edit', room: c.room, messageId: c.messageId, text: c.text, by: this.actor(s) });
      },
      delete: async (s, c) => {
        this.joined(s, c.room);
        await this.chat.beforeChange(s, c.room, 'delete');
        return this.reply({ kind: 'delete', room: c.room, messageId: c.messageId, by: this.actor(s) });
      },
      react: (s, c) => this.reaction(s, 'react', c.room, c.messageId, c.emoji),
      unreact: (s, c) => this.reaction(s, 'unreact', c.room, c.messageId, c.emoji),
    };
  }

  private async reaction(
    s: Session,
    kind: 'react' | 'unreact',
    room: string,
    messageId: string,
    emoji: string,
  ): Promise<MessageResult> {
    this.joined(s, room);
    checkEmoji(emoji);
    await this.chat.beforeChange(s, room, kind);
    return this.reply({ kind, room, messageId, emoji, by: this.actor(s) });
  }

  private joined(s: Session, room: string): void {
    if (!s.rooms.has(room)) throw new ParleyError('NOT_JOINED', `join room "${room}" before changing its messages`);
  }

  private actor(s: Session): { user: string; moderator: boolean } {
    return { user: s.user, moderator: isModerator(s.identity) };
  }

  private async reply(req: ChangeRequest): Promise<MessageResult> {
    return { message: (await this.apply(req)).message };
  }

  private async apply(req: ChangeRequest): Promise<ChangeResult> {
    const result = await this.engine.lifecycle.change(req);
    if (result.changed) await this.chat.afterChange(AFTER_KIND[req.kind], result.message);
    return result;
  }
}
