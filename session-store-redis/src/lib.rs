//! Redis store for [sessionward](sessionward_core): every security decision
//! is one atomic Lua script, every user's data lives under one Redis Cluster
//! hash slot, and revocations reach other app instances over pub/sub.
//!
//! # Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//! use sessionward_core::tokens::TokenConfig;
//! use sessionward_core::{
//!     RequestContext, RevocationMode, SessionManager, SessionPolicy, SessionStore, UserId,
//! };
//! use sessionward_redis::{RedisStore, RedisStoreConfig};
//!
//! # async fn run(tokens: TokenConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect(
//!     "redis://127.0.0.1:6379",
//!     RedisStoreConfig::default().with_key_prefix("myapp:sw:"),
//! )
//! .await?;
//! let store: Arc<dyn SessionStore> = Arc::new(store);
//! let manager = SessionManager::builder(SessionPolicy::default(), tokens, store)
//!     // Optional: skip the per-request store read, kept current by pub/sub.
//!     .revocation_mode(RevocationMode::cached())
//!     .build()?;
//!
//! let login = manager
//!     .login(&UserId::new("alice")?, &RequestContext::new())
//!     .await?;
//! let session = manager
//!     .authenticate(login.tokens.access_token.expose_secret())
//!     .await?;
//! manager.logout(&session).await?;
//! # Ok(())
//! # }
//! ```
//!
//! For Redis Cluster use [`RedisStore::connect_cluster`] with the seed nodes;
//! nothing else changes.
//!
//! # Data layout
//!
//! | key | type | content |
//! |---|---|---|
//! | `<prefix>{<user tag>}:s` | hash | one field per session id; the value is the packed record |
//! | `<prefix>{<user tag>}:a` | sorted set | the unrevoked entries of the hash, scored by absolute end |
//! | `<prefix>{<user tag>}:r` | sorted set | the revoked entries (tombstones), scored by absolute end |
//! | `<prefix>{<user tag>}:h` | hash | login history for risk scoring (see [below](#risk-scoring-data)) |
//! | `<prefix>ip:{<ip digest>}` | sorted set | recent logins from one IP address, any user |
//! | `<prefix>once:{<id digest>}` | string | a used single-use token id |
//! | `<prefix>revoked` | pub/sub channel | `"<id> <id>…\n<user id>"` per revoking call |
//!
//! The user tag is base64url(SHA-256(user id)) (43 characters), so user ids
//! with `{`/`}` cannot move the hash tag, and no user id appears in a key
//! name. The key prefix may not contain braces, whitespace or glob
//! characters. A user's hash and its indexes expire (`PEXPIRE`, relative to
//! the `now` the core passed in; the store never reads a clock) when the
//! latest absolute session end among its entries passes, so revoked
//! tombstones live exactly as long as the tokens they kill could.
//!
//! Every entry of the hash is in exactly one of the two indexes, except a
//! user's only entry: a user with one session costs one key, and the next
//! write builds the index from that one entry. The indexes keep a
//! login's cost independent of how many sessions and tombstones the user has
//! stored: entries past their end are found by score, admission reads only
//! the unrevoked entries, and with no limit in force a login reads no other
//! session at all. Each script that writes checks that the indexes still
//! cover the hash (`HLEN` against the two `ZCARD`s) and rebuilds them from
//! the hash when they do not, and drops them when the hash is gone, before
//! any limit is counted: data written by an earlier version, or an index
//! key or session hash lost to an eviction policy, can never let a login
//! past a limit. (Run Redis with
//! `maxmemory-policy noeviction` all the same: an evicted session hash ends
//! that user's sessions.)
//!
//! A record is a `|`-separated header the scripts read and rewrite
//! (timestamps in unix milliseconds, refresh hash, generation, revocation, IP,
//! device class, country) plus the descriptive metadata as compact JSON that
//! Lua never parses. Measured with `MEMORY USAGE` on Redis 7.0 (test
//! `memory_per_session`, numbers in `docs/benchmarks-redis.md`): a bare
//! session costs about **305 bytes**, a session with a 120-byte User-Agent,
//! parsed device, city-level location and one risk signal about **625
//! bytes** (index entry included); a user with one such session uses about
//! 790 bytes (one key), with 5 about 3.5 KB in total, key, hash and index
//! overhead included.
//!
//! # One round trip per operation
//!
//! | [`SessionStore`] method | Redis |
//! |---|---|
//! | `create` | one script: when a limit is in force, read the user's unrevoked entries through the index and apply the admission rules of [`sessionward_core::admission`] (limits per user, IP, device class and country, eviction order and tie-breaks); drop entries past their absolute end; revoke victims and the `replaces` session; insert; extend the keys' TTL; publish |
//! | `get` | `HGET` |
//! | `list` | `HGETALL` |
//! | `touch` | script: `last_seen_at = max(old, at)` unless revoked |
//! | `rotate_refresh` | script: compare-and-swap on generation + hash, only while active |
//! | `revoke`, `revoke_all` | one script each, returning the records before revocation and publishing the ids |
//!
//! With [`RedisStoreConfig::with_replica_acks`], a `create`, `revoke` or
//! `revoke_all` that revoked something takes one more exchange (`CLIENT ID`
//! and `WAIT`, pipelined), see [below](#replication-and-failover).
//! | `purge_expired` | `SCAN` over the per-user hashes (per primary on a cluster), then one script per hash |
//!
//! Session scripts touch only the user's hash and its two indexes, all
//! declared in `KEYS` and in one slot (the risk scripts: the user's history
//! hash or one IP's set, see [below](#risk-scoring-data)). Their work, for
//! a user with `n` stored entries of which `u` are unrevoked and `e` have
//! ended: `create` O(log n + e) without limits, O(u log u + e) with limits;
//! `revoke` O(log n); `revoke_all` O(u log n); `touch` and `rotate_refresh`
//! O(1). Entries past their absolute end are dropped by every `create` and
//! by `purge_expired`.
//!
//! `purge_expired` is O(number of keys under the prefix) `SCAN` steps in
//! batches plus O(ended entries) per user; it is housekeeping (run it every
//! few minutes). Whole users disappear by TTL without it, and it returns only
//! the entries it deleted itself.
//!
//! # Risk scoring data
//!
//! [`RedisStore`] also implements
//! [`RiskStore`](sessionward_core::risk::RiskStore), so one store serves
//! both the manager and its
//! [`RiskEngine`](sessionward_core::RiskEngine):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use sessionward_core::risk::RiskConfig;
//! # use sessionward_core::RiskEngine;
//! # fn run(store: sessionward_redis::RedisStore) {
//! let engine = RiskEngine::new(RiskConfig::default(), Arc::new(store.clone()));
//! # }
//! ```
//!
//! - **Login history**, `<prefix>{<user tag>}:h`, in the user's slot. Fields
//!   `fp:<128-bit digest of a device fingerprint>`, `c:<country>` and
//!   `a:<ASN>` map to the unix-millisecond time they were last seen; `last`
//!   holds the previous login as compact JSON
//!   (`{"at":…,"c":"GB","la":51.5142,"lo":-0.0931}`). Fingerprints are
//!   hashed so fields stay short whatever the User-Agent text is, and the
//!   hash keeps Redis' compact listpack encoding. `login_history` is one
//!   `HMGET`; `record_login` is one script that stamps the fields (never
//!   backwards), replaces `last` only by a login at least as recent, drops
//!   fields last seen before `keep_since`, and sets the key's TTL to the
//!   retention (newest login − `keep_since`). A user who has not logged in
//!   for the whole retention ([`RiskConfig::history_retention`], 180 days by
//!   default) is therefore forgotten and scored like a first login.
//!   About **460 bytes** per user after 5 logins from 2 devices (each with a
//!   device-id cookie), 2 countries and 3 networks (`MEMORY USAGE`, test
//!   `memory_per_history`).
//! - **Login bursts**, `<prefix>ip:{<digest of the IP>}`, one sorted set per
//!   address in its own slot (logins of all users from that address): one
//!   member per login scored by its time. `login_history` counts with
//!   `ZCOUNT`, concurrently with the `HMGET`; `record_login` runs a second
//!   small script on this key (add, drop entries before `keep_since`, keep
//!   the [`RedisStoreConfig::with_ip_login_cap`] most recent, set the TTL),
//!   concurrently with the history script. It is a scoring signal, not a
//!   security decision, so it is not atomic with the user's history.
//!   About 300 bytes for an address with 5 logins; at most about 5 KB at the
//!   default cap of 128.
//! - **Single-use token ids**, `<prefix>once:{<SHA-256 of the id>}`:
//!   `consume_once` is `SET … 1 NX PX <expires_at − now>` (at least 1 ms),
//!   atomic on its own key; true only for the caller that set it. About
//!   140 bytes per used id until the token expires.
//!
//! Neither IP addresses, user ids nor token ids appear in key names. The
//! per-IP and per-token keys have their own hash tags, so on a cluster they
//! spread over the slots like users do; every script still touches exactly
//! one declared key.
//!
//! [`RiskConfig::history_retention`]: sessionward_core::risk::RiskConfig::history_retention
//!
//! # Revocation feed and cluster notes
//!
//! [`RedisStore::revocation_feed`](SessionStore::revocation_feed) returns a
//! [`RedisRevocationFeed`]. Each subscription opens its own pub/sub
//! connection, sends [`FeedEvent::Connected`](sessionward_core::FeedEvent)
//! only after `SUBSCRIBE` is confirmed, forwards every published revocation,
//! pings every heartbeat interval, and on any connection loss sends
//! `Disconnected` and closes, so the core's cached mode checks the store on
//! every request until it has resubscribed.
//!
//! Scripts use classic `PUBLISH`, which Redis Cluster broadcasts to every
//! node; the feed subscribes through the first reachable seed node. (`SPUBLISH` would
//! confine messages to the user's shard and force one subscription per
//! shard, which is not worth it for a low-volume revocation channel.)
//!
//! # Requirements
//!
//! Redis 6.0 or newer (`SCAN … TYPE`), Lua scripting enabled; tested on 7.0,
//! standalone and cluster mode.
//!
//! # Replication and failover
//!
//! Redis replicates asynchronously: a revocation that returned may exist
//! only on the primary, and a failover right after it can promote a replica
//! that never saw it. [`RedisStoreConfig::with_replica_acks`] closes that
//! gap for revoking writes: after each one the store sends
//! `WAIT <replicas> <timeout>` on the connection that carried it (on a
//! cluster, to the primary of the user's slot) and fails closed with
//! [`StoreError::Unavailable`] ([`RedisStoreError::ReplicaAcksMissing`])
//! when fewer replicas acknowledged. `WAIT` does not make Redis strongly
//! consistent: with several replicas, a failover can still pick one that
//! did not acknowledge, so set the count to the number of replicas that can
//! be promoted. Logins that revoke nothing, refresh rotation and activity
//! updates never wait. See `docs/stores.md`, "Replication and failover",
//! for every backend's guarantees.
//!
//! # Failure behaviour
//!
//! Every operation runs under [`RedisStoreConfig::with_operation_timeout`]
//! (default 2 s), on top of redis-rs connection and response timeouts.
//! Connection failures, timeouts and cluster-down states become
//! [`StoreError::Unavailable`]; the [`redis::aio::ConnectionManager`] (or
//! cluster connection) reconnects by itself once Redis is back, so the store
//! and the manager never need rebuilding.

