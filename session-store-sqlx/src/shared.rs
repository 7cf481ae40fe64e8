//! The per-operation glue every dialect runs the same way, written once:
//! bind the arguments in one order, fetch, decode the rows, map the errors.
//! A dialect contributes only its [`Statements`]: the SQL text with its
//! placeholders (`$n` for Postgres, `?` for MySQL and SQLite), each binding
//! the arguments in the order the function documents. The statements that
//! differ in substance (the admission transaction, `RETURNING` versus a
//! read after the write, `NOTIFY`, the locking clause) stay in the dialect
//! modules.

use std::marker::PhantomData;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
use sessionward_core::Revocation;
use sessionward_core::{SessionId, SessionRecord, StoreError, Timestamp, TouchRequest, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use crate::error::{carry, map_err};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use crate::row::before_revocation;
use crate::row::{SessionRow, mark as mark_at, records};

/// One dialect's text of the shared statements. Arguments are bound in the
/// order given for each; a statement that needs a value twice names it
/// twice in that order.
pub(crate) struct Statements {
    /// `SELECT` the session: `user`, `id`.
    pub(crate) select_one: &'static str,
    /// `SELECT` every session of a user: `user`.
    pub(crate) list: &'static str,
    /// The conditional touch: `at`, `user`, `id`, `at`, `idle_cutoff`, `at`
    /// (set `last_seen_at = at` only while unrevoked, earlier than `at`,
    /// later than the cutoff, and before the session's end).
    pub(crate) touch: &'static str,
    /// `DELETE` every session ended by `before`: `before`.
    pub(crate) purge: &'static str,
    /// The user's "not before" mark: `user`.
    pub(crate) read_mark: &'static str,
}

/// The shared statements with `?` placeholders, as MySQL and SQLite take them.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) const QUESTION_MARKS: Statements = Statements {
    select_one: concat!(
        "SELECT ",
        crate::row::cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND session_id = ?"
    ),
    list: concat!(
        "SELECT ",
        crate::row::cols!(),
        " FROM sessionward_sessions WHERE user_id = ?"
    ),
    touch: "UPDATE sessionward_sessions SET last_seen_at = ? \
            WHERE user_id = ? AND session_id = ? AND revoked_at IS NULL \
            AND last_seen_at < ? AND last_seen_at > ? AND expires_at > ?",
    purge: "DELETE FROM sessionward_sessions WHERE expires_at <= ?",
    read_mark: "SELECT not_before FROM sessionward_users WHERE user_id = ?",
};

/// How many rows a statement changed, for each dialect's result type.
pub(crate) trait RowsAffected {
    /// The count.
    fn changed(&self) -> u64;
}

#[cfg(feature = "postgres")]
impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn changed(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "mysql")]
impl RowsAffected for sqlx::mysql::MySqlQueryResult {
    fn changed(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "sqlite")]
impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn changed(&self) -> u64 {
        self.rows_affected()
    }
}

/// The shared operations over database `DB`.
pub(crate) struct Shared<DB>(PhantomData<DB>);

impl<DB> Shared<DB>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'r> SessionRow: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> Option<i64>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// The session `id` of `user`, revoked or not. Errors are sqlx's (a
    /// corrupt row [`carry`]ed), for use inside a transaction too; map them
    /// with `unwrap_store_err`.
    pub(crate) async fn select_one<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, sqlx::Error> {
        let row: Option<SessionRow> = sqlx::query_as(sql.select_one)
            .bind(user.as_str())
            .bind(id.as_str())
            .fetch_optional(exec)
            .await?;
        row.map(SessionRow::into_record).transpose().map_err(carry)
    }

    /// Every session `user` has stored.
    pub(crate) async fn list<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        user: &UserId,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(sql.list)
            .bind(user.as_str())
            .fetch_all(exec)
            .await
            .map_err(map_err)?;
        records(rows)
    }

    /// The conditional touch; whether it wrote.
    pub(crate) async fn touch<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        req: &TouchRequest,
    ) -> Result<bool, StoreError> {
        let at = req.at.unix_millis();
        let done = sqlx::query(sql.touch)
            .bind(at)
            .bind(req.user.as_str())
            .bind(req.id.as_str())
            .bind(at)
            .bind(req.idle_cutoff.unix_millis())
            .bind(at)
            .execute(exec)
            .await
            .map_err(map_err)?;
        Ok(done.changed() == 1)
    }

    /// Deletes every session whose absolute end is at or before `before`.
    pub(crate) async fn purge<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        before: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sql.purge)
            .bind(before.unix_millis())
            .execute(exec)
            .await
            .map_err(map_err)?;
        Ok(done.changed())
    }

    /// The user's "not before" mark, if any.
    pub(crate) async fn read_mark<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        user: &str,
    ) -> Result<Option<Timestamp>, sqlx::Error> {
        let mark: Option<Option<i64>> = sqlx::query_scalar(sql.read_mark)
            .bind(user)
            .fetch_optional(exec)
            .await?;
        Ok(mark_at(mark.flatten()))
    }

    /// Revokes the unrevoked session `id` of `user` with a statement that
    /// returns the revoked row (`RETURNING`; on Postgres it also announces
    /// it); binds `user`, `id`, `at`, `reason`. The record as it was before.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) async fn revoke_returning<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &'static str,
        user: &UserId,
        id: &SessionId,
        revocation: Revocation,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(sql)
            .bind(user.as_str())
            .bind(id.as_str())
            .bind(revocation.at.unix_millis())
            .bind(revocation.reason.as_str())
            .fetch_optional(exec)
            .await
            .map_err(map_err)?;
        Ok(before_revocation(row.into_iter().collect())?.pop())
    }

    /// Revokes every unrevoked session of `user` but `except` with a
    /// statement that returns the revoked rows; binds `user`, `except`,
    /// `at`, `reason`. Errors are sqlx's (a corrupt row [`carry`]ed), for use
    /// inside a transaction.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) async fn revoke_all_returning<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &'static str,
        user: &UserId,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let rows: Vec<SessionRow> = sqlx::query_as(sql)
            .bind(user.as_str())
            .bind(except.map(SessionId::as_str))
            .bind(revocation.at.unix_millis())
            .bind(revocation.reason.as_str())
            .fetch_all(exec)
            .await?;
        before_revocation(rows).map_err(carry)
    }
}
