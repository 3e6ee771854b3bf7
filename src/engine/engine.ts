/**
 * The engine seam: everything Parley shares between nodes goes through this
 * interface. Two implementations: memory (one process, the executable
 * specification) and Redis (many nodes). Features never talk to Redis.
 *
 * Failure contract: a method that needs storage and cannot reach it rejects
 * with ParleyError('UNAVAILABLE') within a bounded time, never hangs.
 */
import type { NodeDirectory } from './node-directory.js';
import type { Message } from '../protocol/frames.js';
import type { MembershipStore } from './membership-store.js';
import type { MessageLifecycleStore } from './lifecycle-store.js';
import type { ModerationStore } from './moderation-store.js';
import type { PresenceStore } from './presence-store.js';
import type { WebhookQueue } from './webhook-queue.js';
import type { StateSizes } from '../state-sizes.js';

/** A message to store; the engine assigns `id` and `ts`. */
export interface MessageDraft {
  room: string;
  from: string;
  name?: string;
  text: string;
  clientMsgId?: string;
  /** Id of the message this one answers (checked to exist by the feature). */
  replyTo?: string;
  /**
   * Refuse with FORBIDDEN when `from` is banned or muted in the room, checked
   * atomically with the store (a send from a session; the HTTP API publishes
   * as a moderator). The feature checks its cached copy first; this closes the
   * window in which another node's ban or mute has not reached that copy yet.
   */
  enforceRestrictions?: boolean;
  /**
   * A webhook event about this message, to be queued with it in one atomic
   * step where the engine can (one Redis or Sentinel: in the append script),
   * so that messages stored at the same moment through different nodes are
   * queued in their stored order. AppendResult.eventQueued says whether it was.
   */
  event?: AppendEvent;
}

/** A queued-event body around the stored message's JSON: `bodyPrefix + messageJson + bodySuffix` (webhook-queue.ts). */
export interface AppendEvent {
  /** The WebhookQueue partition (the room). */
  partition: string;
  bodyPrefix: string;
  bodySuffix: string;
}

export interface AppendResult {
  message: Message;
  /** True when `clientMsgId` was seen within the dedupe window: nothing new was stored or published. */
  duplicate: boolean;
  /** True when draft.event was queued with the message (never for a duplicate). */
  eventQueued?: boolean;
}

export interface HistoryPage {
  /** Oldest first. */
  messages: Message[];
  /** True when older messages exist before the first one returned. */
  hasMore: boolean;
}

export interface SinceResult {
  /** Messages after `since`, oldest first (at most `max`, the newest ones when capped), in their current state. */
  messages: Message[];
  /**
   * True only when `since` is still in the room's retained log (so nothing
   * was trimmed or lost after it), no more than `max` messages followed, and
   * no more than `max` changes followed whose log still reaches back to `since`.
   */
  recovered: boolean;
  /**
   * Current state of messages at or before `since` changed (edited, deleted,
   * reacted to) after `since` was stored, oldest message first.
   */
  changed: Message[];
  /** Id of the room's newest change covered by this read (null when the room has none). */
  changeId: string | null;
}

/**
 * What a room's bus delivers to the node's listener, in the room's order.
 * Frames are serialized once, by the publisher: listeners write them as they are.
 */
export type BusEvent =
  | {
      kind: 'message';
      /** The stored message id (for per-connection de-duplication). */
      id: string;
      /** The complete `message` event frame, JSON text. */
      frame: string;
    }
  | {
      kind: 'change';
      /** The change's id in the room's change log (for per-connection de-duplication). */
      id: string;
      /** The complete `edited`, `deleted` or `reaction` frame, JSON text. */
      frame: string;
    }
  | {
      kind: 'event';
      /** A complete ephemeral frame (presence, typing), JSON text. */
      frame: string;
      /** When set, connections of this user do not get the frame (e.g. the typist). */
      skipUser?: string;
    };

