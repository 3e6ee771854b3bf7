/**
 * Lua of message edits, deletes and reactions, and of the reads that return
 * messages in their current state (history, `join since`). Registered with
 * ioredis `defineCommand` (EVALSHA, EVAL after NOSCRIPT). Every key passed
 * carries the room's hash tag (lifecycle-keys.ts); the change script also
 * derives the names of old messages' reaction keys from the room's key
 * prefix when it cleans them up, which stay in the same slot.
 *
 * Written with String.raw so that Lua's `\0` / `\1` escapes reach Redis as typed.
 *
 * Storage (docs/redis.md): the message stream keeps each message as sent;
 * `state` holds the full current JSON of changed messages only; the change
 * log stream lists every applied change. A history page (lifecycle.ts, no
 * script) is the stream page plus one HMGET of its ids (skipped when the room
 * never had a change).
 */

/**
 * change: one edit / delete / react / unreact, atomic: read the message's
 * current state, check it (exists, not deleted, permission, emoji limit),
 * write the new state, append to the change log, publish the event.
 *
 * KEYS[1] log stream, [2] state hash, [3] change log, [4] change-log trim marker,
 * [5] changed index, [6] deleted index, [7] the message's reactions zset, [8] its reactors hash.
 * ARGV[1] kind, [2] message id, [3] acting user ('' = the server), [4] '1' when a moderator,
 * [5] text (edit) or emoji (react/unreact), [6] the room id as a JSON string, [7] room channel,
 * [8] publish command (PUBLISH / SPUBLISH), [9] change log length kept, [10] trim when longer,
 * [11] the room's key prefix, [12] most distinct emoji, [13] reactors listed per emoji.
 *
 * Returns {'NOT_FOUND'} | {'FORBIDDEN'} | {'LIMIT'} | {'SAME', stateJson} | {'OK', stateJson, changeId}.
 * The bus payload is `c<changeId>|<frame>` (bus.ts).
 */
export const CHANGE_LUA = String.raw`
local log, state, changes, trimmed, cidx, deleted, rx, rxu = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local kind, id, actor, moderator, arg = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local function parts(s)
  local d = string.find(s, '-', 1, true)
  return tonumber(string.sub(s, 1, d - 1)), tonumber(string.sub(s, d + 1)), string.sub(s, 1, d - 1)
end
local entry = redis.call('XRANGE', log, id, id)[1]
if not entry then return {'NOT_FOUND'} end
local idms, _, idmsText = parts(id)
local cur = redis.call('HGET', state, id)
local m
if cur then
  m = cjson.decode(cur)
else
  m = cjson.decode('{"id":"' .. id .. '","ts":' .. idmsText .. ',' .. entry[2][2])
end
if m.deleted then return {'NOT_FOUND'} end
local function same()
  return {'SAME', cur or cjson.encode(m)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local count = 0
if kind == 'edit' then
  if actor ~= '' and m.from ~= actor then return {'FORBIDDEN'} end
  if m.text == arg then return same() end
  m.text = arg
  m.editedAt = now
elseif kind == 'delete' then
  if actor ~= '' and not moderator and m.from ~= actor then return {'FORBIDDEN'} end
  m = {id = m.id, room = m.room, from = m.from, name = m.name, ts = m.ts, text = '', deleted = true}
  redis.call('DEL', rx, rxu)
  redis.call('ZADD', deleted, idms, id)
else
  local field = arg .. '\0' .. actor
  local member = redis.call('HGET', rxu, field)
  local reactions = m.reactions or {}
  if kind == 'react' then
    if member then return same() end
    if not reactions[arg] then
      local n = 0
      for _ in pairs(reactions) do n = n + 1 end
      if n >= tonumber(ARGV[12]) then return {'LIMIT'} end
    end
    local seq = redis.call('HINCRBY', rxu, '#', 1)
    member = arg .. '\0' .. string.format('%012d', seq) .. '\0' .. actor
    redis.call('HSET', rxu, field, member)
    redis.call('ZADD', rx, 0, member)
  else
    if not member then return same() end
    redis.call('HDEL', rxu, field)
    redis.call('ZREM', rx, member)
  end
  local lo, hi = '[' .. arg .. '\0', '(' .. arg .. '\1'
  count = redis.call('ZLEXCOUNT', rx, lo, hi)
  if count == 0 then
    reactions[arg] = nil
  else
    local users = {}
    local skip = #arg + 15
    for i, mem in ipairs(redis.call('ZRANGEBYLEX', rx, lo, hi, 'LIMIT', 0, tonumber(ARGV[13]))) do
      users[i] = string.sub(mem, skip)
    end
    reactions[arg] = {count = count, users = users}
  end
  if next(reactions) == nil then m.reactions = nil else m.reactions = reactions end
end
local json = cjson.encode(m)
redis.call('HSET', state, id, json)
redis.call('ZADD', cidx, idms, id)
-- The change id: after the last change, after every stored message, not before now.
local ms, seq = now, 0
local lms, lseq = parts(redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1][1])
if lms > ms then ms, seq = lms, lseq + 1 elseif lms == ms then seq = lseq + 1 end
local lc = redis.call('XREVRANGE', changes, '+', '-', 'COUNT', 1)[1]
if lc then
  local cms, cseq = parts(lc[1])
  if cms > ms then ms, seq = cms, cseq + 1 elseif cms == ms and cseq + 1 > seq then seq = cseq + 1 end
end
local cid = string.format('%d-%d', ms, seq)
local room = ARGV[6]
local frame
if kind == 'edit' then
  frame = '{"type":"edited","room":' .. room .. ',"message":' .. json .. '}'
elseif kind == 'delete' then
  frame = '{"type":"deleted","room":' .. room .. ',"messageId":"' .. id .. '"}'
else
  local op = 'remove'
  if kind == 'react' then op = 'add' end
  frame = '{"type":"reaction","room":' .. room .. ',"messageId":"' .. id .. '","emoji":' .. cjson.encode(arg) ..
    ',"user":"' .. actor .. '","op":"' .. op .. '","count":' .. count .. '}'
end
redis.call('XADD', changes, cid, 'm', id, 'f', frame)
if redis.call('XLEN', changes) > tonumber(ARGV[10]) then
  redis.call('XTRIM', changes, 'MAXLEN', ARGV[9])
  redis.call('SET', trimmed, redis.call('XRANGE', changes, '-', '+', 'COUNT', 1)[1][1])
end
redis.call(ARGV[8], ARGV[7], 'c' .. cid .. '|' .. frame)
-- Drop the state of (at most 10) changed messages the message stream has trimmed.
local fms, _, fmsText = parts(redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1][1])
local prefix = ARGV[11]
for _, old in ipairs(redis.call('ZRANGEBYSCORE', cidx, '-inf', '(' .. fmsText, 'LIMIT', 0, 10)) do
  redis.call('HDEL', state, old)
  redis.call('ZREM', cidx, old)
  redis.call('ZREM', deleted, old)
  redis.call('DEL', prefix .. 'rx:' .. old, prefix .. 'rxu:' .. old)
end
return {'OK', json, cid}
`;

