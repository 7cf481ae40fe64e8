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
use std::time::Duration;

use async_trait::async_trait;
use sessionward_core::risk::{LoginFacts, PriorHistory, RiskStore};
use sessionward_core::{
    CreateOutcome, CreateRequest, Revocation, RevokeReason, RotateOutcome, RotateRequest,
    SessionId, SessionRecord, StoreError, Timestamp, TouchRequest, UserId,
};
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::{Connection, MySql, MySqlConnection, QueryBuilder};

use crate::deadline::with_conn;
use crate::error::{carry, map_err, map_migrate_err, retry_tx};
use crate::options::OPERATION_TIMEOUT;
use crate::risk::{self, HistoryRow};
use crate::row::{
    Encoded, SessionRow, cols, generation, records, revocations_by_reason, seen_text,
};
use crate::shared::{QUESTION_MARKS, Shared, Statements, pooled_session_store};
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
    deadline: Duration,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
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
    My::read_mark(conn, &MYSQL, user).await
}

/// The active sessions of a tenant's other users: `tenant`, `user`, `now`,
/// `idle_cutoff`.
const TENANT_OTHERS: &str = "SELECT COUNT(*) FROM sessionward_sessions \
     WHERE tenant_id = ? AND revoked_at IS NULL \
     AND user_id <> ? AND expires_at > ? AND last_seen_at > ?";

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

/// MySQL's statements: the shared `?` set, with admission reading under
/// `FOR UPDATE`, so the rows it decides on are locked until its transaction
/// ends (any write to them, a touch included, waits for the decision).
const MYSQL: Statements = Statements {
    admission: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND revoked_at IS NULL \
         AND expires_at > ? FOR UPDATE"
    ),
    replaced: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = ? AND session_id = ? FOR UPDATE"
    ),
    ..QUESTION_MARKS
};

type My = Shared<MySql>;

