/**
 * The client-side view of one room's messages: what arrived live, in rejoin
 * batches and in history pages, with edits, deletes and reactions applied,
 * and the `changed` list of a `join since` (state of older messages that
 * changed while the client was away). Applying `messages` and `changed` gives
 * the same view as a fresh `history` (the contract's recovery rule).
 *
 * Messages are replaced, never mutated, so an app may compare references.
 */
import type { Message, Reaction } from '../protocol/frames.js';
import type { ReactionChange } from './types.js';
import { compareMessageIds } from '../protocol/ids.js';

/** At most this many users are listed per emoji (the server keeps the first 20). */
const REACTORS_LISTED = 20;

export class MessageStore {
  private readonly byId = new Map<string, Message>();
  /** Ids sorted oldest first. */
  private order: string[] = [];

  constructor(private readonly limit = 5000) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  /** The messages held, oldest first. */
  list(): Message[] {
    return this.order.map((id) => this.byId.get(id)!);
  }

  /** The newest message held, if any. */
  newest(): Message | undefined {
    const id = this.order[this.order.length - 1];
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Adds a message or replaces the held copy with this (newer) state. */
  put(m: Message): void {
    if (!this.byId.has(m.id)) this.insertId(m.id);
    this.byId.set(m.id, m);
    while (this.order.length > this.limit) {
      const oldest = this.order.shift();
      if (oldest !== undefined) this.byId.delete(oldest);
    }
  }

  /** Replaces the state of a held message (an `edited` event or a `changed` entry); false when not held. */
  replace(m: Message): boolean {
    if (!this.byId.has(m.id)) return false;
    this.byId.set(m.id, m);
    return true;
  }

  /** Turns a held message into its tombstone; returns it (undefined when not held). */
  delete(id: string): Message | undefined {
    const m = this.byId.get(id);
    if (!m) return undefined;
    const tomb = tombstone(m);
    this.byId.set(id, tomb);
    return tomb;
  }

  /** Applies a `reaction` event to a held message; returns the new state (undefined when not held). */
  react(change: ReactionChange): Message | undefined {
    const m = this.byId.get(change.messageId);
    if (!m) return undefined;
    const next = withReaction(m, change);
    this.byId.set(m.id, next);
    return next;
  }

  /** Forgets everything (the server could not recover the room). */
  clear(): void {
    this.byId.clear();
    this.order = [];
  }

  private insertId(id: string): void {
    const order = this.order;
    const last = order[order.length - 1];
    if (last === undefined || compareMessageIds(id, last) > 0) {
      order.push(id);
      return;
    }
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareMessageIds(order[mid]!, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    order.splice(lo, 0, id);
  }
}

/** The tombstone of a message, as the server keeps it: id, room, from, ts; no text, nothing else. */
export function tombstone(m: Message): Message {
  return { id: m.id, room: m.room, from: m.from, text: '', ts: m.ts, deleted: true };
}

/**
 * A message with one `reaction` event applied: the count from the event
 * (exact), the user added to or removed from the listed first reactors.
 *
 * @example
 * const next = withReaction(message, { room, messageId: message.id, emoji: '👍', user: 'ann', op: 'add', count: 1 });
 */
export function withReaction(m: Message, change: ReactionChange): Message {
  const reactions: Record<string, Reaction> = { ...(m.reactions ?? {}) };
  const prev = reactions[change.emoji];
  let users = prev ? [...prev.users] : [];
  if (change.op === 'add') {
    if (!users.includes(change.user) && users.length < REACTORS_LISTED) users.push(change.user);
  } else users = users.filter((u) => u !== change.user);
  if (change.count > 0) reactions[change.emoji] = { count: change.count, users };
  else delete reactions[change.emoji];
  const next: Message = { ...m };
  if (Object.keys(reactions).length) next.reactions = reactions;
  else delete next.reactions;
  return next;
}
