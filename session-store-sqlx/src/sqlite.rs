//! The SQLite store (feature `sqlite`, the default).
//!
//! - `create` runs in a `BEGIN IMMEDIATE` transaction: SQLite takes its
//!   write lock at the start, so the read of the user's "not before" mark
//!   and sessions (only the unrevoked ones and the replaced one), the
//!   admission plan, the evictions, the ending of idle sessions and the
//!   insert cannot interleave with any other writer, in this process or
//!   another one. With no limit applying ([`CreateRequest::limits_apply`])
//!   and nothing to replace it is one `INSERT … SELECT` guarded by the mark.
//! - Writers in this process also queue on an in-process lock first, so they
//!   wait without SQLite's busy-polling; other processes (and other pools on
//!   the same file) are held back by `busy_timeout`, the
//!   [lock timeout](crate::StoreOptions::with_lock_timeout)
//!   (1 s by default), after which the write fails with
//!   [`StoreError::Unavailable`]. Every call, the wait for the in-process
//!   lock included, is bounded by the
//!   [operation timeout](crate::StoreOptions::with_operation_timeout).
//! - `rotate_refresh`, `touch` and `revoke` are each one conditional
//!   `UPDATE` (touch only while the session is active by the request's
//!   cutoffs); `revoke_all` raises the mark (password change, account
//!   disabled) and revokes in one `BEGIN IMMEDIATE` transaction.
//! - File databases use WAL journaling (readers never block the writer) and
//!   `synchronous = FULL`, so a committed revocation survives a power loss.
//! - There is no revocation feed: the manager's cached mode checks the store
//!   on every request (as strict mode does). A single process sees its own
//!   revocations at once either way.

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use sessionward_core::directory::{
    MatchingRevocation, SessionDirectory, SessionPage, SessionQuery,
};
use sessionward_core::risk::{LoginFacts, PriorHistory, RiskStore};
use sessionward_core::{
    CreateOutcome, CreateRequest, Revocation, RevokeReason, RotateOutcome, RotateRequest,
    SessionId, SessionMeta, SessionRecord, SessionStore, StoreError, Timestamp, TouchRequest,
    UserId,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection};
use tokio::sync::Mutex;

use crate::deadline::within;
use crate::directory::{self, Dialect};
use crate::error::{map_err, map_migrate_err, unwrap_store_err};
use crate::options::OPERATION_TIMEOUT;
use crate::risk::{self, HistoryRow};
use crate::row::{
    Encoded, SessionRow, before_revocation, bind_record, cols, generation, revocations_by_reason,
    seen_text,
};
use crate::shared::{QUESTION_MARKS, Shared};
use crate::{MIGRATIONS_TABLE, StoreOptions};

/// The embedded SQLite migrations, recorded in the `sessionward_migrations`
/// table (never the host's `_sqlx_migrations`). [`SqliteStore::migrate`]
/// runs them.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = sqlx::migrate!("migrations/sqlite");
    m.dangerous_set_table_name(MIGRATIONS_TABLE);
    m
});

