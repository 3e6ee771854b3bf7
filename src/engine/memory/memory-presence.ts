/**
 * In-process presence store: the specification of the Redis one.
 * One process is the whole cluster, so there are no dead nodes to sweep.
 */
import type { ChosenStatus } from '../../protocol/frames.js';
import { DEFAULT_PRESENCE_RETENTION_MS, type EngineOptions } from '../engine.js';
import type { ConnectionInfo, DepartureTransition, PresenceStore, SweepResult, UserState } from '../presence-store.js';
import { sumSizes, type StateSizes } from '../../state-sizes.js';

interface UserRecord {
  name?: string;
  status: ChosenStatus;
  text?: string;
  lastSeen?: number;
  conns: Set<string>;
  /** room -> number of this user's connections in it */
  rooms: Map<string, number>;
}

interface ConnRecord {
  user: string;
  rooms: Set<string>;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly users_ = new Map<string, UserRecord>();
  private readonly conns = new Map<string, ConnRecord>();
  /** room -> user -> connection count */
  private readonly rooms = new Map<string, Map<string, number>>();
  /** When expire() last scanned (ms). */
  private expiredAt = 0;

  constructor(readonly options: EngineOptions) {}

  /** How long an offline user's record is kept (EngineOptions.presenceRetentionMs). */
  private get retentionMs(): number {
    return this.options.presenceRetentionMs ?? DEFAULT_PRESENCE_RETENTION_MS;
  }

  /** True when `rec` belongs to a user offline for longer than the retention (read as unknown, dropped by sweep). */
  private expired(rec: UserRecord, now: number): boolean {
    return rec.conns.size === 0 && rec.lastSeen !== undefined && now - rec.lastSeen > this.retentionMs;
  }

  /** Drops the records of users offline for longer than the retention (a full scan at most once a minute). */
  private expire(): void {
    const now = Date.now();
    if (now - this.expiredAt < 60_000) return;
    this.expiredAt = now;
    for (const [user, rec] of this.users_) if (this.expired(rec, now)) this.users_.delete(user);
  }

  /** Number of user records held (tests and the bench read it). */
  get storedUsers(): number {
    return this.users_.size;
  }

  private record(user: string): UserRecord {
    let rec = this.users_.get(user);
    if (rec && this.expired(rec, Date.now())) {
      this.users_.delete(user);
      rec = undefined;
    }
    if (!rec) {
      rec = { status: 'online', conns: new Set(), rooms: new Map() };
      this.users_.set(user, rec);
    }
    return rec;
  }

  private state(user: string, rec: UserRecord | undefined = this.users_.get(user)): UserState {
    if (!rec || this.expired(rec, Date.now())) return { user, status: 'online', online: false };
    const s: UserState = { user, status: rec.status, online: rec.conns.size > 0 };
    if (rec.name !== undefined) s.name = rec.name;
    if (rec.text !== undefined) s.text = rec.text;
    if (!s.online && rec.lastSeen !== undefined) s.lastSeen = rec.lastSeen;
    return s;
  }

  async connect(conn: ConnectionInfo): Promise<{ wentOnline: boolean; state: UserState }> {
    const rec = this.record(conn.user);
    if (conn.name !== undefined) rec.name = conn.name;
    const wentOnline = rec.conns.size === 0;
    rec.conns.add(conn.connId);
    this.conns.set(conn.connId, { user: conn.user, rooms: new Set() });
    return { wentOnline, state: this.state(conn.user, rec) };
  }

  async disconnect(connId: string): Promise<DepartureTransition | null> {
    const conn = this.conns.get(connId);
    if (!conn) return null;
    const leftRooms: string[] = [];
    for (const room of conn.rooms) if (this.removeFromRoom(conn.user, room)) leftRooms.push(room);
    this.conns.delete(connId);
    const rec = this.record(conn.user);
    rec.conns.delete(connId);
    const wentOffline = rec.conns.size === 0;
    if (wentOffline) rec.lastSeen = Date.now();
    return { user: conn.user, leftRooms, wentOffline, state: this.state(conn.user, rec) };
  }

  async joinRoom(connId: string, user: string, room: string): Promise<{ first: boolean }> {
    const conn = this.conns.get(connId);
    if (!conn || conn.rooms.has(room)) return { first: false };
    conn.rooms.add(room);
    let members = this.rooms.get(room);
    if (!members) {
      members = new Map();
      this.rooms.set(room, members);
    }
    const n = members.get(user) ?? 0;
    members.set(user, n + 1);
    const rec = this.record(user);
    rec.rooms.set(room, (rec.rooms.get(room) ?? 0) + 1);
    return { first: n === 0 };
  }

  async leaveRoom(connId: string, user: string, room: string): Promise<{ last: boolean }> {
    const conn = this.conns.get(connId);
    if (!conn || !conn.rooms.delete(room)) return { last: false };
    return { last: this.removeFromRoom(user, room) };
  }

  /** Drops one connection of `user` from `room`; true when it was the user's last there. */
  private removeFromRoom(user: string, room: string): boolean {
    const members = this.rooms.get(room);
    const rec = this.users_.get(user);
    const n = (members?.get(user) ?? 1) - 1;
    if (rec) {
      if (n <= 0) rec.rooms.delete(room);
      else rec.rooms.set(room, n);
    }
    if (!members) return true;
    if (n <= 0) {
      members.delete(user);
      if (members.size === 0) this.rooms.delete(room);
      return true;
    }
    members.set(user, n);
    return false;
  }

  async setStatus(
    user: string,
    status: ChosenStatus,
    text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[]; connections: number }> {
    const rec = this.record(user);
    const before = this.state(user, rec);
    rec.status = status;
    if (text === undefined || text === '') delete rec.text;
    else rec.text = text;
    return { before, after: this.state(user, rec), rooms: [...rec.rooms.keys()], connections: rec.conns.size };
  }

  async users(ids: string[]): Promise<UserState[]> {
    return ids.map((id) => this.state(id));
  }

  async roomMembers(room: string, limit: number): Promise<{ members: UserState[]; count: number }> {
    const members = this.rooms.get(room);
    if (!members) return { members: [], count: 0 };
    const out: UserState[] = [];
    for (const user of members.keys()) {
      if (out.length >= limit) break;
      out.push(this.state(user));
    }
    return { members: out, count: members.size };
  }

  async listByStatus(status: ChosenStatus, limit: number): Promise<{ users: UserState[]; count: number }> {
    const out: UserState[] = [];
    let count = 0;
    for (const [user, rec] of this.users_) {
      if (rec.conns.size === 0 || rec.status !== status) continue;
      count++;
      if (out.length < limit) out.push(this.state(user, rec));
    }
    return { users: out, count };
  }

  async sweep(): Promise<SweepResult> {
    this.expire();
    return { departures: [], arrivals: [] };
  }

  async removeAllLocal(): Promise<DepartureTransition[]> {
    const out: DepartureTransition[] = [];
    for (const connId of [...this.conns.keys()]) {
      const t = await this.disconnect(connId);
      if (t) out.push(t);
    }
    return out;
  }

  /** Users, connections and room member maps (parley_state_entries). */
  stateSizes(): StateSizes {
    return {
      'memoryPresence.users': this.users_.size,
      'memoryPresence.conns': this.conns.size,
      'memoryPresence.rooms': this.rooms.size,
      'memoryPresence.roomMembers': sumSizes(this.rooms.values()),
    };
  }
}
