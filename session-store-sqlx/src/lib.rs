//! SQL session stores for [sessionward](sessionward_core): PostgreSQL,
//! SQLite and MySQL / MariaDB, on [sqlx] 0.9, with embedded migrations.
//!
//! Each store implements [`SessionStore`](sessionward_core::SessionStore):
//! every security decision is one atomic database step.
//!
//! | decision | PostgreSQL | SQLite | MySQL / MariaDB |
//! |---|---|---|---|
//! | login within limits (+ evictions) | transaction, per-user row locked by `INSERT … ON CONFLICT DO UPDATE` | `BEGIN IMMEDIATE` transaction | `READ COMMITTED` transaction, per-user row locked by `INSERT … ON DUPLICATE KEY UPDATE` |
//! | refresh rotation | one conditional `UPDATE … RETURNING` on hash + generation | same | conditional `UPDATE`, read back in the transaction |
//! | revoke one / all | one `UPDATE … RETURNING` + `pg_notify` | one `UPDATE … RETURNING` | row locks + `UPDATE` in one transaction |
//! | revocation push (cached mode) | `LISTEN/NOTIFY` on [`postgres::NOTIFY_CHANNEL`] | none | none |
//!
//! Each store also implements [`RiskStore`](sessionward_core::risk::RiskStore)
//! for `RiskEngine` (core feature `risk`; pass the same store
//! to both):
//!
//! | decision | how (every backend) |
//! |---|---|
//! | login history (known device / country / ASN, previous login, logins per IP) | one read-only `SELECT` |
//! | record a login (+ drop entries older than the retention) | one transaction |
//! | single-use token id | one `INSERT … ON CONFLICT DO NOTHING` (MySQL: `INSERT IGNORE`); one new id in 16 also deletes a batch of expired ones, so a call is usually one statement |
//!
//! Each store is also the outbox of the Shared Signals transmitter
//! ([`SsfStore`](sessionward_core::ssf::SsfStore)): streams as versioned
//! rows changed by `UPDATE … WHERE version = <read>`, queued Security Event
//! Tokens leased to one instance at a time by conditional `UPDATE`s.
//!
//! Login rows per IP are deleted when that IP logs in again after the
//! retention period, not otherwise.
//!
//! Without a push feed (SQLite, MySQL), the manager's
//! [cached mode](sessionward_core::RevocationMode::Cached) checks the store
//! on every request, exactly like strict mode: never stale, never faster.
//!
//! Revocations are durable: revoked sessions stay as tombstones until their
//! absolute end and are then purged, so a restarted app never accepts a
//! revoked token.
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `sqlite` | yes | [`SqliteStore`] (bundled libsqlite3, no system library needed) |
//! | `postgres` | yes | [`PostgresStore`] with its LISTEN/NOTIFY revocation feed |
//! | `mysql` | yes | [`MySqlStore`] (MySQL 8, MariaDB 10.5+) |
//!
//! Keep only what you use with `default-features = false, features = ["postgres"]`.
//!
//! No TLS backend is enabled. For TLS connections to a remote server, add
//! `sqlx` to your own dependencies with the TLS feature of your choice
//! (for example `tls-rustls`); Cargo unifies the features.
//!
//! # Quick start
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sessionward_core::tokens::{SigningKey, TokenConfig};
//! use sessionward_core::{RequestContext, SessionManager, SessionPolicy, UserId};
//! use sessionward_sqlx::SqliteStore;
//!
//! // `sqlite://sessions.db` for a file; memory here so the example leaves nothing behind.
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//!
//! let policy = SessionPolicy::builder().max_sessions_per_user(3).build()?;
//! let tokens = TokenConfig::builder("https://app.example", "app")
//!     .signing_key(SigningKey::hs256("k1", &[7; 32])?)
//!     .refresh_key([9; 32])
//!     .build()?;
//! let manager = SessionManager::builder(policy, tokens, Arc::new(store)).build()?;
//!
//! let alice = UserId::new("alice")?;
//! let login = manager.login(&alice, &RequestContext::new()).await?;
//! let session = manager
//!     .authenticate(login.tokens.access_token.expose_secret())
//!     .await?;
//! assert_eq!(session.user, alice);
//! # Ok(()) }
//! ```
//!
//! # Migrations
//!
//! Each backend embeds its versioned migrations
//! (`migrations/{postgres,sqlite,mysql}/`) in a `MIGRATOR` static
//! ([`postgres::MIGRATOR`], [`sqlite::MIGRATOR`], [`mysql::MIGRATOR`]) and
//! runs them with `migrate()`. They are recorded in the
//! `sessionward_migrations` table ([`MIGRATIONS_TABLE`]), so they never
//! collide with the host app's own sqlx migrations in `_sqlx_migrations`.
//! All tables are prefixed `sessionward_`.
//!
//! # Failures
//!
//! A refused or lost connection, a pool timeout, a server shutting down or
//! a call past its time limit surfaces as
//! [`StoreError::Unavailable`](sessionward_core::StoreError::Unavailable),
//! which the manager and the adapters turn into a fail-closed 503. Rows that
//! do not decode are
//! [`StoreError::Corrupt`](sessionward_core::StoreError::Corrupt); other
//! database errors are
//! [`StoreError::Backend`](sessionward_core::StoreError::Backend). Server
//! errors are classified by dialect: SQLSTATE on PostgreSQL, the error
//! number on MySQL / MariaDB (1205 lock wait timeout and 1213 deadlock are
//! retried, then `Conflict`; 1040, 1053, statement timeouts are
//! `Unavailable`), the result code on SQLite (`SQLITE_BUSY` /
//! `SQLITE_LOCKED` are `Unavailable`).
//!
//! # Time limits
//!
//! Every store call (the wait for a connection, every statement and every
//! retry included) fails closed within a bounded time, set in
//! [`StoreOptions`]:
//!
//! | option | default | what it bounds |
//! |---|---|---|
//! | [`with_operation_timeout`](StoreOptions::with_operation_timeout) | 2 s | the whole call, on the client: the one limit that holds when the database keeps the connection open but stops answering |
//! | [`with_statement_timeout`](StoreOptions::with_statement_timeout) | 1.5 s | each statement, on the server (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, MySQL `max_execution_time`) |
//! | [`with_lock_timeout`](StoreOptions::with_lock_timeout) | 1 s | each lock wait, on the server (PostgreSQL `lock_timeout`, InnoDB `innodb_lock_wait_timeout`, SQLite `busy_timeout`) |
//!
//! Past the operation timeout the call answers `Unavailable`. A PostgreSQL
//! or MySQL connection whose call was abandoned mid-flight (by the deadline
//! or by the caller dropping the call) is closed, never returned to the
//! pool half-way through a statement, and the pool opens new connections
//! once the database answers again. An abandoned statement that had
//! reached the server may still complete there (as with any lost reply);
//! a transaction that had not committed is rolled back. `migrate()` is not
//! bounded. Pools passed to `from_pool` keep their own server-side settings;
//! the store's operation timeout still applies (`with_operation_timeout` on
//! the store sets it).
//!
//! The pool reconnects on its own. By default idle connections are not
//! pinged before use (one round trip saved per call), so after a database
//! restart a call that picks up a connection from before the restart fails
//! closed with `Unavailable` once, and the following calls work;
//! [`StoreOptions::with_test_before_acquire`] trades that round trip for
//! invisible restarts.
//!
//! # Purging
//!
//! [`SessionStore::purge_expired`](sessionward_core::SessionStore::purge_expired)
//! deletes sessions past their absolute end; [`spawn_purge_task`] runs it
//! periodically.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod deadline;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod directory;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod error;
mod options;
mod purge;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod risk;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod row;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod shared;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod ssf;

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod mysql;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
pub use options::StoreOptions;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use purge::{PurgeTask, spawn_purge_task, spawn_purge_task_keeping};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The table sessionward's migrations are recorded in, instead of sqlx's
/// default `_sqlx_migrations` (which belongs to the host app).
pub const MIGRATIONS_TABLE: &str = "sessionward_migrations";
