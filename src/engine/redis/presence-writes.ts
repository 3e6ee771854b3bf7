/**
 * The Redis writes of the presence store, per connection and per status
 * change. Their order makes a crash at any point recoverable by the sweep: a
 * connection is added to its node's hash first and removed from it last, so
 * whatever a dead node left half-done is found there and finished by the
 * (idempotent) disconnect script. The status index is written after the
 * user's script with the user's version (presence-index.ts). On a single
 * Redis, where a script may span slots, a status change writes the user and
 * the index in one script.
 */
import type { ChosenStatus } from '../../protocol/frames.js';
import { StatusValues } from '../../protocol/frames.js';
import type { DepartureTransition, UserState } from '../presence-store.js';
import { call, run } from './client.js';
import { indexKeys, presenceKeys } from './keys.js';
import type { StatusIndex } from './presence-index.js';
import { parseState, type Batch, type PresenceClient, type StateFields } from './presence-scripts.js';

/** What the writes need from the store. */
export interface WritesContext {
  redis: PresenceClient;
  batch(): Batch;
  index: StatusIndex;
  /** This node's id. */
  node: string;
  /** The user hash of a user offline this long expires (PEXPIRE), ms, as a script argument. */
  retention: string;
  /** True on Redis Cluster: every script stays on one slot (known after start). */
  cluster(): boolean;
  /** The state a write left, for the store's record of local users. */
  remember(user: string, state: UserState): void;
}

export class PresenceWrites {
  constructor(private readonly ctx: WritesContext) {}

  /** Node hash first (so a crash leaves a trace for the sweep), then the user, then the index. */
  async register(
    connId: string,
    user: string,
    name: string | undefined,
    restoreStatus?: ChosenStatus,
    restoreText?: string,
  ): Promise<{ state: UserState; wentOnline: boolean }> {
    const { redis, index } = this.ctx;
    const b = this.ctx.batch();
    const nodeConns = presenceKeys.nodeConns(this.ctx.node);
    // On Cluster the two keys live on different nodes: the node hash must be written first.
    if (this.ctx.cluster()) await call(redis.hset(nodeConns, connId, user));
    else b.hset(nodeConns, connId, user);
    const replies = await run(
      b.parleyPresenceConnect(
        presenceKeys.user(user),
        presenceKeys.userConns(user),
        connId,
        this.ctx.node,
        name === undefined ? '' : `=${name}`,
        restoreStatus ?? '',
        restoreText ?? '',
      ),
    );
    const [went, ...fields] = replies[replies.length - 1] as [number, ...StateFields];
    const raw = parseState(user, fields);
    this.ctx.remember(user, raw.state);
    if (went === 1) await index.write(raw);
    return { state: raw.state, wentOnline: went === 1 };
  }

  /**
   * Removes one connection of `node` everywhere: the user's script, then the
   * rooms (one slot each) and the index in one round trip, then the node's hash.
   * Null when the connection was not registered (someone removed it already).
   */
  async removeConn(node: string, connId: string, user: string, lastSeen: number): Promise<DepartureTransition | null> {
    const { redis, index } = this.ctx;
    const [found, off, name, status, text, seen, conns, v, rooms] = await call(
      redis.parleyPresenceDisconnect(
        presenceKeys.user(user),
        presenceKeys.userConns(user),
        presenceKeys.userRooms(user),
        presenceKeys.connRooms(user, connId),
        connId,
        String(lastSeen),
        this.ctx.retention,
      ),
    );
    const raw = parseState(user, [name, status, text, seen, conns, v]);
    let leftRooms: string[] = [];
    if (found === 1) {
      const b = this.ctx.batch();
      for (const room of rooms) b.parleyPresenceRoomDec(presenceKeys.roomMembers(room), user);
      if (off === 1) index.into(b, raw);
      const res = await run(b);
      leftRooms = rooms.filter((_, i) => res[i] === 1);
    } else if (!raw.state.online) {
      // Already removed by someone else; make sure the index agrees (repairs a crash between the two writes).
      await index.write(raw);
    }
    await call(redis.hdel(presenceKeys.nodeConns(node), connId));
    if (found !== 1) return null;
    return { user, leftRooms, wentOffline: off === 1, state: raw.state };
  }

  /** A connection joins a room: the user side and the room's count in one round trip; true when it is the user's first. */
  async joinRoom(connId: string, user: string, room: string): Promise<boolean> {
    const [, n] = await run(
      this.ctx
        .batch()
        .parleyPresenceJoin(presenceKeys.connRooms(user, connId), presenceKeys.userRooms(user), room)
        .zincrby(presenceKeys.roomMembers(room), 1, user),
    );
    return Number(n) === 1;
  }

  /**
   * A connection is put back in a room after a lost lease: the room's count
   * only when the user side did not have it any more; true when it is the user's first.
   */
  async rejoinRoom(connId: string, user: string, room: string): Promise<boolean> {
    const { redis } = this.ctx;
    const added = await call(
      redis.parleyPresenceJoin(presenceKeys.connRooms(user, connId), presenceKeys.userRooms(user), room),
    );
    if (added !== 1) return false;
    const n = await call(redis.zincrby(presenceKeys.roomMembers(room), 1, user));
    return Number(n) === 1;
  }

  /**
   * The user side first, and the room's count only when the connection was
   * really in the room there: a connection a sweeper removed meanwhile (this
   * node had lost its lease) must not take a count that belongs to another.
   */
  async leave(connId: string, user: string, room: string): Promise<boolean> {
    const { redis } = this.ctx;
    const was = await call(
      redis.parleyPresenceLeave(presenceKeys.connRooms(user, connId), presenceKeys.userRooms(user), room),
    );
    if (was !== 1) return false;
    return (await call(redis.parleyPresenceRoomDec(presenceKeys.roomMembers(room), user))) === 1;
  }

  /** A user's chosen status: the user script (with the index in it on a single Redis), then the index on Cluster. */
  async setStatus(
    user: string,
    status: ChosenStatus,
    text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[]; connections: number }> {
    const { redis } = this.ctx;
    const cluster = this.ctx.cluster();
    const t = text === undefined || text === '' ? undefined : text;
    const keys = [presenceKeys.user(user), presenceKeys.userRooms(user)];
    const [name, old, oldText, lastSeen, conns, v, rooms] = await call(
      cluster
        ? redis.parleyPresenceStatus(...keys, status, t ?? '')
        : redis.parleyPresenceStatusIndex(
            ...keys,
            ...indexKeys(user),
            status,
            t ?? '',
            user,
            String(StatusValues.indexOf(status) + 1),
            String(Date.now()),
          ),
    );
    const before = parseState(user, [name, old, oldText, lastSeen, conns, v]);
    const after: UserState = { ...before.state, status };
    if (t === undefined) delete after.text;
    else after.text = t;
    this.ctx.remember(user, after);
    if (this.ctx.cluster() && after.online && before.state.status !== status) {
      // Not awaited: the events the caller publishes next go out on the same
      // connection after it (so whoever reacts to them reads the new index),
      // and the caller saves a round trip. A failed write is redone by the next sweep.
      this.ctx.index.writeLater({ state: after, conns: before.conns, version: Number(v) });
    }
    return { before: before.state, after, rooms, connections: before.conns };
  }
}