mod codec;
mod error;
mod feed;
mod keys;
mod risk;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisFuture, ScriptInvocation, ServerErrorKind, Value};
use sessionward_core::admission::FIRST_USE_RESOLUTION;
use sessionward_core::{
    CreateOutcome, CreateRequest, LimitKind, OnLimit, RevocationFeed, RevokeReason, RotateOutcome,
    RotateRequest, SessionId, SessionRecord, SessionStore, StoreError, Timestamp, TouchRequest,
    UserId,
};

pub use error::RedisStoreError;
pub use feed::RedisRevocationFeed;
pub use keys::{CLUSTER_SLOTS, key_slot, keys_for_user, user_tag};

use crate::error::{map_err, timed_out};
use crate::scripts::Scripts;

/// Default key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "sessionward:";

/// Settings of a [`RedisStore`]. Start from [`RedisStoreConfig::default`].
///
/// ```
/// use std::time::Duration;
/// use sessionward_redis::RedisStoreConfig;
/// let config = RedisStoreConfig::default()
///     .with_key_prefix("shop:sessions:")
///     .with_operation_timeout(Duration::from_millis(500));
/// assert_eq!(config.key_prefix(), "shop:sessions:");
/// ```
#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    key_prefix: String,
    connection_timeout: Duration,
    response_timeout: Duration,
    operation_timeout: Duration,
    reconnect_retries: usize,
    feed_heartbeat: Duration,
    scan_batch: usize,
    ip_login_cap: usize,
    replica_acks: u32,
    replica_ack_timeout: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        RedisStoreConfig {
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(2),
            reconnect_retries: 2,
            feed_heartbeat: Duration::from_secs(5),
            scan_batch: 500,
            ip_login_cap: 128,
            replica_acks: 0,
            replica_ack_timeout: Duration::ZERO,
        }
    }
}

