//! The PostgreSQL store (feature `postgres`).
//!
//! - `create` with a limit in force (or a session to replace) locks the
//!   user's row in `sessionward_users` (`INSERT … ON CONFLICT DO UPDATE …
//!   RETURNING not_before` inserts it on first login, row-locks it and
//!   reads the user's "not before" mark), reads the user's *unrevoked*
//!   sessions and the replaced one, runs [`CreateRequest::decide`], ends
//!   the victims and the sessions found idle, and inserts, in one
//!   transaction, whatever number of revoked rows the user has. With no
//!   limit applying ([`CreateRequest::limits_apply`]) there is nothing to
//!   decide but the mark: it is one statement (the same upsert as a CTE,
//!   then a guarded `INSERT … SELECT`).
//! - `rotate_refresh`, `touch` and `revoke` are each one conditional
//!   `UPDATE` (compare-and-swap on hash and generation for rotation; touch
//!   only while the session is active by the request's cutoffs).
//!   `revoke_all` is one `UPDATE`, or, for a reason that raises the mark,
//!   a transaction that raises it under the user's row lock first.
//! - Every revocation runs `pg_notify` on [`NOTIFY_CHANNEL`] inside the same
//!   statement, so the message is sent exactly when the revocation commits.
//!   [`PostgresStore::revocation_feed`](sessionward_core::SessionStore::revocation_feed)
//!   listens to it (`LISTEN`) for the manager's cached mode.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use sessionward_core::risk::{LoginFacts, PriorHistory, RiskStore};
use sessionward_core::{
    CreateOutcome, CreateRequest, FeedEvent, Revocation, RevocationFeed, RevokeReason,
    RotateOutcome, RotateRequest, SessionId, SessionRecord, StoreError, Timestamp, TouchRequest,
    UserId,
};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres};
use tokio::sync::mpsc;

use crate::deadline::with_conn;
use crate::error::{carry, map_err, map_migrate_err, retry_tx, unwrap_store_err};
use crate::options::OPERATION_TIMEOUT;
use crate::risk::{self, HistoryRow};
use crate::row::{
    Encoded, SessionRow, before_revocation, bind_record, cols, generation, mark as mark_at,
    revocations_by_reason, seen_text,
};
use crate::shared::{Shared, Statements, pooled_session_store};
use crate::{MIGRATIONS_TABLE, StoreOptions};

/// The channel revocations are announced on (`pg_notify`), with a JSON
/// payload `{"user": "<user id>", "id": "<session id>"}`.
pub const NOTIFY_CHANNEL: &str = "sessionward_revoked";

/// The embedded PostgreSQL migrations, recorded in the
/// `sessionward_migrations` table (never the host's `_sqlx_migrations`).
/// [`PostgresStore::migrate`] runs them.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = sqlx::migrate!("migrations/postgres");
    m.dangerous_set_table_name(MIGRATIONS_TABLE);
    m
});

/// The `pg_notify` call selected next to each revoked row (cast so the
/// result column has a decodable type).
macro_rules! notify {
    () => {
        "pg_notify('sessionward_revoked', json_build_object('user', user_id, 'id', session_id, 'at', revoked_at)::text)::text AS notified"
    };
}

/// [`notify!`] as a value, for statements built at run time.
pub(crate) const NOTIFY_COLUMN: &str = notify!();

/// `$update` (an `UPDATE` of session rows) returning the rows it changed,
/// each announced on [`NOTIFY_CHANNEL`] in the same statement.
macro_rules! announcing {
    ($update:expr) => {
        concat!(
            "WITH r AS (",
            $update,
            " RETURNING ",
            cols!(),
            ") SELECT ",
            cols!(),
            ", ",
            notify!(),
            " FROM r"
        )
    };
}

/// Capacity of a feed subscriber's queue; a subscriber this far behind is
/// disconnected and resubscribes.
const FEED_QUEUE: usize = 4096;

