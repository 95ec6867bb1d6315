// The Lua scripts RedisResultStore runs by SHA. Each one sees the same
// tenant keys (KEYS[1] members, KEYS[2] stats, KEYS[3] expiry, KEYS[4]
// transitions) and ARGV[1], the tenant's key prefix "<prefix>:{t}:";
// per-opportunity and per-cell keys are built from that prefix and so stay
// in the tenant's hash slot.
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_SCRIPTS_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_SCRIPTS_H_

namespace oppmatrix::redis_scripts {

// Helpers every script starts with. A members entry is
// "cell|cents|priority|ct|ind|stage|version|prev".
//   drop(id, cell, cents): takes id out of `cell`'s set and totals.
//   unindex(id): drops id from its cell set, the totals and members;
//                returns the cell it was in, or false.
//   purge(now, limit, keep): forgets up to `limit` results whose expiry is
//                due at `now` (except `keep`); returns how many.
inline constexpr char kPrologue[] = R"lua(
local P = ARGV[1]
local function drop(id, cell, cents)
  redis.call('ZREM', P .. 'cell:' .. cell, id)
  if redis.call('HINCRBY', KEYS[2], cell .. ':n', -1) <= 0 then
    redis.call('HDEL', KEYS[2], cell .. ':n', cell .. ':amt')
  elseif cents ~= '0' then
    redis.call('HINCRBY', KEYS[2], cell .. ':amt', '-' .. cents)
  end
end
local function unindex(id)
  local m = redis.call('HGET', KEYS[1], id)
  if not m then return false end
  local cell, cents = string.match(m, '^([^|]*)|([^|]*)|')
  drop(id, cell, cents)
  redis.call('HDEL', KEYS[1], id)
  return cell
end
local function purge(now, limit, keep)
  local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    if id ~= keep then
      unindex(id)
      redis.call('DEL', P .. 'opp:' .. id)
    end
    redis.call('ZREM', KEYS[3], id)
  end
  return #ids
end
)lua";

// Stores one result. ARGV: 2 id, 3 cell, 4 priority, 5 cents, 6 "ct|ind|stage",
// 7 Classification bytes, 8 fingerprint, 9 ruleset version, 10 with-reasons
// flag, 11 classified-at ms, 12 TTL ms (0: none), 13 now ms, 14 expires-at
// ms, 15 transitions MAXLEN, 16 tenant, 17 potential, 18 relationship,
// 19 how many due expiries to purge first (0: none), 20 the opportunity
// version. A result for an older opportunity version than the stored one
// is not kept. Returns {previous cell, moved (0/1), superseded (0/1)}. A result
// that stays in its cell costs seven commands; a move adds the old cell's and
// the transition's.
inline constexpr char kPut[] = R"lua(
if ARGV[19] ~= '0' then purge(ARGV[13], tonumber(ARGV[19]), ARGV[2]) end
local id, cell, cents = ARGV[2], ARGV[3], ARGV[5]
local okey = P .. 'opp:' .. id
local from, oldcents, oldversion, prev = false, '0', '0', ''
local m = redis.call('HGET', KEYS[1], id)
if m then
  from, oldcents, oldversion, prev = string.match(m,
      '^([^|]*)|([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|(.*)$')
  if not from then from, oldcents, oldversion, prev = false, '0', '0', '' end
  if tonumber(ARGV[20]) < tonumber(oldversion) then return {prev, 0, 1} end
end
local moved = 0
if from and from ~= cell then
  drop(id, from, oldcents)
  prev = from
  moved = 1
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[15], '*',
             'tenant', ARGV[16], 'opportunity', id, 'from', from, 'to', cell,
             'potential', ARGV[17], 'relationship', ARGV[18],
             'priority', ARGV[4], 'ruleset', ARGV[9], 'time', ARGV[13])
end
if from == cell then
  if cents ~= oldcents then
    redis.call('HINCRBY', KEYS[2], cell .. ':amt',
               string.format('%d', tonumber(cents) - tonumber(oldcents)))
  end
else
  redis.call('HINCRBY', KEYS[2], cell .. ':n', 1)
  if cents ~= '0' then redis.call('HINCRBY', KEYS[2], cell .. ':amt', cents) end
