/**
 * In-process engine: one node, no Redis. It is also the executable
 * specification of the Redis engine: the shared conformance suite runs
 * against both.
 */
import { ParleyError } from '../../protocol/errors.js';
import type { Message } from '../../protocol/frames.js';
import { compareMessageIds } from '../../protocol/ids.js';
import { encodeBody, messageFrame, messageJson } from '../codec.js';
import {
  DEFAULT_MAX_STORED_MESSAGES,
  defaultEngineOptions,
  type AppendResult,
  type BusEvent,
  type ControlListener,
  type ControlMessage,
  type Engine,
  type EngineOptions,
  type HistoryPage,
  type MessageDraft,
  type RoomListener,
  type SinceResult,
} from '../engine.js';
import type { PresenceStore } from '../presence-store.js';
import { MemoryMembershipStore } from './memory-memberships.js';
import { MemoryLifecycleStore } from './memory-lifecycle.js';
import type { WebhookQueue } from '../webhook-queue.js';
import { MemoryModerationStore } from './memory-moderation.js';
import { MemoryPresenceStore } from './memory-presence.js';
import { MemoryWebhookQueue } from './memory-webhooks.js';
import { MemoryNodeDirectory } from './memory-nodes.js';
import type { NodeDirectory } from '../node-directory.js';
import { mergeStateSizes, type StateSizes } from '../../state-sizes.js';

interface RoomLog {
  entries: Message[];
  lastMs: number;
  lastSeq: number;
}

/** Ids are `<ms>-<seq>` like Redis stream ids, increasing even if the clock steps back. */
function nextId(log: RoomLog, now: number): { id: string; ts: number } {
  if (now > log.lastMs) {
    log.lastMs = now;
    log.lastSeq = 0;
  } else {
    log.lastSeq++;
  }
  return { id: `${log.lastMs}-${log.lastSeq}`, ts: log.lastMs };
}

