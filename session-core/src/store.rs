//! The storage contract: one method per atomic security decision.
//!
//! Backends persist and answer atomically; the core decides. Each method is
//! a single atomic step in the backend (a SQL transaction with row locks, a
//! Redis Lua script, a mutex section) so no decision is "read, then act".
//! The conformance suite in the `testing` module (feature `testing`) proves an
//! implementation, including under real concurrency.
//!
//! # Implementing a store
//! - Key everything by `(user, session id)`: a session id that belongs to
//!   another user must behave as absent.
//! - In [`SessionStore::create`], take the user's lock, read the user's
//!   "not before" mark and unrevoked sessions, call [`CreateRequest::decide`]
//!   (which runs [`crate::admission::plan_admission`]), apply every
//!   revocation of [`CreateDecision::revocations`] (evicted, replaced, and
//!   sessions found idle), insert when admitted, and commit, all in one step.
//! - Every write that follows a read of the manager's is conditional on what
//!   that read judged: [`SessionStore::touch`] and
//!   [`SessionStore::rotate_refresh`] apply only to a session that is still
//!   active by the request's own cutoffs, so a late write is a no-op and
//!   never revives a session another decision ended.
//! - [`SessionStore::revoke_all`] with a reason that
//!   [`RevokeReason::raises_not_before`] raises the user's mark under the
//!   same lock `create` takes, so no racing login survives it.
//! - Persist revocations durably and keep revoked records (tombstones) until
//!   [`SessionStore::purge_expired`] removes them after their absolute end.
//! - Per-tenant limits span users: a store that can count them atomically
//!   ([`SessionStore::counts_tenants`]) takes the tenant's lock after the
//!   user's for every `create` with a [`CreateRequest::tenant`], counts the
//!   active sessions of the [`CreateRequest::counted_tenant`]'s other users,
//!   and calls [`CreateRequest::decide_in_tenant`] with that count.
//! - Refuse a `create` whose session id the store already holds, live or a
//!   tombstone, with [`StoreError::IdTaken`] before changing anything.
//! - Map connection failures and timeouts to [`StoreError::Unavailable`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{SessionId, UserId};
use crate::policy::{LimitKind, SessionLimits};
use crate::record::{RevokeReason, SessionMeta, SessionRecord};
use crate::secret::TokenHash;
use crate::seen::{SeenFrom, SeenUpdate};
use crate::time::Timestamp;

