//! The MySQL / MariaDB store (feature `mysql`, InnoDB).
//!
//! - Every transaction runs at `READ COMMITTED`, so InnoDB takes no gap
//!   locks (which would make logins of neighbouring users deadlock) and each
//!   statement reads the latest committed rows. Deadlocks and lock wait
//!   timeouts are retried a few times, then reported as
//!   [`StoreError::Conflict`].
//! - `create` locks the user's row in `sessionward_users` (`INSERT … ON
//!   DUPLICATE KEY UPDATE` takes an exclusive lock, inserting it on first
//!   login), locks and reads the user's active sessions and the replaced
//!   one, reads the user's "not before" mark under that lock, runs
//!   [`CreateRequest::decide`], ends the victims and the sessions found
//!   idle, and inserts, in one transaction. With no limit applying
//!   ([`CreateRequest::limits_apply`]) it still takes the lock, to read
//!   the mark, but reads no session.
//! - `rotate_refresh` is one conditional `UPDATE` (compare-and-swap on hash
//!   and generation) read back in the same transaction; `revoke` and
//!   `revoke_all` lock the rows (`SELECT … FOR UPDATE`) and update them in
//!   one transaction, `revoke_all` under the user lock so no login slips in
//!   between. MySQL has no `UPDATE … RETURNING`, hence the extra read.
//! - There is no revocation feed: the manager's cached mode checks the store
//!   on every request (as strict mode does).

use std::sync::LazyLock;

use async_trait::async_trait;
use sessionward_core::risk::{LoginFacts, PriorHistory, RiskStore};
use sessionward_core::{
    CreateOutcome, CreateRequest, RevokeReason, RotateOutcome, RotateRequest, SessionId,
    SessionRecord, SessionStore, StoreError, Timestamp, TouchRequest, UserId,
};
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::{Connection, MySql, MySqlConnection, QueryBuilder};

use crate::error::{carry, map_err, map_migrate_err, retry_tx};
use crate::risk::{self, HistoryRow};
use crate::row::{
    Encoded, SessionRow, bind_record, cols, generation, mark as mark_at, records,
    revocations_by_reason,
};
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

/// Locks the user's lock row (exclusively), creating it on first use, and
/// returns the user's "not before" mark (read under that lock, so it is the
/// latest committed one).
async fn lock_user(
    conn: &mut MySqlConnection,
    user: &str,
) -> Result<Option<Timestamp>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessionward_users (user_id) VALUES (?) \
         ON DUPLICATE KEY UPDATE user_id = user_id",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    read_mark(conn, user).await
}

async fn read_mark<'c>(
    conn: impl sqlx::MySqlExecutor<'c>,
    user: &str,
) -> Result<Option<Timestamp>, sqlx::Error> {
    let mark: Option<Option<i64>> =
        sqlx::query_scalar("SELECT not_before FROM sessionward_users WHERE user_id = ?")
            .bind(user)
            .fetch_optional(conn)
            .await?;
    Ok(mark_at(mark.flatten()))
}

/// Raises the user's mark to `at` (never lowers it); the caller holds the
/// user's lock row.
async fn raise_mark(
    conn: &mut MySqlConnection,
    user: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessionward_users SET not_before = GREATEST(COALESCE(not_before, ?), ?) \
         WHERE user_id = ?",
    )
    .bind(at.unix_millis())
    .bind(at.unix_millis())
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads and locks the user's unrevoked sessions, except `except`.
async fn locked_unrevoked(
    conn: &mut MySqlConnection,
    user: &str,
    except: Option<&str>,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let rows: Vec<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND revoked_at IS NULL \
         AND (? IS NULL OR session_id <> ?) FOR UPDATE"
    ))
    .bind(user)
    .bind(except)
    .bind(except)
    .fetch_all(conn)
    .await?;
    records(rows).map_err(carry)
}

