/**
 * Edits, deletes and reactions on Redis, and the reads that return messages
 * in their current state (history pages, `join since`). One Lua script per
 * change (lifecycle-scripts.ts), so all nodes apply one message's changes in
 * one order; the memory engine's MemoryLifecycleStore is the specification.
 */
import { ParleyError } from '../../protocol/errors.js';
import type { Message } from '../../protocol/frames.js';
import { compareMessageIds, MESSAGE_ID_PATTERN } from '../../protocol/ids.js';
import { idTime, messageJson } from '../codec.js';
import type { HistoryPage, SinceResult } from '../engine.js';
import {
  MAX_DISTINCT_EMOJI,
  REACTION_USERS_SHOWN,
  type ChangeRequest,
  type ChangeResult,
  type MessageLifecycleStore,
} from '../lifecycle-store.js';
import { call, run, toEngineError, type RedisCommands } from './client.js';
import type { RoomNamesCache } from './keys.js';
import {
  changedIndexKey,
  changesTrimmedKey,
  deletedKey,
  reactionsKey,
  reactorsKey,
  roomPrefix,
  stateKey,
} from './lifecycle-keys.js';
import { CHANGE_LUA, GET_LUA, RECOVER_LUA } from './lifecycle-scripts.js';

type StreamEntry = [id: string, fields: string[]];

/** The scripts this store registers on the client it is given. */
interface LifecycleScripts {
  parleyChange(...args: string[]): Promise<[string, string?, string?]>;
  parleyRecover(
    log: string,
    state: string,
    changes: string,
    trimmed: string,
    since: string,
    max: string,
  ): Promise<[number, StreamEntry[], number, (string | null)[], string[], string, number]>;
  parleyGet(log: string, state: string, id: string): Promise<[number, string] | null>;
}

export interface RedisLifecycleOptions {
  /** Messages kept per room; the change log keeps as many changes. */
  historyMax: number;
  /** The command the change script publishes with (`PUBLISH`, or `SPUBLISH` on Cluster). */
  publishCommand(): string;
  /** Resolves once the configured replicas hold the writes made on `key`'s node (PARLEY_ACK_REPLICAS). */
  acknowledged(key: string): Promise<void>;
}

/** Stream entries (in the given order) to messages, each replaced by its current state when it has one. */
function toMessages(entries: StreamEntry[], overlays: (string | null | undefined)[] | undefined): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < entries.length; i++) {
    const [id, fields] = entries[i]!;
    const state = overlays?.[i];
    if (typeof state === 'string') out.push(JSON.parse(state) as Message);
    else if (fields[1] !== undefined) out.push(JSON.parse(messageJson(id, idTime(id), fields[1])) as Message);
  }
  return out;
}

const CHANGE_ERRORS: Record<string, () => ParleyError> = {
  NOT_FOUND: () => new ParleyError('NOT_FOUND', 'no such message in this room (or it was deleted)'),
  FORBIDDEN: () =>
    new ParleyError('FORBIDDEN', 'only the author may edit a message; only the author or a moderator may delete it'),
  LIMIT: () => new ParleyError('LIMIT', `a message carries at most ${MAX_DISTINCT_EMOJI} distinct emoji`),
};

export class RedisLifecycleStore implements MessageLifecycleStore {
  private readonly cmd: RedisCommands & LifecycleScripts;
  private readonly argKeep: string;
  private readonly argTrimAbove: string;

  /**
   * Registers the lifecycle scripts on `client` (the engine's command connection).
   *
   * @example
   * const store = new RedisLifecycleStore(cmd, names, {
   *   historyMax: 10_000,
   *   publishCommand: () => 'PUBLISH',
   *   acknowledged: async () => {},
   * });
   */
  constructor(
    client: RedisCommands,
    private readonly names: RoomNamesCache,
    private readonly opts: RedisLifecycleOptions,
  ) {
    client.defineCommand('parleyChange', { lua: CHANGE_LUA, numberOfKeys: 8 });
    client.defineCommand('parleyRecover', { lua: RECOVER_LUA, numberOfKeys: 4, readOnly: true });
    client.defineCommand('parleyGet', { lua: GET_LUA, numberOfKeys: 2, readOnly: true });
    this.cmd = client as RedisCommands & LifecycleScripts;
    const max = Math.max(1, Math.floor(opts.historyMax));
    this.argKeep = String(max);
    this.argTrimAbove = String(max + Math.max(1, Math.floor(max / 10)));
  }

