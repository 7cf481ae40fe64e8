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
        Class::Duplicate => StoreError::IdTaken,
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
    /// A deadlock or lock timeout: retried.
    Conflict,
    /// A key that already exists (a continuation ticket's session id used
    /// twice): a conflict that running again cannot settle.
    Duplicate,
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
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        _ => Class::Other,
    }
}

/// Classifies a server error by what its dialect says it is: the SQLSTATE
/// on PostgreSQL, the error *number* on MySQL / MariaDB (sqlx's generic
/// `code()` is the SQLSTATE there, which lumps lock wait timeouts,
/// deadlocks and unrelated errors together), the result code on SQLite.
fn classify_database(db: &dyn sqlx::error::DatabaseError) -> Class {
    #[cfg(feature = "postgres")]
    if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return classify_postgres(e.code());
    }
    #[cfg(feature = "mysql")]
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return classify_mysql(e.number());
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // `code()` is the extended result code, in decimal.
        return db
            .code()
            .and_then(|c| c.parse().ok())
            .map_or(Class::Other, classify_sqlite);
    }
    let _ = db;
    Class::Other
}

/// PostgreSQL, by SQLSTATE.
#[cfg(feature = "postgres")]
fn classify_postgres(sqlstate: &str) -> Class {
    match sqlstate {
        // Connection exceptions.
        c if c.starts_with("08") => Class::Unavailable,
        // Admin / crash shutdown, cannot connect now, too many connections,
        // statement timeout (or cancel), idle-in-transaction timeout.
        "57P01" | "57P02" | "57P03" | "53300" | "57014" | "25P03" => Class::Unavailable,
        // Serialization failure, deadlock, lock wait timeout (`lock_timeout`):
        // the transaction may simply run again.
        "40001" | "40P01" | "55P03" => Class::Conflict,
        // unique_violation.
        "23505" => Class::Duplicate,
        _ => Class::Other,
    }
}

/// MySQL / MariaDB, by error number.
#[cfg(feature = "mysql")]
fn classify_mysql(number: u16) -> Class {
    match number {
        // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK: the transaction may simply
        // run again.
        1205 | 1213 => Class::Conflict,
        // ER_DUP_ENTRY.
        1062 => Class::Duplicate,
        // ER_SERVER_SHUTDOWN, ER_CON_COUNT_ERROR (too many connections),
        // ER_CONNECTION_KILLED (MariaDB), ER_STATEMENT_TIMEOUT (MariaDB
        // `max_statement_time`), ER_QUERY_TIMEOUT (MySQL `max_execution_time`).
        1053 | 1040 | 1927 | 1969 | 3024 => Class::Unavailable,
        _ => Class::Other,
    }
}

/// SQLite, by (extended) result code.
#[cfg(feature = "sqlite")]
fn classify_sqlite(code: i32) -> Class {
    // The primary result code is the low byte of an extended one.
    // SQLITE_CONSTRAINT_PRIMARYKEY / SQLITE_CONSTRAINT_UNIQUE.
    if code == 1555 || code == 2067 {
        return Class::Duplicate;
    }
    match code & 0xff {
        // SQLITE_BUSY / SQLITE_LOCKED (after the busy timeout): the database
        // is held by another writer.
        5 | 6 => Class::Unavailable,
        // SQLITE_CORRUPT / SQLITE_NOTADB.
        11 | 26 => Class::Corrupt,
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
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_sqlstates() {
        for code in ["40001", "40P01", "55P03"] {
            assert_eq!(classify_postgres(code), Class::Conflict, "{code}");
        }
        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "57014", "25P03",
        ] {
            assert_eq!(classify_postgres(code), Class::Unavailable, "{code}");
        }
        // A unique violation is a conflict no retry settles.
        assert_eq!(classify_postgres("23505"), Class::Duplicate);
        assert!(!is_retryable(&sqlx::Error::RowNotFound));
        // MySQL numbers mean nothing here.
        for code in ["1205", "1213", "HY000"] {
            assert_eq!(classify_postgres(code), Class::Other, "{code}");
        }
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_error_numbers() {
        assert_eq!(classify_mysql(1205), Class::Conflict);
        assert_eq!(classify_mysql(1213), Class::Conflict);
        for number in [1053, 1040, 1927, 1969, 3024] {
            assert_eq!(classify_mysql(number), Class::Unavailable, "{number}");
        }
        assert_eq!(classify_mysql(1062), Class::Duplicate, "duplicate key");
        // Unknown column, syntax error.
        for number in [1054, 1064] {
            assert_eq!(classify_mysql(number), Class::Other, "{number}");
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_result_codes() {
        // SQLITE_BUSY, SQLITE_LOCKED and extended codes (BUSY_RECOVERY 261,
        // LOCKED_SHAREDCACHE 262, BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773).
        for code in [5, 6, 261, 262, 517, 773] {
            assert_eq!(classify_sqlite(code), Class::Unavailable, "{code}");
        }
        // SQLITE_CORRUPT, SQLITE_CORRUPT_INDEX (779), SQLITE_NOTADB.
        for code in [11, 779, 26] {
            assert_eq!(classify_sqlite(code), Class::Corrupt, "{code}");
        }
        // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE.
        for code in [1555, 2067] {
            assert_eq!(classify_sqlite(code), Class::Duplicate, "{code}");
        }
        // SQLITE_ERROR, SQLITE_CONSTRAINT_CHECK.
        for code in [1, 275] {
            assert_eq!(classify_sqlite(code), Class::Other, "{code}");
        }
    }
}
