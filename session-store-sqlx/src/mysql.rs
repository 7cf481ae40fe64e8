//! The MySQL / MariaDB store (feature `mysql`, InnoDB).
//!
//! - Every transaction runs at `READ COMMITTED`, so InnoDB takes no gap
//!   locks (which would make logins of neighbouring users deadlock) and each
//!   statement reads the latest committed rows. Deadlocks and lock wait
//!   timeouts are retried a few times, then reported as
//!   [`StoreError::Conflict`].
//! - `create` locks the user's row in `sessionward_users` (`INSERT … ON
//!   DUPLICATE KEY UPDATE` takes an exclusive lock, inserting it on first
//!   login), locks and reads the user's sessions, runs [`plan_admission`],
//!   revokes the victims and inserts, in one transaction.
//! - `rotate_refresh` is one conditional `UPDATE` (compare-and-swap on hash
//!   and generation) read back in the same transaction; `revoke` and
//!   `revoke_all` lock the rows (`SELECT … FOR UPDATE`) and update them in
//!   one transaction, `revoke_all` under the user lock so no login slips in
//!   between. MySQL has no `UPDATE … RETURNING`, hence the extra read.
//! - There is no revocation feed: the manager's cached mode checks the store
//!   on every request (as strict mode does).

use std::sync::LazyLock;

use async_trait::async_trait;
use sessionward_core::admission::{Admission, plan_admission};
use sessionward_core::{
    CreateOutcome, CreateRequest, RevokeReason, RotateOutcome, RotateRequest, SessionId,
    SessionRecord, SessionStore, StoreError, Timestamp, UserId,
};
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::{Connection, MySql, MySqlConnection};

use crate::error::{carry, map_err, map_migrate_err, retry_tx};
use crate::row::{Encoded, SessionRow, bind_record, cols, generation, records};
use crate::{MIGRATIONS_TABLE, StoreOptions};

/// The embedded MySQL migrations, recorded in the `sessionward_migrations`
/// table (never the host's `_sqlx_migrations`). [`MySqlStore::migrate`]
/// runs them.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = sqlx::migrate!("migrations/mysql");
    m.dangerous_set_table_name(MIGRATIONS_TABLE);
    m
});

const READ_COMMITTED: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// A session store on MySQL 8 or MariaDB 10.5+ (InnoDB).
///
/// Cheap to clone (it shares the pool).
///
/// ```no_run
/// # async fn run() -> Result<(), sessionward_core::StoreError> {
/// use sessionward_sqlx::MySqlStore;
/// let store = MySqlStore::connect("mysql://app@localhost/app").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore").finish_non_exhaustive()
    }
}

/// Locks the user's lock row (exclusively), creating it on first use.
async fn lock_user(conn: &mut MySqlConnection, user: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessionward_users (user_id) VALUES (?) \
         ON DUPLICATE KEY UPDATE user_id = user_id",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads the user's sessions matching `filter`, locking them.
async fn locked_sessions(
    conn: &mut MySqlConnection,
    user: &str,
    except: Option<&str>,
    unrevoked_only: bool,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let rows: Vec<SessionRow> = if unrevoked_only {
        sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND (? IS NULL OR session_id <> ?) FOR UPDATE"
        ))
        .bind(user)
        .bind(except)
        .bind(except)
        .fetch_all(conn)
        .await?
    } else {
        sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ? FOR UPDATE"
        ))
        .bind(user)
        .fetch_all(conn)
        .await?
    };
    records(rows).map_err(carry)
}

/// Marks one session revoked (the caller holds its row lock).
async fn mark_revoked(
    conn: &mut MySqlConnection,
    user: &str,
    id: &str,
    reason: RevokeReason,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessionward_sessions SET revoked_at = ?, revoke_reason = ? \
         WHERE user_id = ? AND session_id = ? AND revoked_at IS NULL",
    )
    .bind(at.unix_millis())
    .bind(reason.as_str())
    .bind(user)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn select_one(
    conn: &mut MySqlConnection,
    user: &str,
    id: &str,
) -> Result<Option<SessionRecord>, sqlx::Error> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND session_id = ?"
    ))
    .bind(user)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(SessionRow::into_record).transpose().map_err(carry)
}