  /** One script call: check, new state, change log entry, publish (see CHANGE_LUA). */
  async change(req: ChangeRequest): Promise<ChangeResult> {
    const { room, messageId } = req;
    const n = this.names.get(room);
    const actor = 'server' in req.by ? '' : req.by.user;
    const moderator = 'server' in req.by || req.by.moderator ? '1' : '0';
    const arg = req.kind === 'edit' ? req.text : req.kind === 'delete' ? '' : req.emoji;
    let reply: [string, string?, string?];
    try {
      reply = await this.cmd.parleyChange(
        n.log,
        stateKey(room),
        n.changes,
        changesTrimmedKey(room),
        changedIndexKey(room),
        deletedKey(room),
        reactionsKey(room, messageId),
        reactorsKey(room, messageId),
        req.kind,
        messageId,
        actor,
        moderator,
        arg,
        JSON.stringify(room),
        n.channel,
        this.opts.publishCommand(),
        this.argKeep,
        this.argTrimAbove,
        roomPrefix(room),
        String(MAX_DISTINCT_EMOJI),
        String(REACTION_USERS_SHOWN),
      );
    } catch (err) {
      throw toEngineError(err);
    }
    const [status, json, changeId] = reply;
    const error = CHANGE_ERRORS[status];
    if (error) throw error();
    const message = JSON.parse(json!) as Message;
    if (status === 'SAME') return { message, changed: false, changeId: null };
    await this.opts.acknowledged(n.log);
    return { message, changed: true, changeId: changeId! };
  }

  async get(room: string, messageId: string): Promise<Message | null> {
    let reply: [number, string] | null;
    try {
      reply = await this.cmd.parleyGet(this.names.get(room).log, stateKey(room), messageId);
    } catch (err) {
      throw toEngineError(err);
    }
    if (reply === null) return null;
    const [changed, text] = reply;
    return JSON.parse(changed === 1 ? text : messageJson(messageId, idTime(messageId), text)) as Message;
  }

  async deletedAfter(room: string, afterId: string | null, max: number): Promise<string[]> {
    const min = afterId === null ? '-inf' : String(idTime(afterId));
    let ids: string[];
    try {
      ids = await this.cmd.zrangebyscore(deletedKey(room), min, '+inf');
    } catch (err) {
      throw toEngineError(err);
    }
    const after = afterId === null ? ids : ids.filter((id) => compareMessageIds(id, afterId) > 0);
    return after.sort(compareMessageIds).slice(0, Math.max(0, max));
  }

  /**
   * A history page in current state: XREVRANGE of the page pipelined with
   * EXISTS of the room's state hash (one round trip, no Lua: a script would
   * copy every entry into Lua and back), then, only in a room that ever had a
   * change, one HMGET of the page's ids. A change landing between the two
   * reads only makes the page newer.
   */
  async history(room: string, opts: { before?: string; limit: number }): Promise<HistoryPage> {
    const limit = Math.max(0, Math.floor(opts.limit));
    // Like the memory engine: nothing sorts before a malformed id.
    if (opts.before !== undefined && !MESSAGE_ID_PATTERN.test(opts.before)) return { messages: [], hasMore: false };
    const end = opts.before === undefined ? '+' : `(${opts.before}`;
    const state = stateKey(room);
    const [rawEntries, exists] = await run(
      this.cmd
        .pipeline()
        .xrevrange(this.names.get(room).log, end, '-', 'COUNT', limit + 1)
        .exists(state),
    );
    const entries = rawEntries as StreamEntry[];
    const hasMore = entries.length > limit;
    if (hasMore) entries.length = limit;
    let overlays: (string | null)[] | undefined;
    if (exists === 1 && entries.length > 0) {
      overlays = await call(this.cmd.hmget(state, ...entries.map(([id]) => id)));
    }
    const messages = toMessages(entries, overlays);
    return { messages: messages.reverse(), hasMore };
  }

  /** What `join since` needs, read atomically by one script (see RECOVER_LUA). */
  async since(room: string, since: string, max: number): Promise<SinceResult> {
    const count = Math.max(0, Math.floor(max));
    // Like the memory engine: a malformed id is unknown, everything is "after" it.
    const from = MESSAGE_ID_PATTERN.test(since) ? since : '0-0';
    const n = this.names.get(room);
    let reply: [number, StreamEntry[], number, (string | null)[], string[], string, number];
    try {
      reply = await this.cmd.parleyRecover(
        n.log,
        stateKey(room),
        n.changes,
        changesTrimmedKey(room),
        from,
        String(count),
      );
    } catch (err) {
      throw toEngineError(err);
    }
    const [known, entries, newestFirst, overlays, changed, changeId, complete] = reply;
    const messages = toMessages(entries, overlays);
    if (newestFirst === 1) messages.reverse();
    return {
      messages,
      recovered: known === 1 && newestFirst === 0 && complete === 1 && from === since,
      changed: changed.map((json) => JSON.parse(json) as Message),
      changeId: changeId === '' ? null : changeId,
    };
  }
}