/// A session store on SQLite: a file, or memory for tests and demos.
///
/// Cheap to clone (it shares the pool).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sessionward_core::StoreError> {
/// use sessionward_sqlx::SqliteStore;
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    write: Arc<Mutex<()>>,
    deadline: Duration,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// One conditional `UPDATE … RETURNING`: the compare-and-swap of
    /// `rotate_refresh`, replacing the metadata too when `meta` is given.
    async fn rotate(
        &self,
        req: RotateRequest,
        meta: Option<String>,
    ) -> Result<RotateOutcome, StoreError> {
        within(self.deadline, async {
            let row: Option<SessionRow> = {
                let _write = self.write.lock().await;
                sqlx::query_as(concat!(
                    "UPDATE sessionward_sessions SET refresh_hash = ?5, \
                     refresh_generation = refresh_generation + 1, rotated_at = ?6, \
                     last_seen_from = CASE WHEN ?6 > last_seen_at \
                         THEN COALESCE(?8, last_seen_from) ELSE last_seen_from END, \
                     last_seen_at = max(last_seen_at, ?6), meta = COALESCE(?9, meta) \
                     WHERE user_id = ?1 AND session_id = ?2 AND refresh_generation = ?3 \
                     AND refresh_hash = ?4 AND revoked_at IS NULL AND expires_at > ?6 \
                     AND last_seen_at > ?7 RETURNING ",
                    cols!()
                ))
                .bind(req.user.as_str())
                .bind(req.id.as_str())
                .bind(generation(req.expected_generation)?)
                .bind(req.expected_hash.as_bytes().as_slice())
                .bind(req.new_hash.as_bytes().as_slice())
                .bind(req.now.unix_millis())
                .bind(req.idle_cutoff.unix_millis())
                .bind(seen_text(&req)?.as_deref())
                .bind(meta.as_deref())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
            };
            match row {
                Some(row) => Ok(RotateOutcome::Rotated(row.into_record()?)),
                None => Ok(RotateOutcome::Unchanged(
                    self.get(&req.user, &req.id).await?,
                )),
            }
        })
        .await
    }

    /// Opens a database with the default [`StoreOptions`].
    ///
    /// `url` is a sqlx SQLite URL: `sqlite://path/to/sessions.db` (created if
    /// missing) or `sqlite::memory:` (a private in-memory database, kept for
    /// as long as the store lives; its pool holds exactly one connection).
    ///
    /// # Errors
    /// [`StoreError::Backend`] for an invalid URL; [`StoreError::Unavailable`]
    /// when the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Opens a database with the given options.
    ///
    /// # Errors
    /// As [`SqliteStore::connect`].
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .busy_timeout(options.lock_timeout())
            .synchronous(SqliteSynchronous::Full);
        let pool = if in_memory {
            // An in-memory database lives as long as its last connection:
            // keep exactly one, forever.
            options
                .pool::<Sqlite>()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await
        } else {
            options
                .pool::<Sqlite>()
                .connect_with(connect.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(map_err)?;
        Ok(Self::from_pool(pool).with_operation_timeout(options.operation_timeout()))
    }

    /// Uses an existing pool, with the default operation timeout (2 s, see
    /// [`SqliteStore::with_operation_timeout`]). Configure the pool with a
    /// `busy_timeout` shorter than that (and WAL for files) so concurrent
    /// writers wait instead of failing.
    pub fn from_pool(pool: SqlitePool) -> Self {
        SqliteStore {
            pool,
            write: Arc::new(Mutex::new(())),
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
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies pending migrations from [`MIGRATOR`]; a no-op when up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database is locked past the busy
    /// timeout; [`StoreError::Backend`] when a migration fails or an
    /// applied one was changed.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let _write = self.write.lock().await;
        MIGRATOR.run(&self.pool).await.map_err(map_migrate_err)?;
        directory::backfill_ip_keys(&self.pool, Dialect::Sqlite)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    /// Runs one read on a pooled connection under the operation timeout.
    async fn run<T>(
        &self,
        op: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        within(self.deadline, async {
            let mut conn = self.pool.acquire().await.map_err(map_err)?;
            op(&mut conn).await
        })
        .await
    }

    /// Runs one write under this store's writer lock and the operation
    /// timeout.
    async fn run_write<T>(
        &self,
        op: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            let mut conn = self.pool.acquire().await.map_err(map_err)?;
            op(&mut conn).await
        })
        .await
    }

    /// A write transaction that takes SQLite's write lock at once (`BEGIN
    /// IMMEDIATE`), so it never fails to upgrade a read lock halfway.
    /// The caller holds `self.write`.
    async fn begin_immediate(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }

    async fn try_create(&self, req: &CreateRequest) -> Result<CreateOutcome, StoreError> {
        let encoded = Encoded::new(&req.session)?;
        let user = req.session.user.as_str();
        let _write = self.write.lock().await;
        if req.is_plain_insert() {
            // Nothing to decide but the mark: one INSERT guarded by it (a
            // single statement is atomic against other writers).
            if insert_unless_marked(&self.pool, &encoded, req).await? {
                return Ok(CreateOutcome::admitted());
            }
            let not_before = read_mark(&self.pool, user).await?.unwrap_or(req.now);
            return Ok(CreateOutcome::CredentialsRevoked { not_before });
        }
        let mut tx = self.begin_immediate().await?;
        let not_before = read_mark(&mut *tx, user).await?;
        let existing = Lite::admission_rows(&mut *tx, &QUESTION_MARKS, req)
            .await
            .map_err(unwrap_store_err)?;
        // SQLite serialises writers: the count is exact without a lock.
        let tenant_others = Lite::tenant_others(&mut *tx, TENANT_OTHERS, req)
            .await
            .map_err(map_err)?;
        let decision = req.decide_in_tenant(existing, not_before, tenant_others);
        for (reason, ids) in revocations_by_reason(&decision) {
            revoke_ids(&mut tx, user, &ids, reason, req.now).await?;
        }
        if decision.admits() {
            Lite::insert(&mut *tx, &QUESTION_MARKS, &encoded)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(decision.into_outcome())
    }
}

/// Inserts one session row unless the user's "not before" mark is later
/// than the credential check. Returns whether it inserted.
async fn insert_unless_marked(
    pool: &SqlitePool,
    encoded: &Encoded<'_>,
    req: &CreateRequest,
) -> Result<bool, StoreError> {
    let done = bind_record!(
        sqlx::query(concat!(
            "INSERT INTO sessionward_sessions (",
            cols!(),
            ", ip_key) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18 \
             WHERE NOT EXISTS (SELECT 1 FROM sessionward_users \
             WHERE user_id = ?1 AND not_before >= ?19)"
        )),
        encoded
    )
    .bind(req.credential_verified_at.unix_millis())
    .execute(pool)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected() == 1)
}