/// A boxed error source kept inside [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage failure, in categories a caller can branch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached or timed out. Authentication fails
    /// closed with this (HTTP 503 in the adapters); retrying later may work.
    #[error("session store unavailable")]
    Unavailable(#[source] BoxError),
    /// A concurrent change won; the operation had no effect.
    #[error("conflicting concurrent change in the session store")]
    Conflict(#[source] Option<BoxError>),
    /// [`SessionStore::create`] was given a session id the store already
    /// holds (live or a tombstone); nothing changed. A continuation
    /// ticket fixes its session's id, so this is what a second redemption
    /// of one gets.
    #[error("the session id is already taken")]
    IdTaken,
    /// The backend returned data that does not decode (corruption or schema drift).
    #[error("session store returned invalid data: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("session store error")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether this is [`StoreError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The new session plus the rules the store applies atomically when inserting it.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The session to insert.
    pub session: SessionRecord,
    /// Limits to enforce.
    pub limits: SessionLimits,
    /// The current time.
    pub now: Timestamp,
    /// Sessions last seen at or before this are idle (not active).
    pub idle_cutoff: Timestamp,
    /// A session this login replaces (re-authentication): it is revoked with
    /// [`RevokeReason::Reauthenticated`] in the same step and does not count
    /// towards limits.
    pub replaces: Option<SessionId>,
    /// Sessions the user chose to end to make room for this one ("sign
    /// out a device and continue", [`crate::SessionManager::continue_login`]):
    /// those still active are revoked with [`RevokeReason::User`] in the
    /// same step, only if the new session is admitted, and do not count
    /// towards limits. Usually empty.
    pub ends: Vec<SessionId>,
    /// When the host verified the credential behind this login. The store
    /// refuses the session ([`CreateOutcome::CredentialsRevoked`]) when the
    /// user's "not before" mark is at or after it: the password changed or
    /// the account was disabled after (or at) the check.
    pub credential_verified_at: Timestamp,
    /// The policy's touch interval: how stale recorded activity may be,
    /// which least-recently-used eviction accounts for
    /// ([`crate::admission::latest_possible_use`]).
    pub touch_interval: Duration,
    /// How long ended sessions stay stored after their absolute end (the
    /// policy's [history retention](crate::SessionPolicy::history_retention),
    /// so the session page can list them as "Signed out"). A store that
    /// drops ended sessions on its own during `create` or by key expiry
    /// (Redis) keeps them this long.
    pub keep_ended_for: Duration,
}

/// Result of [`SessionStore::create`].
///
/// A store refuses a [`CreateRequest`] whose session id it already holds
/// (live or a tombstone) with [`StoreError::IdTaken`], changing nothing:
/// a continuation ticket's session id is fixed when the ticket is issued,
/// so this is what makes a ticket single-use.
// Returned once per login; boxing the record would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// The session was inserted.
    Created {
        /// The first limit that forced evictions, if any.
        limit: Option<LimitKind>,
        /// Sessions revoked to make room, as they were before revocation.
        evicted: Vec<SessionRecord>,
        /// The replaced session, if one was given and it was active.
        replaced: Option<SessionRecord>,
        /// The sessions of [`CreateRequest::ends`] that were active and
        /// are now ended, as they were before.
        ended: Vec<SessionRecord>,
    },
    /// A limit refused the session; nothing was inserted or evicted.
    LimitReached {
        /// Which limit.
        limit: LimitKind,
        /// The user's active sessions at the time of the decision.
        active: Vec<SessionRecord>,
    },
    /// The credential was verified at or before the user's "not before"
    /// mark (a password change or a disabled account since); nothing was
    /// inserted.
    CredentialsRevoked {
        /// The user's mark.
        not_before: Timestamp,
    },
}

impl CreateOutcome {
    /// Created, with no limit reached and nothing revoked: the outcome of a
    /// login no limit applies to ([`CreateRequest::limits_apply`]) and that
    /// replaces no session.
    ///
    /// ```
    /// use sessionward_core::CreateOutcome;
    ///
    /// let CreateOutcome::Created { limit, evicted, replaced, ended } = CreateOutcome::admitted()
    /// else {
    ///     unreachable!()
    /// };
    /// assert!(limit.is_none() && evicted.is_empty() && replaced.is_none() && ended.is_empty());
    /// ```
    pub fn admitted() -> Self {
        CreateOutcome::Created {
            limit: None,
            evicted: Vec::new(),
            replaced: None,
            ended: Vec::new(),
        }
    }
}

/// What a store must do for a [`CreateRequest`], decided by
/// [`CreateRequest::decide`] from the user's stored sessions.
///
/// Both verdicts may carry sessions to end: the unrevoked sessions the
/// decision found idle ([`RevokeReason::IdleTimeout`]). The store ends them
/// in the same step even when it refuses the new session, so a late
/// activity write cannot bring one back after it was left uncounted.
#[derive(Debug, Clone)]
pub enum CreateDecision {
    /// Refuse the session: end `expire`, insert nothing, and return `outcome`.
    Refuse {
        /// [`CreateOutcome::LimitReached`] or [`CreateOutcome::CredentialsRevoked`].
        outcome: CreateOutcome,
        /// Unrevoked sessions found idle, as stored now.
        expire: Vec<SessionRecord>,
    },
    /// Revoke `evict` (reason [`RevokeReason::Evicted`]), `replace`
    /// (reason [`RevokeReason::Reauthenticated`]), `end` (reason
    /// [`RevokeReason::User`]) and `expire` (reason
    /// [`RevokeReason::IdleTimeout`]), insert the new session, and return
    /// [`CreateOutcome::Created`] with `evict`, `replace` and `end`.
    Admit {
        /// The first limit that forced evictions, if any.
        limit: Option<LimitKind>,
        /// Sessions to evict, as stored now (all active), in eviction order.
        evict: Vec<SessionRecord>,
        /// The active session this login replaces, as stored now.
        replace: Option<SessionRecord>,
        /// The active sessions of [`CreateRequest::ends`], as stored now.
        end: Vec<SessionRecord>,
        /// Unrevoked sessions found idle, as stored now.
        expire: Vec<SessionRecord>,
    },
}