/// A session store on PostgreSQL, with a LISTEN/NOTIFY revocation feed.
///
/// Cheap to clone (it shares the pool).
///
/// ```no_run
/// # async fn run() -> Result<(), sessionward_core::StoreError> {
/// use sessionward_sqlx::PostgresStore;
/// let store = PostgresStore::connect("postgres://app@localhost/app").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    feed: Option<Arc<PgFeed>>,
    deadline: Duration,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("feed", &self.feed.is_some())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects a new pool with the default [`StoreOptions`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] for an invalid URL or refused login.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Connects a new pool with the given options. Every connection gets
    /// the [statement timeout](StoreOptions::with_statement_timeout) as its
    /// `statement_timeout`, the [lock timeout](StoreOptions::with_lock_timeout)
    /// as its `lock_timeout`, and the
    /// [operation timeout](StoreOptions::with_operation_timeout) as its
    /// `idle_in_transaction_session_timeout` (so the server rolls back a
    /// transaction whose client went away and releases its locks).
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let statement = options.statement_timeout().as_millis();
        let lock = options.lock_timeout().as_millis();
        let idle = options.operation_timeout().as_millis().max(1);
        let connect: PgConnectOptions =
            url.parse::<PgConnectOptions>().map_err(map_err)?.options([
                ("statement_timeout", statement),
                ("lock_timeout", lock),
                ("idle_in_transaction_session_timeout", idle),
            ]);
        let pool = options
            .pool::<Postgres>()
            .connect_with(connect)
            .await
            .map_err(map_err)?;
        Ok(Self::from_pool(pool).with_operation_timeout(options.operation_timeout()))
    }

    /// Uses an existing pool (for example the host app's), with the default
    /// operation timeout (2 s, see [`PostgresStore::with_operation_timeout`]).
    /// The pool keeps its own server-side settings: give it a
    /// `statement_timeout` and `lock_timeout` shorter than the operation
    /// timeout so the server stops work the store gave up on.
    ///
    /// The revocation feed opens its own connection per subscription with
    /// the pool's connect options.
    pub fn from_pool(pool: PgPool) -> Self {
        let feed = Arc::new(PgFeed {
            options: pool.connect_options(),
            acquire_timeout: pool.options().get_acquire_timeout(),
        });
        PostgresStore {
            pool,
            feed: Some(feed),
            deadline: OPERATION_TIMEOUT,
        }
    }

    /// Sets the client-side deadline of every store call, as
    /// [`StoreOptions::with_operation_timeout`] does for `connect_with`.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = timeout;
        self
    }

    /// Turns the LISTEN/NOTIFY feed off (for example behind a transaction-
    /// pooling proxy such as PgBouncer, where `LISTEN` does not work). The
    /// manager's cached mode then checks the store on every request.
    /// Revocations still call `pg_notify` for other instances.
    pub fn without_revocation_feed(mut self) -> Self {
        self.feed = None;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations from [`MIGRATOR`]. Safe to run from
    /// several instances at once (sqlx takes an advisory lock) and a no-op
    /// when up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] when a migration fails or an applied one
    /// was changed.
    ///
    /// Migrations are not bounded by the operation or statement timeouts
    /// (they wait for another instance's migration lock and may build
    /// indexes): they run on a connection of their own, closed afterwards.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        // Its settings are no longer the pool's: never hand it out again.
        conn.close_on_drop();
        sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&mut *conn).await.map_err(map_migrate_err)?;
        crate::directory::backfill_ip_keys(&self.pool, crate::directory::Dialect::Postgres)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    /// Runs one store call on a pooled connection under the operation
    /// timeout (see [`with_conn`]).
    async fn run<T>(
        &self,
        op: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_conn(&self.pool, self.deadline, op).await
    }

    /// [`Self::run`] for a write (SQLite's writer lock has no counterpart
    /// here).
    async fn run_write<T>(
        &self,
        op: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(op).await
    }

    /// Raises the mark under the user's lock, then revokes: the `UPDATE`
    /// runs after the lock, so it sees every session a login committed
    /// before it, and a login after it sees the mark.
    async fn try_revoke_all_marked(
        conn: &mut PgConnection,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let mut tx = conn.begin().await?;
        raise_mark(&mut tx, user.as_str(), at).await?;
        let revoked = Pg::revoke_all_returning(
            &mut *tx,
            REVOKE_ALL,
            user,
            except,
            Revocation { at, reason },
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn try_create(
        conn: &mut PgConnection,
        req: &CreateRequest,
    ) -> Result<CreateOutcome, sqlx::Error> {
        let encoded = Encoded::new(&req.session).map_err(carry)?;
        let user = req.session.user.as_str();
        if req.is_plain_insert() {
            // Nothing to decide but the mark: one statement that locks the
            // user's row (so a racing password change either sees this
            // session or is seen by it) and inserts unless the mark refuses.
            if insert_unless_marked(&mut *conn, &encoded, req).await? {
                return Ok(CreateOutcome::admitted());
            }
            let not_before = Pg::read_mark(&mut *conn, &SQL, user)
                .await?
                .unwrap_or(req.now);
            return Ok(CreateOutcome::CredentialsRevoked { not_before });
        }
        let mut tx = conn.begin().await?;
        if req.tenant().is_some() {
            // The count must see what the tenant lock's previous holder
            // committed, whatever the database's default isolation.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .execute(&mut *tx)
                .await?;
        }
        let not_before = lock_user(&mut tx, user).await?;
        if let Some(tenant) = req.tenant() {
            // After the user's lock, as every create takes them.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("sessionward-tenant:{tenant}"))
                .execute(&mut *tx)
                .await?;
        }
        let existing = Pg::admission_rows(&mut *tx, &SQL, req).await?;
        let tenant_others = Pg::tenant_others(&mut *tx, TENANT_OTHERS, req).await?;
        let decision = req.decide_in_tenant(existing, not_before, tenant_others);
        for (reason, ids) in revocations_by_reason(&decision) {
            revoke_ids(&mut tx, user, &ids, reason, req.now).await?;
        }
        if decision.admits() {
            Pg::insert(&mut *tx, &SQL, &encoded).await?;
        }
        tx.commit().await?;
        Ok(decision.into_outcome())
    }
}

/// The active sessions of a tenant's other users: `tenant`, `user`, `now`,
/// `idle_cutoff`.
const TENANT_OTHERS: &str = "SELECT COUNT(*) FROM sessionward_sessions \
     WHERE substring(meta from '\"tenant\":\"([A-Za-z0-9._:-]{1,64})\"') = $1 \
     AND revoked_at IS NULL \
     AND user_id <> $2 AND expires_at > $3 AND last_seen_at > $4";

/// The statements Postgres runs like every dialect ([`Shared`]).
const SQL: Statements = Statements {
    select_one: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = $1 AND session_id = $2"
    ),
    list: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = $1"
    ),
    touch: "UPDATE sessionward_sessions SET \
            places = CASE WHEN last_seen_at = $1 THEN COALESCE($2, places) ELSE places END, \
            last_seen_from = COALESCE($3, last_seen_from), last_seen_at = $4 \
            WHERE user_id = $5 AND session_id = $6 AND revoked_at IS NULL \
            AND last_seen_at < $7 AND last_seen_at > $8 AND expires_at > $9",
    erase: ["DELETE FROM sessionward_sessions WHERE user_id = $1"],
    forget: [
        "DELETE FROM sessionward_login_history WHERE user_id = $1",
        "DELETE FROM sessionward_last_login WHERE user_id = $1",
    ],
    purge: "DELETE FROM sessionward_sessions WHERE expires_at <= $1",
    read_mark: "SELECT not_before FROM sessionward_users WHERE user_id = $1",
    admission: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
    ),
    replaced: concat!(
        "SELECT ",
        cols!(),
        " FROM sessionward_sessions WHERE user_id = $1 AND session_id = $2"
    ),
    insert: concat!(
        "INSERT INTO sessionward_sessions (",
        cols!(),
        ", ip_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ),
};

