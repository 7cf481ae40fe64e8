//! The Shared Signals transmitter's outbox on Redis
//! ([`SsfStore`](sessionward_core::ssf::SsfStore)). Every key shares the
//! hash tag `{ssf}`, so each step is one Lua script on one slot:
//!
//! | key | type | content |
//! |---|---|---|
//! | `<prefix>{ssf}:streams` | hash | stream id → `<version>\n<configuration JSON>` |
//! | `<prefix>{ssf}:order` | sorted set | stream ids by creation time |
//! | `<prefix>{ssf}:q:<stream>` | sorted set | queued `jti`s by when they may be pushed (retry time or lease end) |
//! | `<prefix>{ssf}:age:<stream>` | sorted set | queued `jti`s by when they were queued (order, retention) |
//! | `<prefix>{ssf}:items:<stream>` | hash | `jti` → `<queued at>\n<attempts>\n<SET>` |
//!
//! A stream id that is not `[A-Za-z0-9_-]` is named by its SHA-256 digest
//! in key names.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::Script;
use sessionward_core::ssf::{MAX_STREAMS, OutboxItem, SsfStore, StreamRecord, StreamWrite};
use sessionward_core::{StoreError, Timestamp};
use sha2::{Digest, Sha256};

use crate::RedisStore;

/// Most SETs one `remove_older` call drops (each call is one script; the
/// delivery pass calls it every time, so a backlog drains over passes).
const EXPIRE_BATCH: usize = 10_000;

/// Adds a stream unless its id exists: KEYS streams, order; ARGV id,
/// created at, configuration. 1 when added.
const CREATE_STREAM: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1\n' .. ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
";

/// Replaces a stream whose stored version is ARGV[2]: KEYS streams; ARGV
/// id, read version, new version, configuration. 1 when written.
const REPLACE_STREAM: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local version = string.match(current, '^(%d+)\n')
if version ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '\n' .. ARGV[4])
return 1
";

/// Deletes a stream and its queue: KEYS streams, order, q, age, items;
/// ARGV id. 1 when it existed.
const DELETE_STREAM: &str = r"
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
";

/// Queues one SET if its stream exists and it is not queued: KEYS streams,
/// q, age, items; ARGV stream id, jti, queued at, available at, SET.
const ENQUEUE: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[4], ARGV[2], ARGV[3] .. '\n0\n' .. ARGV[5]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1
";

