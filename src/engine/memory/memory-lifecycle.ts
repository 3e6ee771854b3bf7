/**
 * Edits, deletes and reactions for the memory engine: the executable
 * specification of the Redis lifecycle scripts (src/engine/redis/lifecycle.ts).
 *
 * The room's log keeps every message as it was sent; the current state of a
 * changed message is kept beside it (an overlay, replacing the original on
 * every read), so a history page costs one map lookup per message, never a
 * walk through the changes. Every applied change is appended to the room's
 * change log (id + message id), which `join since` reads to list the
 * messages changed while a client was away.
 */
import { ParleyError } from '../../protocol/errors.js';
import type { DeletedEvent, EditedEvent, Message, Reaction, ReactionEvent } from '../../protocol/frames.js';
import { compareMessageIds } from '../../protocol/ids.js';
import type { BusEvent } from '../engine.js';
import {
  MAX_DISTINCT_EMOJI,
  REACTION_USERS_SHOWN,
  type ChangeRequest,
  type ChangeResult,
  type MessageLifecycleStore,
} from '../lifecycle-store.js';
import type { StateSizes } from '../../state-sizes.js';

/** What the memory engine lends the lifecycle store. */
export interface MemoryLogHost {
  /** The room's retained messages, oldest first (as sent), or undefined. */
  entries(room: string): readonly Message[] | undefined;
  /** Delivers an event on the room's bus. */
  deliver(room: string, event: BusEvent): void;
  /** Messages kept per room: the change log keeps as many changes. */
  readonly historyMax: number;
}

interface RoomChanges {
  /** Current state of every changed message still retained. */
  overlays: Map<string, Message>;
  /** Reactors per message and emoji, in reaction order. */
  reactors: Map<string, Map<string, string[]>>;
  /** Applied changes, oldest first. */
  log: Array<{ id: string; messageId: string }>;
  lastMs: number;
  lastSeq: number;
  /** Changes with ids below this were dropped from the log (null: none dropped). */
  trimmedBefore: string | null;
  /** Ids of deleted messages. */
  deleted: Set<string>;
}

