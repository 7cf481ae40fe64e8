//! The Shared Signals transmitter's outbox over SQL
//! ([`SsfStore`](sessionward_core::ssf::SsfStore)), from the
//! `sessionward_ssf` migration: one row per stream (its configuration as
//! JSON, and a version every write names) and one per queued SET.
//!
//! | operation | how (every backend) |
//! |---|---|
//! | create / replace a stream | one `INSERT`; one `UPDATE … WHERE version = read` |
//! | delete a stream | one `DELETE` of the stream, its SETs by the cascading foreign key (SQLite: both in one transaction) |
//! | queue SETs | one `INSERT … SELECT … WHERE EXISTS (stream)` per SET, duplicates ignored |
//! | lease due SETs | one `SELECT`, then per SET one `UPDATE … WHERE available_at = read AND attempts = read` (only what it changed is leased) |
//! | retry later | one conditional `UPDATE` (the same condition) |
//! | acknowledge / expire | one `DELETE` |
//!
//! Postgres and MySQL tie each SET to its stream with a foreign key, so a
//! SET queued while its stream is deleted waits for the delete and is not
//! left behind; SQLite runs one writer at a time.

use sessionward_core::StoreError;
use sessionward_core::ssf::{OutboxItem, StreamRecord};
use sessionward_core::time::Timestamp;

use crate::directory::Dialect;

/// A statement in `?` placeholders, for `dialect` (`$1`, `$2`, … for
/// Postgres). Audited: only this module's fixed texts come here.
pub(crate) fn statement(dialect: Dialect, text: &str) -> sqlx::AssertSqlSafe<String> {
    if dialect != Dialect::Postgres {
        return sqlx::AssertSqlSafe(text.to_owned());
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    sqlx::AssertSqlSafe(out)
}

/// Queues one SET if its stream exists and it is not queued yet.
pub(crate) fn enqueue_text(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => {
            "INSERT IGNORE INTO sessionward_ssf_outbox \
             (stream_id, jti, set_jwt, created_at, available_at, attempts) \
             SELECT ?, ?, ?, ?, ?, 0 FROM DUAL \
             WHERE EXISTS (SELECT 1 FROM sessionward_ssf_streams WHERE stream_id = ?)"
        }
        Dialect::Postgres | Dialect::Sqlite => {
            "INSERT INTO sessionward_ssf_outbox \
             (stream_id, jti, set_jwt, created_at, available_at, attempts) \
             SELECT ?, ?, ?, ?, ?, 0 \
             WHERE EXISTS (SELECT 1 FROM sessionward_ssf_streams WHERE stream_id = ?) \
             ON CONFLICT (stream_id, jti) DO NOTHING"
        }
    }
}

/// The columns of an outbox row, in [`OutboxRow`] order.
pub(crate) const OUTBOX_COLS: &str = "jti, set_jwt, created_at, available_at, attempts";

/// An outbox row: `jti`, `set_jwt`, `created_at`, `available_at`, `attempts`.
pub(crate) type OutboxRow = (String, String, i64, i64, i64);

/// A stream row: `config`, `version`.
pub(crate) type StreamRow = (String, i64);

/// The item of an outbox row of `stream`.
pub(crate) fn item_of(stream: &str, row: OutboxRow) -> Result<OutboxItem, StoreError> {
    let (jti, set, created_at, available_at, attempts) = row;
    Ok(OutboxItem {
        stream: stream.to_owned(),
        jti,
        set,
        created_at: Timestamp::from_unix_millis(created_at),
        available_at: Timestamp::from_unix_millis(available_at),
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt("outbox attempts out of range".into()))?,
    })
}

/// The stream of a stream row.
pub(crate) fn stream_of(row: StreamRow) -> Result<StreamRecord, StoreError> {
    let (config, version) = row;
    // A fixed message: serde's would quote the stored configuration,
    // which holds the receiver's push credential.
    let mut stream: StreamRecord = serde_json::from_str(&config)
        .map_err(|_| StoreError::Corrupt("an SSF stream configuration does not decode".into()))?;
    stream.version = u64::try_from(version)
        .map_err(|_| StoreError::Corrupt("stream version out of range".into()))?;
    Ok(stream)
}

