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
//                due at `now`, except the ids in the set `keep`; returns
//                how many.
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
    if not keep[id] then
      unindex(id)
      redis.call('DEL', P .. 'opp:' .. id)
    end
    redis.call('ZREM', KEYS[3], id)
  end
  return #ids
end
)lua";

// Stores a batch of one tenant's results, in order, atomically. ARGV: 2 now
// ms (the latest of the results', for purging), 3 TTL ms (0: none),
// 4 transitions MAXLEN, 5 tenant, 6 how many due expiries to purge first
// (0: none), 7 history length (0: keep none), 8 how many factor-name
// lists follow (K), then K pairs of ruleset version and its factor names
// (EncodeFactorNames); then 21 per result: id,
// cell, priority, cents, "ct|ind|stage", Classification bytes,
// fingerprint, ruleset version, with-reasons flag (1/0), classified-at ms,
// potential, relationship, the opportunity version, its store time in ms,
// keep-current-since ms ('': always write), the grade number, the
// account id ('' when none), and the opportunity it was classified from
// (field 'o', its protobuf bytes; '' when the caller keeps none), and 1
// to store it only over a result of the same fingerprint (else 0), its
// field digests (FieldDigests, field 'fd') and its contributions
// (EncodeContributions; '' when none). Results of several callers share a
// call.
//
// Factor names: hash '<prefix>factors' maps a ruleset version to its
// factor names, so a history line keeps only the numbers; it holds at most
// 64 versions (when full, it starts again with the new one) and is written
// only while history is kept.
//
// Accounts: sorted set '<prefix>acct:<account>' holds the ids of the
// account's results, each by its expiry (+inf without a TTL); the key's
// TTL only grows, to the TTL of its latest write. A result joins on its
// first write with an account, when its expiry moves, and when it was
// stored without one (a result already current but not in its account's
// set is written again); one that changes account leaves the old one's
// set (a ZREM, and a ZADD and a PTTL, maybe a PEXPIRE, for the new one).
//
// History: field 'h' of the result's hash holds its last states, newest
// first, one per line: "at|cell|potential|relationship|priority|grade|
// ruleset|cause|version|fields|contributions" (readers ignore fields after
// these, and lines of an older version of the store stop after version). A
// written result whose cell, scores, grade or ruleset version differ from the
// newest line's adds a line, and the oldest past the history length go;
// with a length of 0 the field is removed. A line's cause, and the
// transition's, is what differs from the stored result this write
// replaces: "data" (the fingerprint), "ruleset", both ("data,ruleset"),
// "time" (neither), "first" when nothing was stored, "unknown" when its
// hash had expired while its members entry stayed. With a data cause,
// fields (of the line, and of the transition) are the field numbers whose
// digests differ from the stored ones ("6,12.3"; '' when the stored
// result has none).
//
// A stored result made from the same fingerprint by the same ruleset
// version, in the same cell at the same priority, with reasons if this one
// has them, and classified at or after its keep-current-since, is current:
// nothing is
// written (one HMGET). A result for an older opportunity version than the
// stored one, or than a deletion's tombstone, is not kept (superseded), nor
// is one marked only-over-the-same-input (a rescore) when the stored
// fingerprint differs or nothing is stored. Any
// other costs three commands (HMGET, the two HSETs), one more when its priority
// changed (the cell's ZADD), two more when its expiry is pushed back (PEXPIRE
// and the expiry index's ZADD, once 1 % of the TTL has passed since the last
// time), and a move adds the old cell's ZREM and the transition; a first result
// also reads the members entry. The cells' totals are summed over the batch and
// written once per cell at the end.
//
// Pins: while the result's pin (kPin: fields 'pin' the cell, 'pine' its
// expiry in ms, 'pinb' its patch) holds, the result is filed in the pin's
// cell, and the stored Classification is the rules' one with the patch and
// `rules_cell` (field 25) appended: protobuf merges them when it parses.
// A write after the pin ended removes it. A write that sets, changes or
// ends the pin the stored cell follows ('pc') has the cause "override"
// (after "data" or "ruleset" when those changed too), adds a history line
// even where the state is the same, and is never current; nor is one over
// a pin that has ended.
//
// Returns 5 per result: previous cell, moved (0/1), superseded (0/1),
// current (0/1), the patch of the pin that holds ('' when none).
inline constexpr char kPut[] = R"lua(
local N = 21
local ttl = tonumber(ARGV[3])
local H = tonumber(ARGV[7]) or 0
local first = 9 + 2 * (tonumber(ARGV[8]) or 0)
if H > 0 then
  local fk = P .. 'factors'
  for i = 9, first - 1, 2 do
    if redis.call('HEXISTS', fk, ARGV[i]) == 0 then
      if redis.call('HLEN', fk) >= 64 then redis.call('DEL', fk) end
      redis.call('HSET', fk, ARGV[i], ARGV[i + 1])
    end
  end
