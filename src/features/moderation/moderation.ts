/**
 * Moderation: bans, mutes, slow mode and topics (docs/protocol.md,
 * "Moderation"). State lives in the engine (cluster-wide, survives
 * restarts); each node caches a room's state so a plain send in a room
 * nobody moderates costs no storage round trip. A change is written to the
 * engine, then announced on the control channel: every node drops its cached
 * copy, and for a ban takes the user's local connections out of the room.
 */
import { isModerator } from '../../auth/identity.js';
import type { ControlMessage, Engine } from '../../engine/engine.js';
import {
  isRestricted,
  type RestrictionKind,
  type RoomModeration,
  type RoomSettings,
  type RoomSettingsPatch,
} from '../../engine/moderation-store.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { ParleyError } from '../../protocol/errors.js';
import type { JoinResult, RemovedEvent } from '../../protocol/frames.js';
import type { Handlers } from '../../session/commands.js';
import type { Session } from '../../session/session.js';
import type { ChatFeature, ChatHook, SendDraft } from '../chat/chat.js';
import type { RoomsHook } from '../rooms/rooms.js';
import type { SessionRegistry } from '../sessions.js';
import type { StateSizes } from '../../state-sizes.js';

/** Longest topic, characters. */
export const MAX_TOPIC_CHARS = 300;
/** Longest slow mode, seconds (one day). */
export const MAX_SLOW_MODE_SECONDS = 86_400;

export interface ModerationOptions {
  /**
   * How long a node trusts its cached copy of a room's state without an
   * invalidation, ms. Invalidations are control messages; this bounds the
   * staleness when one is lost (a Redis connection drop). Default 10 s.
   */
  cacheMs?: number;
  /** Most rooms cached per node. Default 10,000. */
  cacheRooms?: number;
  /** Clock (tests). */
  now?: () => number;
}

interface CachedRoom {
  state: RoomModeration;
  loadedAt: number;
}

type Action = Extract<ControlMessage, { kind: 'moderation' }>['action'];

export class ModerationFeature {
  private readonly cache = new Map<string, CachedRoom>();
  /** Bumped on every invalidation, so a load that raced a change is not cached. */
  private readonly generation = new Map<string, number>();
  private readonly loading = new Map<string, Promise<RoomModeration>>();
  private readonly cacheMs: number;
  private readonly cacheRooms: number;
  private readonly now: () => number;

