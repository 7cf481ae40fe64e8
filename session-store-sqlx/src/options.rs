//! Pool settings shared by every backend.

use std::time::Duration;

/// Pool settings used by the `connect*` constructors.
///
/// The defaults suit a web app: up to 10 connections, a 3-second limit
/// on waiting for one, after which the call fails with
/// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable)
/// instead of hanging the request, and no ping before handing out an idle
/// connection (see [`StoreOptions::with_test_before_acquire`]).
///
/// ```
/// use std::time::Duration;
/// use sessionward_sqlx::StoreOptions;
/// let options = StoreOptions::new()
///     .with_max_connections(20)
///     .with_acquire_timeout(Duration::from_secs(1));
/// assert_eq!(options.max_connections(), 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    max_connections: u32,
    acquire_timeout: Duration,
    test_before_acquire: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            test_before_acquire: false,
        }
    }
}

impl StoreOptions {
    /// The defaults: 10 connections, 3-second acquire timeout, no ping
    /// before acquire.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most connections the pool opens (at least 1).
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets how long a call waits for a connection (including connecting)
    /// before failing with `StoreError::Unavailable`.
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Whether the pool pings an idle connection (one extra round trip)
    /// before every call uses it. Off by default.
    ///
    /// With the ping **off** (the default), each store call saves one round
    /// trip — on PostgreSQL about a quarter of a strict `authenticate` in
    /// our runs, see `docs/benchmarks-sqlx.md`. sqlx still checks every connection when it
    /// goes back to the pool (in the background, off the request path), so
    /// only a connection that dies while idle — the database restarted, a
    /// proxy or firewall dropped it — is handed out broken. The call that
    /// gets it fails closed with
    /// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable)
    /// (a 503, never an accepted token), the broken connection is discarded,
    /// and later calls get fresh ones. After a database restart expect up to
    /// one such failure per idle pooled connection.
    ///
    /// With the ping **on**, such a connection is detected and replaced
    /// before use, so a restart is invisible to callers, at the price of the
    /// extra round trip on every call. Turn it on when connections are
    /// often cut while idle and a rare 503 is worse than the latency.
    ///
    /// Applies to the pools the `connect*` constructors build; a pool passed
    /// to `from_pool` keeps its own setting (sqlx's default is on).
    pub fn with_test_before_acquire(mut self, test: bool) -> Self {
        self.test_before_acquire = test;
        self
    }

    /// Whether idle connections are pinged before use.
    pub fn test_before_acquire(&self) -> bool {
        self.test_before_acquire
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// How long a call waits for a connection.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    #[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
    pub(crate) fn pool<DB: sqlx::Database>(&self) -> sqlx::pool::PoolOptions<DB> {
        sqlx::pool::PoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(self.test_before_acquire)
    }
}