/** Index of the first entry whose id is >= `id` (entries are sorted). */
function lowerBound(entries: Message[], id: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareMessageIds(entries[mid]!.id, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemoryEngine implements Engine {
  readonly kind = 'memory' as const;
  readonly options: EngineOptions;
  readonly presence: PresenceStore & MemoryPresenceStore;
  readonly memberships: MemoryMembershipStore;
  readonly lifecycle: MemoryLifecycleStore;
  readonly moderation: MemoryModerationStore = new MemoryModerationStore();
  readonly webhooks: WebhookQueue = new MemoryWebhookQueue();
  readonly nodes: NodeDirectory = new MemoryNodeDirectory();
  /** Room logs in order of last append, least recently active first (the eviction order). */
  private readonly logs = new Map<string, RoomLog>();
  /** Messages held across all rooms (bounded by options.maxStoredMessages). */
  private stored = 0;
  /** The room of the last append: a run of sends to one room skips the reordering of `logs`. */
  private lastRoom: string | null = null;
  private readonly dedupe = new Map<string, { message: Message; expires: number }>();
  private readonly listeners = new Map<string, RoomListener>();
  private controlListener: ControlListener | null = null;
  private dedupeTimer: NodeJS.Timeout | null = null;

  constructor(options: Partial<EngineOptions> & { nodeId: string }) {
    this.options = { ...defaultEngineOptions, ...options };
    this.presence = new MemoryPresenceStore(this.options);
    this.memberships = new MemoryMembershipStore(this.options.historyMax, {
      lastMessage: (room) => {
        const last = this.logs.get(room)?.entries.at(-1);
        return last ? (this.lifecycle.current(room, [last])[0] ?? null) : null;
      },
      deletedAfter: (room, afterId, max) => this.lifecycle.deletedAfter(room, afterId, max),
    });
    this.lifecycle = new MemoryLifecycleStore({
      entries: (room) => this.logs.get(room)?.entries,
      deliver: (room, event) => this.deliver(room, event),
      historyMax: this.options.historyMax,
    });
  }

  async start(): Promise<void> {
    this.dedupeTimer = setInterval(() => this.expireDedupe(), 30_000);
    this.dedupeTimer.unref();
  }

  async close(): Promise<void> {
    if (this.dedupeTimer) clearInterval(this.dedupeTimer);
    this.dedupeTimer = null;
    this.listeners.clear();
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async append(draft: MessageDraft): Promise<AppendResult> {
    const now = Date.now();
    let dedupeKey: string | null = null;
    if (draft.clientMsgId !== undefined) {
      dedupeKey = `${draft.room}\u0000${draft.from}\u0000${draft.clientMsgId}`;
      const prev = this.dedupe.get(dedupeKey);
      if (prev && prev.expires > now) return { message: prev.message, duplicate: true };
    }
    if (draft.enforceRestrictions && this.moderation.restricted(draft.room, draft.from)) {
      throw new ParleyError('FORBIDDEN', `you are banned or muted in room "${draft.room}"`);
    }
    let log = this.logs.get(draft.room);
    if (!log) {
      log = { entries: [], lastMs: 0, lastSeq: 0 };
      this.logs.set(draft.room, log);
    } else if (this.lastRoom !== draft.room) {
      // Most recently active last: delete + set moves the room to the end of the map.
      this.logs.delete(draft.room);
      this.logs.set(draft.room, log);
    }
    this.lastRoom = draft.room;
    const { id, ts } = nextId(log, now);
    const json = messageJson(id, ts, encodeBody(draft));
    const message = JSON.parse(json) as Message;
    log.entries.push(message);
    this.stored++;
    // Approximate trimming, like XADD MAXLEN ~: trim in steps, never below the max.
    const max = this.options.historyMax;
    if (log.entries.length > max + Math.max(1, Math.floor(max / 10))) {
      this.stored -= log.entries.length - max;
      log.entries.splice(0, log.entries.length - max);
    }
    this.memberships.noteAppend(message);
    if (this.stored > (this.options.maxStoredMessages ?? DEFAULT_MAX_STORED_MESSAGES)) this.evict(draft.room);
    if (dedupeKey) this.dedupe.set(dedupeKey, { message, expires: now + this.options.dedupeWindowMs });
    this.deliver(draft.room, { kind: 'message', id, frame: messageFrame(draft.room, json) });
    return { message, duplicate: false };
  }

  async history(room: string, opts: { before?: string; limit: number }): Promise<HistoryPage> {
    const entries = this.logs.get(room)?.entries ?? [];
    const end = opts.before === undefined ? entries.length : lowerBound(entries, opts.before);
    const start = Math.max(0, end - opts.limit);
    return { messages: this.lifecycle.current(room, entries.slice(start, end)), hasMore: start > 0 };
  }

  async since(room: string, since: string, max: number): Promise<SinceResult> {
    const entries = this.logs.get(room)?.entries ?? [];
    const at = lowerBound(entries, since);
    const known = at < entries.length && entries[at]!.id === since;
    const after = known ? at + 1 : at;
    const missed = entries.length - after;
    const start = missed > max ? entries.length - max : after;
    const { changed, changeId, complete } = this.lifecycle.recovery(room, since, known, max);
    return {
      messages: this.lifecycle.current(room, entries.slice(start)),
      recovered: known && missed <= max && complete,
      changed,
      changeId,
    };
  }

  async lastMessageId(room: string): Promise<string | null> {
    const entries = this.logs.get(room)?.entries;
    return entries && entries.length > 0 ? entries[entries.length - 1]!.id : null;
  }

  async subscribe(room: string, listener: RoomListener): Promise<void> {
    this.listeners.set(room, listener);
  }

  async unsubscribe(room: string): Promise<void> {
    this.listeners.delete(room);
  }

  async publish(room: string, event: Extract<BusEvent, { kind: 'event' }>): Promise<void> {
    this.deliver(room, event);
  }

  async publishControl(msg: ControlMessage): Promise<void> {
    this.controlListener?.(msg);
  }

  onControl(listener: ControlListener): void {
    this.controlListener = listener;
  }

  private deliver(room: string, event: BusEvent): void {
    this.listeners.get(room)?.(event);
  }

  /** Messages held across all rooms. */
  get storedMessages(): number {
    return this.stored;
  }

  /**
   * Over the total bound: drops the messages of the least recently active
   * rooms (never `keep`, the room being appended to; its own size is bounded
   * by historyMax) until the total is within the bound again. The room's
   * edits, reactions and read-marker ids go with them; memberships and
   * markers stay, as after a trim.
   */
  private evict(keep: string): void {
    const max = this.options.maxStoredMessages ?? DEFAULT_MAX_STORED_MESSAGES;
    for (const [room, log] of this.logs) {
      if (this.stored <= max) break;
      if (room === keep) continue;
      this.stored -= log.entries.length;
      this.logs.delete(room);
      this.lifecycle.dropRoom(room);
      this.memberships.dropMessages(room);
    }
  }

  private expireDedupe(): void {
    const now = Date.now();
    for (const [key, entry] of this.dedupe) if (entry.expires <= now) this.dedupe.delete(key);
  }

  /** Room logs, messages held, dedupe entries, room listeners, and the stores' own state (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'memoryEngine.rooms': this.logs.size,
      'memoryEngine.messages': this.stored,
      'memoryEngine.dedupe': this.dedupe.size,
      'memoryEngine.listeners': this.listeners.size,
      ...mergeStateSizes([this.presence, this.memberships, this.lifecycle, this.moderation, this.webhooks, this.nodes]),
    };
  }
}
