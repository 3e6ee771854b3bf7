/**
 * Memberships, read markers and the directory on Redis (layout in
 * membership-keys.ts and docs/redis.md). Every script touches one slot: a
 * room's (`{r:<room>}`) or one directory bucket's (`{dir:<n>}`). Work that
 * spans slots (a membership is written on the user's and on the room's
 * side) is separate idempotent commands issued in the same event-loop turn,
 * so they share one socket write; a partial write is completed by the next
 * join or forget.
 *
 * The append script (scripts.ts) assigns each message its sequence number
 * (stream field `s`) and moves the sender's marker; the lifecycle scripts
 * record deletions (`{r:<room>}:deleted`) and changed messages' current state
 * (`{r:<room>}:state`); this store reads them.
 */
import { ParleyError } from '../../protocol/errors.js';
import { UNREAD_CAP, type Message } from '../../protocol/frames.js';
import type {
  DirectoryQuery,
  DirectoryRoom,
  MembershipState,
  MembershipStore,
  ReadOutcome,
  ReadState,
} from '../membership-store.js';
import { toEngineError, type RedisCommands } from './client.js';
import { logKey } from './keys.js';
import { deletedKey, stateKey } from './lifecycle-keys.js';
import {
  DIRECTORY_BUCKETS,
  directoryBucket,
  directoryNamesKey,
  directoryRecentKey,
  readsKey,
  roomMembershipsKey,
  seqKey,
  userMembershipsKey,
} from './membership-keys.js';
import { sumSizes, type StateSizes } from '../../state-sizes.js';

/**
 * Unread from the marker: lastSeq - markerSeq - deleted after the marker, capped. Sets `mark` and `unread`.
 * Deleted messages are the lifecycle store's sorted set (score = the id's ms): those after the marker are
 * the ones with a later ms, plus those in the marker's own ms with a later sequence part.
 */
const UNREAD_SNIPPET = `
local mark = redis.call('HGET', reads, user)
local mseq = 0
local unread = tonumber(redis.call('GET', seq) or '0')
if mark then
  local bar = string.find(mark, '|', 1, true)
  mseq = tonumber(string.sub(mark, 1, bar - 1))
  unread = unread - mseq
  if unread > 0 then
    local mid = string.sub(mark, bar + 1)
    local dash = string.find(mid, '-', 1, true)
    local ms, mq = string.sub(mid, 1, dash - 1), tonumber(string.sub(mid, dash + 1))
    local nd = redis.call('ZCOUNT', deleted, ms, '+inf')
    if nd > 0 then
      unread = unread - nd
      for _, id in ipairs(redis.call('ZRANGEBYSCORE', deleted, ms, ms)) do
        if tonumber(string.sub(id, string.find(id, '-', 1, true) + 1)) <= mq then unread = unread + 1 end
      end
    end
  end
elseif unread > 0 then
  unread = unread - redis.call('ZCARD', deleted)
end
if unread > cap then unread = cap end
if unread < 0 then unread = 0 end
`;

/**
 * The room's newest message in its current state as JSON text (spliced like
 * codec.messageJson from the stream entry, or the lifecycle store's current
 * state of a changed message), or '' when the room has none.
 */
const NEWEST_SNIPPET = `
local function newest(log, state)
  local e = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  if not e then return '' end
  local cur = redis.call('HGET', state, e[1])
  if cur then return cur end
  local id = e[1]
  return '{"id":"' .. id .. '","ts":' .. string.sub(id, 1, string.find(id, '-', 1, true) - 1) .. ',' .. e[2][2]
end
`;

/**
 * state: the user's read state in a room, optionally adding the membership
 * first (join) and the room's newest message (rooms).
 * KEYS: log, seq, reads, deleted, memberships, state (lifecycle-keys.ts).
 * ARGV: user, cap, join (1/0), withLast (1/0).
 * Returns {marker or '', unread, newest or ''}.
 */
export const STATE_LUA = `
local log, seq, reads, deleted, members, state = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local user, cap = ARGV[1], tonumber(ARGV[2])
if ARGV[3] == '1' then redis.call('SADD', members, user) end
${UNREAD_SNIPPET}
${NEWEST_SNIPPET}
local top = ''
if ARGV[4] == '1' then top = newest(log, state) end
return {mark or '', unread, top}
`;

