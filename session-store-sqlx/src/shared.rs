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
use sessionward_core::{
    CreateRequest, SessionId, SessionRecord, StoreError, Timestamp, TouchRequest, UserId,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use crate::error::{carry, map_err};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use crate::row::before_revocation;
use crate::row::{Encoded, SessionRow, bind_record, mark as mark_at, records, seen_columns};

/// One dialect's text of the shared statements. Arguments are bound in the
/// order given for each; a statement that needs a value twice names it
/// twice in that order.
pub(crate) struct Statements {
    /// `SELECT` the session: `user`, `id`.
    pub(crate) select_one: &'static str,
    /// `SELECT` every session of a user: `user`.
    pub(crate) list: &'static str,
    /// The conditional touch: `read_last_seen_at`, `places`, `last`, `at`,
    /// `user`, `id`, `at`, `idle_cutoff`, `at` (set `last_seen_at = at` only
    /// while unrevoked, earlier than `at`, later than the cutoff, and
    /// before the session's end; with it `last_seen_from` when given, and
    /// `places` when given and the stored activity is still the one read).
    /// `places` is assigned first: MySQL evaluates `SET` left to right
    /// with the new values.
    pub(crate) touch: &'static str,
    /// Erase a user's sessions and tombstones (the lock row and its "not
    /// before" mark stay): binds `user`.
    pub(crate) erase: [&'static str; 1],
    /// Forget a user's login history: the history rows, then the last
    /// login; each binds `user`.
    pub(crate) forget: [&'static str; 2],
    /// `DELETE` every session ended by `before`: `before`.
    pub(crate) purge: &'static str,
    /// The user's "not before" mark: `user`.
    pub(crate) read_mark: &'static str,
    /// What admission reads when a limit applies: the user's unrevoked
    /// sessions before their end: `user`, `now` (MySQL also locks them).
    pub(crate) admission: &'static str,
    /// What admission reads for a re-authentication without a limit: the
    /// replaced session: `user`, `id`.
    pub(crate) replaced: &'static str,
    /// Insert one session: the seventeen columns in `cols!()` order, then
    /// `ip_key`.
    pub(crate) insert: &'static str,
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
    touch: "UPDATE sessionward_sessions SET \
            places = CASE WHEN last_seen_at = ? THEN COALESCE(?, places) ELSE places END, \
            last_seen_from = COALESCE(?, last_seen_from), last_seen_at = ? \
            WHERE user_id = ? AND session_id = ? AND revoked_at IS NULL \
            AND last_seen_at < ? AND last_seen_at > ? AND expires_at > ?",
    erase: ["DELETE FROM sessionward_sessions WHERE user_id = ?"],
    forget: [
        "DELETE FROM sessionward_login_history WHERE user_id = ?",
        "DELETE FROM sessionward_last_login WHERE user_id = ?",
    ],
    purge: "DELETE FROM sessionward_sessions WHERE expires_at <= ?",
    read_mark: "SELECT not_before FROM sessionward_users WHERE user_id = ?",
    admission: concat!(
        "SELECT ",
        crate::row::cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
    ),
    replaced: concat!(
        "SELECT ",
        crate::row::cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND session_id = ?"
    ),
    insert: concat!(
        "INSERT INTO sessionward_sessions (",
        crate::row::cols!(),
        ", ip_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
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
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
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
        let seen = req.seen.as_ref();
        let (last, places) =
            seen_columns(seen.map(|s| &s.last), seen.map(|s| s.places.as_slice()))?;
        let read = seen.map_or(i64::MIN, |s| s.read_last_seen_at.unix_millis());
        let done = sqlx::query(sql.touch)
            .bind(read)
            .bind(places.as_deref())
            .bind(last.as_deref())
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

    /// Runs each of `statements` (a `DELETE` binding `user`) in one
    /// transaction; how many rows the first one deleted. Erasure of a
    /// user's sessions ([`Statements::erase`]) and of the login history
    /// ([`Statements::forget`]).
    pub(crate) async fn delete_user<'c, C>(
        conn: C,
        statements: &[&'static str],
        user: &UserId,
    ) -> Result<u64, StoreError>
    where
        C: sqlx::Acquire<'c, Database = DB>,
        for<'t> &'t mut DB::Connection: Executor<'t, Database = DB>,
    {
        let mut tx = conn.begin().await.map_err(map_err)?;
        let mut first = None;
        for &statement in statements {
            let done = sqlx::query(statement)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            first.get_or_insert(done.changed());
        }
        tx.commit().await.map_err(map_err)?;
        Ok(first.unwrap_or(0))
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

    /// What [`CreateRequest::decide`] needs: with a limit applying, the
    /// user's unrevoked sessions before their end (idle ones are ended in
    /// the same transaction; the replaced one matters only if active, so it
    /// is among them); otherwise just the replaced session, or nothing.
    /// Revoked tombstones are never read.
    pub(crate) async fn admission_rows<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        req: &CreateRequest,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let user = req.session.user.as_str();
        let query = if req.reads_unrevoked() {
            sqlx::query_as(sql.admission)
                .bind(user)
                .bind(req.now.unix_millis())
        } else if let Some(replaced) = &req.replaces {
            sqlx::query_as(sql.replaced)
                .bind(user)
                .bind(replaced.as_str())
        } else {
            return Ok(Vec::new());
        };
        let rows: Vec<SessionRow> = query.fetch_all(exec).await?;
        records(rows).map_err(carry)
    }

    /// For [`CreateRequest::decide_in_tenant`]: the active sessions of the
    /// counted tenant's other users (0 when no per-tenant limit applies).
    /// `sql` binds `tenant`, `user`, `now`, `idle_cutoff`; the caller holds
    /// the tenant's lock.
    pub(crate) async fn tenant_others<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &'static str,
        req: &CreateRequest,
    ) -> Result<u64, sqlx::Error> {
        let Some(tenant) = req.counted_tenant() else {
            return Ok(0);
        };
        let count: Option<i64> = sqlx::query_scalar(sql)
            .bind(tenant.as_str())
            .bind(req.session.user.as_str())
            .bind(req.now.unix_millis())
            .bind(req.idle_cutoff.unix_millis())
            .fetch_one(exec)
            .await?;
        Ok(count.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    /// Inserts one session row.
    pub(crate) async fn insert<'e, E: Executor<'e, Database = DB>>(
        exec: E,
        sql: &Statements,
        encoded: &Encoded<'_>,
    ) -> Result<(), sqlx::Error> {
        bind_record!(sqlx::query(sql.insert), encoded)
            .execute(exec)
            .await?;
        Ok(())
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

/// The [`SessionStore`](sessionward_core::SessionStore) impl of a store that
/// runs each call on one pooled connection under its deadline (`self.run`):
/// Postgres and MySQL. The shared statements go through `$shared` with the
/// dialect's `$sql`; the store supplies what differs in substance as
/// associated functions on a connection (`create_in`, `rotate_in`,
/// `revoke_in`, `revoke_all_in`) and its feed (`feed`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! pooled_session_store {
    ($store:ty, $shared:ty, $sql:expr, $db:ty, $dialect:expr) => {
        /// Reads walk the directory index on one connection; "revoke
        /// matching" is one transaction per user (retried on deadlock).
        #[async_trait::async_trait]
        impl sessionward_core::directory::SessionDirectory for $store {
            async fn find(
                &self,
                query: &sessionward_core::directory::SessionQuery,
            ) -> Result<sessionward_core::directory::SessionPage, StoreError> {
                self.run(async |conn| {
                    $crate::directory::find_in::<$db>(conn, $dialect, query)
                        .await
                        .map_err($crate::error::unwrap_store_err)
                })
                .await
            }

            async fn revoke_matching(
                &self,
                user: &UserId,
                request: &sessionward_core::directory::MatchingRevocation,
            ) -> Result<Vec<SessionRecord>, StoreError> {
                self.run(async |conn| {
                    $crate::error::retry_tx!(async {
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        let revoked = $crate::directory::revoke_matching_in::<$db>(
                            &mut tx, $dialect, user, request,
                        )
                        .await?;
                        tx.commit().await?;
                        Ok::<_, sqlx::Error>(revoked)
                    })
                })
                .await
            }
        }

        #[async_trait::async_trait]
        impl sessionward_core::SessionStore for $store {
            async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
                self.run(async |conn| Self::create_in(conn, &request).await)
                    .await
            }

            async fn get(
                &self,
                user: &UserId,
                id: &SessionId,
            ) -> Result<Option<SessionRecord>, StoreError> {
                self.run(async |conn| {
                    <$shared>::select_one(conn, $sql, user, id)
                        .await
                        .map_err($crate::error::unwrap_store_err)
                })
                .await
            }

            async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
                self.run(async |conn| <$shared>::touch(conn, $sql, &req).await)
                    .await
            }

            async fn rotate_refresh(
                &self,
                req: RotateRequest,
            ) -> Result<RotateOutcome, StoreError> {
                self.run(async |conn| Self::rotate_in(conn, &req, None).await)
                    .await
            }

            async fn rotate_refresh_binding(
                &self,
                req: RotateRequest,
                meta: sessionward_core::SessionMeta,
            ) -> Result<RotateOutcome, StoreError> {
                let meta = $crate::row::meta_text(&meta)?;
                self.run(async |conn| Self::rotate_in(conn, &req, Some(&meta)).await)
                    .await
            }

            async fn revoke(
                &self,
                user: &UserId,
                id: &SessionId,
                reason: RevokeReason,
                at: Timestamp,
            ) -> Result<Option<SessionRecord>, StoreError> {
                let revocation = sessionward_core::Revocation { at, reason };
                self.run(async |conn| Self::revoke_in(conn, user, id, revocation).await)
                    .await
            }

            async fn revoke_all(
                &self,
                user: &UserId,
                except: Option<&SessionId>,
                reason: RevokeReason,
                at: Timestamp,
            ) -> Result<Vec<SessionRecord>, StoreError> {
                let revocation = sessionward_core::Revocation { at, reason };
                self.run(async |conn| Self::revoke_all_in(conn, user, except, revocation).await)
                    .await
            }

            async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
                self.run(async |conn| {
                    <$shared>::read_mark(conn, $sql, user.as_str())
                        .await
                        .map_err($crate::error::map_err)
                })
                .await
            }

            async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
                self.run(async |conn| <$shared>::list(conn, $sql, user).await)
                    .await
            }

            async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
                self.run(async |conn| <$shared>::delete_user(conn, &($sql).erase, user).await)
                    .await
            }

            async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
                self.run(async |conn| <$shared>::purge(conn, $sql, before).await)
                    .await
            }

            fn revocation_feed(
                &self,
            ) -> Option<std::sync::Arc<dyn sessionward_core::RevocationFeed>> {
                self.feed()
            }

            fn replay_store(
                &self,
            ) -> Option<std::sync::Arc<dyn sessionward_core::binding::ReplayStore>> {
                Some(sessionward_core::binding::replay_via(std::sync::Arc::new(
                    self.clone(),
                )))
            }

            fn counts_tenants(&self) -> bool {
                true
            }

            fn directory(
                &self,
            ) -> Option<std::sync::Arc<dyn sessionward_core::directory::SessionDirectory>> {
                Some(std::sync::Arc::new(self.clone()))
            }
        }
    };
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use pooled_session_store;
