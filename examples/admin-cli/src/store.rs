//! Opening the app's store from its URL.

use std::sync::Arc;

use sessionward_core::SessionStore;
use sessionward_redis::{RedisStore, RedisStoreConfig};
use sessionward_sqlx::{MySqlStore, PostgresStore, SqliteStore};

/// The store `url` names. Never creates or migrates anything: an operator's
/// tool must not change the app's schema (a SQLite file that does not
/// exist is an error, not a new database).
pub(crate) async fn open(url: &str, redis_prefix: &str) -> Result<Arc<dyn SessionStore>, String> {
    let failed = |e: sessionward_core::StoreError| format!("cannot open the store: {e}");
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    Ok(match scheme {
        "sqlite" => Arc::new(sqlite(url).await?),
        "postgres" | "postgresql" => Arc::new(
            PostgresStore::connect(url)
                .await
                .map_err(failed)?
                .without_revocation_feed(),
        ),
        "mysql" | "mariadb" => Arc::new(MySqlStore::connect(url).await.map_err(failed)?),
        "redis" | "rediss" => {
            let config = RedisStoreConfig::default().with_key_prefix(redis_prefix);
            Arc::new(RedisStore::connect(url, config).await.map_err(failed)?)
        }
        _ => {
            return Err(
                "--store must start with sqlite://, postgres://, mysql:// or redis://".into(),
            );
        }
    })
}

/// The SQLite file `url` names, read as sqlx reads it, opened without
/// creating it: an in-memory database, or a file that is not there, is an
/// error.
async fn sqlite(url: &str) -> Result<SqliteStore, String> {
    use std::str::FromStr as _;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("not a SQLite URL: {e}"))?
        .create_if_missing(false);
    let path = options.get_filename();
    if url.contains(":memory:") || url.contains("mode=memory") || path.as_os_str().is_empty() {
        return Err("a SQLite store is a file: sqlite://path/to/sessions.db".into());
    }
    if !path.is_file() {
        return Err(format!("no SQLite database at {}", path.display()));
    }
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    Ok(SqliteStore::from_pool(pool))
}