  constructor(
    private readonly engine: Engine,
    private readonly chat: ChatFeature,
    private readonly sessions: SessionRegistry,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    options: ModerationOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 10_000;
    this.cacheRooms = options.cacheRooms ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  // ---- the state, cached per node ----

  /** The room's moderation state, from this node's cache when fresh. */
  async state(room: string): Promise<RoomModeration> {
    return this.cached(room) ?? this.load(room);
  }

  /** The cached state, or null when this node has none yet (then load it). */
  private cached(room: string): RoomModeration | null {
    const hit = this.cache.get(room);
    if (!hit) return null;
    // Stale: refresh in the background, serve the copy meanwhile (invalidations drop entries outright).
    if (this.now() - hit.loadedAt > this.cacheMs) this.load(room).catch(() => undefined);
    return hit.state;
  }

  private load(room: string): Promise<RoomModeration> {
    const running = this.loading.get(room);
    if (running) return running;
    const gen = this.generation.get(room) ?? 0;
    const p = this.engine.moderation
      .room(room)
      .then((state) => {
        if ((this.generation.get(room) ?? 0) === gen) {
          if (this.cache.size >= this.cacheRooms && !this.cache.has(room)) this.cache.clear();
          this.cache.set(room, { state, loadedAt: this.now() });
        }
        return state;
      })
      .finally(() => {
        if (this.loading.get(room) === p) this.loading.delete(room);
      });
    this.loading.set(room, p);
    return p;
  }

  private invalidate(room: string): void {
    this.cache.delete(room);
    this.loading.delete(room);
    this.generation.set(room, (this.generation.get(room) ?? 0) + 1);
    if (this.generation.size > this.cacheRooms * 2) this.generation.clear();
  }

  /** Handles a `moderation` control message (every node, the sender included). */
  async onControl(msg: Extract<ControlMessage, { kind: 'moderation' }>): Promise<void> {
    this.invalidate(msg.room);
    if (msg.action !== 'ban' || msg.user === undefined) return;
    const frame = JSON.stringify({ type: 'removed', room: msg.room, reason: 'banned' } satisfies RemovedEvent);
    const evictions: Promise<unknown>[] = [];
    for (const s of this.sessions.ofUser(msg.user)) {
      if (!s.rooms.has(msg.room)) continue;
      s.send(frame);
      evictions.push(this.chat.evict(s, msg.room));
    }
    const results = await Promise.allSettled(evictions);
    for (const r of results) {
      if (r.status === 'rejected') this.log.warn({ err: r.reason, room: msg.room }, 'ban: presence leave failed');
    }
  }

  // ---- checks (hooks) ----

  private async banned(session: Session, room: string): Promise<void> {
    const st = await this.state(room);
    if (isRestricted(st.bans, session.user, this.now())) {
      throw new ParleyError('FORBIDDEN', `you are banned from room "${room}"`);
    }
  }

  private async muted(session: Session, room: string, what: string): Promise<RoomModeration> {
    return this.checkMuted(await this.state(room), session, room, what);
  }

  private checkMuted(st: RoomModeration, session: Session, room: string, what: string): RoomModeration {
    const now = this.now();
    if (isRestricted(st.bans, session.user, now))
      throw new ParleyError('FORBIDDEN', `you are banned from room "${room}"`);
    if (isRestricted(st.mutes, session.user, now)) {
      throw new ParleyError('FORBIDDEN', `you are muted in room "${room}": you may not ${what}`);
    }
    return st;
  }

  /** Slow mode: one message per `slowModeSeconds` per user (moderators exempt). */
  private async slowSlot(s: Session, room: string, st: RoomModeration, clientMsgId: string | undefined): Promise<void> {
    const ok = await this.engine.moderation.takeSlowSlot(room, s.user, st.slowModeSeconds, clientMsgId);
    if (!ok) {
      this.metrics.limitBreaches.inc({ limit: 'slow_mode' });
      throw new ParleyError('RATE_LIMITED', `slow mode: one message per ${st.slowModeSeconds} s in "${room}"`);
    }
  }

  /** The send check: synchronous on a cache hit in a room without slow mode (a plain send awaits nothing here). */
  private beforeSend(s: Session, room: string, draft: SendDraft): Promise<void> | void {
    if (!s.rooms.has(room)) return this.banned(s, room); // chat answers NOT_JOINED otherwise
    const hit = this.cached(room);
    if (hit === null) {
      return this.muted(s, room, 'send').then((st) => this.afterMuteCheck(s, room, st, draft));
    }
    return this.afterMuteCheck(s, room, this.checkMuted(hit, s, room, 'send'), draft);
  }

  private afterMuteCheck(s: Session, room: string, st: RoomModeration, draft: SendDraft): Promise<void> | void {
    if (st.slowModeSeconds > 0 && !isModerator(s.identity)) return this.slowSlot(s, room, st, draft.clientMsgId);
  }

  /** The hook chat runs: join, send, history (bans), send, edit, react (mutes), slow mode, the join reply's topic. */
  chatHook(): ChatHook {
    return {
      beforeJoin: (s, room) => this.banned(s, room),
      beforeHistory: (s, room) => this.banned(s, room),
      beforeSend: (s, room, draft) => this.beforeSend(s, room, draft),
      beforeChange: async (s, room, kind) => {
        if (kind === 'edit' || kind === 'react') await this.muted(s, room, kind);
      },
      joinFields: async (_s, room): Promise<Partial<JoinResult>> => {
        const { topic } = await this.state(room);
        return topic === null ? {} : { topic };
      },
    };
  }

  /** The hook the rooms feature runs: `topic` in `rooms` entries (absent when unset). */
  roomsHook(): RoomsHook {
    return {
      entryFields: async (rooms) => {
        const topics = await this.topics(rooms);
        const out = new Map<string, { topic: string }>();
        rooms.forEach((r, i) => {
          const t = topics[i];
          if (t !== null && t !== undefined) out.set(r, { topic: t });
        });
        return out;
      },
    };
  }

  /** The typing guard presence runs: muted users may not type. */
  typingGuard(): (session: Session, room: string) => Promise<void> {
    return async (s, room) => {
      await this.muted(s, room, 'type');
    };
  }

  /** Topics of rooms, for `rooms` entries (cached ones from the cache, the rest in one batch). */
  async topics(rooms: string[]): Promise<Array<string | null>> {
    const out: Array<string | null> = new Array<string | null>(rooms.length).fill(null);
    const missing: number[] = [];
    rooms.forEach((r, i) => {
      const hit = this.cache.get(r);
      if (hit && this.now() - hit.loadedAt <= this.cacheMs) out[i] = hit.state.topic;
      else missing.push(i);
    });
    if (missing.length > 0) {
      const got = await this.engine.moderation.topics(missing.map((i) => rooms[i]!));
      missing.forEach((i, k) => (out[i] = got[k] ?? null));
    }
    return out;
  }

  // ---- changes (commands and HTTP API) ----

  /** Bans or mutes a user, `seconds` long or until lifted; a ban takes them out of the room on every node. */
  async restrict(room: string, kind: RestrictionKind, user: string, seconds: number | undefined): Promise<void> {
    const until = seconds === undefined ? 0 : this.now() + seconds * 1000;
    await this.engine.moderation.restrict(room, kind, user, until);
    await this.announce(room, kind, user);
  }

  /** Lifts a ban or mute. */
  async lift(room: string, kind: RestrictionKind, user: string): Promise<void> {
    await this.engine.moderation.lift(room, kind, user);
    await this.announce(room, kind === 'ban' ? 'unban' : 'unmute', user);
  }

  /** Changes slow mode and/or the topic (fields left out keep their value; 0 / "" turn off). */
  async updateSettings(room: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    if (patch.slowModeSeconds !== undefined) {
      const n = patch.slowModeSeconds;
      if (!Number.isInteger(n) || n < 0 || n > MAX_SLOW_MODE_SECONDS) {
        throw new ParleyError('BAD_REQUEST', `"slowModeSeconds" must be an integer from 0 to ${MAX_SLOW_MODE_SECONDS}`);
      }
    }
    if (patch.topic !== undefined && [...patch.topic].length > MAX_TOPIC_CHARS) {
      throw new ParleyError('TOO_LARGE', `"topic" is longer than ${MAX_TOPIC_CHARS} characters`);
    }
    const settings = await this.engine.moderation.updateSettings(room, patch);
    await this.announce(room, 'settings');
    return settings;
  }

  private async announce(room: string, action: Action, user?: string): Promise<void> {
    // This node is consistent before the reply, whatever the bus's latency.
    this.invalidate(room);
    const msg: Extract<ControlMessage, { kind: 'moderation' }> =
      user === undefined ? { kind: 'moderation', room, action } : { kind: 'moderation', room, action, user };
    await this.engine.publishControl(msg);
  }

  private requireModerator(s: Session, what: string): void {
    if (!isModerator(s.identity)) throw new ParleyError('FORBIDDEN', `only moderators may ${what}`);
  }

  handlers(): Pick<Handlers, 'ban' | 'unban' | 'mute' | 'unmute'> {
    return {
      ban: async (s, c) => {
        this.requireModerator(s, 'ban');
        await this.restrict(c.room, 'ban', c.user, c.seconds);
        return {};
      },
      unban: async (s, c) => {
        this.requireModerator(s, 'unban');
        await this.lift(c.room, 'ban', c.user);
        return {};
      },
      mute: async (s, c) => {
        this.requireModerator(s, 'mute');
        await this.restrict(c.room, 'mute', c.user, c.seconds);
        return {};
      },
      unmute: async (s, c) => {
        this.requireModerator(s, 'unmute');
        await this.lift(c.room, 'mute', c.user);
        return {};
      },
    };
  }

  /** The per-room moderation cache and its bookkeeping (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'moderation.cache': this.cache.size,
      'moderation.generation': this.generation.size,
      'moderation.loading': this.loading.size,
    };
  }
}