/// Leases the due SETs: KEYS q, items; ARGV now, lease end, limit.
/// Returns `jti, item` pairs.
const CLAIM: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, jti in ipairs(due) do
  local item = redis.call('HGET', KEYS[2], jti)
  if item then
    redis.call('ZADD', KEYS[1], ARGV[2], jti)
    out[#out + 1] = jti
    out[#out + 1] = item
  else
    redis.call('ZREM', KEYS[1], jti)
  end
end
return out
";

/// The oldest SETs with their `available_at`: KEYS q, age, items; ARGV
/// limit. Returns `jti, item, available at` triples.
const PENDING: &str = r"
local jtis = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, jti in ipairs(jtis) do
  local item = redis.call('HGET', KEYS[3], jti)
  local at = redis.call('ZSCORE', KEYS[1], jti)
  if item and at then
    out[#out + 1] = jti
    out[#out + 1] = item
    out[#out + 1] = at
  end
end
return out
";

/// Removes SETs: KEYS q, age, items; ARGV jtis. How many were queued.
const REMOVE: &str = r"
local n = 0
for _, jti in ipairs(ARGV) do
  n = n + redis.call('HDEL', KEYS[3], jti)
  redis.call('ZREM', KEYS[1], jti)
  redis.call('ZREM', KEYS[2], jti)
end
return n
";

/// A failed push: KEYS q, items; ARGV jti, claimed available at, claimed
/// attempts, retry at. 1 when the SET was still as claimed.
const RETRY: &str = r"
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
local item = redis.call('HGET', KEYS[2], ARGV[1])
if not at or not item or tonumber(at) ~= tonumber(ARGV[2]) then return 0 end
local queued, attempts, set = string.match(item, '^([^\n]*)\n([^\n]*)\n(.*)$')
if attempts ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], queued .. '\n' .. (tonumber(attempts) + 1) .. '\n' .. set)
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
";

/// Drops SETs queued before ARGV[1] (at most ARGV[2]): KEYS q, age,
/// items. How many.
const REMOVE_OLDER: &str = r"
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, jti in ipairs(old) do
  redis.call('HDEL', KEYS[3], jti)
  redis.call('ZREM', KEYS[1], jti)
  redis.call('ZREM', KEYS[2], jti)
end
return #old
";

/// Every stream in creation order: KEYS streams, order; ARGV limit.
const STREAMS: &str = r"
local ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local s = redis.call('HGET', KEYS[1], id)
  if s then out[#out + 1] = s end
end
return out
";

struct SsfScripts {
    create_stream: Script,
    replace_stream: Script,
    delete_stream: Script,
    enqueue: Script,
    claim: Script,
    pending: Script,
    remove: Script,
    retry: Script,
    remove_older: Script,
    streams: Script,
}

static SCRIPTS: LazyLock<SsfScripts> = LazyLock::new(|| SsfScripts {
    create_stream: Script::new(CREATE_STREAM),
    replace_stream: Script::new(REPLACE_STREAM),
    delete_stream: Script::new(DELETE_STREAM),
    enqueue: Script::new(ENQUEUE),
    claim: Script::new(CLAIM),
    pending: Script::new(PENDING),
    remove: Script::new(REMOVE),
    retry: Script::new(RETRY),
    remove_older: Script::new(REMOVE_OLDER),
    streams: Script::new(STREAMS),
});

/// The name of stream `id` inside key names.
fn stream_part(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        id.to_owned()
    } else {
        format!(
            "h.{}",
            URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))
        )
    }
}

impl RedisStore {
    fn ssf_key(&self, name: &str) -> String {
        format!("{}{{ssf}}:{name}", self.key_prefix())
    }

    /// The queue keys of a stream: `q`, `age`, `items`.
    fn queue_keys(&self, stream: &str) -> [String; 3] {
        let part = stream_part(stream);
        [
            self.ssf_key(&format!("q:{part}")),
            self.ssf_key(&format!("age:{part}")),
            self.ssf_key(&format!("items:{part}")),
        ]
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("redis ssf outbox: {what}"))
}

/// A stored `<version>\n<json>` as a stream.
fn decode_stream(raw: &str) -> Result<StreamRecord, StoreError> {
    let (version, json) = raw.split_once('\n').ok_or_else(|| corrupt("stream"))?;
    let mut stream: StreamRecord =
        serde_json::from_str(json).map_err(|_| corrupt("stream configuration"))?;
    stream.version = version.parse().map_err(|_| corrupt("stream version"))?;
    Ok(stream)
}

/// A stored `<queued at>\n<attempts>\n<SET>` as an item.
fn decode_item(
    stream: &str,
    jti: String,
    raw: &str,
    available_at: i64,
) -> Result<OutboxItem, StoreError> {
    let mut parts = raw.splitn(3, '\n');
    let (Some(created), Some(attempts), Some(set)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("item"));
    };
    Ok(OutboxItem {
        stream: stream.to_owned(),
        jti,
        set: set.to_owned(),
        created_at: Timestamp::from_unix_millis(created.parse().map_err(|_| corrupt("item time"))?),
        available_at: Timestamp::from_unix_millis(available_at),
        attempts: attempts.parse().map_err(|_| corrupt("item attempts"))?,
    })
}

fn config_of(stream: &StreamRecord) -> Result<String, StoreError> {
    serde_json::to_string(stream).map_err(|e| StoreError::Backend(Box::new(e)))
}

fn written(reply: i64) -> StreamWrite {
    if reply == 1 {
        StreamWrite::Done
    } else {
        StreamWrite::Stale
    }
}