type Pg = Shared<Postgres>;

/// Inserts one session row unless the user's "not before" mark is later
/// than the credential check, in one statement that also takes the user's
/// row lock (creating the row on first use). Returns whether it inserted.
async fn insert_unless_marked<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    encoded: &Encoded<'_>,
    req: &CreateRequest,
) -> Result<bool, sqlx::Error> {
    let done = bind_record!(
        sqlx::query(concat!(
            "WITH u AS (INSERT INTO sessionward_users (user_id) VALUES ($1) \
             ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING not_before) \
             INSERT INTO sessionward_sessions (",
            cols!(),
            ", ip_key) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 \
             FROM u WHERE u.not_before IS NULL OR u.not_before < $19"
        )),
        encoded
    )
    .bind(req.credential_verified_at.unix_millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the user's lock row, creating it on first use, in one round trip,
/// and returns the user's "not before" mark: the upsert takes the row lock
/// whether it inserts or conflicts (a concurrent first login waits for the
/// inserting transaction, then locks) and returns the latest committed mark.
async fn lock_user(conn: &mut PgConnection, user: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    let mark: Option<i64> = sqlx::query_scalar(
        "INSERT INTO sessionward_users (user_id) VALUES ($1) \
         ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING not_before",
    )
    .bind(user)
    .fetch_one(conn)
    .await?;
    Ok(mark_at(mark))
}

/// Raises the user's "not before" mark to `at` (never lowers it), taking
/// the lock row `create` takes.
async fn raise_mark(conn: &mut PgConnection, user: &str, at: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessionward_users (user_id, not_before) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET not_before = \
         GREATEST(COALESCE(sessionward_users.not_before, EXCLUDED.not_before), EXCLUDED.not_before)",
    )
    .bind(user)
    .bind(at.unix_millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every unrevoked session of `user` but `except` (binds: user,
/// except, at, reason), announcing each.
const REVOKE_ALL: &str = announcing!(
    "UPDATE sessionward_sessions SET revoked_at = $3, revoke_reason = $4 \
     WHERE user_id = $1 AND revoked_at IS NULL \
     AND ($2::text IS NULL OR session_id <> $2)"
);

/// Revokes one unrevoked session (binds: user, id, at, reason), announcing it.
const REVOKE_ONE: &str = announcing!(
    "UPDATE sessionward_sessions SET revoked_at = $3, revoke_reason = $4 \
     WHERE user_id = $1 AND session_id = $2 AND revoked_at IS NULL"
);

/// Revokes the given unrevoked sessions of `user` and announces each on
/// [`NOTIFY_CHANNEL`]; returns them as they were before.
async fn revoke_ids(
    conn: &mut PgConnection,
    user: &str,
    ids: &[&str],
    reason: RevokeReason,
    at: Timestamp,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let rows: Vec<SessionRow> = sqlx::query_as(announcing!(
        "UPDATE sessionward_sessions SET revoked_at = $3, revoke_reason = $4 \
         WHERE user_id = $1 AND session_id = ANY($2) AND revoked_at IS NULL"
    ))
    .bind(user)
    .bind(ids)
    .bind(at.unix_millis())
    .bind(reason.as_str())
    .fetch_all(&mut *conn)
    .await?;
    before_revocation(rows).map_err(carry)
}

pooled_session_store!(
    PostgresStore,
    Pg,
    &SQL,
    Postgres,
    crate::directory::Dialect::Postgres
);

/// What the Postgres store does its own way (the rest is [`Shared`]).
impl PostgresStore {
    async fn create_in(
        conn: &mut PgConnection,
        request: &CreateRequest,
    ) -> Result<CreateOutcome, StoreError> {
        retry_tx!(Self::try_create(&mut *conn, request))
    }

    /// Compare-and-swap on generation and hash, while active; one
    /// statement, so no retry.
    async fn rotate_in(
        conn: &mut PgConnection,
        req: &RotateRequest,
        meta: Option<&str>,
    ) -> Result<RotateOutcome, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "UPDATE sessionward_sessions SET refresh_hash = $5, \
             refresh_generation = refresh_generation + 1, rotated_at = $6, \
             last_seen_from = CASE WHEN $6 > last_seen_at \
                 THEN COALESCE($8, last_seen_from) ELSE last_seen_from END, \
             last_seen_at = GREATEST(last_seen_at, $6), meta = COALESCE($9, meta) \
             WHERE user_id = $1 AND session_id = $2 AND refresh_generation = $3 \
             AND refresh_hash = $4 AND revoked_at IS NULL AND expires_at > $6 \
             AND last_seen_at > $7 RETURNING ",
            cols!()
        ))
        .bind(req.user.as_str())
        .bind(req.id.as_str())
        .bind(generation(req.expected_generation)?)
        .bind(req.expected_hash.as_bytes().as_slice())
        .bind(req.new_hash.as_bytes().as_slice())
        .bind(req.now.unix_millis())
        .bind(req.idle_cutoff.unix_millis())
        .bind(seen_text(req)?.as_deref())
        .bind(meta)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
        match row {
            Some(row) => Ok(RotateOutcome::Rotated(row.into_record()?)),
            None => Ok(RotateOutcome::Unchanged(
                Pg::select_one(conn, &SQL, &req.user, &req.id)
                    .await
                    .map_err(unwrap_store_err)?,
            )),
        }
    }

    async fn revoke_in(
        conn: &mut PgConnection,
        user: &UserId,
        id: &SessionId,
        revocation: Revocation,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Pg::revoke_returning(conn, REVOKE_ONE, user, id, revocation).await
    }

    async fn revoke_all_in(
        conn: &mut PgConnection,
        user: &UserId,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let Revocation { at, reason } = revocation;
        if reason.raises_not_before() {
            return retry_tx!(Self::try_revoke_all_marked(
                &mut *conn, user, except, reason, at
            ));
        }
        Pg::revoke_all_returning(conn, REVOKE_ALL, user, except, revocation)
            .await
            .map_err(unwrap_store_err)
    }

    fn feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        self.feed.clone().map(|f| f as Arc<dyn RevocationFeed>)
    }
}