impl CreateDecision {
    /// Every revocation the store applies in its atomic step, with its
    /// reason: evictions, the replaced session, and idle sessions.
    pub fn revocations(&self) -> Vec<(&SessionRecord, RevokeReason)> {
        let (evict, replace, end, expire): (&[SessionRecord], Option<&SessionRecord>, &[_], _) =
            match self {
                CreateDecision::Refuse { expire, .. } => (&[], None, &[], expire),
                CreateDecision::Admit {
                    evict,
                    replace,
                    end,
                    expire,
                    ..
                } => (evict, replace.as_ref(), end, expire),
            };
        evict
            .iter()
            .map(|r| (r, RevokeReason::Evicted))
            .chain(replace.map(|r| (r, RevokeReason::Reauthenticated)))
            .chain(end.iter().map(|r| (r, RevokeReason::User)))
            .chain(expire.iter().map(|r| (r, RevokeReason::IdleTimeout)))
            .collect()
    }

    /// The outcome to return once the decision is applied.
    pub fn into_outcome(self) -> CreateOutcome {
        match self {
            CreateDecision::Refuse { outcome, .. } => outcome,
            CreateDecision::Admit {
                limit,
                evict,
                replace,
                end,
                ..
            } => CreateOutcome::Created {
                limit,
                evicted: evict,
                replaced: replace,
                ended: end,
            },
        }
    }

    /// Whether the new session is inserted.
    pub fn admits(&self) -> bool {
        matches!(self, CreateDecision::Admit { .. })
    }
}

impl CreateRequest {
    /// Whether a limit applies to this login
    /// ([`crate::admission::limits_apply`]): only then must a store read the
    /// user's unrevoked sessions (under the user's lock) to decide it.
    pub fn limits_apply(&self) -> bool {
        crate::admission::limits_apply(&self.session, &self.limits)
    }

    /// Whether a store must read every unrevoked session of the user for
    /// [`CreateRequest::decide`]: when a limit applies or the request ends
    /// chosen sessions ([`CreateRequest::ends`]). Otherwise the `replaces`
    /// session alone is enough.
    pub fn reads_unrevoked(&self) -> bool {
        self.limits_apply() || !self.ends.is_empty()
    }

    /// Whether the store can insert without reading any session or
    /// taking a tenant's lock: nothing to count, replace or end, no tenant,
    /// so only the user's mark decides.
    pub fn is_plain_insert(&self) -> bool {
        !self.reads_unrevoked() && self.replaces.is_none() && self.tenant().is_none()
    }

    /// The tenant the new session signs in under. A store that
    /// [counts tenants](SessionStore::counts_tenants) takes that tenant's
    /// lock for every such create, limited or not, so no login of the
    /// tenant slips past a limited one's count.
    pub fn tenant(&self) -> Option<&crate::ids::TenantId> {
        self.session.meta.tenant.as_ref()
    }

    /// The tenant whose other users' active sessions the store must count
    /// for [`CreateRequest::decide_in_tenant`]: set when a per-tenant limit
    /// applies to this login.
    pub fn counted_tenant(&self) -> Option<&crate::ids::TenantId> {
        self.tenant().filter(|_| self.limits.per_tenant.is_some())
    }

    /// Every session this request leaves uncounted: the replaced one and
    /// the chosen ones.
    pub fn excluded(&self) -> Vec<&SessionId> {
        self.replaces.iter().chain(&self.ends).collect()
    }