/**
 * since: everything a `join since` needs, read atomically.
 *
 * KEYS[1] log stream, [2] state hash, [3] change log, [4] change-log trim marker.
 * ARGV[1] the `since` message id, [2] max (the recovery limit).
 *
 * Returns {known, entries, newestFirst, overlays, changed, changeId, changesComplete}:
 * - known 1 when the `since` entry is still in the stream;
 * - entries after it, oldest first, or (newestFirst 1) the newest max of them newest first;
 * - overlays: HMGET state for those entries (false = unchanged), or {} ;
 * - changed: state JSON of messages at or before `since` changed after it, oldest first;
 * - changeId: the newest change id ('' when none);
 * - changesComplete 0 when the change log was trimmed past `since` or more than max changes followed it.
 */
export const RECOVER_LUA = String.raw`
local log, state, changes = KEYS[1], KEYS[2], KEYS[3]
local since = ARGV[1]
local max = tonumber(ARGV[2])
local function parts(s)
  local d = string.find(s, '-', 1, true)
  return tonumber(string.sub(s, 1, d - 1)), tonumber(string.sub(s, d + 1))
end
local sms, sseq = parts(since)
local function atOrBefore(a)
  local ams, aseq = parts(a)
  return ams < sms or (ams == sms and aseq <= sseq)
end
local known = #redis.call('XRANGE', log, since, since) == 1
local after = redis.call('XRANGE', log, '(' .. since, '+', 'COUNT', max + 1)
local newestFirst = 0
if #after > max then
  newestFirst = 1
  if max <= 0 then after = {} else after = redis.call('XREVRANGE', log, '+', '(' .. since, 'COUNT', max) end
end
local overlays = {}
local hasState = redis.call('EXISTS', state) == 1
if hasState and #after > 0 then
  local ids = {}
  for i, e in ipairs(after) do ids[i] = e[1] end
  overlays = redis.call('HMGET', state, unpack(ids))
end
local top = redis.call('XREVRANGE', changes, '+', '-', 'COUNT', 1)[1]
local cursor = ''
if top then cursor = top[1] end
local changed = {}
local complete = 1
if not known then complete = 0 end
if known and top then
  local tr = redis.call('GET', KEYS[4])
  if tr and not atOrBefore(tr) then complete = 0 end
  if complete == 1 then
    local ch = redis.call('XRANGE', changes, '(' .. since, '+', 'COUNT', max + 1)
    if #ch > max then
      complete = 0
    else
      local seen, ids = {}, {}
      for _, e in ipairs(ch) do
        local mid = e[2][2]
        if not seen[mid] and atOrBefore(mid) then
          seen[mid] = true
          ids[#ids + 1] = mid
        end
      end
      if #ids > 0 then
        table.sort(ids, function(a, b)
          local ams, aseq = parts(a)
          local bms, bseq = parts(b)
          return ams < bms or (ams == bms and aseq < bseq)
        end)
        local states = redis.call('HMGET', state, unpack(ids))
        for i = 1, #ids do
          if states[i] then changed[#changed + 1] = states[i] end
        end
      end
    end
  end
end
return {known and 1 or 0, after, newestFirst, overlays, changed, cursor, complete}
`;

/**
 * get: one message in its current state.
 *
 * KEYS[1] log stream, [2] state hash. ARGV[1] message id.
 * Returns nil (no such message), {1, stateJson} (changed) or {0, bodyFragment} (as sent).
 */
export const GET_LUA = String.raw`
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])[1]
if not entry then return nil end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then return {1, cur} end
return {0, entry[2][2]}
`;