type Lite = Shared<Sqlite>;

/// Revokes one unrevoked session (binds: user, id, at, reason).
const REVOKE_ONE: &str = concat!(
    "UPDATE sessionward_sessions SET revoked_at = ?3, revoke_reason = ?4 \
     WHERE user_id = ?1 AND session_id = ?2 AND revoked_at IS NULL RETURNING ",
    cols!()
);

/// Revokes every unrevoked session but one (binds: user, except, at, reason).
const REVOKE_ALL: &str = concat!(
    "UPDATE sessionward_sessions SET revoked_at = ?3, revoke_reason = ?4 \
     WHERE user_id = ?1 AND revoked_at IS NULL \
     AND (?2 IS NULL OR session_id <> ?2) RETURNING ",
    cols!()
);

/// The user's mark, errors mapped.
async fn read_mark<'c>(
    conn: impl sqlx::SqliteExecutor<'c>,
    user: &str,
) -> Result<Option<Timestamp>, StoreError> {
    Lite::read_mark(conn, &QUESTION_MARKS, user)
        .await
        .map_err(map_err)
}

/// Revokes the given unrevoked sessions of `user`; returns them as they were
/// before.
async fn revoke_ids(
    conn: &mut SqliteConnection,
    user: &str,
    ids: &[&str],
    reason: RevokeReason,
    at: Timestamp,
) -> Result<Vec<SessionRecord>, StoreError> {
    let ids = serde_json::to_string(ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
    let rows: Vec<SessionRow> = sqlx::query_as(concat!(
        "UPDATE sessionward_sessions SET revoked_at = ?3, revoke_reason = ?4 \
         WHERE user_id = ?1 AND session_id IN (SELECT value FROM json_each(?2)) \
         AND revoked_at IS NULL RETURNING ",
        cols!()
    ))
    .bind(user)
    .bind(ids)
    .bind(at.unix_millis())
    .bind(reason.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    before_revocation(rows)
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
        within(self.deadline, self.try_create(&request)).await
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        within(self.deadline, async {
            Lite::select_one(&self.pool, &QUESTION_MARKS, user, id)
                .await
                .map_err(unwrap_store_err)
        })
        .await
    }

    async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            Lite::touch(&self.pool, &QUESTION_MARKS, &req).await
        })
        .await
    }

    async fn rotate_refresh(&self, req: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.rotate(req, None).await
    }

    async fn rotate_refresh_binding(
        &self,
        req: RotateRequest,
        meta: SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        let meta = crate::row::meta_text(&meta)?;
        self.rotate(req, Some(meta)).await
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            let revocation = Revocation { at, reason };
            Lite::revoke_returning(&self.pool, REVOKE_ONE, user, id, revocation).await
        })
        .await
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            let mut tx = self.begin_immediate().await?;
            if reason.raises_not_before() {
                sqlx::query(
                    "INSERT INTO sessionward_users (user_id, not_before) VALUES (?1, ?2) \
                     ON CONFLICT (user_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)",
                )
                .bind(user.as_str())
                .bind(at.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
            let revocation = Revocation { at, reason };
            let revoked =
                Lite::revoke_all_returning(&mut *tx, REVOKE_ALL, user, except, revocation)
                    .await
                    .map_err(unwrap_store_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(revoked)
        })
        .await
    }

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        within(self.deadline, read_mark(&self.pool, user.as_str())).await
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        within(self.deadline, Lite::list(&self.pool, &QUESTION_MARKS, user)).await
    }

    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            Lite::delete_user(&self.pool, &QUESTION_MARKS.erase, user).await
        })
        .await
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            Lite::purge(&self.pool, &QUESTION_MARKS, before).await
        })
        .await
    }

    fn replay_store(&self) -> Option<Arc<dyn sessionward_core::binding::ReplayStore>> {
        Some(sessionward_core::binding::replay_via(Arc::new(
            self.clone(),
        )))
    }

    fn directory(&self) -> Option<Arc<dyn SessionDirectory>> {
        Some(Arc::new(self.clone()))
    }

    fn counts_tenants(&self) -> bool {
        true
    }
}

