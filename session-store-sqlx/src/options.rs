//! Pool settings shared by every backend.

use std::time::Duration;

/// Pool settings used by the `connect*` constructors.
///
/// The defaults suit a web app: up to 10 connections, and a 3-second limit
/// on waiting for one, after which the call fails with
/// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable)
/// instead of hanging the request.
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

impl StoreOptions {
    /// The defaults: 10 connections, 3-second acquire timeout.
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
    }
}