/// Streams and queued SETs on Redis, one Lua script per step (see the
/// module's key table in the crate docs).
#[async_trait]
impl SsfStore for RedisStore {
    async fn create_stream(&self, stream: &StreamRecord) -> Result<(), StoreError> {
        let mut first = stream.clone();
        first.version = 1;
        let mut inv = SCRIPTS.create_stream.prepare_invoke();
        inv.key(self.ssf_key("streams"))
            .key(self.ssf_key("order"))
            .arg(&first.id)
            .arg(first.created_at.unix_millis())
            .arg(config_of(&first)?);
        let mut conn = self.conn();
        let added: i64 = self.run(inv.invoke_async(&mut conn)).await?;
        if added == 1 {
            Ok(())
        } else {
            Err(StoreError::IdTaken)
        }
    }

    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>, StoreError> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.ssf_key("streams")).arg(id);
        let mut conn = self.conn();
        let raw: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        raw.as_deref().map(decode_stream).transpose()
    }

    async fn streams(&self) -> Result<Vec<StreamRecord>, StoreError> {
        let mut inv = SCRIPTS.streams.prepare_invoke();
        inv.key(self.ssf_key("streams"))
            .key(self.ssf_key("order"))
            .arg(MAX_STREAMS);
        let mut conn = self.conn();
        let raw: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        raw.iter().map(|s| decode_stream(s)).collect()
    }

    async fn replace_stream(
        &self,
        stream: &StreamRecord,
        read_version: u64,
    ) -> Result<StreamWrite, StoreError> {
        let mut next = stream.clone();
        next.version = read_version + 1;
        let mut inv = SCRIPTS.replace_stream.prepare_invoke();
        inv.key(self.ssf_key("streams"))
            .arg(&next.id)
            .arg(read_version)
            .arg(next.version)
            .arg(config_of(&next)?);
        let mut conn = self.conn();
        Ok(written(self.run(inv.invoke_async(&mut conn)).await?))
    }

    async fn delete_stream(&self, id: &str) -> Result<bool, StoreError> {
        let [q, age, items] = self.queue_keys(id);
        let mut inv = SCRIPTS.delete_stream.prepare_invoke();
        inv.key(self.ssf_key("streams"))
            .key(self.ssf_key("order"))
            .key(q)
            .key(age)
            .key(items)
            .arg(id);
        let mut conn = self.conn();
        let gone: i64 = self.run(inv.invoke_async(&mut conn)).await?;
        Ok(gone == 1)
    }

    async fn enqueue(&self, items: &[OutboxItem]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        for item in items {
            let [q, age, held] = self.queue_keys(&item.stream);
            let mut inv = SCRIPTS.enqueue.prepare_invoke();
            inv.key(self.ssf_key("streams"))
                .key(q)
                .key(age)
                .key(held)
                .arg(&item.stream)
                .arg(&item.jti)
                .arg(item.created_at.unix_millis())
                .arg(item.available_at.unix_millis())
                .arg(&item.set);
            let _: i64 = self.run(inv.invoke_async(&mut conn)).await?;
        }
        Ok(())
    }

    async fn claim_due(
        &self,
        stream: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let [q, _, held] = self.queue_keys(stream);
        let mut inv = SCRIPTS.claim.prepare_invoke();
        inv.key(q)
            .key(held)
            .arg(now.unix_millis())
            .arg(lease_until.unix_millis())
            .arg(limit);
        let mut conn = self.conn();
        let flat: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [jti, raw] => decode_item(stream, jti.clone(), raw, lease_until.unix_millis()),
                _ => Err(corrupt("claim reply")),
            })
            .collect()
    }

    async fn pending(&self, stream: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let [q, age, held] = self.queue_keys(stream);
        let mut inv = SCRIPTS.pending.prepare_invoke();
        inv.key(q).key(age).key(held).arg(limit);
        let mut conn = self.conn();
        let flat: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        flat.chunks(3)
            .map(|triple| match triple {
                [jti, raw, at] => {
                    let at: f64 = at.parse().map_err(|_| corrupt("score"))?;
                    #[allow(clippy::cast_possible_truncation)]
                    decode_item(stream, jti.clone(), raw, at as i64)
                }
                _ => Err(corrupt("pending reply")),
            })
            .collect()
    }

    async fn remove(&self, stream: &str, jtis: &[String]) -> Result<usize, StoreError> {
        if jtis.is_empty() {
            return Ok(0);
        }
        let [q, age, held] = self.queue_keys(stream);
        let mut removed = 0;
        let mut conn = self.conn();
        for chunk in jtis.chunks(500) {
            let mut inv = SCRIPTS.remove.prepare_invoke();
            inv.key(&q).key(&age).key(&held);
            for jti in chunk {
                inv.arg(jti);
            }
            let n: usize = self.run(inv.invoke_async(&mut conn)).await?;
            removed += n;
        }
        Ok(removed)
    }

    async fn retry_later(
        &self,
        item: &OutboxItem,
        retry_at: Timestamp,
    ) -> Result<StreamWrite, StoreError> {
        let [q, _, held] = self.queue_keys(&item.stream);
        let mut inv = SCRIPTS.retry.prepare_invoke();
        inv.key(q)
            .key(held)
            .arg(&item.jti)
            .arg(item.available_at.unix_millis())
            .arg(item.attempts)
            .arg(retry_at.unix_millis());
        let mut conn = self.conn();
        Ok(written(self.run(inv.invoke_async(&mut conn)).await?))
    }

    async fn remove_older(&self, stream: &str, before: Timestamp) -> Result<usize, StoreError> {
        let [q, age, held] = self.queue_keys(stream);
        let mut inv = SCRIPTS.remove_older.prepare_invoke();
        inv.key(q)
            .key(age)
            .key(held)
            .arg(before.unix_millis())
            .arg(EXPIRE_BATCH);
        let mut conn = self.conn();
        self.run(inv.invoke_async(&mut conn)).await
    }
}

#[cfg(test)]
mod tests {
    use super::stream_part;

    #[test]
    fn odd_stream_ids_are_digested_in_key_names() {
        assert_eq!(stream_part("0123abcdef"), "0123abcdef");
        let odd = stream_part("a}{b");
        assert!(odd.starts_with("h.") && !odd.contains('{'), "{odd}");
        assert_ne!(stream_part("a}{b"), stream_part("a}{c"));
    }
}
