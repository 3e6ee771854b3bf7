/**
 * Message writes of the Redis engine: the append script (dedupe, ban/mute
 * check, sequence number, XADD, the sender's read marker, trim, publish, all
 * atomic in the room's slot: scripts.ts) and the newest id of a room.
 */
import { ParleyError } from '../../protocol/errors.js';
import type { Message } from '../../protocol/frames.js';
import { encodeBody, idTime } from '../codec.js';
import type { AppendResult, MessageDraft } from '../engine.js';
import { toEngineError, type PublishCommand, type RedisCommands } from './client.js';
import { dedupeKey, type RoomNamesCache } from './keys.js';
import { readsKey, seqKey } from './membership-keys.js';
import { moderationKey, webhookQueueKey } from './moderation-keys.js';
import { shardOf, WEBHOOK_SHARDS } from '../webhook-queue.js';
import type { RedisMembershipStore } from './redis-memberships.js';
import { APPEND_LUA } from './scripts.js';

/** Custom commands registered with defineCommand. */
interface ScriptCommands {
  /** A new id; `[storedJson]` for a duplicate; `['', 1 | 2]` when the author is banned / muted. */
  parleyAppend(numKeys: number, ...args: string[]): Promise<string | [string] | [string, number]>;
}

/** The message object of a fresh append, built from the draft (same key order as JSON.parse of the stored JSON). */
function draftMessage(id: string, draft: MessageDraft): Message {
  const m: Message = { id, ts: idTime(id), room: draft.room, from: draft.from, text: draft.text };
  if (draft.name !== undefined) m.name = draft.name;
  if (draft.clientMsgId !== undefined) m.clientMsgId = draft.clientMsgId;
  if (draft.replyTo !== undefined) m.replyTo = draft.replyTo;
  return m;
}

export interface MessageWriterOptions {
  historyMax: number;
  dedupeWindowMs: number;
  /** PUBLISH, or SPUBLISH on Cluster (RedisEngine.publishCommand). */
  publishCommand: PublishCommand;
  ackReplicas: number;
  /** False on a Cluster: the webhook stream is in another slot, so events are queued after the append. */
  queueEvents: boolean;
  /** WAIT for the replicas on the connection that wrote `key` (RedisEngine.acknowledged). */
  acknowledged(key: string): Promise<void>;
}

export class RedisMessageWriter {
  private readonly cmd: RedisCommands & ScriptCommands;
  // Script arguments that never change, as strings once.
  private readonly argMax: string;
  private readonly argTrimEvery: string;
  private readonly argDedupeMs: string;

  constructor(
    cmd: RedisCommands,
    private readonly names: RoomNamesCache,
    private readonly memberships: RedisMembershipStore,
    private readonly opts: MessageWriterOptions,
  ) {
    cmd.defineCommand('parleyAppend', { lua: APPEND_LUA });
    this.cmd = cmd as RedisCommands & ScriptCommands;
    const max = Math.max(1, Math.floor(opts.historyMax));
    this.argMax = String(max);
    this.argTrimEvery = String(Math.max(1, Math.floor(max / 10)));
    this.argDedupeMs = String(Math.max(1, Math.floor(opts.dedupeWindowMs)));
  }

  /** One script call: dedupe check, XADD, trim, PUBLISH, remember the clientMsgId. */
  async append(draft: MessageDraft): Promise<AppendResult> {
    const n = this.names.get(draft.room);
    const body = encodeBody(draft);
    let reply: string | [string] | [string, number];
    const event = this.opts.queueEvents ? draft.event : undefined;
    try {
      // KEYS: the log, its sequence and read markers, plus the dedupe key only when there is a clientMsgId.
      const keys = [n.log, seqKey(draft.room), readsKey(draft.room), moderationKey(draft.room)];
      if (draft.clientMsgId !== undefined) keys.push(dedupeKey(draft.room, draft.from, draft.clientMsgId));
      if (event) keys.push(webhookQueueKey(shardOf(event.partition, WEBHOOK_SHARDS)));
      const appended = this.cmd.parleyAppend(
        keys.length,
        ...keys,
        body,
        n.channel,
        n.framePrefix,
        n.frameSuffix,
        this.argMax,
        this.argTrimEvery,
        this.argDedupeMs,
        this.opts.publishCommand,
        draft.from,
        draft.enforceRestrictions ? '1' : '',
        draft.clientMsgId !== undefined ? '1' : '',
        ...(event ? [event.partition, event.bodyPrefix, event.bodySuffix] : []),
      );
      // The directory time goes out in the same write (another slot, so not in the script).
      this.memberships.touch(draft.room, Date.now());
      reply = await appended;
    } catch (err) {
      throw toEngineError(err);
    }
    if (this.opts.ackReplicas > 0) await this.opts.acknowledged(n.log);
    if (typeof reply === 'string') {
      const result: AppendResult = { message: draftMessage(reply, draft), duplicate: false };
      if (event) result.eventQueued = true;
      return result;
    }
    if (reply.length === 2) throw new ParleyError('FORBIDDEN', `you are banned or muted in room "${draft.room}"`);
    return { message: JSON.parse(reply[0]) as Message, duplicate: true };
  }

  /** Id of the newest entry of the room's stream, or null. */
  async lastMessageId(room: string): Promise<string | null> {
    try {
      const top = await this.cmd.xrevrange(this.names.get(room).log, '+', '-', 'COUNT', 1);
      return top[0]?.[0] ?? null;
    } catch (err) {
      throw toEngineError(err);
    }
  }
}
