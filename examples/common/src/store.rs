//! Choosing the session store from a URL.

use std::path::Path;
use std::sync::Arc;

use sessionward_core::risk::RiskStore;
use sessionward_core::{MemoryStore, SessionStore};
use sessionward_redis::{RedisStore, RedisStoreConfig};
use sessionward_sqlx::{MySqlStore, PostgresStore, SqliteStore};

/// A URL for logs: the part before any `@` credentials is hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// One backend seen through both traits: sessions, and the login history
/// that risk scoring reads (so new-device flags survive restarts).
pub struct Stores {
    /// The session store.
    pub sessions: Arc<dyn SessionStore>,
    /// The same backend as a risk store.
    pub risk: Arc<dyn RiskStore>,
}

fn both<S: SessionStore + RiskStore>(store: S) -> Stores {
    let store = Arc::new(store);
    Stores {
        sessions: store.clone(),
        risk: store,
    }
}

/// Opens (and migrates) the store named by `url`: `sqlite://path?mode=rwc`,
/// `postgres://…`, `mysql://…`, `redis://…` or `memory`.
///
/// # Errors
/// A message when the URL is unknown or the store cannot be reached.
pub async fn open(url: &str) -> Result<Stores, String> {
    let fail = |e: &dyn std::fmt::Display| format!("store {}: {e}", redact(url));
    if url == "memory" {
        return Ok(both(MemoryStore::new()));
    }
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or(rest);
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let store = SqliteStore::connect(url).await.map_err(|e| fail(&e))?;
        store.migrate().await.map_err(|e| fail(&e))?;
        return Ok(both(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).await.map_err(|e| fail(&e))?;
        store.migrate().await.map_err(|e| fail(&e))?;
        return Ok(both(store));
    }
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let store = MySqlStore::connect(url).await.map_err(|e| fail(&e))?;
        store.migrate().await.map_err(|e| fail(&e))?;
        return Ok(both(store));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let store = RedisStore::connect(url, RedisStoreConfig::default())
            .await
            .map_err(|e| fail(&e))?;
        return Ok(both(store));
    }
    Err(format!(
        "unknown store URL `{}` (use sqlite://, postgres://, mysql://, redis:// or memory)",
        redact(url)
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_credentials() {
        assert_eq!(super::redact("postgres://u:p@db/x"), "postgres://…@db/x");
        assert_eq!(super::redact("sqlite://a.db"), "sqlite://a.db");
    }
}
