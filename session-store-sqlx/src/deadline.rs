//! The client-side deadline of every store call
//! ([`StoreOptions::with_operation_timeout`](crate::StoreOptions::with_operation_timeout)).
//!
//! Server-side timeouts cannot fire when the database, or something on the
//! way to it, keeps the connection open but stops answering: only the
//! client can stop waiting. Every store call runs under [`within`] (SQLite)
//! or [`with_conn`] (PostgreSQL, MySQL), which answer
//! [`StoreError::Unavailable`] past the deadline.

use std::fmt;
use std::time::Duration;

use sessionward_core::StoreError;

/// The source of the [`StoreError::Unavailable`] of a call that ran out of
/// time.
#[derive(Debug)]
pub(crate) struct TimedOut(Duration);

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database did not finish the operation within {:?}",
            self.0
        )
    }
}

impl std::error::Error for TimedOut {}

/// Runs `op` for at most `limit`; past it, drops it (wherever it is waiting)
/// and answers [`StoreError::Unavailable`].
pub(crate) async fn within<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable(Box::new(TimedOut(limit)))))
}

/// A pooled connection leased for one call. Unless the call finished, it is
/// closed when dropped instead of going back to the pool: sqlx would check a
/// connection abandoned mid-statement with a ping that first waits for the
/// rest of the abandoned answer, with no time limit, so a silent peer would
/// keep the pool slot forever.
#[cfg(any(feature = "postgres", feature = "mysql"))]
struct Lease<DB: sqlx::Database> {
    conn: Option<sqlx::pool::PoolConnection<DB>>,
    finished: bool,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: sqlx::Database> Drop for Lease<DB> {
    fn drop(&mut self) {
        if let (false, Some(conn)) = (self.finished, self.conn.as_mut()) {
            conn.close_on_drop();
        }
    }
}

/// Acquires a connection from `pool` and runs `op` on it, the two together
/// for at most `limit` (see [`within`]). A connection whose `op` did not
/// finish (the deadline passed, or the caller dropped the call) is closed,
/// never returned to the pool.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn with_conn<DB: sqlx::Database, T>(
    pool: &sqlx::Pool<DB>,
    limit: Duration,
    op: impl AsyncFnOnce(&mut DB::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut lease = Lease::<DB> {
        conn: None,
        finished: false,
    };
    within(limit, async {
        let acquired = pool.acquire().await.map_err(crate::error::map_err)?;
        let conn = lease.conn.insert(acquired);
        let result = op(conn).await;
        lease.finished = true;
        result
    })
    .await
}
