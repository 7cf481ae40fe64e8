//! [`RedisStoreConfig`]: key prefix, timeouts, replica acknowledgements.

use std::time::Duration;

use crate::error::RedisStoreError;
use crate::keys;

/// Default key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "sessionward:";

/// Settings of a [`RedisStore`](crate::RedisStore). Start from [`RedisStoreConfig::default`].
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
    pub(crate) key_prefix: String,
    pub(crate) connection_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) reconnect_retries: usize,
    pub(crate) feed_heartbeat: Duration,
    pub(crate) scan_batch: usize,
    pub(crate) ip_login_cap: usize,
    pub(crate) replica_acks: u32,
    pub(crate) replica_ack_timeout: Duration,
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
    /// characters (`*?[]\`), which [`RedisStore::connect`](crate::RedisStore::connect) refuses with
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
    /// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable). `purge_expired` applies it per step.
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
    /// `RiskConfig::burst_logins` (core feature `risk`)
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
    /// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable) (source
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

    /// Checks the settings as [`RedisStore::connect`](crate::RedisStore::connect) and
    /// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster) do, without connecting.
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
    pub(crate) fn acks(&self) -> Option<ReplicaAcks> {
        (self.replica_acks > 0).then_some(ReplicaAcks {
            replicas: self.replica_acks,
            timeout_ms: self.replica_ack_timeout.as_millis(),
        })
    }
}

/// Enabled [`RedisStoreConfig::with_replica_acks`] settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplicaAcks {
    pub(crate) replicas: u32,
    pub(crate) timeout_ms: u128,
}