end
redis.call('HSET', okey, 'c', ARGV[7], 'fp', ARGV[8], 'rv', ARGV[9],
           'rs', ARGV[10], 'at', ARGV[11], 'cell', cell, 'prev', prev)
redis.call('ZADD', P .. 'cell:' .. cell, ARGV[4], id)
redis.call('HSET', KEYS[1], id, cell .. '|' .. cents .. '|' .. ARGV[4] ..
           '|' .. ARGV[6] .. '|' .. ARGV[20] .. '|' .. prev)
if tonumber(ARGV[12]) > 0 then
  redis.call('PEXPIRE', okey, ARGV[12])
  redis.call('ZADD', KEYS[3], ARGV[14], id)
else
  redis.call('PERSIST', okey)
  redis.call('ZREM', KEYS[3], id)
end
return {prev, moved, 0}
)lua";

// Removes one result. ARGV: 2 id. Returns 1 if there was one, else 0.
inline constexpr char kDelete[] = R"lua(
local had = unindex(ARGV[2])
local n = redis.call('DEL', P .. 'opp:' .. ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
if had or n > 0 then return 1 end
return 0
)lua";

// Purges due results, then returns {stats (flat HGETALL)} followed, when
// ARGV[3] (top n) > 0, by {cell, {bytes, prev, bytes, prev, ...}} per cell.
// ARGV: 2 now ms, 3 top n.
inline constexpr char kMatrix[] = R"lua(
purge(ARGV[2], 1000, '')
local stats = redis.call('HGETALL', KEYS[2])
local out = {stats}
local n = tonumber(ARGV[3])
if n > 0 then
  for i = 1, #stats, 2 do
    local f = stats[i]
    if string.sub(f, -2) == ':n' then
      local cell = string.sub(f, 1, -3)
      local ids = redis.call('ZREVRANGE', P .. 'cell:' .. cell, 0, n - 1)
      local top = {}
      for _, id in ipairs(ids) do
        local r = redis.call('HMGET', P .. 'opp:' .. id, 'c', 'prev')
        if r[1] then
          top[#top + 1] = r[1]
          top[#top + 1] = r[2] or ''
        end
      end
      out[#out + 1] = {cell, top}
    end
  end
end
return out
)lua";

// One page of a cell, after the cursor (score ARGV[2], id ARGV[3]; empty id
// for the first page). KEYS[5] is the cell's sorted set; ARGV[4] the page
// size. Entries whose result has expired are skipped. Returns {more (0/1),
// {id, score, bytes, prev, ...}, last id scanned, its score}.
inline constexpr char kList[] = R"lua(
local function bytes_after(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local key = KEYS[5]
local start = 0
if ARGV[3] ~= '' then
  local s = redis.call('ZSCORE', key, ARGV[3])
  if s and tonumber(s) == tonumber(ARGV[2]) then
    start = redis.call('ZREVRANK', key, ARGV[3]) + 1
  else
    -- The cursor's entry moved: resume after every entry that sorts
    -- before it: higher scores, then equal scores with a greater id
    -- (byte order, as sorted sets compare).
    start = redis.call('ZCOUNT', key, '(' .. ARGV[2], '+inf')
    for _, tie in ipairs(redis.call('ZRANGEBYSCORE', key, ARGV[2], ARGV[2])) do
      if bytes_after(tie, ARGV[3]) then start = start + 1 end
    end
  end
end
local n = tonumber(ARGV[4])
local ids = redis.call('ZREVRANGE', key, start, start + n, 'WITHSCORES')
local out = {}
local last_id, last_score = '', ''
for i = 1, math.min(#ids, 2 * n), 2 do
  last_id, last_score = ids[i], ids[i + 1]
  local r = redis.call('HMGET', P .. 'opp:' .. ids[i], 'c', 'prev')
  if r[1] then
    out[#out + 1] = ids[i]
    out[#out + 1] = ids[i + 1]
    out[#out + 1] = r[1]
    out[#out + 1] = r[2] or ''
  end
end
local more = 0
if #ids > 2 * n then more = 1 end
return {more, out, last_id, last_score}
)lua";

}  // namespace oppmatrix::redis_scripts

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_SCRIPTS_H_