    /// Whether a credential verified at
    /// [`CreateRequest::credential_verified_at`] predates `not_before`, the
    /// user's mark as the store holds it: the session must be refused.
    pub fn predates(&self, not_before: Option<Timestamp>) -> bool {
        // A tie counts as before: "checked at the change" is not after it.
        not_before.is_some_and(|mark| self.credential_verified_at <= mark)
    }

    /// Runs [`crate::admission::plan_admission`] over `existing` (the user's
    /// stored sessions, read under the user's lock) and resolves the plan to
    /// the records a store revokes. Every store's `create` is: lock, read
    /// the mark and the sessions, `decide`, apply, commit.
    ///
    /// `not_before` is the user's "not before" mark, read under the same
    /// lock. `existing` must hold at least the user's unrevoked sessions
    /// (idle ones included: they are ended) and the `replaces` session;
    /// revoked ones are ignored. When [`CreateRequest::reads_unrevoked`]
    /// is false, the `replaces` session alone is enough.
    pub fn decide(
        &self,
        existing: Vec<SessionRecord>,
        not_before: Option<Timestamp>,
    ) -> CreateDecision {
        self.decide_in_tenant(existing, not_before, 0)
    }

    /// [`CreateRequest::decide`] for a login under
    /// [`CreateRequest::counted_tenant`]: `tenant_others` is the number of
    /// active sessions (not revoked, before their end, seen after
    /// [`CreateRequest::idle_cutoff`]) of the tenant's *other* users, counted
    /// under the tenant's lock in the same atomic step.
    pub fn decide_in_tenant(
        &self,
        existing: Vec<SessionRecord>,
        not_before: Option<Timestamp>,
        tenant_others: u64,
    ) -> CreateDecision {
        // Only what admission reads is judged: every unrevoked session when
        // a limit applies, else just the replaced one.
        let counted = self.reads_unrevoked();
        let expire: Vec<SessionRecord> = existing
            .iter()
            .filter(|s| counted || Some(&s.id) == self.replaces.as_ref())
            .filter(|s| {
                s.revoked.is_none() && self.now < s.expires_at && s.last_seen_at <= self.idle_cutoff
            })
            .cloned()
            .collect();
        if let Some(not_before) = not_before.filter(|_| self.predates(not_before)) {
            return CreateDecision::Refuse {
                outcome: CreateOutcome::CredentialsRevoked { not_before },
                expire,
            };
        }
        let excluded = self.excluded();
        let scope = crate::admission::AdmissionScope {
            excluded: &excluded,
            tenant_others,
        };
        let plan = crate::admission::plan_admission_scoped(
            &existing,
            &self.session,
            &self.limits,
            self.now,
            self.idle_cutoff,
            self.touch_interval,
            &scope,
        );
        match plan {
            crate::admission::Admission::Reject { limit } => {
                let active = existing
                    .into_iter()
                    .filter(|s| s.is_active(self.now, self.idle_cutoff))
                    .collect();
                CreateDecision::Refuse {
                    outcome: CreateOutcome::LimitReached { limit, active },
                    expire,
                }
            }
            crate::admission::Admission::Admit { evict, limit } => {
                let find = |id: &SessionId| existing.iter().find(|s| &s.id == id).cloned();
                let replace = self
                    .replaces
                    .as_ref()
                    .and_then(find)
                    .filter(|s| s.is_active(self.now, self.idle_cutoff));
                // In the order the user chose them (every store the same).
                let mut named = std::collections::HashSet::new();
                let end = self
                    .ends
                    .iter()
                    .filter(|id| Some(*id) != self.replaces.as_ref() && named.insert(*id))
                    .filter_map(find)
                    .filter(|s| s.is_active(self.now, self.idle_cutoff))
                    .collect();
                CreateDecision::Admit {
                    limit,
                    evict: evict.iter().filter_map(find).collect(),
                    replace,
                    end,
                    expire,
                }
            }
        }
    }
}