/// The stored configuration of a stream.
pub(crate) fn config_of(stream: &StreamRecord) -> Result<String, StoreError> {
    serde_json::to_string(stream).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// A version as stored.
pub(crate) fn version_of(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Conflict(None))
}

/// Whether `e` is a foreign-key violation: the stream was deleted between
/// the `EXISTS` check and the insert (Postgres `23503`; MySQL's `INSERT
/// IGNORE` already skips it).
pub(crate) fn is_missing_stream(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "23503")
}

/// A conditional write that changed `changed` rows.
pub(crate) fn write_of(changed: u64) -> sessionward_core::ssf::StreamWrite {
    if changed == 1 {
        sessionward_core::ssf::StreamWrite::Done
    } else {
        sessionward_core::ssf::StreamWrite::Stale
    }
}

/// Acknowledged SETs removed per statement.
pub(crate) const JTIS_PER_STATEMENT: usize = 500;

/// `DELETE` of `n` SETs of one stream.
pub(crate) fn remove_text(n: usize) -> String {
    let marks = vec!["?"; n].join(", ");
    format!("DELETE FROM sessionward_ssf_outbox WHERE stream_id = ? AND jti IN ({marks})")
}

/// The [`SsfStore`](sessionward_core::ssf::SsfStore) impl of a SQL store:
/// `$store` has `run` (a call on one connection under the deadline) and
/// `run_write` (the same, for writes: SQLite takes its writer lock), `$db`
/// is its sqlx database and `$dialect` its [`Dialect`].
macro_rules! sql_ssf_store {
    ($store:ty, $db:ty, $dialect:expr) => {
        #[async_trait::async_trait]
        impl sessionward_core::ssf::SsfStore for $store {
            async fn create_stream(
                &self,
                stream: &sessionward_core::ssf::StreamRecord,
            ) -> Result<(), sessionward_core::StoreError> {
                let mut first = stream.clone();
                first.version = 1;
                let config = $crate::ssf::config_of(&first)?;
                self.run_write(async |conn| {
                    sqlx::query::<$db>($crate::ssf::statement(
                        $dialect,
                        "INSERT INTO sessionward_ssf_streams (stream_id, created_at, version, config) \
                         VALUES (?, ?, 1, ?)",
                    ))
                    .bind(&first.id)
                    .bind(first.created_at.unix_millis())
                    .bind(&config)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::map_err)?;
                    Ok(())
                })
                .await
            }

            async fn stream(
                &self,
                id: &str,
            ) -> Result<Option<sessionward_core::ssf::StreamRecord>, sessionward_core::StoreError>
            {
                let row: Option<$crate::ssf::StreamRow> = self
                    .run(async |conn| {
                        sqlx::query_as($crate::ssf::statement(
                            $dialect,
                            "SELECT config, version FROM sessionward_ssf_streams WHERE stream_id = ?",
                        ))
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err($crate::error::map_err)
                    })
                    .await?;
                row.map($crate::ssf::stream_of).transpose()
            }

            async fn streams(
                &self,
            ) -> Result<Vec<sessionward_core::ssf::StreamRecord>, sessionward_core::StoreError> {
                let rows: Vec<$crate::ssf::StreamRow> = self
                    .run(async |conn| {
                        sqlx::query_as($crate::ssf::statement(
                            $dialect,
                            "SELECT config, version FROM sessionward_ssf_streams \
                             ORDER BY created_at, stream_id LIMIT ?",
                        ))
                        .bind(sessionward_core::ssf::MAX_STREAMS as i64)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err($crate::error::map_err)
                    })
                    .await?;
                rows.into_iter().map($crate::ssf::stream_of).collect()
            }

            async fn replace_stream(
                &self,
                stream: &sessionward_core::ssf::StreamRecord,
                read_version: u64,
            ) -> Result<sessionward_core::ssf::StreamWrite, sessionward_core::StoreError> {
                let mut next = stream.clone();
                next.version = read_version + 1;
                let config = $crate::ssf::config_of(&next)?;
                let (read, written) = (
                    $crate::ssf::version_of(read_version)?,
                    $crate::ssf::version_of(next.version)?,
                );
                let changed = self
                    .run_write(async |conn| {
                        sqlx::query::<$db>($crate::ssf::statement(
                            $dialect,
                            "UPDATE sessionward_ssf_streams SET version = ?, config = ? \
                             WHERE stream_id = ? AND version = ?",
                        ))
                        .bind(written)
                        .bind(&config)
                        .bind(&next.id)
                        .bind(read)
                        .execute(&mut *conn)
                        .await
                        .map(|done| done.rows_affected())
                        .map_err($crate::error::map_err)
                    })
                    .await?;
                Ok($crate::ssf::write_of(changed))
            }

            async fn delete_stream(&self, id: &str) -> Result<bool, sessionward_core::StoreError> {
                self.run_write(async |conn| {
                    let mut tx = sqlx::Connection::begin(&mut *conn)
                        .await
                        .map_err($crate::error::map_err)?;
                    // Postgres and MySQL cascade from the stream row, in the
                    // order their locks expect; SQLite has no foreign key.
                    if $dialect == $crate::directory::Dialect::Sqlite {
                        sqlx::query::<$db>($crate::ssf::statement(
                            $dialect,
                            "DELETE FROM sessionward_ssf_outbox WHERE stream_id = ?",
                        ))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::map_err)?;
                    }
                    let gone = sqlx::query::<$db>($crate::ssf::statement(
                        $dialect,
                        "DELETE FROM sessionward_ssf_streams WHERE stream_id = ?",
                    ))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::error::map_err)?
                    .rows_affected();
                    tx.commit().await.map_err($crate::error::map_err)?;
                    Ok(gone == 1)
                })
                .await
            }

            async fn enqueue(
                &self,
                items: &[sessionward_core::ssf::OutboxItem],
            ) -> Result<(), sessionward_core::StoreError> {
                if items.is_empty() {
                    return Ok(());
                }
                // One statement per SET, each on its own: a stream deleted
                // meanwhile drops only its own SETs, never the others'.
                self.run_write(async |conn| {
                    for item in items {
                        let queued = sqlx::query::<$db>($crate::ssf::statement(
                            $dialect,
                            $crate::ssf::enqueue_text($dialect),
                        ))
                        .bind(&item.stream)
                        .bind(&item.jti)
                        .bind(&item.set)
                        .bind(item.created_at.unix_millis())
                        .bind(item.available_at.unix_millis())
                        .bind(&item.stream)
                        .execute(&mut *conn)
                        .await;
                        match queued {
                            Ok(_) => {}
                            Err(e) if $crate::ssf::is_missing_stream(&e) => {}
                            Err(e) => return Err($crate::error::map_err(e)),
                        }
                    }
                    Ok(())
                })
                .await
            }

            async fn claim_due(
                &self,
                stream: &str,
                now: sessionward_core::time::Timestamp,
                lease_until: sessionward_core::time::Timestamp,
                limit: usize,
            ) -> Result<Vec<sessionward_core::ssf::OutboxItem>, sessionward_core::StoreError> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                self.run_write(async |conn| {
                    let rows: Vec<$crate::ssf::OutboxRow> = sqlx::query_as($crate::ssf::statement(
                        $dialect,
                        &format!(
                            "SELECT {} FROM sessionward_ssf_outbox \
                             WHERE stream_id = ? AND available_at <= ? \
                             ORDER BY created_at, jti LIMIT ?",
                            $crate::ssf::OUTBOX_COLS
                        ),
                    ))
                    .bind(stream)
                    .bind(now.unix_millis())
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err($crate::error::map_err)?;
                    let mut claimed = Vec::with_capacity(rows.len());
                    for row in rows {
                        let mut item = $crate::ssf::item_of(stream, row)?;
                        let leased = sqlx::query::<$db>($crate::ssf::statement(
                            $dialect,
                            "UPDATE sessionward_ssf_outbox SET available_at = ? \
                             WHERE stream_id = ? AND jti = ? AND available_at = ? AND attempts = ?",
                        ))
                        .bind(lease_until.unix_millis())
                        .bind(stream)
                        .bind(&item.jti)
                        .bind(item.available_at.unix_millis())
                        .bind(i64::from(item.attempts))
                        .execute(&mut *conn)
                        .await
                        .map_err($crate::error::map_err)?
                        .rows_affected();
                        if leased == 1 {
                            item.available_at = lease_until;
                            claimed.push(item);
                        }
                    }
                    Ok(claimed)
                })
                .await
            }

            async fn pending(
                &self,
                stream: &str,
                limit: usize,
            ) -> Result<Vec<sessionward_core::ssf::OutboxItem>, sessionward_core::StoreError> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows: Vec<$crate::ssf::OutboxRow> = self
                    .run(async |conn| {
                        sqlx::query_as($crate::ssf::statement(
                            $dialect,
                            &format!(
                                "SELECT {} FROM sessionward_ssf_outbox WHERE stream_id = ? \
                                 ORDER BY created_at, jti LIMIT ?",
                                $crate::ssf::OUTBOX_COLS
                            ),
                        ))
                        .bind(stream)
                        .bind(limit)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err($crate::error::map_err)
                    })
                    .await?;
                rows.into_iter()
                    .map(|row| $crate::ssf::item_of(stream, row))
                    .collect()
            }

            async fn remove(
                &self,
                stream: &str,
                jtis: &[String],
            ) -> Result<usize, sessionward_core::StoreError> {
                if jtis.is_empty() {
                    return Ok(0);
                }
                self.run_write(async |conn| {
                    let mut removed = 0;
                    for chunk in jtis.chunks($crate::ssf::JTIS_PER_STATEMENT) {
                        let text = $crate::ssf::remove_text(chunk.len());
                        let mut q = sqlx::query::<$db>($crate::ssf::statement($dialect, &text))
                            .bind(stream);
                        for jti in chunk {
                            q = q.bind(jti);
                        }
                        removed += q
                            .execute(&mut *conn)
                            .await
                            .map_err($crate::error::map_err)?
                            .rows_affected();
                    }
                    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
                })
                .await
            }

            async fn retry_later(
                &self,
                item: &sessionward_core::ssf::OutboxItem,
                retry_at: sessionward_core::time::Timestamp,
            ) -> Result<sessionward_core::ssf::StreamWrite, sessionward_core::StoreError> {
                let changed = self
                    .run_write(async |conn| {
                        sqlx::query::<$db>($crate::ssf::statement(
                            $dialect,
                            "UPDATE sessionward_ssf_outbox SET attempts = attempts + 1, available_at = ? \
                             WHERE stream_id = ? AND jti = ? AND available_at = ? AND attempts = ?",
                        ))
                        .bind(retry_at.unix_millis())
                        .bind(&item.stream)
                        .bind(&item.jti)
                        .bind(item.available_at.unix_millis())
                        .bind(i64::from(item.attempts))
                        .execute(&mut *conn)
                        .await
                        .map(|done| done.rows_affected())
                        .map_err($crate::error::map_err)
                    })
                    .await?;
                Ok($crate::ssf::write_of(changed))
            }

            async fn remove_older(
                &self,
                stream: &str,
                before: sessionward_core::time::Timestamp,
            ) -> Result<usize, sessionward_core::StoreError> {
                self.run_write(async |conn| {
                    sqlx::query::<$db>($crate::ssf::statement(
                        $dialect,
                        "DELETE FROM sessionward_ssf_outbox WHERE stream_id = ? AND created_at < ?",
                    ))
                    .bind(stream)
                    .bind(before.unix_millis())
                    .execute(&mut *conn)
                    .await
                    .map(|done| usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
                    .map_err($crate::error::map_err)
                })
                .await
            }
        }
    };
}

pub(crate) use sql_ssf_store;
