/**
 * Lua sources of the Redis message engine. They are registered with ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL on a fresh
 * connection or after NOSCRIPT (e.g. a Redis restart), so callers never load
 * scripts by hand.
 *
 * Every key a script touches is passed in KEYS and carries the room's hash
 * tag (keys.ts), so each script runs on one Cluster slot.
 */

/**
 * append: dedupe check, store, trim, publish, remember the clientMsgId, all atomic.
 *
 * KEYS[1] the room's stream; KEYS[2] its sequence counter, KEYS[3] its read markers
 * (membership-keys.ts); KEYS[4] its moderation hash (moderation-keys.ts); then the dedupe key,
 * only when the draft has a clientMsgId (ARGV[11] = '1'); then the webhook shard stream, only
 * when the message's webhook event is queued here (ARGV[12] set: one Redis or Sentinel only, as
 * that stream is in another slot).
 * ARGV[1] body fragment (codec.encodeBody), ARGV[2] room channel,
 * ARGV[3] / ARGV[4] frame prefix / suffix (codec.messageFrame around the message JSON),
 * ARGV[5] historyMax, ARGV[6] the trim step (historyMax / 10), ARGV[7] dedupe window (ms),
 * ARGV[8] the publish command (`PUBLISH`, or `SPUBLISH` on Cluster: RedisEngine.publishCommand).
 * ARGV[9] the sender. ARGV[10] '1' to refuse a sender banned or muted now (returns `{'', 1|2}`).
 * ARGV[12..14] the webhook event's partition, body prefix and suffix (around the message JSON):
 * queued in the same step, so events of messages stored at once through two nodes keep the
 * stored order (the entry format of redis-webhooks.ts: p, b, t).
 *
 * Each message gets the room's next sequence number (stream field `s`, after
 * `d`), and the sender's read marker moves to it (`<seq>|<id>`), so unread
 * counts are arithmetic on sequence numbers (membership-store.ts).
 *
 * Returns the new stream id (a string), or `{storedMessageJson}` for a duplicate.
 *
 * The message JSON is spliced exactly like codec.messageJson(id, ts, body),
 * with ts = the ms part of the id, so the stored body, the published frame
 * and the reply all come from one serialization. The bus payload is
 * `m<id>|<frame>` (bus.ts).
 *
 * Trimming: `XADD MAXLEN ~ n` only drops whole stream nodes (100 entries by
 * default), so a small historyMax would never trim. Like the memory engine,
 * the log is cut back to exactly historyMax once it grows past it by the
 * trim step (10 %): every step-th sequence number checks the length, so a
 * plain append pays no XLEN and the log never exceeds historyMax + step.
 */
export const APPEND_LUA = `
local dedupe = nil
local nk = 5
if ARGV[11] == '1' then
  dedupe = KEYS[5]
  nk = 6
end
if dedupe then
  local prev = redis.call('GET', dedupe)
  if prev then return {prev} end
end
if ARGV[10] == '1' then
  local r = redis.call('HMGET', KEYS[4], 'b:' .. ARGV[9], 'm:' .. ARGV[9])
  local now = nil
  for i = 1, 2 do
    local t = tonumber(r[i])
    if t then
      if not now then
        local tm = redis.call('TIME')
        now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
      end
      if t == 0 or t > now then return {'', i} end
    end
  end
end
local log = KEYS[1]
local body = ARGV[1]
local seq = redis.call('INCR', KEYS[2])
local id = redis.call('XADD', log, '*', 'd', body, 's', seq)
redis.call('HSET', KEYS[3], ARGV[9], seq .. '|' .. id)
if seq % tonumber(ARGV[6]) == 0 and redis.call('XLEN', log) > tonumber(ARGV[5]) then
  redis.call('XTRIM', log, 'MAXLEN', ARGV[5])
end
local json = '{"id":"' .. id .. '","ts":' .. string.sub(id, 1, string.find(id, '-', 1, true) - 1) .. ',' .. body
redis.call(ARGV[8], ARGV[2], 'm' .. id .. '|' .. ARGV[3] .. json .. ARGV[4])
if dedupe then
  redis.call('SET', dedupe, json, 'PX', ARGV[7])
end
if ARGV[12] and ARGV[12] ~= '' then
  redis.call('XADD', KEYS[nk], '*', 'p', ARGV[12], 'b', ARGV[13] .. json .. ARGV[14], 't', string.sub(id, 1, string.find(id, '-', 1, true) - 1))
end
return id
`;