/// A compare-and-swap of a session's refresh token.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    /// Owner.
    pub user: UserId,
    /// Session.
    pub id: SessionId,
    /// The generation the client presented.
    pub expected_generation: u64,
    /// SHA-256 of the secret the client presented.
    pub expected_hash: TokenHash,
    /// SHA-256 of the successor secret.
    pub new_hash: TokenHash,
    /// The current time (becomes `rotated_at` and `last_seen_at`).
    pub now: Timestamp,
    /// Sessions last seen at or before this are idle and are not rotated.
    pub idle_cutoff: Timestamp,
    /// Where the refresh came from: becomes [`crate::SeenLog::last`] when
    /// the rotation moves the activity time forward. Recent places are left
    /// as they are: the next touch folds `last` into them (a second
    /// rotation before that replaces it unfolded).
    pub seen: Option<SeenFrom>,
}

/// A conditional write of a session's last activity.
///
/// It applies only while the session is still active as the request's own
/// read judged it: not revoked, before its absolute end at `at`, and last
/// seen after `idle_cutoff`; and only when `at` is later than the stored
/// activity. Anything else is a no-op, so a touch that arrives after a
/// revocation, an eviction or a login's idle judgement never revives the
/// session.
#[derive(Debug, Clone)]
pub struct TouchRequest {
    /// Owner.
    pub user: UserId,
    /// Session.
    pub id: SessionId,
    /// The activity time to record.
    pub at: Timestamp,
    /// `at - idle_timeout`: a session last seen at or before this is idle
    /// and is not touched.
    pub idle_cutoff: Timestamp,
    /// Where the request came from, written in the same step when the
    /// touch writes (see [`SeenUpdate`] for its own condition on places).
    pub seen: Option<SeenUpdate>,
}

/// Result of [`SessionStore::rotate_refresh`].
#[derive(Debug, Clone)]
pub enum RotateOutcome {
    /// The swap happened; the record after it.
    Rotated(SessionRecord),
    /// No swap: the session is absent (`None`), inactive, or its current
    /// generation/hash differ. The record as it is now.
    Unchanged(Option<SessionRecord>),
}