/** Index of the first element whose id is >= `id` (sorted by id). */
function lowerBound(items: readonly { id: string }[], id: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareMessageIds(items[mid]!.id, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function idParts(id: string): [number, number] {
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export class MemoryLifecycleStore implements MessageLifecycleStore {
  private readonly rooms = new Map<string, RoomChanges>();

  constructor(private readonly host: MemoryLogHost) {}

  async change(req: ChangeRequest): Promise<ChangeResult> {
    const original = this.find(req.room, req.messageId);
    if (!original) throw new ParleyError('NOT_FOUND', `no message "${req.messageId}" in room "${req.room}"`);
    const rc = this.roomOf(req.room);
    const current = rc.overlays.get(req.messageId) ?? original;
    if (current.deleted) throw new ParleyError('NOT_FOUND', `message "${req.messageId}" was deleted`);
    const unchanged: ChangeResult = { message: current, changed: false, changeId: null };
    const by = req.by;
    let next: Message;
    let frame: () => string;
    switch (req.kind) {
      case 'edit': {
        if (!('server' in by) && by.user !== current.from) {
          throw new ParleyError('FORBIDDEN', 'only the author may edit a message');
        }
        if (req.text === current.text) return unchanged;
        next = { ...current, text: req.text, editedAt: Date.now() };
        const m = next;
        frame = () => JSON.stringify({ type: 'edited', room: req.room, message: m } satisfies EditedEvent);
        break;
      }
      case 'delete': {
        if (!('server' in by) && !by.moderator && by.user !== current.from) {
          throw new ParleyError('FORBIDDEN', 'only the author or a moderator may delete a message');
        }
        next = { id: current.id, room: current.room, from: current.from, text: '', ts: current.ts, deleted: true };
        if (current.name !== undefined) next.name = current.name;
        rc.reactors.delete(req.messageId);
        rc.deleted.add(req.messageId);
        frame = () =>
          JSON.stringify({ type: 'deleted', room: req.room, messageId: req.messageId } satisfies DeletedEvent);
        break;
      }
      case 'react':
      case 'unreact': {
        const user = req.by.user;
        let perEmoji = rc.reactors.get(req.messageId);
        const users = perEmoji?.get(req.emoji) ?? [];
        const has = users.includes(user);
        if (req.kind === 'react' ? has : !has) return unchanged;
        if (
          req.kind === 'react' &&
          users.length === 0 &&
          Object.keys(current.reactions ?? {}).length >= MAX_DISTINCT_EMOJI
        ) {
          throw new ParleyError('LIMIT', `a message carries at most ${MAX_DISTINCT_EMOJI} distinct emoji`);
        }
        const after = req.kind === 'react' ? [...users, user] : users.filter((u) => u !== user);
        if (!perEmoji) {
          perEmoji = new Map();
          rc.reactors.set(req.messageId, perEmoji);
        }
        const reactions: Record<string, Reaction> = { ...current.reactions };
        if (after.length === 0) {
          perEmoji.delete(req.emoji);
          delete reactions[req.emoji];
        } else {
          perEmoji.set(req.emoji, after);
          reactions[req.emoji] = { count: after.length, users: after.slice(0, REACTION_USERS_SHOWN) };
        }
        next = { ...current };
        if (Object.keys(reactions).length === 0) delete next.reactions;
        else next.reactions = reactions;
        const ev: ReactionEvent = {
          type: 'reaction',
          room: req.room,
          messageId: req.messageId,
          emoji: req.emoji,
          user,
          op: req.kind === 'react' ? 'add' : 'remove',
          count: after.length,
        };
        frame = () => JSON.stringify(ev);
        break;
      }
    }
    rc.overlays.set(req.messageId, next);
    const changeId = this.nextChangeId(req.room, rc);
    rc.log.push({ id: changeId, messageId: req.messageId });
    this.trim(req.room, rc);
    this.host.deliver(req.room, { kind: 'change', id: changeId, frame: frame() });
    return { message: next, changed: true, changeId };
  }

  async get(room: string, messageId: string): Promise<Message | null> {
    const original = this.find(room, messageId);
    if (!original) return null;
    return this.rooms.get(room)?.overlays.get(messageId) ?? original;
  }

  async deletedAfter(room: string, afterId: string | null, max: number): Promise<string[]> {
    const rc = this.rooms.get(room);
    if (!rc) return [];
    const ids = [...rc.deleted].filter((id) => afterId === null || compareMessageIds(id, afterId) > 0);
    return ids.sort(compareMessageIds).slice(0, Math.max(0, max));
  }

  /** The messages in their current state (the same objects when nothing changed in the room). */
  current(room: string, messages: Message[]): Message[] {
    const rc = this.rooms.get(room);
    if (!rc || rc.overlays.size === 0) return messages;
    return messages.map((m) => rc.overlays.get(m.id) ?? m);
  }

  /**
   * The `changed` part of a `join since`: the current state of messages at
   * or before `since` changed after it was stored, and the newest change id
   * read. `complete` is false when the change log no longer reaches back to
   * `since` or more than `max` changes followed it (`changed` is then empty).
   */
  recovery(
    room: string,
    since: string,
    known: boolean,
    max: number,
  ): { changed: Message[]; changeId: string | null; complete: boolean } {
    const rc = this.rooms.get(room);
    const changeId = rc?.log.at(-1)?.id ?? null;
    if (!rc || !known) return { changed: [], changeId, complete: known };
    if (rc.trimmedBefore !== null && compareMessageIds(since, rc.trimmedBefore) < 0) {
      return { changed: [], changeId, complete: false };
    }
    let at = lowerBound(rc.log, since);
    if (at < rc.log.length && rc.log[at]!.id === since) at++;
    if (rc.log.length - at > max) return { changed: [], changeId, complete: false };
    const ids = new Set<string>();
    for (let i = at; i < rc.log.length; i++) {
      const mid = rc.log[i]!.messageId;
      if (compareMessageIds(mid, since) <= 0) ids.add(mid);
    }
    const changed: Message[] = [];
    for (const id of [...ids].sort(compareMessageIds)) {
      const m = rc.overlays.get(id);
      if (m) changed.push(m);
    }
    return { changed, changeId, complete: true };
  }

  /** Forgets the room's changes (the engine evicted the room's messages). */
  dropRoom(room: string): void {
    this.rooms.delete(room);
  }

  private find(room: string, id: string): Message | undefined {
    const entries = this.host.entries(room);
    if (!entries) return undefined;
    const at = lowerBound(entries, id);
    const m = entries[at];
    return m !== undefined && m.id === id ? m : undefined;
  }

  private roomOf(room: string): RoomChanges {
    let rc = this.rooms.get(room);
    if (!rc) {
      rc = {
        overlays: new Map(),
        reactors: new Map(),
        log: [],
        lastMs: 0,
        lastSeq: 0,
        trimmedBefore: null,
        deleted: new Set(),
      };
      this.rooms.set(room, rc);
    }
    return rc;
  }

  /** Greater than the last change and than every message stored so far; `<ms>-<seq>` with ms >= now. */
  private nextChangeId(room: string, rc: RoomChanges): string {
    let ms = Date.now();
    let seq = 0;
    const lastMessage = this.host.entries(room)?.at(-1);
    if (lastMessage) {
      const [lms, lseq] = idParts(lastMessage.id);
      if (lms > ms) [ms, seq] = [lms, lseq + 1];
      else if (lms === ms) seq = lseq + 1;
    }
    if (rc.log.length > 0 || rc.lastMs > 0) {
      if (rc.lastMs > ms) [ms, seq] = [rc.lastMs, rc.lastSeq + 1];
      else if (rc.lastMs === ms) seq = Math.max(seq, rc.lastSeq + 1);
    }
    rc.lastMs = ms;
    rc.lastSeq = seq;
    return `${ms}-${seq}`;
  }

  /** Keeps as many changes as messages (trimmed in steps, like the message log), and drops state of trimmed messages. */
  private trim(room: string, rc: RoomChanges): void {
    const max = this.host.historyMax;
    if (rc.log.length > max + Math.max(1, Math.floor(max / 10))) {
      rc.log.splice(0, rc.log.length - max);
      rc.trimmedBefore = rc.log[0]?.id ?? null;
    }
    const first = this.host.entries(room)?.[0];
    if (rc.overlays.size <= max || first === undefined) return;
    for (const id of rc.overlays.keys()) {
      if (compareMessageIds(id, first.id) >= 0) continue;
      rc.overlays.delete(id);
      rc.reactors.delete(id);
      rc.deleted.delete(id);
    }
  }

  /** Rooms with changes, changed messages retained (parley_state_entries). */
  stateSizes(): StateSizes {
    let overlays = 0;
    for (const r of this.rooms.values()) overlays += r.overlays.size;
    return { 'memoryLifecycle.rooms': this.rooms.size, 'memoryLifecycle.overlays': overlays };
  }
}
