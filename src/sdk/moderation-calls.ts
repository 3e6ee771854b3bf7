/** The moderator calls of the SDK: bans and mutes in a room (the server checks the role). */
import type { RequestQueue } from './requests.js';
import type { ModerationOptions, RequestOptions } from './types.js';

/** Bans and mutes, for the facade. */
export class ModerationCalls {
  constructor(private readonly queue: RequestQueue) {}

  /** ParleyClient.ban: for `seconds`, or until unban. */
  async ban(room: string, user: string, options: ModerationOptions): Promise<void> {
    await this.moderate('ban', room, user, options);
  }

  /** ParleyClient.unban. */
  async unban(room: string, user: string, options: RequestOptions): Promise<void> {
    await this.moderate('unban', room, user, options);
  }

  /** ParleyClient.mute: for `seconds`, or until unmute. */
  async mute(room: string, user: string, options: ModerationOptions): Promise<void> {
    await this.moderate('mute', room, user, options);
  }

  /** ParleyClient.unmute. */
  async unmute(room: string, user: string, options: RequestOptions): Promise<void> {
    await this.moderate('unmute', room, user, options);
  }

  private async moderate(
    type: 'ban' | 'unban' | 'mute' | 'unmute',
    room: string,
    user: string,
    options: ModerationOptions,
  ): Promise<void> {
    const fields: Record<string, unknown> = { room, user };
    if (options.seconds !== undefined && (type === 'ban' || type === 'mute')) fields.seconds = options.seconds;
    await this.queue.request(type, fields, options.timeoutMs);
  }
}
