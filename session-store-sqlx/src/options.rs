//! Pool settings shared by every backend.

use std::time::Duration;

/// Pool settings used by the `connect*` constructors.
///
/// The defaults suit a web app: up to 10 connections, every store call
/// bounded by a 2-second [operation timeout](StoreOptions::with_operation_timeout)
/// (past it the call fails with
/// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable)
/// instead of hanging the request), each lock wait bounded on the server
/// by a 1-second [lock timeout](StoreOptions::with_lock_timeout) and each
/// statement by a 1.5-second
/// [statement timeout](StoreOptions::with_statement_timeout), a 3-second
/// limit on waiting for a connection, and no ping before handing out an
/// idle connection (see [`StoreOptions::with_test_before_acquire`]).
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
    operation_timeout: Duration,
    statement_timeout: Duration,
    lock_timeout: Duration,
}

/// The default [`StoreOptions::operation_timeout`].
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            test_before_acquire: false,
            operation_timeout: OPERATION_TIMEOUT,
            statement_timeout: Duration::from_millis(1500),
            lock_timeout: Duration::from_secs(1),
        }
    }
}

impl StoreOptions {
    /// The defaults: 10 connections, 2-second operation timeout, 1.5-second
    /// statement timeout, 1-second lock timeout, 3-second acquire timeout,
    /// no ping before acquire.
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

    /// Sets the client-side deadline of every store call (default 2 s):
    /// past it the call stops waiting and fails with
    /// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable),
    /// whatever the database does. It covers the whole call: waiting for
    /// a connection (so it caps the acquire timeout), every statement and
    /// every retry of a transaction. It is what bounds a call when the
    /// database, or something on the way to it, keeps the connection open
    /// but stops answering, where no server-side timeout can fire.
    ///
    /// A PostgreSQL or MySQL connection whose call is abandoned mid-flight
    /// (by this deadline, or because the caller dropped the call) is
    /// closed, never returned to the pool half-way through a statement.
    /// Migrations are not bounded by it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward_sqlx::StoreOptions;
    /// let options = StoreOptions::new()
    ///     .with_operation_timeout(Duration::from_millis(500))
    ///     .with_statement_timeout(Duration::from_millis(400))
    ///     .with_lock_timeout(Duration::from_millis(300));
    /// assert_eq!(options.operation_timeout(), Duration::from_millis(500));
    /// ```
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets the server-side limit on each statement (default 1.5 s, at
    /// least 1 ms), which the `connect*` constructors set on every
    /// PostgreSQL connection as `statement_timeout`, on MariaDB as
    /// `max_statement_time`, on MySQL 8 as `max_execution_time` (which
    /// bounds reads only). A statement past it is cancelled by the server
    /// and the call fails with
    /// [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable).
    ///
    /// Keep `lock timeout < statement timeout <` [operation
    /// timeout](Self::with_operation_timeout): the server then stops the
    /// work itself and releases its locks, and a lock wait ends as a lock
    /// wait timeout (retried), not as a statement timeout. A pool passed to
    /// `from_pool` keeps its own settings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward_sqlx::StoreOptions;
    /// let options = StoreOptions::new().with_statement_timeout(Duration::from_millis(800));
    /// assert_eq!(options.statement_timeout(), Duration::from_millis(800));
    /// ```
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the server-side limit on each wait for a lock (default 1 s, at
    /// least 1 ms): PostgreSQL `lock_timeout`, InnoDB
    /// `innodb_lock_wait_timeout` (whole seconds, rounded up), SQLite
    /// `busy_timeout` (the wait for another connection's write lock), set
    /// by the `connect*` constructors. A lock wait past it is retried like
    /// a deadlock, within the operation timeout; when the retries run out
    /// first the call fails with
    /// [`StoreError::Conflict`](sessionward_core::StoreError::Conflict)
    /// (SQLite: [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable)).
    /// With the defaults the operation timeout comes first:
    /// `Unavailable` after 2 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward_sqlx::StoreOptions;
    /// let options = StoreOptions::new().with_lock_timeout(Duration::from_millis(300));
    /// assert_eq!(options.lock_timeout(), Duration::from_millis(300));
    /// ```
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The client-side deadline of every store call.
    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// The server-side limit on each statement.
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// The server-side limit on each lock wait.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
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