impl PostgresStore {
    async fn try_record_login(
        conn: &mut PgConnection,
        user: &str,
        facts: &LoginFacts,
        keep_since: i64,
    ) -> Result<(), sqlx::Error> {
        let keys = risk::history_keys(facts);
        let kinds: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        let values: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
        let at = facts.at.unix_millis();
        let mut tx = conn.begin().await?;
        // Keys are sorted, so concurrent logins of one user lock rows in the
        // same order.
        sqlx::query(
                "INSERT INTO sessionward_login_history (user_id, kind, value, last_seen_at) \
                 SELECT $1, k, v, $4 FROM UNNEST($2::text[], $3::text[]) AS t(k, v) \
                 ON CONFLICT (user_id, kind, value) DO UPDATE \
                 SET last_seen_at = GREATEST(sessionward_login_history.last_seen_at, EXCLUDED.last_seen_at)",
            )
            .bind(user)
            .bind(&kinds)
            .bind(&values)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM sessionward_login_history WHERE user_id = $1 AND last_seen_at < $2",
        )
        .bind(user)
        .bind(keep_since)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO sessionward_last_login (user_id, at, country, latitude, longitude) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE \
                 SET at = EXCLUDED.at, country = EXCLUDED.country, \
                 latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude",
        )
        .bind(user)
        .bind(at)
        .bind(facts.country.as_deref())
        .bind(facts.latitude)
        .bind(facts.longitude)
        .execute(&mut *tx)
        .await?;
        if let Some(ip) = risk::ip_key(facts) {
            sqlx::query(
                "WITH gone AS (DELETE FROM sessionward_ip_logins WHERE ip = $1 AND at < $3) \
                     INSERT INTO sessionward_ip_logins (ip, at) VALUES ($1, $2)",
            )
            .bind(&ip)
            .bind(at)
            .bind(keep_since)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// Login history and single-use token ids, each decision one statement or
/// one transaction:
///
/// - `login_history` is one read-only `SELECT` (history, last login and the
///   per-IP count together).
/// - `record_login` is one transaction: upsert of every fingerprint, country
///   and ASN, deletion of the user's rows older than `keep_since`, upsert of
///   the last login, and insertion of the IP row with deletion of that IP's
///   old rows.
/// - `consume_once` is one `INSERT … ON CONFLICT DO NOTHING`; one
///   successful insert in 16 (by the id's hash) also deletes up to 1024
///   expired ids.
#[async_trait]
impl RiskStore for PostgresStore {
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        self.run(async |conn| {
            let row: HistoryRow = sqlx::query_as(
                "SELECT \
                   (l.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = $1)) AS seen, \
                   EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = $1 AND kind = 'device' AND value = ANY($2::text[])) AS known_device, \
                   ($3::text IS NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = $1 AND kind = 'country' AND value = $3)) AS known_country, \
                   ($4::text IS NULL OR EXISTS (SELECT 1 FROM sessionward_login_history \
                      WHERE user_id = $1 AND kind = 'asn' AND value = $4)) AS known_asn, \
                   (SELECT count(*) FROM sessionward_ip_logins WHERE ip = $5 AND at >= $6) AS recent, \
                   l.at, l.country, l.latitude, l.longitude \
                 FROM (SELECT 1) AS one LEFT JOIN sessionward_last_login l ON l.user_id = $1",
            )
            .bind(user.as_str())
            .bind(risk::device_keys(facts))
            .bind(risk::country_key(facts))
            .bind(risk::asn_key(facts))
            .bind(risk::ip_key(facts))
            .bind(burst_since.unix_millis())
            .fetch_one(conn)
            .await
            .map_err(map_err)?;
            Ok(row.into_prior())
        })
        .await
    }

    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        self.run(async |conn| Pg::delete_user(conn, &SQL.forget, user).await.map(drop))
            .await
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        let keep_since = keep_since.unix_millis();
        self.run(async |conn| {
            retry_tx!(Self::try_record_login(
                &mut *conn,
                user.as_str(),
                facts,
                keep_since
            ))
        })
        .await
    }

    /// The insert runs under the operation timeout; the cleanup after a new
    /// id is a second call under its own timeout, whose failure is only
    /// logged (the id is already recorded).
    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = risk::key(token_id);
        let first = self
            .run(async |conn| {
                let done = sqlx::query(
                    "INSERT INTO sessionward_used_tokens (token_id, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (token_id) DO NOTHING",
                )
                .bind(&key)
                .bind(expires_at.unix_millis())
                .execute(conn)
                .await
                .map_err(map_err)?;
                Ok(done.rows_affected() == 1)
            })
            .await?;
        if first && risk::sweeps(&key) {
            // Keep the table bounded: a batch of expired ids every so many
            // new ones. Best effort: the id is already recorded.
            let gc = self
                .run(async |conn| {
                    sqlx::query(
                        "DELETE FROM sessionward_used_tokens WHERE token_id IN \
                         (SELECT token_id FROM sessionward_used_tokens WHERE expires_at <= $1 \
                          LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    )
                    .bind(now.unix_millis())
                    .bind(risk::TOKEN_GC_BATCH)
                    .execute(conn)
                    .await
                    .map_err(map_err)
                })
                .await;
            if let Err(e) = gc {
                tracing::warn!(target: "sessionward::risk", error = %e, "used-token cleanup failed");
            }
        }
        Ok(first)
    }
}