/** Cluster-wide control messages, delivered to every node (including the sender). */
export type ControlMessage =
  | {
      kind: 'user-frame';
      /** Deliver `frame` to every connection of this user. */
      user: string;
      frame: string;
      /** When set, this connection (the one that caused the frame) does not get it. */
      skipConn?: string;
    }
  | {
      kind: 'disconnect';
      /** Close every connection of this user. */
      user: string;
      code: number;
      reason: string;
    }
  | {
      kind: 'moderation';
      /** A moderator changed this room's moderation state: nodes drop their cached copy. */
      room: string;
      /** With `ban`: every node takes this user's connections out of the room. */
      action: 'ban' | 'unban' | 'mute' | 'unmute' | 'settings';
      user?: string;
    }
  | {
      kind: 'webhook-wake';
      /** Webhook shards that got events: their lease holder reads them now instead of at its next poll. */
      shards: number[];
    };

export type RoomListener = (event: BusEvent) => void;
export type ControlListener = (msg: ControlMessage) => void;

/** Settings every engine honours. */
export interface EngineOptions {
  /** This node's id, unique in the cluster. */
  nodeId: string;
  /** Messages kept per room (trimmed approximately). Default 10,000. */
  historyMax: number;
  /** How long a clientMsgId is remembered, ms. Default 5 min. */
  dedupeWindowMs: number;
  /** A node that has not renewed its lease for this long is dead, ms. Default 15 s. */
  nodeTimeoutMs: number;
  /**
   * Presence records of a user offline for longer than this expire, ms
   * (storage stays bounded by active users). Default 30 days.
   */
  presenceRetentionMs?: number;
  /**
   * Memory engine only: messages stored across all rooms; above it the least
   * recently active rooms lose their messages. Default 1,000,000.
   */
  maxStoredMessages?: number;
}

/** Default of EngineOptions.presenceRetentionMs: 30 days. */
export const DEFAULT_PRESENCE_RETENTION_MS = 30 * 24 * 3600_000;
/** Default of EngineOptions.maxStoredMessages. */
export const DEFAULT_MAX_STORED_MESSAGES = 1_000_000;

export interface Engine {
  readonly kind: 'memory' | 'redis';
  readonly options: EngineOptions;

  /** Connects (Redis) and starts background work (leases). */
  start(): Promise<void>;
  /** Stops background work and closes connections. Idempotent. */
  close(): Promise<void>;
  /** True when storage answers now (for /readyz). Never throws. */
  ready(): Promise<boolean>;

  // ---- messages ----
  /** Atomically: dedupe check, store, publish the `message` event on the room's bus. */
  append(draft: MessageDraft): Promise<AppendResult>;
  /** A page of history strictly before `before` (or the latest), oldest first, in current state. */
  history(room: string, opts: { before?: string; limit: number }): Promise<HistoryPage>;
  /** The messages after `since`, for reconnect recovery. */
  since(room: string, since: string, max: number): Promise<SinceResult>;
  /** Id of the room's newest stored message, or null. */
  lastMessageId(room: string): Promise<string | null>;

  // ---- bus ----
  /**
   * Subscribes this node to a room (one subscription per room per node: a
   * second call replaces the listener). Resolves once events flow, so a read
   * made after it cannot miss a message that the listener will not get.
   */
  subscribe(room: string, listener: RoomListener): Promise<void>;
  unsubscribe(room: string): Promise<void>;
  /** Publishes an ephemeral event to every node subscribed to the room. */
  publish(room: string, event: Extract<BusEvent, { kind: 'event' }>): Promise<void>;
  /** Sends a control message to every node. */
  publishControl(msg: ControlMessage): Promise<void>;
  /** Sets the one listener for control messages. */
  onControl(listener: ControlListener): void;

  // ---- presence ----
  readonly presence: PresenceStore;

  // ---- memberships, read markers, directory ----
  readonly memberships: MembershipStore;
  // ---- edits, deletes, reactions ----
  readonly lifecycle: MessageLifecycleStore;
  // ---- moderation (bans, mutes, slow mode, topic) ----
  readonly moderation: ModerationStore;

  // ---- webhooks (the durable delivery queue) ----
  readonly webhooks: WebhookQueue;

  // ---- the cluster's nodes (admin dashboard) ----
  readonly nodes: NodeDirectory;

  /** Entry counts of the engine's in-memory structures, its stores' included (`parley_state_entries`). */
  stateSizes(): StateSizes;
}

export const defaultEngineOptions: Omit<EngineOptions, 'nodeId'> = {
  historyMax: 10_000,
  dedupeWindowMs: 5 * 60_000,
  nodeTimeoutMs: 15_000,
};
