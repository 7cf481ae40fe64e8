//! A background task that purges ended sessions.

use std::sync::Arc;
use std::time::Duration;

use sessionward_core::{Clock, SessionStore};
use tokio::task::JoinHandle;

/// A running purge task from [`spawn_purge_task`]. Dropping it stops the task.
#[derive(Debug)]
#[must_use = "dropping the handle stops the purge task"]
pub struct PurgeTask {
    handle: JoinHandle<()>,
}

impl PurgeTask {
    /// Stops the task.
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// Whether the task has stopped.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for PurgeTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Spawns a task on the current Tokio runtime that calls
/// [`SessionStore::purge_expired`] with `clock.now()` every `every`
/// (first run at once). Failures are logged (`tracing`, target
/// `sessionward::purge`) and retried at the next tick; the task never panics.
///
/// Works with any store, not only the SQL ones. Revoked sessions are kept
/// as tombstones until their absolute end, so purging never resurrects a
/// revoked token. This deletes them at that end; to keep them listed as
/// "Signed out" for the policy's history retention (what
/// `SessionManager::purge_expired` does), use [`spawn_purge_task_keeping`].
///
/// # Panics
/// When called outside a Tokio runtime (as `tokio::spawn` does).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionward_core::SystemClock;
/// use sessionward_sqlx::{SqliteStore, spawn_purge_task};
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// let task = spawn_purge_task(Arc::new(store), Arc::new(SystemClock), Duration::from_secs(600));
/// assert!(!task.is_finished());
/// # Ok(()) }
/// ```
pub fn spawn_purge_task(
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> PurgeTask {
    spawn_purge_task_keeping(store, clock, every, Duration::ZERO)
}

/// [`spawn_purge_task`] that keeps ended sessions for `retention` after
/// their absolute end, so the session page can list them as "Signed out":
/// pass the policy's [`history_retention`](sessionward_core::SessionPolicy::history_retention)
/// (what [`sessionward_core::SessionManager::purge_expired`] does).
///
/// # Panics
/// When called outside a Tokio runtime.
pub fn spawn_purge_task_keeping(
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    every: Duration,
    retention: Duration,
) -> PurgeTask {
    let every = every.max(Duration::from_millis(1));
    let handle = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.purge_expired(clock.now().minus(retention)).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(target: "sessionward::purge", purged = n, "purged ended sessions")
                }
                Err(e) => {
                    tracing::warn!(target: "sessionward::purge", error = %e, "session purge failed")
                }
            }
        }
    });
    PurgeTask { handle }
}