impl RedisStoreConfig {
    /// Prefix of every key and of the channel (default [`DEFAULT_KEY_PREFIX`]).
    /// At most 64 bytes; no whitespace, control characters, `{`, `}` or glob
    /// characters (`*?[]\`), which [`RedisStore::connect`] refuses with
    /// [`RedisStoreError::InvalidPrefix`].
    ///
    /// ```
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_key_prefix("app1:sw:");
    /// # assert_eq!(config.key_prefix(), "app1:sw:");
    /// ```
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Time allowed for establishing one connection (default 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_connection_timeout(Duration::from_millis(300));
    /// ```
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Time allowed for one command's response (default 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_response_timeout(Duration::from_millis(250));
    /// ```
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Upper bound for a whole store operation, including waiting for a
    /// reconnect (default 2 s). When it passes the call fails with
    /// [`StoreError::Unavailable`]. `purge_expired` applies it per step.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_operation_timeout(Duration::from_millis(800));
    /// ```
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Connection attempts per reconnect round before a call fails (default 2);
    /// the next call starts a new round.
    ///
    /// ```
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_reconnect_retries(4);
    /// ```
    pub fn with_reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// How often the revocation feed pings its pub/sub connection (default
    /// 5 s). A half-open connection is detected within this plus the
    /// response timeout, and the cached mode then falls back to strict checks.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_feed_heartbeat(Duration::from_secs(2));
    /// ```
    pub fn with_feed_heartbeat(mut self, interval: Duration) -> Self {
        self.feed_heartbeat = interval.max(Duration::from_millis(10));
        self
    }

    /// `SCAN COUNT` hint used by `purge_expired` (default 500).
    ///
    /// ```
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_scan_batch(1000);
    /// ```
    pub fn with_scan_batch(mut self, count: usize) -> Self {
        self.scan_batch = count.max(1);
        self
    }

    /// How many of the most recent logins are kept per IP address for the
    /// `login_burst` risk signal (default 128, at least 1). The count a
    /// login sees saturates at this number, so keep it at or above
    /// [`RiskConfig::burst_logins`](sessionward_core::risk::RiskConfig)
    /// (default 10). It bounds the memory of a busy shared address: up to
    /// 128 entries the set keeps Redis' compact listpack encoding (about
    /// 5 KB when full); beyond, a skiplist costs about 120 bytes per entry.
    ///
    /// ```
    /// # use sessionward_redis::RedisStoreConfig;
    /// let config = RedisStoreConfig::default().with_ip_login_cap(200);
    /// ```
    pub fn with_ip_login_cap(mut self, cap: usize) -> Self {
        self.ip_login_cap = cap.max(1);
        self
    }

    /// Makes every revoking write wait for `replicas` replicas to
    /// acknowledge it, for at most `timeout` (default off: `replicas` 0),
    /// so that a revocation that returned survives the failover of a
    /// replicated Redis. See [Replication and failover](crate#replication-and-failover).
    ///
    /// After a write that revoked something (`revoke` that revoked a
    /// session; `revoke_all` that revoked one or raised the user's
    /// not-before mark; `create` that evicted or replaced sessions, or was
    /// refused by the mark) the store sends `WAIT <replicas> <timeout ms>` on
    /// the connection that carried the write. Fewer acknowledgements, or a
    /// connection replaced in between, make the call fail closed with
    /// [`StoreError::Unavailable`] (source
    /// [`RedisStoreError::ReplicaAcksMissing`] or
    /// [`RedisStoreError::ReplicaAcksUnknown`]); the write stays applied on
    /// the primary and retrying the call is safe. On a cluster the `WAIT`
    /// goes to the primary of the user's hash slot.
    ///
    /// The connection is multiplexed, so `WAIT` also waits for every write
    /// sent on it before, by any concurrent call: conservative, never less
    /// than the revoking write.
    ///
    /// [`RedisStoreConfig::validate`] (run by every `connect`) refuses a
    /// zero `timeout` with `replicas` above 0 (`WAIT … 0` blocks forever) and
    /// a `timeout` that is not below both the response and the operation
    /// timeout (the store would give up before `WAIT` answers).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::RedisStoreConfig;
    /// // One replica (the one Sentinel would promote) must hold every revocation.
    /// let config = RedisStoreConfig::default()
    ///     .with_replica_acks(1, Duration::from_millis(500));
    /// assert_eq!(config.replica_acks(), (1, Duration::from_millis(500)));
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn with_replica_acks(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replica_acks = replicas;
        self.replica_ack_timeout = timeout;
        self
    }

    /// The replica acknowledgements required of revoking writes and the
    /// `WAIT` timeout (`(0, _)`: off).
    pub fn replica_acks(&self) -> (u32, Duration) {
        (self.replica_acks, self.replica_ack_timeout)
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Checks the settings as [`RedisStore::connect`] and
    /// [`RedisStore::connect_cluster`] do, without connecting.
    ///
    /// # Errors
    /// [`RedisStoreError::InvalidPrefix`] for a prefix that would break the
    /// key layout; [`RedisStoreError::InvalidReplicaAcks`] for replica
    /// acknowledgement settings that cannot work.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sessionward_redis::{RedisStoreConfig, RedisStoreError};
    /// let ok = RedisStoreConfig::default().with_replica_acks(2, Duration::from_millis(300));
    /// assert!(ok.validate().is_ok());
    /// // WAIT with a zero timeout would block forever.
    /// let forever = RedisStoreConfig::default().with_replica_acks(1, Duration::ZERO);
    /// assert!(matches!(forever.validate(), Err(RedisStoreError::InvalidReplicaAcks(_))));
    /// // The response timeout (default 1 s) would cut WAIT off.
    /// let too_long = RedisStoreConfig::default().with_replica_acks(1, Duration::from_secs(1));
    /// assert!(matches!(too_long.validate(), Err(RedisStoreError::InvalidReplicaAcks(_))));
    /// // Off: the timeout is ignored.
    /// assert!(RedisStoreConfig::default().with_replica_acks(0, Duration::ZERO).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), RedisStoreError> {
        if !keys::valid_prefix(&self.key_prefix) {
            return Err(RedisStoreError::InvalidPrefix);
        }
        if self.replica_acks > 0 {
            let timeout = self.replica_ack_timeout;
            if timeout.as_millis() == 0 {
                return Err(RedisStoreError::InvalidReplicaAcks(
                    "the WAIT timeout must be at least 1 ms (0 blocks forever)",
                ));
            }
            if timeout >= self.response_timeout || timeout >= self.operation_timeout {
                return Err(RedisStoreError::InvalidReplicaAcks(
                    "the WAIT timeout must be below the response and operation timeouts",
                ));
            }
        }
        Ok(())
    }

    /// The replica acknowledgements to wait for, when on.
    fn acks(&self) -> Option<ReplicaAcks> {
        (self.replica_acks > 0).then_some(ReplicaAcks {
            replicas: self.replica_acks,
            timeout_ms: self.replica_ack_timeout.as_millis(),
        })
    }
}

/// Enabled [`RedisStoreConfig::with_replica_acks`] settings.
#[derive(Debug, Clone, Copy)]
struct ReplicaAcks {
    replicas: u32,
    timeout_ms: u128,
}

/// A standalone (auto-reconnecting) or cluster connection.
#[derive(Clone)]
enum Conn {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Standalone(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Standalone(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A [`SessionStore`] on Redis (standalone or cluster). Cheap to clone.
///
/// See the [crate documentation](crate) for the data layout, the scripts and
/// the failure behaviour.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    scripts: Scripts,
    prefix: String,
    channel: String,
    operation_timeout: Duration,
    scan_batch: usize,
    ip_login_cap: usize,
    replica_acks: Option<ReplicaAcks>,
    feed: Arc<RedisRevocationFeed>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field(
                "mode",
                &match self.inner.conn {
                    Conn::Standalone(_) => "standalone",
                    Conn::Cluster(_) => "cluster",
                },
            )
            .finish_non_exhaustive()
    }
}

fn invalid_config(e: RedisStoreError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl RedisStore {
    /// Connects to a standalone Redis (`redis://[:password@]host:port[/db]`,
    /// `rediss://` needs a TLS feature of `redis`), waits for the first
    /// connection and loads the scripts.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached in time;
    /// [`StoreError::Backend`] for a bad URL or settings that
    /// [`RedisStoreConfig::validate`] refuses.
    pub async fn connect(url: &str, config: RedisStoreConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Backend(Box::new(e)))?;
        Self::from_client(client, config).await
    }

    /// Like [`RedisStore::connect`], from a configured [`redis::Client`].
    ///
    /// # Errors
    /// As [`RedisStore::connect`].
    pub async fn from_client(
        client: redis::Client,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        config.validate().map_err(invalid_config)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = tokio::time::timeout(
            config.operation_timeout,
            client.get_connection_manager_with_config(manager_config),
        )
        .await
        .map_err(|_| timed_out("connecting"))?
        .map_err(map_err)?;
        Self::finish(Conn::Standalone(manager), vec![client], config).await
    }

    /// Connects to a Redis Cluster through the given seed nodes (URLs as for
    /// [`RedisStore::connect`]). Every per-user operation addresses one hash
    /// slot; the revocation feed subscribes through the first reachable seed
    /// node (classic pub/sub is broadcast cluster-wide).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the cluster cannot be reached in time;
    /// [`StoreError::Backend`] for bad URLs, no nodes or settings that
    /// [`RedisStoreConfig::validate`] refuses.
    pub async fn connect_cluster<I, S>(
        nodes: I,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        config.validate().map_err(invalid_config)?;
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(invalid_config(RedisStoreError::NoClusterNodes));
        }
        let feed_clients = nodes
            .iter()
            .map(|n| redis::Client::open(n.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let cluster = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(config.connection_timeout)
            .response_timeout(config.response_timeout)
            .overall_response_timeout(Some(config.operation_timeout))
            .retries(config.reconnect_retries as u32)
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let conn = tokio::time::timeout(config.operation_timeout, cluster.get_async_connection())
            .await
            .map_err(|_| timed_out("connecting"))?
            .map_err(map_err)?;
        Self::finish(Conn::Cluster(conn), feed_clients, config).await
    }

    async fn finish(
        conn: Conn,
        feed_clients: Vec<redis::Client>,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let channel = keys::revoked_channel(&config.key_prefix);
        let replica_acks = config.acks();
        let feed = Arc::new(RedisRevocationFeed::new(
            feed_clients,
            channel.clone(),
            config.connection_timeout,
            config.response_timeout,
            config.feed_heartbeat,
        ));
        let store = RedisStore {
            inner: Arc::new(Inner {
                conn,
                scripts: Scripts::new(),
                prefix: config.key_prefix,
                channel,
                operation_timeout: config.operation_timeout,
                scan_batch: config.scan_batch,
                ip_login_cap: config.ip_login_cap,
                replica_acks,
                feed,
            }),
        };
        store.load_scripts().await?;
        Ok(store)
    }

    /// Loads every script into the script cache (`SCRIPT LOAD`), so the
    /// first call of each operation is one round trip. Calls reload scripts
    /// by themselves after a server restart or `SCRIPT FLUSH`.
    ///
    /// # Errors
    /// [`StoreError`] when Redis does not answer.
    pub async fn load_scripts(&self) -> Result<(), StoreError> {
        for script in self.inner.scripts.all() {
            let mut conn = self.conn();
            self.run(async move { script.load_async(&mut conn).await })
                .await?;
        }
        Ok(())
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Every per-user Redis key of `user`: the session hash (first) and the
    /// login-history hash of risk scoring. All share the user's hash tag, so
    /// they map to one cluster slot.
    pub fn keys_for_user(&self, user: &UserId) -> Vec<String> {
        keys::keys_for_user(&self.inner.prefix, user)
    }

    /// The channel revocations are published on.
    pub fn revocation_channel(&self) -> &str {
        &self.inner.channel
    }

    /// `MEMORY USAGE` of the user's sessions in bytes: the session hash, its
    /// two indexes and the "not before" mark (`None` when the user has none
    /// of them), for capacity planning.
    ///
    /// # Errors
    /// [`StoreError`] when Redis does not answer.
    pub async fn memory_usage(&self, user: &UserId) -> Result<Option<u64>, StoreError> {
        let mut total = None;
        for key in keys::session_keys(&self.inner.prefix, user) {
            if let Some(bytes) = self.key_memory_usage(key).await? {
                total = Some(total.unwrap_or(0) + bytes);
            }
        }
        Ok(total)
    }

    async fn key_memory_usage(&self, key: String) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn();
        self.run(async move {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    fn key(&self, user: &UserId) -> String {
        keys::sessions_key(&self.inner.prefix, user)
    }

    /// An invocation of `script` on the session keys `keys` (the hash and
    /// its two indexes).
    fn on_session_keys<'s>(script: &'s redis::Script, keys: [String; 4]) -> ScriptInvocation<'s> {
        let mut inv = script.prepare_invoke();
        for key in keys {
            inv.key(key);
        }
        inv
    }

    /// [`Self::on_session_keys`] of `user`.
    fn on_user<'s>(&self, script: &'s redis::Script, user: &UserId) -> ScriptInvocation<'s> {
        Self::on_session_keys(script, keys::session_keys(&self.inner.prefix, user))
    }

    /// Runs one Redis exchange under the operation timeout.
    async fn run<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.within(async { fut.await.map_err(map_err) }).await
    }