/// The LISTEN side of [`NOTIFY_CHANNEL`].
struct PgFeed {
    options: Arc<PgConnectOptions>,
    acquire_timeout: Duration,
}

#[derive(serde::Deserialize)]
struct Payload {
    user: String,
    id: String,
    /// Unix ms; absent in messages of earlier versions.
    #[serde(default)]
    at: Option<i64>,
}

fn parse_payload(text: &str) -> Option<FeedEvent> {
    let p: Payload = serde_json::from_str(text).ok()?;
    Some(FeedEvent::Revoked {
        user: UserId::new(p.user).ok()?,
        id: SessionId::parse(&p.id).ok()?,
        at: p.at.map(Timestamp::from_unix_millis),
    })
}

#[async_trait]
impl RevocationFeed for PgFeed {
    /// Opens a dedicated connection, runs `LISTEN sessionward_revoked`, and
    /// forwards each notification. The channel closes (after a
    /// `Disconnected` message) when the connection is lost; the manager
    /// then resubscribes.
    async fn subscribe(&self) -> Result<mpsc::Receiver<FeedEvent>, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with((*self.options).clone())
            .await
            .map_err(map_err)?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(map_err)?;
        listener.eager_reconnect(false);
        listener.listen(NOTIFY_CHANNEL).await.map_err(map_err)?;
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        // Cannot fail: the queue is new and empty.
        let _ = tx.try_send(FeedEvent::Connected);
        tokio::spawn(forward(listener, pool, tx));
        Ok(rx)
    }

    /// One NOTIFY round trip on a healthy server: typically a few milliseconds.
    fn expected_latency(&self) -> Duration {
        Duration::from_millis(50)
    }
}

