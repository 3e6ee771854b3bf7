/** Moderation state in process memory (the memory engine's part; the specification of the Redis one). */
import {
  emptyModeration,
  isRestricted,
  type ModerationStore,
  type RestrictionKind,
  type RoomModeration,
  type RoomSettings,
  type RoomSettingsPatch,
} from '../moderation-store.js';
import type { StateSizes } from '../../state-sizes.js';

export class MemoryModerationStore implements ModerationStore {
  private readonly rooms = new Map<string, RoomModeration>();
  private readonly slots = new Map<string, { token: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  private get(room: string): RoomModeration {
    let st = this.rooms.get(room);
    if (!st) {
      st = emptyModeration();
      this.rooms.set(room, st);
    }
    return st;
  }

  /** A copy, so callers never see later changes through a cached object. */
  async room(room: string): Promise<RoomModeration> {
    const st = this.rooms.get(room);
    if (!st) return emptyModeration();
    return { bans: new Map(st.bans), mutes: new Map(st.mutes), slowModeSeconds: st.slowModeSeconds, topic: st.topic };
  }

  /** True when the user is banned or muted in the room now (the append check). */
  restricted(room: string, user: string): boolean {
    const st = this.rooms.get(room);
    if (!st) return false;
    const now = this.now();
    return isRestricted(st.bans, user, now) || isRestricted(st.mutes, user, now);
  }

  async restrict(room: string, kind: RestrictionKind, user: string, until: number): Promise<void> {
    const st = this.get(room);
    const map = kind === 'ban' ? st.bans : st.mutes;
    const now = this.now();
    for (const [u, t] of map) if (t !== 0 && t <= now) map.delete(u);
    map.set(user, until);
  }

  async lift(room: string, kind: RestrictionKind, user: string): Promise<void> {
    const st = this.rooms.get(room);
    if (st) (kind === 'ban' ? st.bans : st.mutes).delete(user);
  }

  async updateSettings(room: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    const st = this.get(room);
    if (patch.slowModeSeconds !== undefined) st.slowModeSeconds = patch.slowModeSeconds;
    if (patch.topic !== undefined) st.topic = patch.topic === '' ? null : patch.topic;
    return { slowModeSeconds: st.slowModeSeconds, topic: st.topic };
  }

  async topics(rooms: string[]): Promise<Array<string | null>> {
    return rooms.map((r) => this.rooms.get(r)?.topic ?? null);
  }

  async takeSlowSlot(room: string, user: string, seconds: number, token: string | undefined): Promise<boolean> {
    const key = `${room}\u0000${user}`;
    const now = this.now();
    const prev = this.slots.get(key);
    if (prev && prev.until > now) return token !== undefined && prev.token === token;
    if (this.slots.size > 100_000) for (const [k, v] of this.slots) if (v.until <= now) this.slots.delete(k);
    this.slots.set(key, { token: token ?? '', until: now + seconds * 1000 });
    return true;
  }

  /** Rooms with moderation state, slow-mode slots (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'memoryModeration.rooms': this.rooms.size, 'memoryModeration.slowModeSlots': this.slots.size };
  }
}
