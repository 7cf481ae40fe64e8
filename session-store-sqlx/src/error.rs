//! Mapping of sqlx errors onto [`StoreError`] categories.
// The retry helpers serve only the backends with multi-statement transactions.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_macros)
)]

use sessionward_core::StoreError;
use sqlx::migrate::MigrateError;

/// Maps a sqlx error to a [`StoreError`], keeping it as the source.
///
/// Connection loss, refused connections, pool timeouts and servers that are
/// shutting down become [`StoreError::Unavailable`]; undecodable rows become
/// [`StoreError::Corrupt`]; lock conflicts that survived retries become
/// [`StoreError::Conflict`]; everything else is [`StoreError::Backend`].
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match classify(&e) {
        Class::Unavailable => StoreError::Unavailable(Box::new(e)),
        Class::Conflict => StoreError::Conflict(Some(Box::new(e))),
        Class::Corrupt => StoreError::Corrupt(e.to_string()),
        Class::Other => StoreError::Backend(Box::new(e)),
    }
}

/// Maps a migration error; database failures inside it are classified like
/// any other sqlx error.
pub(crate) fn map_migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => map_err(inner),
        other => StoreError::Backend(Box::new(other)),
    }
}

/// Whether a failed transaction may simply be run again (deadlock,
/// serialization failure, lock wait timeout).
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(classify(e), Class::Conflict)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unavailable,
    Conflict,
    Corrupt,
    Other,
}

fn classify(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Class::Unavailable,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => Class::Corrupt,
        sqlx::Error::Database(db) => classify_code(db.code().as_deref().unwrap_or("")),
        _ => Class::Other,
    }
}

/// SQLSTATE (Postgres), error number (MySQL) or result code (SQLite).
fn classify_code(code: &str) -> Class {
    match code {
        // Postgres: connection exceptions, admin/crash shutdown, cannot connect now,
        // too many connections.
        c if c.starts_with("08") => Class::Unavailable,
        "57P01" | "57P02" | "57P03" | "53300" => Class::Unavailable,
        // Postgres: serialization failure, deadlock.
        "40001" | "40P01" => Class::Conflict,
        // MySQL: lock wait timeout, deadlock.
        "1205" | "1213" => Class::Conflict,
        // MySQL: server shutdown, too many connections.
        "1053" | "1040" => Class::Unavailable,
        // SQLite: SQLITE_BUSY / SQLITE_LOCKED (and extended codes) after the
        // busy timeout: the database is held by another writer.
        "5" | "6" | "261" | "262" | "517" => Class::Unavailable,
        // SQLite: SQLITE_CORRUPT / SQLITE_NOTADB.
        "11" | "26" => Class::Corrupt,
        _ => Class::Other,
    }
}

/// Carries a [`StoreError`] (for example a corrupt row found mid-transaction)
/// through code that returns `sqlx::Error`; [`unwrap_store_err`] recovers it.
pub(crate) fn carry(e: StoreError) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

/// Maps an error, recovering a [`StoreError`] wrapped by [`carry`].
pub(crate) fn unwrap_store_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Decode(inner) => match inner.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => map_err(sqlx::Error::Decode(other)),
        },
        other => map_err(other),
    }
}

/// Attempts of a transaction that hit a deadlock, lock wait timeout or
/// serialization failure.
pub(crate) const TX_ATTEMPTS: usize = 5;

/// Evaluates `$op` (an expression producing a future of
/// `Result<T, sqlx::Error>`) until it succeeds or fails with a
/// non-retryable error, at most [`TX_ATTEMPTS`] times; maps the error.
macro_rules! retry_tx {
    ($op:expr) => {{
        let mut attempt = 1;
        loop {
            match $op.await {
                Err(e)
                    if attempt < $crate::error::TX_ATTEMPTS && $crate::error::is_retryable(&e) =>
                {
                    attempt += 1;
                }
                other => break other.map_err($crate::error::unwrap_store_err),
            }
        }
    }};
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use retry_tx;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(map_err(io).is_unavailable());
        assert!(map_err(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(matches!(
            map_err(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
        assert_eq!(classify_code("40P01"), Class::Conflict);
        assert_eq!(classify_code("08006"), Class::Unavailable);
        assert_eq!(classify_code("23505"), Class::Other);
    }
}