/**
 * read: move a marker forward. KEYS: log, reads, memberships. ARGV: user, messageId.
 * Returns {0} without a membership, {1} for an unknown message, else {2, marker id, moved 1/0}.
 * A message stored before sequence numbers existed counts as sequence 0.
 */
export const READ_LUA = `
local log, reads, members = KEYS[1], KEYS[2], KEYS[3]
local user, id = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', members, user) == 0 then return {0} end
local e = redis.call('XRANGE', log, id, id)
if #e == 0 then return {1} end
local f = e[1][2]
local s = 0
for i = 1, #f, 2 do if f[i] == 's' then s = tonumber(f[i + 1]) end end
local cur = redis.call('HGET', reads, user)
if cur then
  local p = string.find(cur, '|', 1, true)
  if tonumber(string.sub(cur, 1, p - 1)) >= s then return {2, string.sub(cur, p + 1), 0} end
end
redis.call('HSET', reads, user, s .. '|' .. id)
return {2, id, 1}
`;

/** summary: a directory entry. KEYS: log, memberships, state. Returns {memberships, newest or ''}. */
export const SUMMARY_LUA = `
${NEWEST_SNIPPET}
return {redis.call('SCARD', KEYS[2]), newest(KEYS[1], KEYS[3])}
`;

/**
 * touch: rooms got messages. KEYS: the bucket's recent and names keys. ARGV: ms time, room, ms time, room, …
 * A time never moves back (GT); a room new to the bucket also enters the name index.
 */
export const TOUCH_LUA = `
for i = 1, #ARGV, 2 do
  if redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], 0, ARGV[i + 1])
  end
end
return 1
`;

interface MembershipScripts {
  parleyState(...args: string[]): Promise<[string, number, string]>;
  parleyRead(...args: string[]): Promise<[number, string?, number?]>;
  parleySummary(...args: string[]): Promise<[number, string]>;
  parleyTouch(...args: string[]): Promise<number>;
}

/** Most rooms a directory query looks at before it stops (bounds its cost whatever the filter). */
const DIRECTORY_SCAN_MAX = 20_000;
/** Page size of the directory walk, per bucket: the first page, then later ones. */
const FIRST_PAGE = 12;
const NEXT_PAGE = 64;
const CAP = String(UNREAD_CAP);

/** The newest message from a script (NEWEST_SNIPPET), or null. */
function entryMessage(json: string): Message | null {
  return json === '' ? null : (JSON.parse(json) as Message);
}

/**
 * How long a node may hold a room's newer directory time before writing it,
 * ms. A room's first message on a node is written at once (so a new room is
 * listed at once); later ones are coalesced per bucket, so a busy room costs
 * one directory write per node per interval instead of one per message.
 */
export const DIRECTORY_FLUSH_MS = 250;
/** Rooms a node remembers as already in the directory (cleared wholesale when full). */
const TOUCHED_MAX = 50_000;

/** Newest first; equal times by name, descending (as ZREVRANGE orders equal scores). */
function newestFirst(a: { room: string; score: number }, b: { room: string; score: number }): number {
  return b.score - a.score || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0);
}

export class RedisMembershipStore implements MembershipStore {
  private readonly r: RedisCommands & MembershipScripts;
  /** Rooms this node has written to the directory since it started. */
  private readonly touched = new Set<string>();
  /** Newer directory times not written yet, by bucket: room -> ms. */
  private readonly pending = new Map<number, Map<string, number>>();
  private flushTimer: NodeJS.Timeout | null = null;

  /**
   * @param client the engine's command client (one Redis, Sentinel or Cluster; scripts are registered on it)
   * @param onTouchError a directory write failed (it only leaves the order stale until the next one)
   */
  constructor(
    client: RedisCommands,
    private readonly onTouchError: (err: unknown) => void = () => {},
    /** Waits for PARLEY_ACK_REPLICAS on a written key (RedisEngine.acknowledged): answered writes survive a failover. */
    private readonly acknowledged: (key: string) => Promise<void> = async () => {},
  ) {
    this.r = client as RedisCommands & MembershipScripts;
    client.defineCommand('parleyState', { lua: STATE_LUA, numberOfKeys: 6 });
    client.defineCommand('parleyRead', { lua: READ_LUA, numberOfKeys: 3 });
    client.defineCommand('parleySummary', { lua: SUMMARY_LUA, numberOfKeys: 3, readOnly: true });
    client.defineCommand('parleyTouch', { lua: TOUCH_LUA, numberOfKeys: 2 });
  }

