//! The Lua scripts. Each one is a single atomic step on one key (the
//! user's session hash, the user's login-history hash or one IP's login set,
//! always `KEYS[1]`); no key name is built inside Lua.
//! The channel name passed to `PUBLISH` is an argument, not a key.

use redis::Script;

/// Helpers shared by every script: parse and re-pack the record header
/// (see `codec.rs`), the activity test, and a byte-wise id comparison (Lua's
/// `<` on strings follows the server locale; Rust compares bytes).
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
  return table.concat(f, "|", 1, 13) .. f.tail
end
local function is_active(f, now, cutoff)
  return f[9] == "" and now < tonumber(f[4]) and tonumber(f[3]) > cutoff
end
local function hdel_all(key, ids)
  local i = 1
  while i <= #ids do
    local j = math.min(i + 999, #ids)
    redis.call('HDEL', key, unpack(ids, i, j))
    i = j + 1
  end
end
"#;

/// Create within limits. Mirrors `sessionward_core::admission::plan_admission`.
///
/// KEYS[1] user hash. ARGV: now, idle_cutoff, new id, new packed value, new
/// ip, new class, new country (escaped), replaces id, mode
/// (`oldest`/`lru`/`reject`), max per user, max per ip, max for the new
/// class, max countries (limits empty when unset), user id, channel.
///
/// Reply: `{"reject", limit, id, value, ...active}` or
/// `{"created", first limit, replaced id, replaced value, id, value, ...evicted}`.
const CREATE: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local new_id, new_value = ARGV[3], ARGV[4]
local new_ip, new_class, new_country = ARGV[5], ARGV[6], ARGV[7]
local replaces, mode = ARGV[8], ARGV[9]
local max_user, max_ip = tonumber(ARGV[10]), tonumber(ARGV[11])
local max_class, max_countries = tonumber(ARGV[12]), tonumber(ARGV[13])
local user, channel = ARGV[14], ARGV[15]

local max_exp = tonumber(parse(new_value)[4])
local all = redis.call('HGETALL', key)
local dead, by_id, live, cands = {}, {}, {}, {}
for i = 1, #all, 2 do
  local f = parse(all[i + 1])
  f.id, f.raw = all[i], all[i + 1]
  local exp = tonumber(f[4])
  if exp <= now then
    dead[#dead + 1] = f.id
  else
    by_id[f.id] = f
    if exp > max_exp then max_exp = exp end
    if is_active(f, now, cutoff) then
      live[#live + 1] = f
      if f.id ~= replaces and f.id ~= new_id then cands[#cands + 1] = f end
    end
  end
end

local order = 3
if mode == "oldest" then order = 2 end
for _, f in ipairs(cands) do f.k = tonumber(f[order]) end
local function id_lt(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
table.sort(cands, function(a, b)
  if a.k ~= b.k then return a.k < b.k end
  return id_lt(a.id, b.id)
end)

local gone = {}
local function in_scope(s, lim)
  if lim == "per_user" then return true end
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
local function exceeded()
  if max_user and count("per_user") + 1 > max_user then return "per_user" end
  if max_ip and new_ip ~= "" and count("per_ip") + 1 > max_ip then return "per_ip" end
  if max_class and count("per_device_class") + 1 > max_class then return "per_device_class" end
  if max_countries and new_country ~= "" then
    local seen, n = {[new_country] = true}, 1
    for i, s in ipairs(cands) do
      if not gone[i] and s[13] ~= "" and not seen[s[13]] then
        seen[s[13]] = true
        n = n + 1
      end
    end
    if n > max_countries then return "countries" end
  end
  return nil
end
local function reject(lim)
  local reply = {"reject", lim}
  for _, s in ipairs(live) do
    reply[#reply + 1] = s.id
    reply[#reply + 1] = s.raw
  end
  return reply
end

local first = nil
while true do
  local lim = exceeded()
  if not lim then break end
  if mode == "reject" then return reject(lim) end
  if not first then first = lim end
  local victim = nil
  for i, s in ipairs(cands) do
    if not gone[i] and in_scope(s, lim) then
      victim = i
      break
    end
  end
  if not victim then return reject(lim) end
  gone[victim] = true
end

if #dead > 0 then hdel_all(key, dead) end
local revoked = {}
local reply = {"created", first or "", "", ""}
local function revoke(s, reason)
  s[9], s[10] = ARGV[1], reason
  redis.call('HSET', key, s.id, pack(s))
  revoked[#revoked + 1] = s.id
end
for i, s in ipairs(cands) do
  if gone[i] then
    reply[#reply + 1] = s.id
    reply[#reply + 1] = s.raw
    revoke(s, "evicted")
  end
end
if replaces ~= "" then
  local r = by_id[replaces]
  if r and is_active(r, now, cutoff) then
    reply[3], reply[4] = r.id, r.raw
    revoke(r, "reauthenticated")
  end
end
redis.call('HSET', key, new_id, new_value)
redis.call('PEXPIRE', key, math.max(max_exp - now, 1000))
if #revoked > 0 then
  redis.call('PUBLISH', channel, table.concat(revoked, " ") .. "\n" .. user)
end
return reply
"#;

/// Refresh-token compare-and-swap. KEYS[1] user hash. ARGV: id, expected
/// generation, expected hash, new generation, new hash, now, idle_cutoff.
/// Reply: `{"absent"}`, `{"unchanged", value}` or `{"rotated", value}`.
const ROTATE: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {"absent"} end
local f = parse(v)
local now = tonumber(ARGV[6])
if f[6] ~= ARGV[2] or f[8] ~= ARGV[3] or not is_active(f, now, tonumber(ARGV[7])) then
  return {"unchanged", v}
end
f[6], f[8], f[7] = ARGV[4], ARGV[5], ARGV[6]
if now > tonumber(f[3]) then f[3] = ARGV[6] end
local packed = pack(f)
redis.call('HSET', KEYS[1], ARGV[1], packed)
return {"rotated", packed}
"#;

/// Activity. KEYS[1] user hash. ARGV: id, at. Moves `last_seen_at` forward
/// only, and only on an unrevoked session; never creates an entry.
const TOUCH: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local f = parse(v)
if f[9] ~= "" or tonumber(ARGV[2]) <= tonumber(f[3]) then return 0 end
f[3] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], pack(f))
return 1
"#;

/// Revoke one. KEYS[1] user hash. ARGV: id, reason, at, user id, channel.
/// Reply: the value before, or nil when absent or already revoked.
const REVOKE: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
local f = parse(v)
if f[9] ~= "" then return false end
f[9], f[10] = ARGV[3], ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], pack(f))
redis.call('PUBLISH', ARGV[5], ARGV[1] .. "\n" .. ARGV[4])
return v
"#;

/// Revoke all (but one). KEYS[1] user hash. ARGV: except id (or empty),
/// reason, at, user id, channel. Reply: `{id, value before, ...}`.
const REVOKE_ALL: &str = r#"
local all = redis.call('HGETALL', KEYS[1])
local reply, ids = {}, {}
for i = 1, #all, 2 do
  local id, v = all[i], all[i + 1]
  if id ~= ARGV[1] then
    local f = parse(v)
    if f[9] == "" then
      f[9], f[10] = ARGV[3], ARGV[2]
      redis.call('HSET', KEYS[1], id, pack(f))
      reply[#reply + 1] = id
      reply[#reply + 1] = v
      ids[#ids + 1] = id
    end
  end
end
if #ids > 0 then
  redis.call('PUBLISH', ARGV[5], table.concat(ids, " ") .. "\n" .. ARGV[4])
end
return reply
"#;

/// Purge one user. KEYS[1] user hash. ARGV: before. Deletes entries whose
/// absolute end is at or before `before`; returns how many.
const PURGE: &str = r#"
local before = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #all, 2 do
  if tonumber(parse(all[i + 1])[4]) <= before then dead[#dead + 1] = all[i] end
end
if #dead > 0 then hdel_all(KEYS[1], dead) end
return #dead
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

/// The compiled scripts (SHA-1 computed once).
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) rotate: Script,
    pub(crate) touch: Script,
    pub(crate) revoke: Script,
    pub(crate) revoke_all: Script,
    pub(crate) purge: Script,
    pub(crate) record_login: Script,
    pub(crate) record_ip: Script,
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
            record_login: Script::new(RECORD_LOGIN),
            record_ip: Script::new(RECORD_IP),
        }
    }

    /// Every script, for preloading with `SCRIPT LOAD`.
    pub(crate) fn all(&self) -> [&Script; 8] {
        [
            &self.create,
            &self.rotate,
            &self.touch,
            &self.revoke,
            &self.revoke_all,
            &self.purge,
            &self.record_login,
            &self.record_ip,
        ]
    }
}