/// Reads walk the directory index; "revoke matching" is one `BEGIN
/// IMMEDIATE` transaction per user.
#[async_trait]
impl SessionDirectory for SqliteStore {
    async fn find(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        within(self.deadline, async {
            let mut conn = self.pool.acquire().await.map_err(map_err)?;
            directory::find_in::<Sqlite>(&mut conn, Dialect::Sqlite, query)
                .await
                .map_err(unwrap_store_err)
        })
        .await
    }

    async fn revoke_matching(
        &self,
        user: &UserId,
        request: &MatchingRevocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            let mut tx = self.begin_immediate().await?;
            let revoked =
                directory::revoke_matching_in::<Sqlite>(&mut tx, Dialect::Sqlite, user, request)
                    .await
                    .map_err(unwrap_store_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(revoked)
        })
        .await
    }
}

/// The active sessions of a tenant's other users: `tenant`, `user`, `now`,
/// `idle_cutoff`.
const TENANT_OTHERS: &str = "SELECT COUNT(*) FROM sessionward_sessions \
     WHERE (CASE WHEN json_valid(meta) THEN json_extract(meta, '$.tenant') END) = ?1 \
     AND revoked_at IS NULL \
     AND user_id <> ?2 AND expires_at > ?3 AND last_seen_at > ?4";

