//! [`HeldStore`]: a store wrapper that holds chosen calls until released,
//! so a case can script "read, then a competing decision, then the late
//! write" against any backend.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::ids::{SessionId, UserId};
use crate::record::{RevokeReason, SessionRecord};
use crate::store::{
    CreateOutcome, CreateRequest, RevocationFeed, RotateOutcome, RotateRequest, SessionStore,
    StoreError, TouchRequest,
};
use crate::time::Timestamp;

/// The kinds of [`SessionStore`] call a [`HeldStore`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreCall {
    /// [`SessionStore::create`].
    Create,
    /// [`SessionStore::get`].
    Get,
    /// [`SessionStore::touch`].
    Touch,
    /// [`SessionStore::rotate_refresh`].
    RotateRefresh,
    /// [`SessionStore::revoke`].
    Revoke,
    /// [`SessionStore::revoke_all`].
    RevokeAll,
    /// [`SessionStore::not_before`].
    NotBefore,
    /// [`SessionStore::list`].
    List,
    /// [`SessionStore::purge_expired`].
    PurgeExpired,
}

/// How long [`Hold::arrived`] waits for the held call. A held call arrives
/// within milliseconds when the code under test works; the bound only turns
/// a call that never comes into a failure rather than a hang.
pub const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(10);

/// One held call: the store side of a [`Hold`].
struct Gate {
    arrived: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// A call of one kind that [`HeldStore::hold_next`] will stop before it
/// reaches the wrapped store. Dropping the hold releases the call, so a
/// failing case never leaves a task hanging.
#[derive(Debug)]
pub struct Hold {
    arrived: Option<oneshot::Receiver<()>>,
    release: Option<oneshot::Sender<()>>,
}

impl Hold {
    /// Waits until the held call has arrived (and is waiting, not yet run).
    ///
    /// # Panics
    /// If the store was dropped before the call arrived, or if the call has
    /// not arrived within [`ARRIVAL_TIMEOUT`] (the code under test failed or
    /// returned before reaching the store): a broken case then fails instead
    /// of waiting forever.
    pub async fn arrived(&mut self) {
        if let Some(rx) = self.arrived.take() {
            #[allow(clippy::expect_used)]
            tokio::time::timeout(ARRIVAL_TIMEOUT, rx)
                .await
                .expect("the held call did not arrive within ARRIVAL_TIMEOUT")
                .expect("the held call never arrived");
        }
    }

    /// Lets the held call run against the wrapped store.
    pub fn release(mut self) {
        self.open();
    }

    fn open(&mut self) {
        if let Some(tx) = self.release.take() {
            // The call may already be gone (its task was cancelled): nothing to release.
            let _ = tx.send(());
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.open();
    }
}

/// Wraps a store; each [`HeldStore::hold_next`] stops the next call of one
/// kind before it runs, until its [`Hold`] is released.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sessionward_core::testing::{HeldStore, StoreCall};
/// use sessionward_core::{MemoryStore, SessionStore, UserId};
///
/// let store = HeldStore::new(Arc::new(MemoryStore::new()));
/// let mut hold = store.hold_next(StoreCall::List);
/// let task = tokio::spawn({
///     let store = store.clone();
///     async move { store.list(&UserId::new("alice").unwrap()).await }
/// });
/// hold.arrived().await; // the list call is waiting here
/// hold.release();
/// assert!(task.await.unwrap().unwrap().is_empty());
/// # });
/// ```
pub struct HeldStore {
    inner: Arc<dyn SessionStore>,
    gates: Mutex<HashMap<StoreCall, VecDeque<Gate>>>,
}

impl std::fmt::Debug for HeldStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldStore").finish_non_exhaustive()
    }
}

impl HeldStore {
    /// Wraps `inner`; nothing is held until [`HeldStore::hold_next`].
    pub fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(HeldStore {
            inner,
            gates: Mutex::new(HashMap::new()),
        })
    }

    /// Holds the next call of kind `call` (after any already held ones).
    pub fn hold_next(&self, call: StoreCall) -> Hold {
        let (arrived_tx, arrived_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        self.gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(call)
            .or_default()
            .push_back(Gate {
                arrived: arrived_tx,
                release: release_rx,
            });
        Hold {
            arrived: Some(arrived_rx),
            release: Some(release_tx),
        }
    }

    /// Stops here if a hold is set for `call`.
    async fn gate(&self, call: StoreCall) {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&call)
            .and_then(VecDeque::pop_front);
        if let Some(gate) = gate {
            // The case may have stopped waiting; the call then runs at once.
            let _ = gate.arrived.send(());
            let _ = gate.release.await;
        }
    }
}

#[async_trait]
impl SessionStore for HeldStore {
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
        self.gate(StoreCall::Create).await;
        self.inner.create(request).await
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.gate(StoreCall::Get).await;
        self.inner.get(user, id).await
    }

    async fn touch(&self, request: TouchRequest) -> Result<bool, StoreError> {
        self.gate(StoreCall::Touch).await;
        self.inner.touch(request).await
    }

    async fn rotate_refresh(&self, request: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.gate(StoreCall::RotateRefresh).await;
        self.inner.rotate_refresh(request).await
    }

    async fn rotate_refresh_binding(
        &self,
        request: RotateRequest,
        meta: crate::SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        self.gate(StoreCall::RotateRefresh).await;
        self.inner.rotate_refresh_binding(request, meta).await
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.gate(StoreCall::Revoke).await;
        self.inner.revoke(user, id, reason, at).await
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.gate(StoreCall::RevokeAll).await;
        self.inner.revoke_all(user, except, reason, at).await
    }

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        self.gate(StoreCall::NotBefore).await;
        self.inner.not_before(user).await
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        self.gate(StoreCall::List).await;
        self.inner.list(user).await
    }

    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        self.inner.erase_user(user).await
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.gate(StoreCall::PurgeExpired).await;
        self.inner.purge_expired(before).await
    }

    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        self.inner.revocation_feed()
    }

    fn replay_store(&self) -> Option<Arc<dyn crate::binding::ReplayStore>> {
        self.inner.replay_store()
    }

    fn counts_tenants(&self) -> bool {
        self.inner.counts_tenants()
    }

    /// The directory is not held: no interleaving case drives it.
    fn directory(&self) -> Option<Arc<dyn crate::directory::SessionDirectory>> {
        self.inner.directory()
    }
}