/// A storage backend for sessions. Object-safe: use it as
/// `Arc<dyn SessionStore>`.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a session if it fits the limits, evicting per the plan of
    /// [`crate::admission::plan_admission`], in one atomic step.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; nothing is inserted then.
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError>;

    /// The session `id` of `user`, revoked or not; `None` when absent or
    /// owned by another user.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn get(&self, user: &UserId, id: &SessionId)
    -> Result<Option<SessionRecord>, StoreError>;

    /// Records activity, conditionally (see [`TouchRequest`]): sets
    /// `last_seen_at` to `request.at` only if the session is unrevoked,
    /// before its absolute end, last seen after `request.idle_cutoff` and
    /// before `request.at`. Returns whether it wrote. Absent sessions are
    /// ignored (`false`).
    ///
    /// With [`TouchRequest::seen`], the same write sets
    /// [`crate::SeenLog::last`], and replaces [`crate::SeenLog::places`]
    /// only if the stored `last_seen_at` equals
    /// [`SeenUpdate::read_last_seen_at`] (the places were merged from that
    /// state; another instance's later write wins over them).
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn touch(&self, request: TouchRequest) -> Result<bool, StoreError>;

    /// Replaces the refresh hash and increments the generation only if the
    /// session is active and its generation and hash equal the expected ones.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; the token is then not rotated.
    async fn rotate_refresh(&self, request: RotateRequest) -> Result<RotateOutcome, StoreError>;

    /// [`SessionStore::rotate_refresh`] that also replaces the session's
    /// descriptive facts with `meta` in the same compare-and-swap: binding a
    /// device key ([`crate::binding::KeyBinding::Dbsc`]) when the browser
    /// registers one, so the new hash and the binding it covers are written
    /// together or not at all.
    ///
    /// Every store in this workspace implements it. The default refuses
    /// (fail closed: the registration is refused, the session stays as it
    /// was).
    ///
    /// # Errors
    /// [`StoreError`] on backend failure, or [`StoreError::Backend`] from a
    /// store that cannot bind keys; nothing is written then.
    async fn rotate_refresh_binding(
        &self,
        request: RotateRequest,
        meta: SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        let _ = (request, meta);
        Err(StoreError::Backend(
            "this session store cannot bind device keys".into(),
        ))
    }

    /// Revokes one session if it is not already revoked. Returns the record
    /// as it was before, or `None` if absent, another user's, or already revoked.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; nothing is revoked then.
    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Revokes every unrevoked session of `user` except `except`, in one
    /// atomic step. Returns the records revoked, as they were before.
    ///
    /// When `reason` [raises the mark](RevokeReason::raises_not_before),
    /// the same step raises the user's "not before" mark to `at` (never
    /// lowers it), under the lock [`SessionStore::create`] takes: a login
    /// racing this call is either revoked by it or refused by the mark.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; nothing is revoked then.
    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// The user's "not before" mark, if one was ever raised.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError>;

    /// All stored sessions of `user` (revoked tombstones included), in any order.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError>;

    /// Deletes every session of `user`, tombstones included, in one step
    /// (erasure on account deletion; the manager revokes them first so
    /// cached views drop them). The user's "not before" mark stays (a
    /// timestamp under the user id): it is what refuses a login whose
    /// credential was checked before the erasure and that completes after
    /// it. Returns how many sessions were deleted.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; nothing is deleted then.
    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Deletes sessions whose absolute end is at or before `before`.
    /// Returns how many were deleted.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// A push feed of revocations for the manager's cached mode, if the
    /// backend has one.
    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        None
    }

    /// The store's record of single-use values (DPoP proof ids), shared by
    /// every instance using this store. `None` (the default) leaves the
    /// manager an in-process record, right only for a single instance.
    fn replay_store(&self) -> Option<Arc<dyn crate::binding::ReplayStore>> {
        None
    }

    /// The store's cross-user queries for operators (find sessions by
    /// network, country, app…, and end what matches). `None` (the default)
    /// makes [`crate::SessionManager::find_sessions`] and
    /// [`crate::SessionManager::revoke_matching`] answer
    /// [`crate::SessionError::DirectoryUnavailable`]. Every store in this
    /// workspace has one.
    fn directory(&self) -> Option<Arc<dyn crate::directory::SessionDirectory>> {
        None
    }

    /// Whether [`SessionStore::create`] counts a tenant's sessions across
    /// its users, under the tenant's lock, for
    /// [`crate::SessionLimits::per_tenant`] (see
    /// [`CreateRequest::decide_in_tenant`]). The default `false` makes the
    /// manager refuse logins a per-tenant limit applies to
    /// ([`crate::SessionError::LimitsUnavailable`]) instead of ignoring it.
    fn counts_tenants(&self) -> bool {
        false
    }
}

/// One message of a [`RevocationFeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedEvent {
    /// The feed is (re)connected. Messages may have been lost before this,
    /// so the receiver drops everything it cached.
    Connected,
    /// The feed lost its connection; until `Connected`, the receiver must
    /// check the store on every request.
    Disconnected,
    /// A session was revoked.
    Revoked {
        /// Owner.
        user: UserId,
        /// Session.
        id: SessionId,
        /// When, by the revoking instance's clock, if the store's message
        /// carries it (for the feed-lag metric; nothing decides on it).
        at: Option<Timestamp>,
    },
}

/// A push channel of revocations (Redis pub/sub, Postgres LISTEN/NOTIFY, …)
/// that keeps the manager's cached revocation view current.
#[async_trait]
pub trait RevocationFeed: Send + Sync + 'static {
    /// Starts a subscription. The first message must be
    /// [`FeedEvent::Connected`] once the subscription is live; the receiver
    /// treats the feed as disconnected until then and whenever the channel closes.
    ///
    /// # Errors
    /// [`StoreError`] when the subscription cannot be set up.
    async fn subscribe(&self) -> Result<tokio::sync::mpsc::Receiver<FeedEvent>, StoreError>;

    /// The worst-case delay, in the backend's normal operation, between a
    /// revocation and its message arriving. Documented by each backend.
    fn expected_latency(&self) -> Duration {
        Duration::from_millis(50)
    }
}