/// Login history and single-use token ids:
///
/// - `login_history` is one read-only `SELECT` (history, last login and the
///   per-IP count together).
/// - `record_login` is one `BEGIN IMMEDIATE` transaction: upsert of every
///   fingerprint, country and ASN, deletion of the user's rows older than
///   `keep_since`, upsert of the last login, and insertion of the IP row
///   with deletion of that IP's old rows.
/// - `consume_once` is one `INSERT … ON CONFLICT DO NOTHING`; one
///   successful insert in 16 (by the id's hash) also deletes up to 1024
///   expired ids.
#[async_trait]
impl RiskStore for SqliteStore {
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        within(self.deadline, async {
            let devices = serde_json::to_string(&risk::device_keys(facts))
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            let row: HistoryRow = sqlx::query_as(
                "SELECT \
                   (l.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = ?1)) AS seen, \
                   EXISTS (SELECT 1 FROM sessionward_login_history WHERE user_id = ?1 \
                      AND kind = 'device' AND value IN (SELECT value FROM json_each(?2))) AS known_device, \
                   (?3 IS NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = ?1 AND kind = 'country' AND value = ?3)) AS known_country, \
                   (?4 IS NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = ?1 AND kind = 'asn' AND value = ?4)) AS known_asn, \
                   (SELECT count(*) FROM sessionward_ip_logins WHERE ip = ?5 AND at >= ?6) AS recent, \
                   l.at AS at, l.country AS country, l.latitude AS latitude, l.longitude AS longitude \
                 FROM (SELECT 1) AS one LEFT JOIN sessionward_last_login l ON l.user_id = ?1",
            )
            .bind(user.as_str())
            .bind(devices)
            .bind(risk::country_key(facts))
            .bind(risk::asn_key(facts))
            .bind(risk::ip_key(facts))
            .bind(burst_since.unix_millis())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(row.into_prior())
        })
        .await
    }

    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            Lite::delete_user(&self.pool, &QUESTION_MARKS.forget, user)
                .await
                .map(drop)
        })
        .await
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        within(self.deadline, async {
            let keys = serde_json::to_string(&risk::history_keys(facts))
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            let (user, at, keep) = (
                user.as_str(),
                facts.at.unix_millis(),
                keep_since.unix_millis(),
            );
            let _write = self.write.lock().await;
            let mut tx = self.begin_immediate().await?;
            // `WHERE true` resolves the parsing ambiguity of an upsert from a SELECT.
            sqlx::query(
                "INSERT INTO sessionward_login_history (user_id, kind, value, last_seen_at) \
                 SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?3 \
                 FROM json_each(?2) WHERE true \
                 ON CONFLICT (user_id, kind, value) DO UPDATE \
                 SET last_seen_at = max(last_seen_at, excluded.last_seen_at)",
            )
            .bind(user)
            .bind(keys)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "DELETE FROM sessionward_login_history WHERE user_id = ?1 AND last_seen_at < ?2",
            )
            .bind(user)
            .bind(keep)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO sessionward_last_login (user_id, at, country, latitude, longitude) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id) DO UPDATE \
                 SET at = excluded.at, country = excluded.country, \
                 latitude = excluded.latitude, longitude = excluded.longitude",
            )
            .bind(user)
            .bind(at)
            .bind(facts.country.as_deref())
            .bind(facts.latitude)
            .bind(facts.longitude)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some(ip) = risk::ip_key(facts) {
                sqlx::query("DELETE FROM sessionward_ip_logins WHERE ip = ?1 AND at < ?2")
                    .bind(&ip)
                    .bind(keep)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                sqlx::query("INSERT INTO sessionward_ip_logins (ip, at) VALUES (?1, ?2)")
                    .bind(&ip)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        within(self.deadline, async {
            let _write = self.write.lock().await;
            let key = risk::key(token_id);
            let done = sqlx::query(
                "INSERT INTO sessionward_used_tokens (token_id, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (token_id) DO NOTHING",
            )
            .bind(&key)
            .bind(expires_at.unix_millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            let first = done.rows_affected() == 1;
            if first && risk::sweeps(&key) {
                // Keep the table bounded: a batch of expired ids every so
                // many new ones. Best effort: the id is already recorded.
                let gc = sqlx::query(
                    "DELETE FROM sessionward_used_tokens WHERE token_id IN \
                     (SELECT token_id FROM sessionward_used_tokens WHERE expires_at <= ?1 LIMIT ?2)",
                )
                .bind(now.unix_millis())
                .bind(risk::TOKEN_GC_BATCH)
                .execute(&self.pool)
                .await;
                if let Err(e) = gc {
                    tracing::warn!(target: "sessionward::risk", error = %e, "used-token cleanup failed");
                }
            }
            Ok(first)
        })
        .await
    }
}

crate::ssf::sql_ssf_store!(SqliteStore, Sqlite, Dialect::Sqlite);
