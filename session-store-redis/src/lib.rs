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
//! | `<prefix>{ssf}:…` | hashes, sorted sets | the Shared Signals transmitter's streams and outbox ([`SsfStore`](sessionward_core::ssf::SsfStore); one slot) |
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
//! | [`SessionStore`](sessionward_core::SessionStore) method | Redis |
//! |---|---|
//! | `create` | one script: refuse a taken session id; when a limit is in force, read the user's unrevoked entries through the index and apply the admission rules of [`sessionward_core::admission`] (limits per user, app, IP, device class and country, eviction order and tie-breaks); with a tenant on a standalone server, count the tenant's other users' active sessions through its sorted set (`<prefix>tenant:<id>`, read in the same script; a cluster does not count tenants, see `SessionStore::counts_tenants`); drop entries past their absolute end; revoke victims, the `replaces` session and the sessions the user chose to end; insert; on a standalone server add the session to the directory index (`<prefix>directory`, see [below](#session-directory)); extend the keys' TTL; publish |
//! | `get` | `HGET` |
//! | `list` | `HGETALL` |
//! | `touch` | script: `last_seen_at = max(old, at)` unless revoked |
//! | `rotate_refresh` | script: compare-and-swap on generation + hash, only while active |
//! | `revoke`, `revoke_all` | one script each, returning the records before revocation and publishing the ids |
//! | `purge_expired` | `SCAN` over the per-user hashes (per primary on a cluster), then one script per hash; on a standalone server, a walk of the directory index dropping entries of sessions gone |
//!
//! With [`RedisStoreConfig::with_replica_acks`], a `create`, `revoke` or
//! `revoke_all` that revoked something takes one more exchange (`CLIENT ID`
//! and `WAIT`, pipelined), see [below](#replication-and-failover).
//!
//! Session scripts touch only the user's hash and its two indexes, all
//! declared in `KEYS` and in one slot (`create` on a standalone server also
//! the directory index and a tenant's set, declared too; the risk scripts: the user's history
//! hash or one IP's set, see [below](#risk-scoring-data)). Their work, for
//! a user with `n` stored entries of which `u` are unrevoked and `e` have
//! ended: `create` O(log n + e) without limits, O(u log u + e) with limits;
//! `revoke` O(log n); `revoke_all` O(u log n); `touch` and `rotate_refresh`
//! O(1). Entries past their absolute end are dropped by every `create` and
//! by `purge_expired`.
//!
//! `purge_expired` is O(number of keys under the prefix) `SCAN` steps in
//! batches plus O(ended entries) per user, and on a standalone server one
//! walk of the directory index (two round trips per 1,024 entries); it is
//! housekeeping (run it every few minutes). Whole users disappear by TTL
//! without it, but the directory index keeps their entries until a purge
//! or a query meets them. It returns only the entries it deleted itself.
//!
//! # Session directory
//!
//! Cross-user queries ([`SessionStore::directory`](sessionward_core::SessionStore::directory))
//! on a standalone server walk one sorted set, `<prefix>directory`, that
//! every create adds its session to (about 150 bytes per session), and
//! read the records its entries name in one pipelined round trip per
//! chunk, so a page does not grow with the number of users. A script that
//! deletes a session's record deletes its entry too (a login or purge
//! dropping ended entries, `erase_user`); entries of a hash that expired
//! as a whole go as queries meet them and at `purge_expired`, which walks
//! the whole index (it is what bounds it: keep it scheduled). Hashes written by 0.1.0
//! (without an owner key) are listed at their user's next login. A server whose index was never built (sessions
//! from a release without it) builds it on its first query;
//! [`RedisStore::build_directory_index`] rebuilds it, needed once after a
//! rolling upgrade in which instances of such a release created sessions.
//! A cluster keeps no index: its queries `SCAN` every user's hash. The
//! repository's `docs/stores.md` has the details and
//! `docs/benchmarks-directory.md` the figures.
//!
//! # Risk scoring data
//!
//! [`RedisStore`] also implements
//! [`RiskStore`](sessionward_core::risk::RiskStore), so one store serves
//! both the manager and its
//! `RiskEngine` (core feature `risk`):
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
//!   for the whole retention (`RiskConfig::history_retention`, 180 days by
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
//!
//! # Revocation feed and cluster notes
//!
//! [`RedisStore::revocation_feed`](sessionward_core::SessionStore::revocation_feed) returns a
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
//! [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable) ([`RedisStoreError::ReplicaAcksMissing`])
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
//! [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable); the [`redis::aio::ConnectionManager`] (or
//! cluster connection) reconnects by itself once Redis is back, so the store
//! and the manager never need rebuilding.

mod args;
mod cluster;
mod codec;
mod config;
mod connection;
mod directory;
mod directory_index;
mod error;
mod feed;
mod keys;
mod risk;
mod scripts;
mod ssf;
mod store;

pub use config::{DEFAULT_KEY_PREFIX, RedisStoreConfig};
pub use error::RedisStoreError;
pub use feed::RedisRevocationFeed;
pub use keys::{CLUSTER_SLOTS, key_slot, keys_for_user, user_tag};
pub use store::RedisStore;