    /// Runs `fut` under the operation timeout.
    async fn within<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.inner.operation_timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(timed_out("waiting for redis")),
        }
    }

    /// Runs a revoking script of `user`. With replica acknowledgements on
    /// and `revoked(&reply)` true, waits for them on the same connection
    /// (see [`RedisStoreConfig::with_replica_acks`]); script and `WAIT`
    /// share one operation timeout.
    async fn revoking<T: redis::FromRedisValue>(
        &self,
        user: &UserId,
        inv: ScriptInvocation<'_>,
        revoked: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let Some(acks) = self.inner.replica_acks else {
            return self.run(inv.invoke_async(&mut conn)).await;
        };
        self.within(async {
            // `CLIENT ID` rides with the script, so the `WAIT` below can
            // prove it used the connection that carried the write.
            let mut pipe = redis::pipe();
            pipe.invoke_script(&inv).cmd("CLIENT").arg("ID");
            let sent: redis::RedisResult<(T, i64)> = match pipe.query_async(&mut conn).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    inv.load_async(&mut conn).await.map_err(map_err)?;
                    pipe.query_async(&mut conn).await
                }
                other => other,
            };
            let (reply, writer) = sent.map_err(map_err)?;
            if !revoked(&reply) {
                return Ok(reply);
            }
            let (waiter, got) = self.wait_acks(&mut conn, user, acks).await?;
            let missing = if waiter != writer {
                RedisStoreError::ReplicaAcksUnknown
            } else if got < u64::from(acks.replicas) {
                RedisStoreError::ReplicaAcksMissing {
                    wanted: acks.replicas,
                    got,
                }
            } else {
                return Ok(reply);
            };
            Err(StoreError::Unavailable(Box::new(missing)))
        })
        .await
    }

    /// `CLIENT ID` and `WAIT` in one pipeline, so both answer for one
    /// connection: on a cluster, the one to the primary of `user`'s slot.
    async fn wait_acks(
        &self,
        conn: &mut Conn,
        user: &UserId,
        acks: ReplicaAcks,
    ) -> Result<(i64, u64), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("CLIENT")
            .arg("ID")
            .cmd("WAIT")
            .arg(acks.replicas)
            .arg(acks.timeout_ms.to_string());
        match conn {
            Conn::Standalone(conn) => pipe.query_async(conn).await.map_err(map_err),
            Conn::Cluster(conn) => {
                use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
                let slot = keys::key_slot(self.key(user).as_bytes());
                let route = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
                let replies = conn
                    .route_pipeline(pipe, 0, 2, route)
                    .await
                    .map_err(map_err)?;
                redis::from_redis_value(Value::Array(replies)).map_err(|e| map_err(e.into()))
            }
        }
    }

    fn decode_pairs(user: &UserId, flat: &[String]) -> Result<Vec<SessionRecord>, StoreError> {
        flat.chunks_exact(2)
            .map(|p| codec::decode(user, &p[0], &p[1]))
            .collect()
    }

    /// Every per-user hash key under the prefix, from every primary.
    async fn scan_keys(&self) -> Result<Vec<String>, StoreError> {
        let pattern = keys::sessions_pattern(&self.inner.prefix);
        let mut found = Vec::new();
        match self.conn() {
            Conn::Standalone(mut conn) => {
                let mut cursor = 0u64;
                loop {
                    let cmd = scan_cmd(cursor, &pattern, self.inner.scan_batch);
                    let (next, batch): (u64, Vec<String>) =
                        self.run(cmd.query_async(&mut conn)).await?;
                    found.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Conn::Cluster(mut conn) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let slots = self
                    .run(conn.route_command(
                        redis::cmd("CLUSTER").arg("SLOTS").clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                    ))
                    .await?;
                for slot in cluster_primary_slots(&slots) {
                    let mut cursor = 0u64;
                    loop {
                        // Addressed by a slot the primary owns: no host names
                        // needed (a node may announce an empty host).
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                            Route::new(slot, SlotAddr::Master),
                        ));
                        let cmd = scan_cmd(cursor, &pattern, self.inner.scan_batch);
                        let reply = self.run(conn.route_command(cmd, routing)).await?;
                        let (next, batch): (u64, Vec<String>) =
                            redis::from_redis_value(reply).map_err(|e| map_err(e.into()))?;
                        found.extend(batch);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        Ok(found)
    }
}

fn scan_cmd(cursor: u64, pattern: &str, count: usize) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count)
        .arg("TYPE")
        .arg("hash");
    cmd
}

