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
        "sqlite" => {
            let path = url
                .trim_start_matches("sqlite:")
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or("");
            if path.is_empty() || path.contains(":memory:") {
                return Err("a SQLite store is a file: sqlite://path/to/sessions.db".into());
            }
            if !std::path::Path::new(path).is_file() {
                return Err(format!("no SQLite database at {path}"));
            }
            Arc::new(SqliteStore::connect(url).await.map_err(failed)?)
        }
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
