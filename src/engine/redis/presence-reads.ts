/**
 * The reads of the Redis presence store: users' states (one pipeline for
 * many ids), a room's members (exact count and the first `limit`), and who
 * is online with a chosen status (the status index, checked against the
 * users' own hashes and repaired on the way).
 */
import type { ChosenStatus } from '../../protocol/frames.js';
import type { UserState } from '../presence-store.js';
import { call, run } from './client.js';
import { presenceKeys } from './keys.js';
import type { StatusIndex } from './presence-index.js';
import {
  parseState,
  STATE_FIELDS,
  type Batch,
  type Field,
  type PresenceClient,
  type RawState,
} from './presence-scripts.js';

export class PresenceReads {
  constructor(
    private readonly redis: PresenceClient,
    private readonly batch: () => Batch,
    private readonly index: StatusIndex,
    /** True on a Redis Cluster (user hashes in many slots); on one Redis many users are one script call. */
    private readonly cluster: () => boolean,
  ) {}

  /** The users' states in one round trip for up to 500 ids (one script on one Redis, one HMGET per user on a Cluster). */
  async users(ids: string[]): Promise<UserState[]> {
    return (await this.rawUsers(ids)).map((r) => r.state);
  }

  /** The users' states with the versions and connection counts of their hashes. */
  async rawUsers(ids: string[]): Promise<RawState[]> {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      const id = ids[0]!;
      return [parseState(id, (await call(this.redis.hmget(presenceKeys.user(id), ...STATE_FIELDS))) as Field[])];
    }
    let res: Field[][];
    if (this.cluster()) {
      const b = this.batch();
      for (const id of ids) b.hmget(presenceKeys.user(id), ...STATE_FIELDS);
      res = (await run(b)) as Field[][];
    } else {
      // One command instead of one per member: a join into a room of 100 allocated ~1.5 KB per HMGET in ioredis.
      const keys = ids.map((id) => presenceKeys.user(id));
      res = await call(this.redis.parleyPresenceUsers(String(keys.length), ...keys, ...STATE_FIELDS));
    }
    return ids.map((id, i) => parseState(id, res[i]!));
  }

  /** A sorted set's exact size and its first `limit` members, in one round trip (only the size for limit 0). */
  private async countAndFirst(key: string, limit: number): Promise<{ n: number; count: number; ids: string[] }> {
    const n = Math.max(0, Math.floor(limit));
    // ZRANGE key 0 -1 would be the whole set: a count-only read must not fetch it.
    if (n === 0) return { n, count: (await call(this.redis.zcard(key))) as number, ids: [] };
    const [count, ids] = (await run(
      this.batch()
        .zcard(key)
        .zrange(key, '0', String(n - 1)),
    )) as [number, string[]];
    return { n, count, ids };
  }

  /** Exact count (ZCARD) and the first `limit` members (ZRANGE), then their states. */
  async roomMembers(room: string, limit: number): Promise<{ members: UserState[]; count: number }> {
    const { n, count, ids } = await this.countAndFirst(presenceKeys.roomMembers(room), limit);
    const members = n === 0 ? [] : await this.users(ids);
    return { members, count };
  }

  /**
   * Users online with a chosen status, from the status index (merged over
   * its buckets), checked against the users' own hashes: an entry the index
   * got wrong (a node died between its two writes) is left out and repaired
   * on the way.
   */
  async listByStatus(status: ChosenStatus, limit: number): Promise<{ users: UserState[]; count: number }> {
    const { count, ids } = await this.index.list(status, limit);
    if (ids.length === 0) return { users: [], count };
    const raws = await this.rawUsers(ids);
    const users: UserState[] = [];
    const stale: RawState[] = [];
    for (const r of raws) {
      if (r.state.online && r.state.status === status) users.push(r.state);
      else stale.push(r);
    }
    if (stale.length > 0) {
      const b = this.batch();
      for (const r of stale) this.index.into(b, r);
      await run(b);
    }
    return { users, count: count - stale.length };
  }
}