/// One slot owned by each distinct primary in a `CLUSTER SLOTS` reply
/// (primaries told apart by node id, else by address).
fn cluster_primary_slots(reply: &Value) -> Vec<u16> {
    let mut seen: Vec<String> = Vec::new();
    let mut slots = Vec::new();
    let Value::Array(ranges) = reply else {
        return slots;
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        _ => String::new(),
    };
    for range in ranges {
        let Value::Array(parts) = range else { continue };
        let (Some(Value::Int(start)), Some(Value::Array(primary))) = (parts.first(), parts.get(2))
        else {
            continue;
        };
        let Ok(start) = u16::try_from(*start) else {
            continue;
        };
        let node = match text(primary.get(2)) {
            id if !id.is_empty() => id,
            _ => format!("{}:{}", text(primary.first()), text(primary.get(1))),
        };
        if !seen.contains(&node) {
            seen.push(node);
            slots.push(start);
        }
    }
    slots
}

/// Whether a `create` reply revoked sessions (evicted or replaced them) or
/// was refused by the not-before mark: the outcomes that tell the caller a
/// revocation holds.
fn create_revoked(reply: &[String]) -> bool {
    match reply.first().map(String::as_str) {
        Some("not_before") => true,
        Some("created") => reply.get(2).is_some_and(|id| !id.is_empty()) || reply.len() > 4,
        _ => false,
    }
}