/// Reads and locks what [`CreateRequest::decide`] uses: with a limit
/// applying, the user's unrevoked sessions before their end (idle ones are
/// ended in the same transaction; the replaced one matters only if active,
/// so it is among them), read through the `(user_id, revoked_at)` index;
/// otherwise just the replaced session. Revoked tombstones are never read.
async fn locked_for_admission(
    conn: &mut MySqlConnection,
    req: &CreateRequest,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let user = req.session.user.as_str();
    if !req.limits_apply() && req.replaces.is_none() {
        return Ok(Vec::new());
    }
    let query = if req.limits_apply() {
        sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND expires_at > ? FOR UPDATE"
        ))
        .bind(user)
        .bind(req.now.unix_millis())
    } else {
        sqlx::query_as(concat!(
            "SELECT ",
            cols!(),
            " FROM sessionward_sessions WHERE user_id = ? AND session_id = ? FOR UPDATE"
        ))
        .bind(user)
        .bind(req.replaces.as_ref().map(SessionId::as_str))
    };
    let rows: Vec<SessionRow> = query.fetch_all(conn).await?;
    records(rows).map_err(carry)
}

/// Inserts one session row.
async fn insert<'c>(
    conn: impl sqlx::MySqlExecutor<'c>,
    encoded: &Encoded<'_>,
) -> Result<(), sqlx::Error> {
    bind_record!(
        sqlx::query(concat!(
            "INSERT INTO sessionward_sessions (",
            cols!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )),
        encoded
    )
    .execute(conn)
    .await?;
    Ok(())
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
        let encoded = Encoded::new(&req.session).map_err(carry)?;
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let user = req.session.user.as_str();
        // Even a login no limit applies to takes the user's lock: it reads
        // the mark a racing password change raises under the same lock.
        let not_before = lock_user(&mut tx, user).await?;
        let existing = locked_for_admission(&mut tx, req).await?;
        let decision = req.decide(existing, not_before);
        for (reason, ids) in revocations_by_reason(&decision) {
            for id in ids {
                mark_revoked(&mut tx, user, id, reason, req.now).await?;
            }
        }
        if decision.admits() {
            insert(&mut *tx, &encoded).await?;
        }
        tx.commit().await?;
        Ok(decision.into_outcome())
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
        if reason.raises_not_before() {
            raise_mark(&mut tx, user, at).await?;
        }
        let before = locked_unrevoked(&mut tx, user, except).await?;
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

    async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET last_seen_at = ? \
             WHERE user_id = ? AND session_id = ? AND revoked_at IS NULL \
             AND last_seen_at < ? AND last_seen_at > ? AND expires_at > ?",
        )
        .bind(req.at.unix_millis())
        .bind(req.user.as_str())
        .bind(req.id.as_str())
        .bind(req.at.unix_millis())
        .bind(req.idle_cutoff.unix_millis())
        .bind(req.at.unix_millis())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
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

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        read_mark(&self.pool, user.as_str()).await.map_err(map_err)
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