impl MySqlStore {
    /// Connects a new pool with the default [`StoreOptions`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] for an invalid URL or refused login.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Connects a new pool with the given options.
    ///
    /// # Errors
    /// As [`MySqlStore::connect`].
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connect: MySqlConnectOptions = url.parse().map_err(map_err)?;
        let pool = options
            .pool::<MySql>()
            .connect_with(connect)
            .await
            .map_err(map_err)?;
        Ok(Self::from_pool(pool))
    }

    /// Uses an existing pool (for example the host app's). Set an
    /// `acquire_timeout` on it so outages surface quickly as
    /// [`StoreError::Unavailable`].
    pub fn from_pool(pool: MySqlPool) -> Self {
        MySqlStore { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Applies pending migrations from [`MIGRATOR`]; safe to run from several
    /// instances at once (sqlx takes a named lock) and a no-op when up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] when a migration fails or an applied one was
    /// changed.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(map_migrate_err)
    }

    async fn try_create(&self, req: &CreateRequest) -> Result<CreateOutcome, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let user = req.session.user.as_str();
        lock_user(&mut tx, user).await?;
        let existing = locked_sessions(&mut tx, user, None, false).await?;
        let plan = plan_admission(
            &existing,
            &req.session,
            &req.limits,
            req.now,
            req.idle_cutoff,
            req.replaces.as_ref(),
        );
        let (evict, limit) = match plan {
            Admission::Reject { limit } => {
                tx.rollback().await?;
                let active = existing
                    .into_iter()
                    .filter(|s| s.is_active(req.now, req.idle_cutoff))
                    .collect();
                return Ok(CreateOutcome::LimitReached { limit, active });
            }
            Admission::Admit { evict, limit } => (evict, limit),
        };
        let mut evicted = Vec::with_capacity(evict.len());
        for id in &evict {
            if let Some(rec) = existing.iter().find(|s| &s.id == id && s.revoked.is_none()) {
                mark_revoked(&mut tx, user, id.as_str(), RevokeReason::Evicted, req.now).await?;
                evicted.push(rec.clone());
            }
        }
        let mut replaced = None;
        let replacing = req.replaces.as_ref().and_then(|id| {
            existing
                .iter()
                .find(|s| &s.id == id && s.is_active(req.now, req.idle_cutoff))
        });
        if let Some(rec) = replacing {
            mark_revoked(
                &mut tx,
                user,
                rec.id.as_str(),
                RevokeReason::Reauthenticated,
                req.now,
            )
            .await?;
            replaced = Some(rec.clone());
        }
        let encoded = Encoded::new(&req.session).map_err(carry)?;
        bind_record!(
            sqlx::query(concat!(
                "INSERT INTO sessionward_sessions (",
                cols!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )),
            &encoded
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CreateOutcome::Created {
            limit,
            evicted,
            replaced,
        })
    }

    async fn try_rotate(&self, req: &RotateRequest) -> Result<RotateOutcome, sqlx::Error> {
        let expected = generation(req.expected_generation).map_err(carry)?;
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET refresh_hash = ?, \
             refresh_generation = refresh_generation + 1, rotated_at = ?, \
             last_seen_at = GREATEST(last_seen_at, ?) \
             WHERE user_id = ? AND session_id = ? AND refresh_generation = ? \
             AND refresh_hash = ? AND revoked_at IS NULL AND expires_at > ? \
             AND last_seen_at > ?",
        )
        .bind(req.new_hash.as_bytes().as_slice())
        .bind(req.now.unix_millis())
        .bind(req.now.unix_millis())
        .bind(req.user.as_str())
        .bind(req.id.as_str())
        .bind(expected)
        .bind(req.expected_hash.as_bytes().as_slice())
        .bind(req.now.unix_millis())
        .bind(req.idle_cutoff.unix_millis())
        .execute(&mut *tx)
        .await?;
        // Read back under the row lock the update took (if it matched).
        let record = select_one(&mut tx, req.user.as_str(), req.id.as_str()).await?;
        tx.commit().await?;
        Ok(match (done.rows_affected(), record) {
            (1, Some(r)) => RotateOutcome::Rotated(r),
            (_, r) => RotateOutcome::Unchanged(r),
        })
    }

    async fn try_revoke(
        &self,
        user: &str,
        id: &str,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ? AND session_id = ? \
             AND revoked_at IS NULL FOR UPDATE"
        ))
        .bind(user)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let before = row.into_record().map_err(carry)?;
        mark_revoked(&mut tx, user, id, reason, at).await?;
        tx.commit().await?;
        Ok(Some(before))
    }

    async fn try_revoke_all(
        &self,
        user: &str,
        except: Option<&str>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        lock_user(&mut tx, user).await?;
        let before = locked_sessions(&mut tx, user, except, true).await?;
        if !before.is_empty() {
            sqlx::query(
                "UPDATE sessionward_sessions SET revoked_at = ?, revoke_reason = ? \
                 WHERE user_id = ? AND revoked_at IS NULL AND (? IS NULL OR session_id <> ?)",
            )
            .bind(at.unix_millis())
            .bind(reason.as_str())
            .bind(user)
            .bind(except)
            .bind(except)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }
}

#[async_trait]
impl SessionStore for MySqlStore {
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
        retry_tx!(self.try_create(&request))
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        select_one(&mut conn, user.as_str(), id.as_str())
            .await
            .map_err(crate::error::unwrap_store_err)
    }

    async fn touch(&self, user: &UserId, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessionward_sessions SET last_seen_at = ? \
             WHERE user_id = ? AND session_id = ? AND revoked_at IS NULL AND last_seen_at < ?",
        )
        .bind(at.unix_millis())
        .bind(user.as_str())
        .bind(id.as_str())
        .bind(at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn rotate_refresh(&self, req: RotateRequest) -> Result<RotateOutcome, StoreError> {
        retry_tx!(self.try_rotate(&req))
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        retry_tx!(self.try_revoke(user.as_str(), id.as_str(), reason, at))
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let except = except.map(SessionId::as_str);
        retry_tx!(self.try_revoke_all(user.as_str(), except, reason, at))
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ?"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        records(rows)
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessionward_sessions WHERE expires_at <= ?")
            .bind(before.unix_millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
