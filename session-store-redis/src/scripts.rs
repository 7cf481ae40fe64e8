//! The Lua scripts. Each one is a single atomic step on the keys of one
//! user (the session hash with its two indexes, or the login-history hash)
//! or of one IP address; every key is passed in `KEYS`, no key name is built
//! inside Lua. The channel name passed to `PUBLISH` is an argument, not a key.
//!
//! # Session keys
//!
//! `KEYS[1]` is the user's session hash (id → packed record, tombstones
//! included until their absolute end). `KEYS[2]` indexes the unrevoked
//! entries and `KEYS[3]` the revoked ones, both sorted sets scored by the
//! entry's absolute end. `KEYS[4]` is the user's "not before" mark (Unix
//! milliseconds), which `create` checks and `revoke_all` raises. Every entry of the hash is in exactly one index
//! (except a user's only entry, left out until a second one arrives), so
//! admission reads only unrevoked entries, and entries past their end are
//! found by score instead of by reading the whole hash: a login costs the
//! same whether the user has 1 or 1,000 tombstones, and with no limit in
//! force it reads no other session at all.

use redis::Script;

/// Helpers shared by every session script: parse and re-pack the record
/// header (see `codec.rs`), the activity test, the index upkeep, and bulk
/// deletes in chunks (Lua's `unpack` has a stack limit).
const PRELUDE: &str = r#"
local function parse(v)
  local nl = string.find(v, "\n", 1, true)
  local head, tail = v, ""
  if nl then
    head = string.sub(v, 1, nl - 1)
    tail = string.sub(v, nl)
  end
  local f = {}
  for part in string.gmatch(head .. "|", "([^|]*)|") do
    f[#f + 1] = part
  end
  f.tail = tail
  return f
end
local function pack(f)
  return table.concat(f, "|", 1, #f) .. f.tail
end
-- The tail is "\n" .. meta, optionally followed by "\n" .. last .. "\n" ..
-- places (the session's seen log, opaque JSON text; see codec.rs).
local function split_seen(tail)
  local nl = string.find(tail, "\n", 2, true)
  if not nl then return tail, "", "" end
  local meta, rest = string.sub(tail, 1, nl - 1), string.sub(tail, nl + 1)
  local nl2 = string.find(rest, "\n", 1, true)
  if not nl2 then return meta, rest, "" end
  return meta, string.sub(rest, 1, nl2 - 1), string.sub(rest, nl2 + 1)
end
local function join_seen(meta, last, places)
  if meta == "" then meta = "\n{}" end
  if last == "" and places == "" then return meta end
  return meta .. "\n" .. last .. "\n" .. places
end
local function is_active(f, now, cutoff)
  return f[9] == "" and now < tonumber(f[4]) and tonumber(f[3]) > cutoff
end
-- Unrevoked, before its end, but idle: a login that finds it so ends it.
local function is_idle(f, now, cutoff)
  return f[9] == "" and now < tonumber(f[4]) and tonumber(f[3]) <= cutoff
end
local function in_chunks(cmd, key, items)
  local i = 1
  while i <= #items do
    local j = math.min(i + 999, #items)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end
local hash, active_ix, revoked_ix, mark_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- The indexes must cover the hash exactly. They are rebuilt from the hash
-- when they do not (a user's only entry, which `create` leaves out; data
-- written before the indexes existed; an index key lost to an eviction
-- policy), so a limit is never checked against a partial index: an entry
-- missing from it would not count.
local function ensure_index()
  local n = redis.call('HLEN', hash)
  if n == 0 then
    -- No hash, no index: entries left behind by a lost hash would make
    -- the counts below match while the index misses live entries.
    redis.call('DEL', active_ix, revoked_ix)
    return 0
  end
  if n == redis.call('ZCARD', active_ix) + redis.call('ZCARD', revoked_ix) then return n end
  redis.call('DEL', active_ix, revoked_ix)
  local all = redis.call('HGETALL', hash)
  for i = 1, #all, 2 do
    local f = parse(all[i + 1])
    local ix = revoked_ix
    if f[9] == "" then ix = active_ix end
    redis.call('ZADD', ix, tonumber(f[4]), all[i])
  end
  local ttl = redis.call('PTTL', hash)
  if ttl > 0 then
    redis.call('PEXPIRE', active_ix, ttl)
    redis.call('PEXPIRE', revoked_ix, ttl)
  end
  return n
end
-- Marks an entry revoked in the hash and moves it to the revoked index
-- (whose key may be new: it gets the hash's TTL).
local function mark_revoked(id, f, at, reason)
  f[9], f[10] = at, reason
  redis.call('HSET', hash, id, pack(f))
  redis.call('ZREM', active_ix, id)
  redis.call('ZADD', revoked_ix, tonumber(f[4]), id)
end
local function sync_revoked_ttl()
  local ttl = redis.call('PTTL', hash)
  if ttl > 0 then redis.call('PEXPIRE', revoked_ix, ttl) end
end
-- A session's entry in the directory index, as `keys::directory_member`
-- writes it (16 hex digits of the creation time with the sign bit set, for
-- times from 1970 on; `nil` before).
local function directory_entry(created, user, id)
  if not created or created < 0 then return nil end
  return string.format("8%015x", created) .. user .. "\0" .. id
end
-- Deletes every entry whose absolute end is at or before `t`; returns how
-- many. With the directory index and the user (a standalone server), their
-- index entries go too, so none outlives its session's record.
local function drop_ended(t, directory, user)
  local n = 0
  for _, ix in ipairs({active_ix, revoked_ix}) do
    local ids = redis.call('ZRANGEBYSCORE', ix, '-inf', t)
    if #ids > 0 then
      if directory and user then
        local i = 1
        while i <= #ids do
          local j = math.min(i + 999, #ids)
          local vals = redis.call('HMGET', hash, unpack(ids, i, j))
          local gone = {}
          for k = 1, #vals do
            local entry = vals[k] and directory_entry(tonumber(parse(vals[k])[2]), user, ids[i + k - 1])
            if entry then gone[#gone + 1] = entry end
          end
          if #gone > 0 then redis.call('ZREM', directory, unpack(gone)) end
          i = j + 1
        end
      end
      in_chunks('HDEL', hash, ids)
      redis.call('ZREMRANGEBYSCORE', ix, '-inf', t)
      n = n + #ids
    end
  end
  return n
end
-- The unrevoked entries ending after `now`, parsed, with `id` and `raw` set.
local function unrevoked(now)
  local ids = redis.call('ZRANGEBYSCORE', active_ix, '(' .. now, '+inf')
  local out = {}
  local i = 1
  while i <= #ids do
    local j = math.min(i + 999, #ids)
    local vals = redis.call('HMGET', hash, unpack(ids, i, j))
    for k = 1, #vals do
      if vals[k] then
        local f = parse(vals[k])
        f.id, f.raw = ids[i + k - 1], vals[k]
        out[#out + 1] = f
      end
    end
    i = j + 1
  end
  return out
end
local function last_end()
  local m = 0
  for _, ix in ipairs({active_ix, revoked_ix}) do
    local top = redis.call('ZRANGE', ix, -1, -1, 'WITHSCORES')
    if #top == 2 and tonumber(top[2]) > m then m = tonumber(top[2]) end
  end
  return m
end
"#;

/// Create within limits. Mirrors `sessionward_core::CreateRequest::decide`.
///
/// KEYS: session hash, unrevoked index, revoked index, not-before mark.
/// ARGV: now, idle_cutoff, new id, new packed value, new ip, new class, new
/// country (escaped), replaces id, mode (`oldest`/`lru`/`reject`), max per
/// user, max per ip, max for the new class, max countries (limits empty
/// when unset), user id, channel, credential verified at, first-use
/// resolution, touch interval, how long ended entries are kept after their
/// end (all three milliseconds), the new session's app (or empty), max per
/// app, the ids the user chose to end (space-separated), the new session's
/// tenant (or empty: always on a cluster), max per tenant, and the new
/// session's directory entry. KEYS[5]: the user's owner key, set to the
/// user id (the session directory reads it to name a hash's user). KEYS[6],
/// on a standalone server only: the directory index, which gets the entry.
/// KEYS[7], with a tenant: the tenant's sorted set, whose members name other
/// users' hashes, read here (so only a standalone server counts tenants).
///
/// Sessions found idle are ended (`idle_timeout`) whatever the verdict.
/// Reply: `{"duplicate"}` (the new id is taken; nothing changed),
/// `{"not_before", mark}`, `{"reject", limit, id, value, ...active}` or
/// `{"created", first limit, replaced id, replaced value, id, value,
/// ...evicted and then ended}`.
const CREATE: &str = r#"
local now = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local new_id, new_value = ARGV[3], ARGV[4]
local new_ip, new_class, new_country = ARGV[5], ARGV[6], ARGV[7]
local replaces, mode = ARGV[8], ARGV[9]
local max_user, max_ip = tonumber(ARGV[10]), tonumber(ARGV[11])
local max_class, max_countries = tonumber(ARGV[12]), tonumber(ARGV[13])
local user, channel = ARGV[14], ARGV[15]
local verified = tonumber(ARGV[16])
local first_use, touch_every = tonumber(ARGV[17]), tonumber(ARGV[18])
local keep = tonumber(ARGV[19]) or 0
local new_app, max_app = ARGV[20], tonumber(ARGV[21])
if new_app == "" then max_app = nil end
local chosen, is_chosen = {}, {}
for id in string.gmatch(ARGV[22], "%S+") do
  chosen[#chosen + 1] = id
  is_chosen[id] = true
end
-- The tenant's sorted set (KEYS[7], standalone servers only) lists its
-- sessions across users as "<session hash key>\n<id>".
local tenant, max_tenant = ARGV[23] or "", tonumber(ARGV[24] or "")
if tenant == "" then max_tenant = nil end
local owner_key, directory_key, tenant_key = KEYS[5], KEYS[6], KEYS[7]
-- A continuation ticket's id is fixed when it is issued: taken means spent.
if redis.call('HEXISTS', hash, new_id) == 1 then return {"duplicate"} end
-- The active sessions of the tenant's other users; members that ended for
-- good (revoked, past their end, erased) are dropped on the way.
local tenant_others = 0
if max_tenant then
  redis.call('ZREMRANGEBYSCORE', tenant_key, '-inf', now)
  for _, m in ipairs(redis.call('ZRANGE', tenant_key, 0, -1)) do
    local nl = string.find(m, "\n", 1, true)
    local k, id = string.sub(m, 1, nl - 1), string.sub(m, nl + 1)
    if k ~= hash then
      local raw = redis.call('HGET', k, id)
      local f = raw and parse(raw)
      -- Erased, revoked, or unreadable (a session nobody can use): gone.
      if not f or #f < 13 or not tonumber(f[3]) or not tonumber(f[4]) or f[9] ~= "" then
        redis.call('ZREM', tenant_key, m)
      elseif is_active(f, now, cutoff) then
        tenant_others = tenant_others + 1
      end
    end
  end
end
local new_end = tonumber(parse(new_value)[4])
local stored_mark = redis.call('GET', mark_key)
local mark = stored_mark and tonumber(stored_mark)
-- A tie counts as before: a credential checked at the mark is stale.
local refused = mark and verified <= mark

-- A user's first session: no limit of at least 1 can refuse it, and there
-- is nothing to replace, evict, end or drop.
local stored = ensure_index()
if stored == 0 and not refused and tenant == "" and max_user ~= 0 and max_ip ~= 0 and max_class ~= 0 and max_countries ~= 0 and max_app ~= 0 then
  redis.call('HSET', hash, new_id, new_value)
  local ttl = math.max(new_end + keep - now, 1000)
  redis.call('PEXPIRE', hash, ttl)
  redis.call('SET', owner_key, user, 'PX', ttl)
  if directory_key then redis.call('ZADD', directory_key, 0, ARGV[25]) end
  return {"created", "", "", ""}
end

local revoked = {}
local function announce()
  if #revoked > 0 then
    sync_revoked_ttl()
    redis.call('PUBLISH', channel, table.concat(revoked, " ") .. "\n" .. user .. "\n" .. now)
  end
end
local function end_idle(id, f)
  mark_revoked(id, f, ARGV[1], "idle_timeout")
  revoked[#revoked + 1] = id
end

-- Without a limit nothing is counted, so no other session is read.
local limited = max_user or max_ip or max_class or max_countries or max_app or max_tenant or #chosen > 0
local live, cands = {}, {}
if limited then
  for _, f in ipairs(unrevoked(now)) do
    if is_active(f, now, cutoff) then
      live[#live + 1] = f
      if f.id ~= replaces and f.id ~= new_id and not is_chosen[f.id] then cands[#cands + 1] = f end
    elseif is_idle(f, now, cutoff) then
      end_idle(f.id, f)
    end
  end
elseif replaces ~= "" then
  local raw = redis.call('HGET', hash, replaces)
  if raw then
    local r = parse(raw)
    if is_idle(r, now, cutoff) then end_idle(replaces, r) end
  end
end
if refused then
  announce()
  return {"not_before", stored_mark}
end

-- Eviction order: oldest login, or the earliest latest possible use
-- (`sessionward_core::admission::latest_possible_use`), then activity, then id.
for _, f in ipairs(cands) do
  if mode == "oldest" then
    f.k, f.l = tonumber(f[2]), 0
  else
    f.l = tonumber(f[3])
    if f[3] == f[7] then f.k = f.l + first_use else f.k = f.l + touch_every end
  end
end
local function id_lt(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
table.sort(cands, function(a, b)
  if a.k ~= b.k then return a.k < b.k end
  if a.l ~= b.l then return a.l < b.l end
  return id_lt(a.id, b.id)
end)

local gone = {}
local function in_scope(s, lim)
  if lim == "per_user" then return true end
  if lim == "per_app" then return (s[14] or "") ~= "" and s[14] == new_app end
  if lim == "per_tenant" then return (s[15] or "") ~= "" and s[15] == tenant end
  if lim == "per_ip" then return s[11] ~= "" and s[11] == new_ip end
  if lim == "per_device_class" then return s[12] == new_class end
  return s[13] ~= "" and s[13] ~= new_country
end
local function count(lim)
  local n = 0
  for i, s in ipairs(cands) do
    if not gone[i] and in_scope(s, lim) then n = n + 1 end
  end
  return n
end
-- Every limit exceeded, in checking order.
local function exceeded()
  local over = {}
  if max_user and count("per_user") + 1 > max_user then over[#over + 1] = "per_user" end
  if max_tenant and count("per_tenant") + tenant_others + 1 > max_tenant then over[#over + 1] = "per_tenant" end
  if max_app and count("per_app") + 1 > max_app then over[#over + 1] = "per_app" end
  if max_ip and new_ip ~= "" and count("per_ip") + 1 > max_ip then over[#over + 1] = "per_ip" end
  if max_class and count("per_device_class") + 1 > max_class then over[#over + 1] = "per_device_class" end
  if max_countries and new_country ~= "" then
    local seen, n = {[new_country] = true}, 1
    for i, s in ipairs(cands) do
      if not gone[i] and s[13] ~= "" and not seen[s[13]] then
        seen[s[13]] = true
        n = n + 1
      end
    end
    if n > max_countries then over[#over + 1] = "countries" end
  end
  return over
end
-- The first remaining candidate in the scope of every limit in `lims`.
local function first_in(lims)
  for i, s in ipairs(cands) do
    if not gone[i] then
      local all = true
      for _, lim in ipairs(lims) do
        if not in_scope(s, lim) then
          all = false
          break
        end
      end
      if all then return i end
    end
  end
  return nil
end
local function reject(lim)
  announce()
  local reply = {"reject", lim}
  for _, s in ipairs(live) do
    reply[#reply + 1] = s.id
    reply[#reply + 1] = s.raw
  end
  return reply
end

-- One eviction at a time, from the scope of every exceeded limit when a
-- candidate lies in all of them, else from the first exceeded limit's.
local first = nil
while true do
  local over = exceeded()
  local lim = over[1]
  if not lim then break end
  if mode == "reject" then return reject(lim) end
  if not first then first = lim end
  local victim = first_in(over) or first_in({lim})
  if not victim then return reject(lim) end
  gone[victim] = true
end

drop_ended(now - keep, directory_key, user)
local reply = {"created", first or "", "", ""}
for i, s in ipairs(cands) do
  if gone[i] then
    reply[#reply + 1] = s.id
    reply[#reply + 1] = s.raw
    mark_revoked(s.id, s, ARGV[1], "evicted")
    revoked[#revoked + 1] = s.id
  end
end
-- The sessions the user chose to end, after the evicted ones.
for _, id in ipairs(chosen) do
  local raw = redis.call('HGET', hash, id)
  if raw and id ~= replaces then
    local r = parse(raw)
    if is_active(r, now, cutoff) then
      reply[#reply + 1] = id
      reply[#reply + 1] = raw
      mark_revoked(id, r, ARGV[1], "user")
      revoked[#revoked + 1] = id
    end
  end
end
if replaces ~= "" then
  local raw = redis.call('HGET', hash, replaces)
  if raw then
    local r = parse(raw)
    if is_active(r, now, cutoff) then
      reply[3], reply[4] = replaces, raw
      mark_revoked(replaces, r, ARGV[1], "reauthenticated")
      revoked[#revoked + 1] = replaces
    end
  end
end
-- A hash an earlier release wrote has no owner key, so the directory could
-- not name its user and holds none of its sessions: list them now. Entries
-- as `keys::directory_member` writes them (16 hex digits of the creation
-- time with the sign bit set, for times from 1970 on).
if directory_key and redis.call('EXISTS', owner_key) == 0 then
  local all = redis.call('HGETALL', hash)
  for i = 1, #all, 2 do
    local entry = directory_entry(tonumber(parse(all[i + 1])[2]), user, all[i])
    if entry then redis.call('ZADD', directory_key, 0, entry) end
  end
end
redis.call('HSET', hash, new_id, new_value)
redis.call('SET', owner_key, user)
if directory_key then redis.call('ZADD', directory_key, 0, ARGV[25]) end
redis.call('ZREM', revoked_ix, new_id)
-- A user's only entry is left out of the index, so a user with one
-- session costs one key; the next write finds the index short of the hash
-- and builds it (one entry to parse).
if redis.call('HLEN', hash) > 1 then
  redis.call('ZADD', active_ix, new_end, new_id)
end
local ttl = math.max(math.max(last_end(), new_end) + keep - now, 1000)
for _, k in ipairs({hash, active_ix, revoked_ix, owner_key}) do redis.call('PEXPIRE', k, ttl) end
if tenant ~= "" then
  redis.call('ZADD', tenant_key, new_end, hash .. "\n" .. new_id)
  local last = redis.call('ZRANGE', tenant_key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', tenant_key, math.max(tonumber(last[2]) - now, 1000))
end
announce()
return reply
"#;

/// Brings directory entries in line with the session hashes they name,
/// each entry only as its hash is when the script runs: `add` adds an
/// entry whose session is there (building the index for hashes an earlier
/// release wrote, never listing a session that ended since it was read);
/// `prune` drops an entry whose session is gone (ended and forgotten, or
/// the hash expired), never one whose session is there.
///
/// KEYS: the directory index, then session hashes. ARGV: `add` or `prune`,
/// then triples of the number of the entry's hash in `KEYS`, the directory
/// entry, and the session id. Reply: entries changed.
const DIRECTORY_SYNC: &str = r#"
local add = ARGV[1] == "add"
local changed = 0
for i = 2, #ARGV, 3 do
  local present = redis.call('HEXISTS', KEYS[tonumber(ARGV[i])], ARGV[i + 2]) == 1
  if add and present then
    changed = changed + redis.call('ZADD', KEYS[1], 0, ARGV[i + 1])
  elseif not add and not present then
    changed = changed + redis.call('ZREM', KEYS[1], ARGV[i + 1])
  end
end
return changed
"#;

/// Refresh-token compare-and-swap. KEYS[1] user hash. ARGV: id, expected
/// generation, expected hash, new generation, new hash, now, idle_cutoff,
/// last-seen JSON (or empty), written when the rotation moves the activity
/// time forward, and the metadata line (`\n` + JSON, or empty to keep it),
/// written with the swap (binding a device key). Reply: `{"absent"}`, `{"unchanged", value}` or
/// `{"rotated", value}`.
const ROTATE: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {"absent"} end
local f = parse(v)
local now = tonumber(ARGV[6])
if f[6] ~= ARGV[2] or f[8] ~= ARGV[3] or not is_active(f, now, tonumber(ARGV[7])) then
  return {"unchanged", v}
end
f[6], f[8], f[7] = ARGV[4], ARGV[5], ARGV[6]
if ARGV[9] ~= "" then
  local _, last, places = split_seen(f.tail)
  f.tail = join_seen(ARGV[9], last, places)
end
if now > tonumber(f[3]) then
  f[3] = ARGV[6]
  if ARGV[8] ~= "" then
    local meta, _, places = split_seen(f.tail)
    f.tail = join_seen(meta, ARGV[8], places)
  end
end
local packed = pack(f)
redis.call('HSET', KEYS[1], ARGV[1], packed)
return {"rotated", packed}
"#;

/// Activity. KEYS[1] user hash. ARGV: id, at, idle_cutoff, the activity
/// time the places were merged from, last-seen JSON (or empty), places JSON
/// (or empty). Moves `last_seen_at` forward only, and only on a session
/// still active by the request's cutoffs (unrevoked, before its end at
/// `at`, seen after `idle_cutoff`); never creates an entry. The last-seen
/// line is written with it; the places only while the stored activity is
/// still the one they were merged from. Reply: 1 when it wrote.
const TOUCH: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local f = parse(v)
local at = tonumber(ARGV[2])
if not is_active(f, at, tonumber(ARGV[3])) or at <= tonumber(f[3]) then return 0 end
if ARGV[5] ~= "" then
  local meta, _, places = split_seen(f.tail)
  if ARGV[6] ~= "" and f[3] == ARGV[4] then places = ARGV[6] end
  f.tail = join_seen(meta, ARGV[5], places)
end
f[3] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], pack(f))
return 1
"#;

/// Revoke one. KEYS: session hash, unrevoked index, revoked index. ARGV:
/// id, reason, at, user id, channel. Reply: the value before, or nil when
/// absent or already revoked.
const REVOKE: &str = r#"
local v = redis.call('HGET', hash, ARGV[1])
if not v then return false end
local f = parse(v)
if f[9] ~= "" then return false end
ensure_index()
mark_revoked(ARGV[1], f, ARGV[3], ARGV[2])
sync_revoked_ttl()
redis.call('PUBLISH', ARGV[5], ARGV[1] .. "\n" .. ARGV[4] .. "\n" .. ARGV[3])
return v
"#;

/// Revoke all (but one). KEYS: session hash, unrevoked index, revoked
/// index, not-before mark. ARGV: except id (or empty), reason, at, user id,
/// channel, `1` to raise the mark to `at` (never lowered). Reply:
/// `{id, value before, ...}`. Reads only the unrevoked entries (including
/// those past their end that no call has dropped yet).
const REVOKE_ALL: &str = r#"
if ARGV[6] == "1" then
  local m = redis.call('GET', mark_key)
  if not m or tonumber(m) < tonumber(ARGV[3]) then redis.call('SET', mark_key, ARGV[3]) end
end
ensure_index()
local unrevoked_ids = redis.call('ZRANGE', active_ix, 0, -1)
local reply, ids = {}, {}
for _, id in ipairs(unrevoked_ids) do
  if id ~= ARGV[1] then
    local v = redis.call('HGET', hash, id)
    if not v then return redis.error_reply("session index out of step with the hash") end
    local f = parse(v)
    reply[#reply + 1] = id
    reply[#reply + 1] = v
    ids[#ids + 1] = id
    mark_revoked(id, f, ARGV[3], ARGV[2])
  end
end
if #ids > 0 then
  sync_revoked_ttl()
  redis.call('PUBLISH', ARGV[5], table.concat(ids, " ") .. "\n" .. ARGV[4] .. "\n" .. ARGV[3])
end
return reply
"#;

/// Purge one user. KEYS: session hash, unrevoked index, revoked index,
/// not-before mark; on a standalone server also the owner key and the
/// directory index, whose entries of the deleted sessions go too. ARGV:
/// before. Deletes entries whose absolute end is at or before `before`;
/// returns how many.
const PURGE: &str = r#"
ensure_index()
local user = KEYS[6] and redis.call('GET', KEYS[5])
return drop_ended(tonumber(ARGV[1]), KEYS[6], user or nil)
"#;

/// Record a login in the user's history. KEYS[1] history hash. ARGV: at,
/// keep_since, `last` JSON, then the fields to stamp with `at` (`fp:…`,
/// `c:…`, `a:…`).
///
/// Stamps never move backwards (a late, older login does not shorten an
/// entry's life), `last` is replaced only by a login at least as recent (its
/// `at` is read with cjson, never re-encoded), fields stamped before
/// keep_since are dropped, and the key expires `newest - keep_since` after
/// this call (the retention), at least 1 s. Reply: fields dropped.
const RECORD_LOGIN: &str = r#"
local key = KEYS[1]
local at, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
local all = redis.call('HGETALL', key)
local old, prev_at = {}, nil
for i = 1, #all, 2 do
  if all[i] == "last" then
    local ok, p = pcall(cjson.decode, all[i + 1])
    if ok and type(p) == "table" then prev_at = tonumber(p.at) end
  else
    old[all[i]] = tonumber(all[i + 1])
  end
end
local newest = at
if prev_at and prev_at > at then
  newest = prev_at
else
  redis.call('HSET', key, "last", ARGV[3])
end
for i = 4, #ARGV do
  local t = old[ARGV[i]]
  if not t or t < at then
    redis.call('HSET', key, ARGV[i], ARGV[1])
    old[ARGV[i]] = at
  end
end
local dead = {}
for f, t in pairs(old) do
  if not t or t < keep then dead[#dead + 1] = f end
end
local i = 1
while i <= #dead do
  local j = math.min(i + 999, #dead)
  redis.call('HDEL', key, unpack(dead, i, j))
  i = j + 1
end
redis.call('PEXPIRE', key, math.max(newest - keep, 1000))
return #dead
"#;

/// Record a login from one IP. KEYS[1] the IP's sorted set. ARGV: at,
/// member (unique per login), keep_since, cap. Adds the login scored by
/// `at`, drops logins before keep_since, keeps only the `cap` most recent,
/// and expires the key `newest - keep_since` after this call (at least 1 s).
/// Reply: logins kept.
const RECORD_IP: &str = r#"
local key = KEYS[1]
local keep = tonumber(ARGV[3])
redis.call('ZADD', key, ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[4]) + 1))
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if #top == 0 then return 0 end
redis.call('PEXPIRE', key, math.max(tonumber(top[2]) - keep, 1000))
return redis.call('ZCARD', key)
"#;

/// Erase one user's sessions. KEYS: session hash, unrevoked index,
/// revoked index, not-before mark. Deletes the first three (the mark stays:
/// it refuses a login checked before the erasure); reply: the hash as it
/// was (`{id, value, ...}`), so the caller can drop the sessions'
/// directory entries.
const ERASE: &str = r#"
local all = redis.call('HGETALL', hash)
redis.call('DEL', hash, active_ix, revoked_ix, KEYS[5])
return all
"#;

/// Revoke listed entries that still meet, as they are now, what can have
/// changed since the caller read them: unrevoked, before their end at
/// `at`, not idle, last seen in the window (the rest of a filter, address,
/// app, country, creation, risk, never changes). KEYS: session hash,
/// unrevoked index, revoked index, not-before mark. ARGV: reason, at, user
/// id, channel, idle cutoff, last seen from (or empty), last seen until
/// (or empty), then the ids. Reply: `{id, value before, ...}` of the
/// entries revoked.
const REVOKE_LISTED: &str = r#"
ensure_index()
local at, cutoff = tonumber(ARGV[2]), tonumber(ARGV[5])
local from, till = tonumber(ARGV[6]), tonumber(ARGV[7])
local reply, ids = {}, {}
for i = 8, #ARGV do
  local id = ARGV[i]
  local v = redis.call('HGET', hash, id)
  if v then
    local f = parse(v)
    local seen = tonumber(f[3])
    if is_active(f, at, cutoff) and (not from or seen >= from) and (not till or seen < till) then
      mark_revoked(id, f, ARGV[2], ARGV[1])
      reply[#reply + 1] = id
      reply[#reply + 1] = v
      ids[#ids + 1] = id
    end
  end
end
if #ids > 0 then
  sync_revoked_ttl()
  redis.call('PUBLISH', ARGV[4], table.concat(ids, " ") .. "\n" .. ARGV[3] .. "\n" .. ARGV[2])
end
return reply
"#;

/// The compiled scripts (SHA-1 computed once).
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) rotate: Script,
    pub(crate) touch: Script,
    pub(crate) revoke: Script,
    pub(crate) revoke_all: Script,
    pub(crate) purge: Script,
    pub(crate) erase: Script,
    pub(crate) revoke_listed: Script,
    pub(crate) record_login: Script,
    pub(crate) record_ip: Script,
    pub(crate) directory_sync: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            create: with_prelude(CREATE),
            rotate: with_prelude(ROTATE),
            touch: with_prelude(TOUCH),
            revoke: with_prelude(REVOKE),
            revoke_all: with_prelude(REVOKE_ALL),
            purge: with_prelude(PURGE),
            erase: with_prelude(ERASE),
            revoke_listed: with_prelude(REVOKE_LISTED),
            record_login: Script::new(RECORD_LOGIN),
            record_ip: Script::new(RECORD_IP),
            directory_sync: Script::new(DIRECTORY_SYNC),
        }
    }

    /// Every script, for preloading with `SCRIPT LOAD`.
    pub(crate) fn all(&self) -> [&Script; 11] {
        [
            &self.create,
            &self.rotate,
            &self.touch,
            &self.revoke,
            &self.revoke_all,
            &self.purge,
            &self.erase,
            &self.revoke_listed,
            &self.record_login,
            &self.record_ip,
            &self.directory_sync,
        ]
    }
}
