/**
 * Moderation state in Redis: one hash per room in the room's slot
 * (moderation-keys.ts), written by small scripts so each change is atomic.
 */
import { call, type RedisCommands } from './client.js';
import {
  emptyModeration,
  type ModerationStore,
  type RestrictionKind,
  type RoomModeration,
  type RoomSettings,
  type RoomSettingsPatch,
} from '../moderation-store.js';
import { moderationKey, slowSlotKey } from './moderation-keys.js';

/**
 * restrict: drops expired bans and mutes of the room, then sets one.
 * KEYS[1] the room's hash. ARGV[1] field (`b:<user>` / `m:<user>`), ARGV[2] until (ms, 0 = until lifted), ARGV[3] now.
 */
const RESTRICT_LUA = `
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[3])
for i = 1, #all, 2 do
  local p = string.sub(all[i], 1, 2)
  if p == 'b:' or p == 'm:' then
    local t = tonumber(all[i + 1])
    if t and t > 0 and t <= now then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * settings: applies a patch and returns {slow, topic}.
 * KEYS[1] the room's hash. ARGV[1] slow seconds or '-' (keep), ARGV[2] '1' when a topic is given, ARGV[3] the topic.
 */
const SETTINGS_LUA = `
local h = KEYS[1]
if ARGV[1] ~= '-' then
  if ARGV[1] == '0' then redis.call('HDEL', h, 'slow') else redis.call('HSET', h, 'slow', ARGV[1]) end
end
if ARGV[2] == '1' then
  if ARGV[3] == '' then redis.call('HDEL', h, 'topic') else redis.call('HSET', h, 'topic', ARGV[3]) end
end
return redis.call('HMGET', h, 'slow', 'topic')
`;

/**
 * slow slot: SET NX PX, or let the same token (clientMsgId) through again.
 * KEYS[1] the slot. ARGV[1] token ('' without clientMsgId), ARGV[2] ms.
 */
const SLOW_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`;

interface ModerationCommands {
  parleyModRestrict(key: string, field: string, until: string, now: string): Promise<number>;
  parleyModSettings(
    key: string,
    slow: string,
    hasTopic: string,
    topic: string,
  ): Promise<[string | null, string | null]>;
  parleyModSlow(key: string, token: string, ms: string): Promise<number>;
}

type Client = RedisCommands & ModerationCommands;

export class RedisModerationStore implements ModerationStore {
  private readonly redis: Client;

  /**
   * @param redis the engine's command connection
   */
  /**
   * @param acknowledged waits for PARLEY_ACK_REPLICAS on a written key (RedisEngine.acknowledged), so a ban,
   *   mute or settings change that was answered survives the failover of its primary.
   */
  constructor(
    redis: RedisCommands,
    private readonly acknowledged: (key: string) => Promise<void> = async () => {},
  ) {
    redis.defineCommand('parleyModRestrict', { numberOfKeys: 1, lua: RESTRICT_LUA });
    redis.defineCommand('parleyModSettings', { numberOfKeys: 1, lua: SETTINGS_LUA });
    redis.defineCommand('parleyModSlow', { numberOfKeys: 1, lua: SLOW_LUA });
    this.redis = redis as Client;
  }

  async room(room: string): Promise<RoomModeration> {
    const h = await call(this.redis.hgetall(moderationKey(room)));
    const st = emptyModeration();
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith('b:')) st.bans.set(field.slice(2), Number(value));
      else if (field.startsWith('m:')) st.mutes.set(field.slice(2), Number(value));
      else if (field === 'slow') st.slowModeSeconds = Number(value);
      else if (field === 'topic') st.topic = value;
    }
    return st;
  }

  async restrict(room: string, kind: RestrictionKind, user: string, until: number): Promise<void> {
    const field = `${kind === 'ban' ? 'b' : 'm'}:${user}`;
    await call(this.redis.parleyModRestrict(moderationKey(room), field, String(until), String(Date.now())));
    await this.acknowledged(moderationKey(room));
  }

  async lift(room: string, kind: RestrictionKind, user: string): Promise<void> {
    await call(this.redis.hdel(moderationKey(room), `${kind === 'ban' ? 'b' : 'm'}:${user}`));
    await this.acknowledged(moderationKey(room));
  }

  async updateSettings(room: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    const [slow, topic] = await call(
      this.redis.parleyModSettings(
        moderationKey(room),
        patch.slowModeSeconds === undefined ? '-' : String(patch.slowModeSeconds),
        patch.topic === undefined ? '0' : '1',
        patch.topic ?? '',
      ),
    );
    await this.acknowledged(moderationKey(room));
    return { slowModeSeconds: slow === null ? 0 : Number(slow), topic: topic ?? null };
  }

  async topics(rooms: string[]): Promise<Array<string | null>> {
    // One HGET per room (rooms live in different slots), issued together.
    return call(Promise.all(rooms.map((r) => this.redis.hget(moderationKey(r), 'topic'))));
  }

  async takeSlowSlot(room: string, user: string, seconds: number, token: string | undefined): Promise<boolean> {
    const ok = await call(this.redis.parleyModSlow(slowSlotKey(room, user), token ?? '', String(seconds * 1000)));
    return ok === 1;
  }
}
