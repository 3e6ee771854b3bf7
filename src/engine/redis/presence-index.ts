/**
 * The cluster-wide status index of the Redis presence store: which users are
 * online with which chosen status, and the seed's "every user seen" sorted
 * set, split into PRESENCE_BUCKETS buckets (keys.ts) so that no single slot
 * takes every status change on Redis Cluster. A user's entries live in one
 * bucket; reads merge all buckets in one round trip.
 *
 * Writes carry the user's version and an older version never overwrites a
 * newer one (INDEX_LUA), so index writes from several nodes may arrive in
 * any order. A failed write is remembered and redone from the user's hash by
 * repair() (the next sweep).
 */
import { StatusValues, type ChosenStatus } from '../../protocol/frames.js';
import { call, run } from './client.js';
import { indexKeys, PRESENCE_BUCKETS, presenceKeys } from './keys.js';
import type { Batch, PresenceClient, RawState } from './presence-scripts.js';
import type { StateSizes } from '../../state-sizes.js';

/** How many users one repair pass rewrites. */
const REPAIR_CHUNK = 500;

export class StatusIndex {
  /** Users whose index write failed: rewritten by the next repair(). */
  private readonly repairs = new Set<string>();

  constructor(
    private readonly redis: PresenceClient,
    private readonly batch: () => Batch,
  ) {}

  /** ARGV of the index script for a user's state: user, version, online, status position, lastSeen, now. */
  private argv(raw: RawState): string[] {
    const s = raw.state;
    return [
      s.user,
      String(raw.version),
      s.online ? '1' : '0',
      String(StatusValues.indexOf(s.status) + 1),
      String(s.lastSeen ?? Date.now()),
      String(Date.now()),
    ];
  }

  /** Adds the index write of `raw` to a batch. */
  into(b: Batch, raw: RawState): Batch {
    return b.parleyPresenceIndex(...indexKeys(raw.state.user), ...this.argv(raw));
  }

  /** Writes the index entry of `raw` now. */
  async write(raw: RawState): Promise<void> {
    await call(this.redis.parleyPresenceIndex(...indexKeys(raw.state.user), ...this.argv(raw)));
  }

  /** Writes without waiting; a failure is repaired by the next repair(). */
  writeLater(raw: RawState): void {
    this.write(raw).catch(() => this.repairs.add(raw.state.user));
  }

  /** Rewrites the entries of users whose index write failed, from their hashes (read by `read`). */
  async repair(read: (ids: string[]) => Promise<RawState[]>): Promise<void> {
    if (this.repairs.size === 0) return;
    const users = [...this.repairs].slice(0, REPAIR_CHUNK);
    for (const u of users) this.repairs.delete(u);
    try {
      const raws = await read(users);
      await Promise.all(raws.map((r) => this.write(r)));
    } catch (err) {
      for (const u of users) this.repairs.add(u);
      throw err;
    }
  }

  /**
   * Drops the entries of users offline since `cutoff` (ms) or earlier from
   * every bucket, up to `max` per bucket in one round trip; returns how many.
   * Their user hashes expire on their own (the disconnect script's TTL).
   */
  async trim(cutoff: number, max = REPAIR_CHUNK): Promise<number> {
    const b = this.batch();
    for (let i = 0; i < PRESENCE_BUCKETS; i++) {
      b.parleyPresenceTrim(presenceKeys.users(i), presenceKeys.version(i), String(cutoff), String(max));
    }
    return (await run(b)).reduce<number>((n, r) => n + Number(r), 0);
  }

  /**
   * The exact number of users listed under `status` and the first `limit` of
   * them by (time entered, id), merged over every bucket: one round trip
   * (ZCARD + ZRANGE WITHSCORES per bucket).
   */
  async list(status: ChosenStatus, limit: number): Promise<{ count: number; ids: string[] }> {
    const n = Math.max(0, Math.floor(limit));
    const b = this.batch();
    for (let i = 0; i < PRESENCE_BUCKETS; i++) {
      const key = presenceKeys.status(i, status);
      b.zcard(key);
      if (n > 0) b.zrange(key, '0', String(n - 1), 'WITHSCORES');
    }
    const res = await run(b);
    let count = 0;
    const entries: Array<{ id: string; score: number }> = [];
    const step = n > 0 ? 2 : 1;
    for (let i = 0; i < res.length; i += step) {
      count += Number(res[i]);
      if (n === 0) continue;
      const flat = (res[i + 1] as unknown[]).flat() as string[];
      for (let k = 0; k + 1 < flat.length; k += 2) entries.push({ id: flat[k]!, score: Number(flat[k + 1]) });
    }
    entries.sort((x, y) => x.score - y.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return { count, ids: entries.slice(0, n).map((e) => e.id) };
  }

  /** Users whose index write waits for a repair (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'redisPresence.indexRepairs': this.repairs.size };
  }
}