/// Sets the session's server-side timeouts: (statement, lock wait), or
/// (`None`) the server's defaults.
async fn set_timeouts(
    conn: &mut MySqlConnection,
    limits: Option<(Duration, Duration)>,
) -> Result<(), sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT CAST(@@version AS CHAR)")
        .fetch_one(&mut *conn)
        .await?;
    // MariaDB bounds every statement (`max_statement_time`, seconds); MySQL
    // only reads (`max_execution_time`, milliseconds).
    let mariadb = version.contains("MariaDB");
    let set = match limits {
        Some((statement, lock)) => {
            let lock_wait = lock.as_millis().div_ceil(1000).max(1);
            if mariadb {
                format!(
                    "SET SESSION max_statement_time = {:.3}, innodb_lock_wait_timeout = {lock_wait}",
                    statement.as_secs_f64()
                )
            } else {
                format!(
                    "SET SESSION max_execution_time = {}, innodb_lock_wait_timeout = {lock_wait}",
                    statement.as_millis().max(1)
                )
            }
        }
        None if mariadb => {
            "SET SESSION max_statement_time = DEFAULT, innodb_lock_wait_timeout = DEFAULT"
                .to_owned()
        }
        None => "SET SESSION max_execution_time = DEFAULT, innodb_lock_wait_timeout = DEFAULT"
            .to_owned(),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(set))
        .execute(conn)
        .await?;
    Ok(())
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

    /// Connects a new pool with the given options. Every new connection
    /// gets the [statement timeout](StoreOptions::with_statement_timeout),
    /// on MariaDB as `max_statement_time`, on MySQL as `max_execution_time`
    /// (which bounds reads only), and the
    /// [lock timeout](StoreOptions::with_lock_timeout), rounded up to whole
    /// seconds, as `innodb_lock_wait_timeout`.
    ///
    /// # Errors
    /// As [`MySqlStore::connect`].
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connect: MySqlConnectOptions = url.parse().map_err(map_err)?;
        let limits = Some((options.statement_timeout(), options.lock_timeout()));
        let pool = options
            .pool::<MySql>()
            .after_connect(move |conn, _| Box::pin(set_timeouts(conn, limits)))
            .connect_with(connect)
            .await
            .map_err(map_err)?;
        Ok(Self::from_pool(pool).with_operation_timeout(options.operation_timeout()))
    }

    /// Uses an existing pool (for example the host app's), with the default
    /// operation timeout (2 s, see [`MySqlStore::with_operation_timeout`]).
    /// The pool keeps its own server-side settings: give its connections an
    /// `innodb_lock_wait_timeout` (and `max_statement_time`) shorter than
    /// the operation timeout so the server stops work the store gave up on.
    pub fn from_pool(pool: MySqlPool) -> Self {
        MySqlStore {
            pool,
            deadline: OPERATION_TIMEOUT,
        }
    }

    /// Sets the client-side deadline of every store call, as
    /// [`StoreOptions::with_operation_timeout`] does for `connect_with`.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = timeout;
        self
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
    ///
    /// Migrations are not bounded by the operation or statement timeouts
    /// (they wait for another instance's migration lock and may build
    /// indexes): they run on a connection of their own, closed afterwards.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        // Its settings are no longer the pool's: never hand it out again.
        conn.close_on_drop();
        set_timeouts(&mut conn, None).await.map_err(map_err)?;
        MIGRATOR.run(&mut *conn).await.map_err(map_migrate_err)?;
        crate::directory::backfill_ip_keys(&self.pool, crate::directory::Dialect::MySql)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    /// Runs one store call on a pooled connection under the operation
    /// timeout (see [`with_conn`]).
    async fn run<T>(
        &self,
        op: impl AsyncFnOnce(&mut MySqlConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_conn(&self.pool, self.deadline, op).await
    }

    /// [`Self::run`] for a write (SQLite's writer lock has no counterpart
    /// here).
    async fn run_write<T>(
        &self,
        op: impl AsyncFnOnce(&mut MySqlConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(op).await
    }

    async fn try_create(
        conn: &mut MySqlConnection,
        req: &CreateRequest,
    ) -> Result<CreateOutcome, sqlx::Error> {
        let encoded = Encoded::new(&req.session).map_err(carry)?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let user = req.session.user.as_str();
        // Even a login no limit applies to takes the user's lock: it reads
        // the mark a racing password change raises under the same lock.
        let not_before = lock_user(&mut tx, user).await?;
        if let Some(tenant) = req.tenant() {
            // After the user's row, as every create takes them.
            sqlx::query(
                "INSERT INTO sessionward_tenants (tenant_id) VALUES (?) \
                 ON DUPLICATE KEY UPDATE tenant_id = tenant_id",
            )
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let existing = My::admission_rows(&mut *tx, &MYSQL, req).await?;
        let tenant_others = My::tenant_others(&mut *tx, TENANT_OTHERS, req).await?;
        let decision = req.decide_in_tenant(existing, not_before, tenant_others);
        for (reason, ids) in revocations_by_reason(&decision) {
            for id in ids {
                mark_revoked(&mut tx, user, id, reason, req.now).await?;
            }
        }
        if decision.admits() {
            My::insert(&mut *tx, &MYSQL, &encoded).await?;
        }
        tx.commit().await?;
        Ok(decision.into_outcome())
    }

    async fn try_rotate(
        conn: &mut MySqlConnection,
        req: &RotateRequest,
        meta: Option<&str>,
    ) -> Result<RotateOutcome, sqlx::Error> {
        let expected = generation(req.expected_generation).map_err(carry)?;
        sqlx::query(READ_COMMITTED).execute(&mut *conn).await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE sessionward_sessions SET refresh_hash = ?, \
             refresh_generation = refresh_generation + 1, rotated_at = ?, \
             last_seen_from = CASE WHEN ? > last_seen_at \
                 THEN COALESCE(?, last_seen_from) ELSE last_seen_from END, \
             last_seen_at = GREATEST(last_seen_at, ?), meta = COALESCE(?, meta) \
             WHERE user_id = ? AND session_id = ? AND refresh_generation = ? \
             AND refresh_hash = ? AND revoked_at IS NULL AND expires_at > ? \
             AND last_seen_at > ?",
        )
        .bind(req.new_hash.as_bytes().as_slice())
        .bind(req.now.unix_millis())
        .bind(req.now.unix_millis())
        .bind(seen_text(req).map_err(carry)?)
        .bind(req.now.unix_millis())
        .bind(meta)
        .bind(req.user.as_str())
        .bind(req.id.as_str())
        .bind(expected)
        .bind(req.expected_hash.as_bytes().as_slice())
        .bind(req.now.unix_millis())
        .bind(req.idle_cutoff.unix_millis())
        .execute(&mut *tx)
        .await?;
        // Read back under the row lock the update took (if it matched).
        let record = My::select_one(&mut *tx, &MYSQL, &req.user, &req.id).await?;
        tx.commit().await?;
        Ok(match (done.rows_affected(), record) {
            (1, Some(r)) => RotateOutcome::Rotated(r),
            (_, r) => RotateOutcome::Unchanged(r),
        })
    }

    async fn try_revoke(
        conn: &mut MySqlConnection,
        user: &str,
        id: &str,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, sqlx::Error> {
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
        conn: &mut MySqlConnection,
        user: &str,
        except: Option<&str>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
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

pooled_session_store!(
    MySqlStore,
    My,
    &MYSQL,
    MySql,
    crate::directory::Dialect::MySql
);

/// What the MySQL store does its own way (the rest is [`Shared`]): every
/// write is a short transaction, retried on deadlock or lock timeout.
impl MySqlStore {
    async fn create_in(
        conn: &mut MySqlConnection,
        request: &CreateRequest,
    ) -> Result<CreateOutcome, StoreError> {
        retry_tx!(Self::try_create(&mut *conn, request))
    }

    async fn rotate_in(
        conn: &mut MySqlConnection,
        req: &RotateRequest,
        meta: Option<&str>,
    ) -> Result<RotateOutcome, StoreError> {
        retry_tx!(Self::try_rotate(&mut *conn, req, meta))
    }

    async fn revoke_in(
        conn: &mut MySqlConnection,
        user: &UserId,
        id: &SessionId,
        revocation: Revocation,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Revocation { at, reason } = revocation;
        let (user, id) = (user.as_str(), id.as_str());
        retry_tx!(Self::try_revoke(&mut *conn, user, id, reason, at))
    }

    async fn revoke_all_in(
        conn: &mut MySqlConnection,
        user: &UserId,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let Revocation { at, reason } = revocation;
        let (user, except) = (user.as_str(), except.map(SessionId::as_str));
        retry_tx!(Self::try_revoke_all(&mut *conn, user, except, reason, at))
    }

    /// No push channel: cached-mode managers check the store on every request.
    fn feed(&self) -> Option<std::sync::Arc<dyn sessionward_core::RevocationFeed>> {
        None
    }
}

impl MySqlStore {
    async fn try_record_login(
        conn: &mut MySqlConnection,
        user: &str,
        facts: &LoginFacts,
        keep_since: i64,
    ) -> Result<(), sqlx::Error> {
        let keys = risk::history_keys(facts);
        let at = facts.at.unix_millis();
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

    async fn try_consume(
        conn: &mut MySqlConnection,
        token_id: &str,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT IGNORE INTO sessionward_used_tokens (token_id, expires_at) VALUES (?, ?)",
        )
        .bind(token_id)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a batch of expired used-token ids, at `READ COMMITTED`
    /// so the range scan takes no gap locks that would block inserts.
    async fn token_gc(conn: &mut MySqlConnection, now: i64) -> Result<(), sqlx::Error> {
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
///   are stored as their SHA-256, never truncated); one successful insert
///   in 16 (by the id's hash) also deletes up to 1024 expired ids.
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
        let row: HistoryRow = self
            .run(async |conn| q.build_query_as().fetch_one(conn).await.map_err(map_err))
            .await?;
        Ok(row.into_prior())
    }

    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        self.run(async |conn| My::delete_user(conn, &MYSQL.forget, user).await.map(drop))
            .await
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        let (user, keep_since) = (user.as_str(), keep_since.unix_millis());
        self.run(async |conn| {
            retry_tx!(Self::try_record_login(&mut *conn, user, facts, keep_since))
        })
        .await
    }

    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = risk::key(token_id);
        let expires_at = expires_at.unix_millis();
        let first: bool = self
            .run(async |conn| retry_tx!(Self::try_consume(&mut *conn, &key, expires_at)))
            .await?;
        if first && risk::sweeps(&key) {
            // Keep the table bounded: a batch of expired ids every so many
            // new ones. Best effort, under its own operation timeout: the
            // id is already recorded.
            let now = now.unix_millis();
            let gc = self
                .run(async |conn| Self::token_gc(conn, now).await.map_err(map_err))
                .await;
            if let Err(e) = gc {
                tracing::warn!(target: "sessionward::risk", error = %e, "used-token cleanup failed");
            }
        }
        Ok(first)
    }
}

crate::ssf::sql_ssf_store!(MySqlStore, MySql, crate::directory::Dialect::MySql);