end
-- A protobuf string field: its tag's bytes, the length, the bytes.
local function pb_string(tag, bytes)
  local n, len = #bytes, ''
  while n >= 128 do
    len = len .. string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  return tag .. len .. string.char(n) .. bytes
end
-- The field numbers whose digests differ between `new` and `old`.
local function changed(new, old)
  local was, now, out = {}, {}, {}
  for k, v in string.gmatch(old, '([^;:]+):([^;]+)') do was[k] = v end
  for k, v in string.gmatch(new, '([^;:]+):([^;]+)') do
    now[k] = true
    if was[k] ~= v then out[#out + 1] = k end
  end
  for k in string.gmatch(old, '([^;:]+):[^;]+') do
    if not now[k] then out[#out + 1] = k end
  end
  return table.concat(out, ',')
end
-- What differs between a state with fingerprint `fp` and ruleset `rv`
-- and one with `fp0` and `rv0`.
local function cause(fp, rv, fp0, rv0)
  local d, r = fp ~= fp0, rv ~= rv0
  if d and r then return 'data,ruleset' end
  if d then return 'data' end
  if r then return 'ruleset' end
  return 'time'
end
-- The first `n` lines of `h`.
local function head(h, n)
  local pos = 0
  for _ = 1, n do
    pos = string.find(h, '\n', pos + 1, true)
    if not pos then return h end
  end
  return string.sub(h, 1, pos - 1)
end
local order, dn, da = {}, {}, {}
local function adjust(cell, n, amt)
  if n == 0 and amt == 0 then return end
  if not dn[cell] then
    order[#order + 1] = cell
    dn[cell], da[cell] = 0, 0
  end
  dn[cell] = dn[cell] + n
  da[cell] = da[cell] + amt
  if math.abs(da[cell]) > 4e15 then  -- stay within a double's integers
    redis.call('HINCRBY', KEYS[2], cell .. ':amt', string.format('%d', da[cell]))
    da[cell] = 0
  end
end
local function put(b)
  local id, cell, prio, cents = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local now, keep = ARGV[b + 13], ARGV[b + 14]
  local expires = string.format('%d', tonumber(now) + ttl)
  local okey = P .. 'opp:' .. id
  local s = redis.call('HMGET', okey, 'fp', 'rv', 'rs', 'at', 'cell', 'pr',
                       'prev', 'ct', 'v', 'exp', 'iat', 'del', 'h', 'acct',
                       'fd', 'pin', 'pine', 'pinb', 'pc')
  -- A deletion's tombstone ('del', its version, and nothing else): an
  -- older version of the opportunity stays deleted.
  local tomb = s[12]
  if tomb and tonumber(ARGV[b + 12]) < (tonumber(tomb) or 0) then
    return '', 0, 1, 0, ''
  end
  -- Only over the same input (a rescore): anything else is newer.
  if ARGV[b + 18] == '1' and s[1] ~= ARGV[b + 6] then
    return s[7] or '', 0, 1, 0, ''
  end
  -- A pin (kPin) that holds puts the result in its cell, and the stored
  -- result shows it (its patch merged over the rules' result, and the
  -- rules' cell); one that ended goes. 'pc' records the pin the stored
  -- cell follows, so that a write that changes it is not current.
  local rcell = cell
  local pinned = s[16] and (tonumber(s[17]) or 0) > tonumber(now)
  if pinned then cell = s[16] end
  local pin_state = pinned and (s[16] .. '@' .. s[17]) or ''
  local pin_moved = (s[19] or '') ~= pin_state
  local patch = pinned and s[18] or ''
  -- The hash's index fields are this script's while 'iat' matches 'at': a
  -- version of the store that does not write them (a replica in a rolling
  -- update) rewrites 'at' but not 'iat'.
  local trusted = s[5] and s[8] and s[9] and s[11] and s[11] == s[4]
  if keep ~= '' and trusted and s[1] == ARGV[b + 6] and s[2] == ARGV[b + 7] and
      (s[3] == '1' or ARGV[b + 8] == '0') and s[5] == cell and
      tonumber(s[6]) == tonumber(prio) and s[4] and
      tonumber(s[4]) >= tonumber(keep) and (s[14] or '') == ARGV[b + 16] and
      not pin_moved and (pinned or not s[16]) then
    return s[7] or '', 0, 0, 1, patch
  end
  -- Where the result is indexed: its own fields say so while they are
  -- trusted (written with its members entry, in this script); after its
  -- key expired, or when another version wrote it, the members entry.
  local from, oldcents, oldversion, prev = false, '0', '0', ''
  if trusted then
    from, oldcents, oldversion, prev = s[5], s[8], s[9], s[7] or ''
  else
    local m = redis.call('HGET', KEYS[1], id)
    if m then
      from, oldcents, oldversion, prev = string.match(m,
          '^([^|]*)|([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|(.*)$')
      if not from then from, oldcents, oldversion, prev = false, '0', '0', '' end
    end
  end
  if from and tonumber(ARGV[b + 12]) < (tonumber(oldversion) or 0) then
    return prev, 0, 1, 0, ''
  end
  local fp, rv = ARGV[b + 6], ARGV[b + 7]
  -- (A result whose hash expired while its members entry stayed has no
  -- fingerprint to compare with: 'unknown'.)
  local why = s[4] and cause(fp, rv, s[1], s[2]) or
      (from and 'unknown' or 'first')
  if pin_moved and why ~= 'first' then
    why = why == 'time' and 'override' or why .. ',override'
  end
  local fields = ''
  if s[4] and s[15] and fp ~= s[1] then fields = changed(ARGV[b + 19], s[15]) end
  local moved = 0
  if from and from ~= cell then
    redis.call('ZREM', P .. 'cell:' .. from, id)
    adjust(from, -1, -(tonumber(oldcents) or 0))
    prev = from
    moved = 1
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',
               'tenant', ARGV[5], 'opportunity', id, 'from', from, 'to', cell,
               'potential', ARGV[b + 10], 'relationship', ARGV[b + 11],
               'priority', prio, 'ruleset', rv, 'time', now, 'cause', why,
               'fields', fields)
  end
  -- The history: a line for a new state. The write before this one left
  -- the newest line's state, so what this write changed is its cause.
  local h = false
  if H > 0 then
    h = s[13] or ''
    local state = cell .. '|' .. ARGV[b + 10] .. '|' .. ARGV[b + 11] .. '|' ..
        prio .. '|' .. ARGV[b + 15] .. '|' .. rv
    local last_state = string.match(h,
        '^[^|\n]*|([^|\n]*|[^|\n]*|[^|\n]*|[^|\n]*|[^|\n]*|[^|\n]*)|')
    if last_state ~= state or pin_moved then
      local line = ARGV[b + 9] .. '|' .. state .. '|' .. why .. '|' ..
          ARGV[b + 12] .. '|' .. fields .. '|' .. ARGV[b + 20]
      if last_state and H > 1 then
        h = line .. '\n' .. head(h, H - 1)
      else
        h = line
      end
    else
      h = head(h, H)  -- the length may have been cut since
    end
  end
  if from == cell then
    adjust(cell, 0, tonumber(cents) - (tonumber(oldcents) or 0))
  else
    adjust(cell, 1, tonumber(cents))
  end
  -- The expiry is pushed back only once it is 1 % of the TTL behind: a
  -- result expires between 99 % and 100 % of the TTL after its last write.
  local exp = expires
  -- (And at once when the TTL was shortened.)
  local stored_exp = tonumber(s[10] or '')
  local refresh = ttl <= 0 or not stored_exp or
      stored_exp < tonumber(expires) - ttl / 100 or
      stored_exp > tonumber(expires)
  if not refresh then exp = s[10] end
  if tomb then redis.call('HDEL', okey, 'del') end
  local stored = ARGV[b + 5]
  if pinned then
    stored = stored .. patch .. pb_string('\202\001', rcell)
  elseif s[16] then
    redis.call('HDEL', okey, 'pin', 'pine', 'pinb')
    redis.call('ZREM', P .. 'pins', id)
  end
  if h then
    redis.call('HSET', okey, 'c', stored, 'fp', fp,
               'rv', rv, 'rs', ARGV[b + 8], 'at', ARGV[b + 9],
               'cell', cell, 'pr', prio, 'prev', prev, 'ct', cents,
               'v', ARGV[b + 12], 'exp', exp, 'iat', ARGV[b + 9], 'h', h,
               'acct', ARGV[b + 16], 'o', ARGV[b + 17], 'fd', ARGV[b + 19],
               'pc', pin_state)
  else
    redis.call('HSET', okey, 'c', stored, 'fp', fp,
               'rv', rv, 'rs', ARGV[b + 8], 'at', ARGV[b + 9],
               'cell', cell, 'pr', prio, 'prev', prev, 'ct', cents,
               'v', ARGV[b + 12], 'exp', exp, 'iat', ARGV[b + 9],
               'acct', ARGV[b + 16], 'o', ARGV[b + 17], 'fd', ARGV[b + 19],
               'pc', pin_state)
    if s[13] then redis.call('HDEL', okey, 'h') end
  end
  -- The account's set: joined, left, or its expiry pushed back.
  local acct, was = ARGV[b + 16], s[14] or ''
  if was ~= '' and was ~= acct then
    redis.call('ZREM', P .. 'acct:' .. was, id)
  end
  if acct ~= '' and (was ~= acct or not trusted or refresh) then
    local akey = P .. 'acct:' .. acct
    if ttl > 0 then
      -- Scored by the result's own expiry; the set's TTL only grows, so it
      -- outlasts its members (a persistent set stays so).
      local left = redis.call('PTTL', akey)  -- before: -2 when new
      redis.call('ZADD', akey, exp, id)
      if left == -2 or (left >= 0 and left < ttl) then
        redis.call('PEXPIRE', akey, ARGV[3])
      end
    else
      redis.call('ZADD', akey, '+inf', id)
      redis.call('PERSIST', akey)
    end
  end
  -- The cell's sorted set already has the entry at this score when
  -- neither moved.
  if not trusted or from ~= cell or tonumber(s[6]) ~= tonumber(prio) then
    redis.call('ZADD', P .. 'cell:' .. cell, prio, id)
  end
  redis.call('HSET', KEYS[1], id, cell .. '|' .. cents .. '|' .. prio ..
             '|' .. ARGV[b + 4] .. '|' .. ARGV[b + 12] .. '|' .. prev)
  if ttl > 0 then
    if refresh then
      redis.call('PEXPIRE', okey, ARGV[3])
      redis.call('ZADD', KEYS[3], expires, id)
    end
  else
    redis.call('PERSIST', okey)
    redis.call('ZREM', KEYS[3], id)
  end
  return prev, moved, 0, 0, patch
end
if ARGV[6] ~= '0' then
  local ids = {}
  for b = first, #ARGV, N do ids[ARGV[b]] = true end
  purge(ARGV[2], tonumber(ARGV[6]), ids)
end
local out = {}
for b = first, #ARGV, N do
  local prev, moved, superseded, current, patch = put(b)
  out[#out + 1] = prev
  out[#out + 1] = moved
  out[#out + 1] = superseded
  out[#out + 1] = current
  out[#out + 1] = patch
end
for _, cell in ipairs(order) do
  local n, amt = dn[cell], da[cell]
  local gone = n ~= 0 and redis.call('HINCRBY', KEYS[2], cell .. ':n', n) <= 0
  if gone then
    redis.call('HDEL', KEYS[2], cell .. ':n', cell .. ':amt')
  elseif amt ~= 0 then
    redis.call('HINCRBY', KEYS[2], cell .. ':amt', string.format('%d', amt))
  end
end
return out
)lua";

// Removes a batch of one tenant's results (opportunities deleted in the
// CRM), atomically. ARGV: 2 now ms, 3 transitions MAXLEN, 4 tenant, 5 the
// tombstones' TTL ms (0: none); then 2 per result: id and the version of
// the deletion (0: whatever is stored).
// A stored result of this or a newer opportunity version is kept (the
// deletion is superseded): it was classified from the opportunity as it
// stood at or after the deletion. Otherwise the result goes, and a
// deletion with a version leaves a tombstone in its place (the hash holds
// only 'del', the highest version deleted), so that a late result of an
// older version is not stored again (kPut refuses it); a newer one
// replaces the tombstone. A removed result that was in a cell leaves it
// with a transition to no cell ('to' empty). Returns 2 per result: the
// outcome (0 nothing stored, 1 removed, 2 superseded) and the cell it was
// in.
inline constexpr char kDelete[] = R"lua(
local out = {}
local tomb_ttl = ARGV[5]
for b = 6, #ARGV, 2 do
  local id, version = ARGV[b], tonumber(ARGV[b + 1]) or 0
  local okey = P .. 'opp:' .. id
  local m = redis.call('HGET', KEYS[1], id)
  local cell, cents, stored = false, '0', 0
  if m then
    cell, cents, stored = string.match(m,
        '^([^|]*)|([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
    stored = tonumber(stored) or 0
  end
  if cell and version > 0 and stored >= version then
    out[#out + 1] = 2
    out[#out + 1] = cell
  else
    local held = redis.call('HMGET', okey, 'c', 'del', 'acct')
    if held[3] and held[3] ~= '' then
      redis.call('ZREM', P .. 'acct:' .. held[3], id)
    end
    local outcome = held[1] and 1 or 0
    redis.call('DEL', okey)
    redis.call('ZREM', KEYS[3], id)
    if version > 0 then
      local del = math.max(version, tonumber(held[2] or '0') or 0)
      redis.call('HSET', okey, 'del', string.format('%d', del))
      if tomb_ttl ~= '0' then redis.call('PEXPIRE', okey, tomb_ttl) end
    end
    if cell then
      drop(id, cell, cents)
      redis.call('HDEL', KEYS[1], id)
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
                 'tenant', ARGV[4], 'opportunity', id, 'from', cell, 'to', '',
                 'time', ARGV[2], 'cause', 'deleted')
      outcome = 1
    elseif m then
      redis.call('HDEL', KEYS[1], id)
      outcome = 1
    end
    out[#out + 1] = outcome
    out[#out + 1] = cell or ''
  end
end
return out
)lua";

// Purges due results, then returns {stats (flat HGETALL)} followed, when
// ARGV[3] (top n) > 0, by {cell, {bytes, prev, bytes, prev, ...}} per cell.
// ARGV: 2 now ms, 3 top n.
inline constexpr char kMatrix[] = R"lua(
purge(ARGV[2], 1000, {})
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

// One account's results: KEYS[5] is its sorted set. ARGV: 2 now ms,
// 3 the most results returned (at least 1). Drops the entries whose
// results expired or moved to another account (or were deleted) as it
// meets them, and returns {count, bytes, prev, bytes, prev, ...} for up to
// ARGV[3] results, the latest to be written first; count is the set's size
// after the entries it dropped.
inline constexpr char kAccount[] = R"lua(
local k = KEYS[5]
local acct = string.sub(k, #P + 6)
local limit = math.max(1, tonumber(ARGV[3]) or 1)
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[2])
local out, found, start = {0}, 0, 0
while found < limit do
  local ids = redis.call('ZREVRANGE', k, start, start + limit - found - 1)
  if #ids == 0 then break end
  local kept = 0
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', P .. 'opp:' .. id, 'c', 'prev', 'acct')
    if r[1] and r[3] == acct then
      out[#out + 1] = r[1]
      out[#out + 1] = r[2] or ''
      found = found + 1
      kept = kept + 1
    else
      redis.call('ZREM', k, id)
    end
  end
  start = start + kept
end
out[1] = redis.call('ZCARD', k)
return out
)lua";

// Inputs: one step of a walk over the tenant's results. ARGV 2 the HSCAN
// cursor, 3 its COUNT hint, 4 a time in Unix milliseconds ('' for none):
// only results classified before it. Returns {next cursor, id, cell,
// input, ...}: each result's stored cell and its opportunity (field 'o',
// '' when the result keeps none or its hash expired).
inline constexpr char kInputs[] = R"lua(
local r = redis.call('HSCAN', KEYS[1], ARGV[2], 'COUNT', ARGV[3])
local before = tonumber(ARGV[4])
local out = {r[1]}
local kv = r[2]
for i = 1, #kv, 2 do
  local id = kv[i]
  local o, at = unpack(redis.call('HMGET', P .. 'opp:' .. id, 'o', 'at'))
  if not before or (tonumber(at) or 0) < before then
    out[#out + 1] = id
    out[#out + 1] = string.match(kv[i + 1], '^([^|]*)|') or ''
    out[#out + 1] = o or ''
  end
end
return out
)lua";

// Pin: sets or removes one result's pin (see kPut), which the kPut that
// follows it in the same pipeline applies. ARGV 2 the id, 3 the cell (''
// removes the pin), 4 its expiry in ms, 5 its patch, 6 the fingerprint
// of the result the caller read. The sorted set '<prefix>pins' holds the
// pinned ids by expiry, for kPinsDue. Returns 1; 0 when no result is
// stored; 2, changing nothing, when the stored fingerprint is another
// (a newer write came: read again). So once it has answered 1, every
// write of the result applies the change, this call's kPut or a newer
// one.
inline constexpr char kPin[] = R"lua(
local id = ARGV[2]
local okey = P .. 'opp:' .. id
local c, fp = unpack(redis.call('HMGET', okey, 'c', 'fp'))
if not c then return 0 end
if fp ~= ARGV[6] then return 2 end
if ARGV[3] == '' then
  redis.call('HDEL', okey, 'pin', 'pine', 'pinb')
  redis.call('ZREM', P .. 'pins', id)
else
  redis.call('HSET', okey, 'pin', ARGV[3], 'pine', ARGV[4], 'pinb', ARGV[5])
  redis.call('ZADD', P .. 'pins', ARGV[4], id)
end
return 1
)lua";

// PinsDue: the results whose pin has ended by ARGV 2 (ms), at most ARGV 3,
// answered as kInputs answers (cursor '0'); an id whose result or pin is
// gone leaves the set, and a pinned result kept without its opportunity
// loses the pin here (nothing can classify it again).
inline constexpr char kPinsDue[] = R"lua(
local key = P .. 'pins'
local ids = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[2], 'LIMIT', 0,
                       tonumber(ARGV[3]))
local out = {'0'}
for _, id in ipairs(ids) do
  local okey = P .. 'opp:' .. id
  local o, cell, pin = unpack(redis.call('HMGET', okey, 'o', 'cell', 'pin'))
  if pin and o and o ~= '' then
    out[#out + 1] = id
    out[#out + 1] = cell or ''
    out[#out + 1] = o
  else
    redis.call('ZREM', key, id)
    if pin then redis.call('HDEL', okey, 'pin', 'pine', 'pinb') end
  end
end
return out
)lua";

}  // namespace oppmatrix::redis_scripts

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_SCRIPTS_H_