async fn forward(mut listener: PgListener, pool: PgPool, tx: mpsc::Sender<FeedEvent>) {
    loop {
        tokio::select! {
            () = tx.closed() => break,
            next = listener.try_recv() => match next {
                Ok(Some(n)) => {
                    let Some(event) = parse_payload(n.payload()) else {
                        tracing::warn!(target: "sessionward::feed", "ignoring malformed revocation notification");
                        continue;
                    };
                    // A full queue means the subscriber fell behind: close the
                    // channel so it resets and resubscribes.
                    if tx.try_send(event).is_err() {
                        break;
                    }
                }
                Ok(None) | Err(_) => {
                    tracing::warn!(target: "sessionward::feed", "revocation feed connection lost");
                    let _ = tx.try_send(FeedEvent::Disconnected);
                    break;
                }
            },
        }
    }
    drop(listener);
    pool.close().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let id = SessionId::generate();
        let ok = format!(r#"{{"user":"alice","id":"{id}"}}"#);
        assert_eq!(
            parse_payload(&ok),
            Some(FeedEvent::Revoked {
                user: UserId::new("alice").unwrap(),
                id: id.clone(),
                at: None,
            })
        );
        let timed = format!(r#"{{"user":"alice","id":"{id}","at":1767225600123}}"#);
        assert_eq!(
            parse_payload(&timed),
            Some(FeedEvent::Revoked {
                user: UserId::new("alice").unwrap(),
                id,
                at: Some(Timestamp::from_unix_millis(1_767_225_600_123)),
            })
        );
        assert_eq!(parse_payload("not json"), None);
        assert_eq!(parse_payload(r#"{"user":"a","id":"short"}"#), None);
    }
}

crate::ssf::sql_ssf_store!(PostgresStore, Postgres, crate::directory::Dialect::Postgres);
