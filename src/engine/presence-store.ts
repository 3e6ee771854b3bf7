/**
 * Cluster-wide presence state behind the engine seam. The store keeps
 * facts (connections, chosen statuses, room memberships, node leases) and
 * reports transitions; the presence feature turns them into events.
 */
import type { ChosenStatus } from '../protocol/frames.js';

export interface ConnectionInfo {
  connId: string;
  user: string;
  name?: string;
}

/** A user's true state (the feature derives what others see). */
export interface UserState {
  user: string;
  name?: string;
  status: ChosenStatus;
  text?: string;
  /** True while any connection of the user is alive anywhere. */
  online: boolean;
  lastSeen?: number;
}

/** A change caused by a connection going away (disconnect, node death, shutdown). */
export interface DepartureTransition {
  user: string;
  /** Rooms in which the user has no connection left. */
  leftRooms: string[];
  /** True when the user has no connection left anywhere. */
  wentOffline: boolean;
  state: UserState;
}

/**
 * A user who came back into rooms without a new connection: a node that had
 * lost its lease (Redis unreachable for longer than the node timeout, or
 * Redis restarted empty) re-registered its live connections after others
 * had swept them. The feature sends `join` for `joinedRooms`.
 */
export interface ArrivalTransition {
  user: string;
  /** Rooms in which the user had no connection before the re-registration. */
  joinedRooms: string[];
  state: UserState;
}

/** What one sweep found: connections of dead nodes removed, and this node's own connections restored. */
export interface SweepResult {
  departures: DepartureTransition[];
  arrivals: ArrivalTransition[];
}

export interface PresenceStore {
  /** Registers a live connection of this node. */
  connect(conn: ConnectionInfo): Promise<{ wentOnline: boolean; state: UserState }>;
  /** Removes a connection of this node and its room memberships. Null when unknown. */
  disconnect(connId: string): Promise<DepartureTransition | null>;
  /** Adds the connection to the room's members; `first` when the user was not in it yet. */
  joinRoom(connId: string, user: string, room: string): Promise<{ first: boolean }>;
  /** Removes the connection from the room; `last` when the user has no other connection in it. */
  leaveRoom(connId: string, user: string, room: string): Promise<{ last: boolean }>;
  /**
   * Sets the chosen status and text; returns old and new state, the rooms the
   * user is in and how many live connections the user has (cluster-wide).
   */
  setStatus(
    user: string,
    status: ChosenStatus,
    text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[]; connections: number }>;
  /** States of the given users, in the same order (unknown users are offline). */
  users(ids: string[]): Promise<UserState[]>;
  /**
   * Up to `limit` members of a room (users with a live connection in it, invisible
   * ones included: the feature shows them offline) and their total count.
   */
  roomMembers(room: string, limit: number): Promise<{ members: UserState[]; count: number }>;
  /** Users whose chosen status is `status` and who are online, up to `limit`. */
  listByStatus(status: ChosenStatus, limit: number): Promise<{ users: UserState[]; count: number }>;
  /**
   * Finds nodes whose lease ran out, removes their connections (exactly like
   * disconnect) and reports what changed; also reports work this node did on
   * its own since the last sweep (leftovers of a previous run with the same
   * node id removed at start, connections re-registered after a lost lease).
   */
  sweep(): Promise<SweepResult>;
  /** Removes every connection of this node at once (clean shutdown). */
  removeAllLocal(): Promise<DepartureTransition[]>;
}

/** Optional lifecycle hooks an engine calls on its presence store (leases, sweeps). */
export interface PresenceLifecycle {
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