impl MySqlStore {
    async fn try_record_login(
        &self,
        user: &str,
        facts: &LoginFacts,
        keep_since: i64,
    ) -> Result<(), sqlx::Error> {
        let keys = risk::history_keys(facts);
        let at = facts.at.unix_millis();
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        if !keys.is_empty() {
            // Keys are sorted, so concurrent logins of one user lock rows in
            // the same order.
            let mut upsert = QueryBuilder::<MySql>::new(
                "INSERT INTO sessionward_login_history (user_id, kind, value, last_seen_at) ",
            );
            upsert.push_values(&keys, |mut row, (kind, value)| {
                row.push_bind(user)
                    .push_bind(*kind)
                    .push_bind(value.as_str())
                    .push_bind(at);
            });
            upsert.push(
                " ON DUPLICATE KEY UPDATE \
                 last_seen_at = GREATEST(last_seen_at, VALUES(last_seen_at))",
            );
            upsert.build().execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM sessionward_login_history WHERE user_id = ? AND last_seen_at < ?")
            .bind(user)
            .bind(keep_since)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessionward_last_login (user_id, at, country, latitude, longitude) \
             VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE at = VALUES(at), \
             country = VALUES(country), latitude = VALUES(latitude), \
             longitude = VALUES(longitude)",
        )
        .bind(user)
        .bind(at)
        .bind(facts.country.as_deref())
        .bind(facts.latitude)
        .bind(facts.longitude)
        .execute(&mut *tx)
        .await?;
        if let Some(ip) = risk::ip_key(facts) {
            sqlx::query("DELETE FROM sessionward_ip_logins WHERE ip = ? AND at < ?")
                .bind(&ip)
                .bind(keep_since)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO sessionward_ip_logins (ip, at) VALUES (?, ?)")
                .bind(&ip)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    async fn try_consume(&self, token_id: &str, expires_at: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT IGNORE INTO sessionward_used_tokens (token_id, expires_at) VALUES (?, ?)",
        )
        .bind(token_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a small batch of expired used-token ids, at `READ COMMITTED`
    /// so the range scan takes no gap locks that would block inserts.
    async fn token_gc(&self, now: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        sqlx::query(
            "DELETE FROM sessionward_used_tokens WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
        .bind(now)
        .bind(risk::TOKEN_GC_BATCH)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Login history and single-use token ids:
///
/// - `login_history` is one read-only `SELECT` (history, last login and the
///   per-IP count together).
/// - `record_login` is one `READ COMMITTED` transaction: upsert of every
///   fingerprint, country and ASN, deletion of the user's rows older than
///   `keep_since`, upsert of the last login, and insertion of the IP row
///   with deletion of that IP's old rows. Deadlocks are retried.
/// - `consume_once` is one `INSERT IGNORE` (ids longer than 255 characters
///   are stored as their SHA-256, never truncated); after a successful one,
///   up to 64 expired ids are deleted.
#[async_trait]
impl RiskStore for MySqlStore {
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        let devices = risk::device_keys(facts);
        let (country, asn) = (risk::country_key(facts), risk::asn_key(facts));
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT (l.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM sessionward_login_history WHERE user_id = ",
        );
        q.push_bind(user.as_str()).push(")) AS seen, ");
        if devices.is_empty() {
            q.push("FALSE AS known_device, ");
        } else {
            q.push("EXISTS (SELECT 1 FROM sessionward_login_history WHERE user_id = ")
                .push_bind(user.as_str())
                .push(" AND kind = 'device' AND value IN (");
            let mut list = q.separated(", ");
            for d in &devices {
                list.push_bind(d.as_str());
            }
            q.push(")) AS known_device, ");
        }
        match &country {
            None => q.push("TRUE AS known_country, "),
            Some(c) => q
                .push("EXISTS (SELECT 1 FROM sessionward_login_history WHERE user_id = ")
                .push_bind(user.as_str())
                .push(" AND kind = 'country' AND value = ")
                .push_bind(c.as_str())
                .push(") AS known_country, "),
        };
        match &asn {
            None => q.push("TRUE AS known_asn, "),
            Some(a) => q
                .push("EXISTS (SELECT 1 FROM sessionward_login_history WHERE user_id = ")
                .push_bind(user.as_str())
                .push(" AND kind = 'asn' AND value = ")
                .push_bind(a.as_str())
                .push(") AS known_asn, "),
        };
        q.push("(SELECT COUNT(*) FROM sessionward_ip_logins WHERE ip = ")
            .push_bind(risk::ip_key(facts))
            .push(" AND at >= ")
            .push_bind(burst_since.unix_millis())
            .push(
                ") AS recent, l.at, l.country, l.latitude, l.longitude \
                 FROM (SELECT 1 AS one) AS one LEFT JOIN sessionward_last_login l ON l.user_id = ",
            )
            .push_bind(user.as_str());
        let row: HistoryRow = q
            .build_query_as()
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.into_prior())
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        retry_tx!(self.try_record_login(user.as_str(), facts, keep_since.unix_millis()))
    }

    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = risk::key(token_id);
        let first: bool = retry_tx!(self.try_consume(&key, expires_at.unix_millis()))?;
        if first {
            // Keep the table bounded: a small batch of expired ids per new
            // one. Best effort: the id is already recorded.
            if let Err(e) = self.token_gc(now.unix_millis()).await {
                tracing::warn!(target: "sessionward::risk", error = %e, "used-token cleanup failed");
            }
        }
        Ok(first)
    }
}
