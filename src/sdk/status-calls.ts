/**
 * The presence calls of the SDK: your status (kept across reconnects and
 * sent again first on every new socket) and the presence of rooms or users.
 */
import type { ChosenStatus, OwnPresenceEntry, PresenceResult } from '../protocol/frames.js';
import type { RequestQueue } from './requests.js';
import type { RequestOptions } from './types.js';

/** Status and presence, for the facade. */
export class StatusCalls {
  /** The status the app chose last; restored on every new socket until the client ends. */
  private desired: { status: ChosenStatus; text?: string } | null = null;

  constructor(private readonly queue: RequestQueue) {}

  /** ParleyClient.setStatus. */
  setStatus(status: ChosenStatus, text: string | undefined, options: RequestOptions): Promise<OwnPresenceEntry> {
    this.desired = text === undefined ? { status } : { status, text };
    const fields: Record<string, unknown> = { status };
    if (text !== undefined) fields.text = text;
    return this.queue.request('status', fields, options.timeoutMs).then((r) => r.presence);
  }

  /** ParleyClient.presence: a room's members (`room` string) or given users. */
  presence(target: string | string[], options: RequestOptions): Promise<PresenceResult> {
    const fields = typeof target === 'string' ? { room: target } : { users: target };
    return this.queue.request('presence', fields, options.timeoutMs);
  }

  /** A socket is open: the chosen status goes again, unless a setStatus is already waiting to go. */
  restore(): void {
    if (this.desired && !this.queue.hasWaiting('status')) {
      void this.queue.internal('status', { ...this.desired }).catch(() => undefined);
    }
  }

  /** The client ended: a later connect starts with the server's default status. */
  reset(): void {
    this.desired = null;
  }
}