  async join(user: string, room: string): Promise<ReadState> {
    try {
      const [[mark, unread]] = await Promise.all([
        this.state(user, room, true, false),
        this.r.sadd(userMembershipsKey(user), room),
      ]);
      await this.acknowledged(userMembershipsKey(user));
      return { lastReadId: markerId(mark), unread };
    } catch (err) {
      throw toEngineError(err);
    }
  }

  async addMembers(room: string, users: string[]): Promise<void> {
    if (users.length === 0) return;
    try {
      await Promise.all([
        this.r.sadd(roomMembershipsKey(room), ...users),
        ...users.map((u) => this.r.sadd(userMembershipsKey(u), room)),
      ]);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  async forget(user: string, room: string): Promise<boolean> {
    try {
      const [a, b] = await Promise.all([
        this.r.srem(userMembershipsKey(user), room),
        this.r.srem(roomMembershipsKey(room), user),
      ]);
      await Promise.all([this.acknowledged(userMembershipsKey(user)), this.acknowledged(roomMembershipsKey(room))]);
      return a + b > 0;
    } catch (err) {
      throw toEngineError(err);
    }
  }

  async read(user: string, room: string, messageId: string): Promise<ReadOutcome> {
    let reply: [number, string?, number?];
    try {
      reply = await this.r.parleyRead(logKey(room), readsKey(room), roomMembershipsKey(room), user, messageId);
    } catch (err) {
      throw toEngineError(err);
    }
    if (reply[0] === 0) throw new ParleyError('NOT_JOINED', `you are not a member of room "${room}": join it first`);
    if (reply[0] === 1) throw new ParleyError('NOT_FOUND', `room "${room}" has no message "${messageId}"`);
    if (reply[2] === 1) await this.acknowledged(readsKey(room));
    return { lastReadId: reply[1]!, moved: reply[2] === 1 };
  }

  async rooms(user: string): Promise<MembershipState[]> {
    try {
      const rooms = await this.r.smembers(userMembershipsKey(user));
      const states = await Promise.all(rooms.map((room) => this.state(user, room, false, true)));
      return rooms.map((room, i) => {
        const [mark, unread, top] = states[i]!;
        return { room, lastMessage: entryMessage(top), lastReadId: markerId(mark), unread };
      });
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /**
   * Records that a room got a message at `ts` (called by the engine's
   * append, no Redis round trip of its own): the room's first message on
   * this node is written in the same event-loop turn as the append, later
   * ones within DIRECTORY_FLUSH_MS, one script per bucket. `dm:` rooms are
   * never listed.
   */
  touch(room: string, ts: number): void {
    if (room.startsWith('dm:')) return;
    const b = directoryBucket(room);
    if (!this.touched.has(room)) {
      if (this.touched.size >= TOUCHED_MAX) this.touched.clear();
      this.touched.add(room);
      this.r.parleyTouch(directoryRecentKey(b), directoryNamesKey(b), String(ts), room).catch((err: unknown) => {
        this.touched.delete(room); // written at its next message
        this.onTouchError(err);
      });
      return;
    }
    let bucket = this.pending.get(b);
    if (!bucket) {
      bucket = new Map();
      this.pending.set(b, bucket);
    }
    bucket.set(room, ts);
    if (this.flushTimer === null) {
      this.flushTimer = setTimeout(() => this.flush(), DIRECTORY_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Writes the pending directory times, one script per bucket (issued in one turn). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    for (const [b, rooms] of this.pending) {
      const args: string[] = [];
      for (const [room, ts] of rooms) args.push(String(ts), room);
      this.r.parleyTouch(directoryRecentKey(b), directoryNamesKey(b), ...args).catch((err: unknown) => {
        for (const room of rooms.keys()) this.touched.delete(room);
        this.onTouchError(err);
      });
    }
    this.pending.clear();
  }

  /** Writes what is pending and stops the flush timer (the engine calls it before closing its connection). */
  close(): void {
    this.flush();
  }

  async directory(query: DirectoryQuery): Promise<DirectoryRoom[]> {
    try {
      const picked = query.prefixes === null ? await this.walkRecent(query) : await this.byNames(query.prefixes, query);
      const summaries = await Promise.all(
        picked.map((room) => this.r.parleySummary(logKey(room), roomMembershipsKey(room), stateKey(room))),
      );
      const out: Array<DirectoryRoom & { lastMessage: Message }> = [];
      for (let i = 0; i < picked.length; i++) {
        const [members, top] = summaries[i]!;
        const lastMessage = entryMessage(top);
        if (lastMessage) out.push({ room: picked[i]!, members, lastMessage });
      }
      // The index may lag by DIRECTORY_FLUSH_MS: the rooms picked are ordered by their real newest message.
      const score = (d: { room: string; lastMessage: Message }): { room: string; score: number } => ({
        room: d.room,
        score: d.lastMessage.ts,
      });
      return out.sort((a, b) => newestFirst(score(a), score(b)));
    } catch (err) {
      throw toEngineError(err);
    }
  }

  private state(user: string, room: string, join: boolean, withLast: boolean): Promise<[string, number, string]> {
    return this.r.parleyState(
      logKey(room),
      seqKey(room),
      readsKey(room),
      deletedKey(room),
      roomMembershipsKey(room),
      stateKey(room),
      user,
      CAP,
      join ? '1' : '0',
      withLast ? '1' : '0',
    );
  }

  /** Rooms whose names start with one of the prefixes (name index), newest first. */
  private async byNames(prefixes: string[], query: DirectoryQuery): Promise<string[]> {
    const buckets = Array.from({ length: DIRECTORY_BUCKETS }, (_, b) => b);
    const perBucket = await Promise.all(
      buckets.map(async (b) => {
        const lists = await Promise.all(
          prefixes.map((p) =>
            this.r.zrangebylex(directoryNamesKey(b), `[${p}`, `[${p}\xff`, 'LIMIT', 0, DIRECTORY_SCAN_MAX),
          ),
        );
        const rooms = [...new Set(lists.flat())].filter((room) => query.accept(room));
        if (rooms.length === 0) return [];
        const scores = await this.r.zmscore(directoryRecentKey(b), ...rooms);
        return rooms.map((room, i) => ({ room, score: Number(scores[i] ?? 0) }));
      }),
    );
    return perBucket
      .flat()
      .sort(newestFirst)
      .slice(0, query.limit)
      .map((x) => x.room);
  }

  /** Merges the buckets newest first, page by page, keeping accepted rooms until `limit`. */
  private async walkRecent(query: DirectoryQuery): Promise<string[]> {
    interface Cursor {
      key: string;
      page: Array<{ room: string; score: number }>;
      at: number;
      offset: number;
      done: boolean;
    }
    const fetchPage = async (c: Cursor): Promise<void> => {
      const size = c.offset === 0 ? FIRST_PAGE : NEXT_PAGE;
      const flat = await this.r.zrevrange(c.key, c.offset, c.offset + size - 1, 'WITHSCORES');
      c.page = [];
      for (let i = 0; i + 1 < flat.length; i += 2) c.page.push({ room: flat[i]!, score: Number(flat[i + 1]) });
      c.at = 0;
      c.offset += c.page.length;
      c.done = c.page.length < size;
    };
    const cursors: Cursor[] = Array.from({ length: DIRECTORY_BUCKETS }, (_, b) => ({
      key: directoryRecentKey(b),
      page: [],
      at: 0,
      offset: 0,
      done: false,
    }));
    await Promise.all(cursors.map(fetchPage));
    const out: string[] = [];
    const seen = new Set<string>();
    let scanned = 0;
    while (out.length < query.limit && scanned < DIRECTORY_SCAN_MAX) {
      // Refill every exhausted bucket that has more, in one turn.
      const refill = cursors.filter((c) => c.at >= c.page.length && !c.done);
      if (refill.length > 0) await Promise.all(refill.map(fetchPage));
      let best: Cursor | null = null;
      for (const c of cursors) {
        if (c.at >= c.page.length) continue;
        if (best === null || newestFirst(c.page[c.at]!, best.page[best.at]!) < 0) best = c;
      }
      if (best === null) break;
      const { room } = best.page[best.at++]!;
      scanned++;
      if (!seen.has(room) && query.accept(room)) {
        seen.add(room);
        out.push(room);
      }
    }
    return out;
  }

  /** Rooms remembered as in the directory, and directory times not written yet (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'redisMemberships.touched': this.touched.size,
      'redisMemberships.pendingTouches': sumSizes(this.pending.values()),
    };
  }
}

/** The message id of a stored marker `<seq>|<id>` ('' = none). */
function markerId(mark: string): string | null {
  if (!mark) return null;
  return mark.slice(mark.indexOf('|') + 1);
}