fn mode_arg(on_limit: OnLimit) -> &'static str {
    match on_limit {
        OnLimit::EvictOldest => "oldest",
        OnLimit::EvictLeastRecentlyUsed => "lru",
        OnLimit::RejectNew => "reject",
    }
}

fn opt_arg(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn millis(t: Timestamp) -> String {
    t.unix_millis().to_string()
}

fn duration_millis(d: Duration) -> String {
    d.as_millis().to_string()
}

fn parse_millis(text: &str) -> Result<Timestamp, StoreError> {
    text.parse()
        .map(Timestamp::from_unix_millis)
        .map_err(|_| StoreError::Corrupt(format!("not a timestamp: {text:?}")))
}

fn unexpected() -> StoreError {
    StoreError::Backend(Box::new(RedisStoreError::UnexpectedReply))
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, req: CreateRequest) -> Result<CreateOutcome, StoreError> {
        let s = &req.session;
        let user = &s.user;
        let value = codec::encode(s)?;
        let limits = &req.limits;
        let class_limit = limits.for_class(s.device_class);
        let mut inv = self.on_user(&self.inner.scripts.create, user);
        inv.arg(millis(req.now))
            .arg(millis(req.idle_cutoff))
            .arg(s.id.as_str())
            .arg(value)
            .arg(s.ip.map(|ip| ip.to_string()).unwrap_or_default())
            .arg(codec::class_code(s.device_class))
            .arg(s.country.as_deref().map(codec::escape).unwrap_or_default())
            .arg(req.replaces.as_ref().map(SessionId::as_str).unwrap_or(""))
            .arg(mode_arg(limits.on_limit))
            .arg(opt_arg(limits.per_user))
            .arg(opt_arg(limits.per_ip))
            .arg(opt_arg(class_limit))
            .arg(opt_arg(limits.max_countries))
            .arg(user.as_str())
            .arg(&self.inner.channel)
            .arg(millis(req.credential_verified_at))
            .arg(duration_millis(FIRST_USE_RESOLUTION))
            .arg(duration_millis(
                req.touch_interval.max(FIRST_USE_RESOLUTION),
            ));
        let reply: Vec<String> = self
            .revoking(user, inv, |r: &Vec<String>| create_revoked(r))
            .await?;
        let limit_kind = |name: &str| -> Result<Option<LimitKind>, StoreError> {
            Ok(match name {
                "" => None,
                "per_user" => Some(LimitKind::PerUser),
                "per_ip" => Some(LimitKind::PerIp),
                "per_device_class" => Some(LimitKind::PerDeviceClass {
                    class: s.device_class,
                }),
                "countries" => Some(LimitKind::Countries),
                _ => return Err(unexpected()),
            })
        };
        match reply.first().map(String::as_str) {
            Some("not_before") if reply.len() == 2 => Ok(CreateOutcome::CredentialsRevoked {
                not_before: parse_millis(&reply[1])?,
            }),
            Some("reject") if reply.len() >= 2 => Ok(CreateOutcome::LimitReached {
                limit: limit_kind(&reply[1])?.ok_or_else(unexpected)?,
                active: Self::decode_pairs(user, &reply[2..])?,
            }),
            Some("created") if reply.len() >= 4 => {
                let replaced = if reply[2].is_empty() {
                    None
                } else {
                    Some(codec::decode(user, &reply[2], &reply[3])?)
                };
                Ok(CreateOutcome::Created {
                    limit: limit_kind(&reply[1])?,
                    evicted: Self::decode_pairs(user, &reply[4..])?,
                    replaced,
                })
            }
            _ => Err(unexpected()),
        }
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("HGET")
            .arg(self.key(user))
            .arg(id.as_str())
            .clone();
        let raw: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        raw.map(|raw| codec::decode(user, id.as_str(), &raw))
            .transpose()
    }

    async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let mut inv = self.inner.scripts.touch.key(self.key(&req.user));
        inv.arg(req.id.as_str())
            .arg(millis(req.at))
            .arg(millis(req.idle_cutoff));
        let written: i64 = self.run(inv.invoke_async(&mut conn)).await?;
        Ok(written == 1)
    }

    async fn rotate_refresh(&self, req: RotateRequest) -> Result<RotateOutcome, StoreError> {
        let next = req
            .expected_generation
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("refresh generation overflow".to_owned()))?;
        let mut conn = self.conn();
        let mut inv = self.inner.scripts.rotate.key(self.key(&req.user));
        inv.arg(req.id.as_str())
            .arg(req.expected_generation.to_string())
            .arg(codec::hash_text(&req.expected_hash))
            .arg(next.to_string())
            .arg(codec::hash_text(&req.new_hash))
            .arg(millis(req.now))
            .arg(millis(req.idle_cutoff));
        let reply: Vec<String> = self.run(inv.invoke_async(&mut conn)).await?;
        let decode = |raw: &str| codec::decode(&req.user, req.id.as_str(), raw);
        match (reply.first().map(String::as_str), reply.get(1)) {
            (Some("absent"), _) => Ok(RotateOutcome::Unchanged(None)),
            (Some("unchanged"), Some(raw)) => Ok(RotateOutcome::Unchanged(Some(decode(raw)?))),
            (Some("rotated"), Some(raw)) => Ok(RotateOutcome::Rotated(decode(raw)?)),
            _ => Err(unexpected()),
        }
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut inv = self.on_user(&self.inner.scripts.revoke, user);
        inv.arg(id.as_str())
            .arg(reason.as_str())
            .arg(millis(at))
            .arg(user.as_str())
            .arg(&self.inner.channel);
        let raw: Option<String> = self.revoking(user, inv, Option::is_some).await?;
        raw.map(|raw| codec::decode(user, id.as_str(), &raw))
            .transpose()
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let raises_mark = reason.raises_not_before();
        let mut inv = self.on_user(&self.inner.scripts.revoke_all, user);
        inv.arg(except.map(SessionId::as_str).unwrap_or(""))
            .arg(reason.as_str())
            .arg(millis(at))
            .arg(user.as_str())
            .arg(&self.inner.channel)
            .arg(if raises_mark { "1" } else { "0" });
        let reply: Vec<String> = self
            .revoking(user, inv, |reply: &Vec<String>| {
                raises_mark || !reply.is_empty()
            })
            .await?;
        Self::decode_pairs(user, &reply)
    }

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        let [_, _, _, mark_key] = keys::session_keys(&self.inner.prefix, user);
        let mut conn = self.conn();
        let cmd = redis::cmd("GET").arg(mark_key).clone();
        let mark: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        mark.as_deref().map(parse_millis).transpose()
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("HGETALL").arg(self.key(user)).clone();
        let flat: Vec<String> = self.run(cmd.query_async(&mut conn)).await?;
        Self::decode_pairs(user, &flat)
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0u64;
        for key in self.scan_keys().await? {
            let Some(keys) = keys::session_keys_of(&key) else {
                continue;
            };
            let mut conn = self.conn();
            let mut inv = Self::on_session_keys(&self.inner.scripts.purge, keys);
            inv.arg(millis(before));
            let n: u64 = self.run(inv.invoke_async(&mut conn)).await?;
            purged += n;
        }
        Ok(purged)
    }

    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        Some(self.inner.feed.clone())
    }
}
