//! The per-user login history that risk scoring reads, and single-use
//! token ids — the storage side of risk, implemented by every backend.

use std::net::IpAddr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::store::StoreError;
use crate::time::Timestamp;

/// Facts of one login that the history keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginFacts {
    /// Device fingerprints of this login: always `ua:<browser>|<os>|<class>`,
    /// plus `id:<sha256 of the device-id cookie>` when the client sent one.
    pub fingerprints: Vec<String>,
    /// Country code, when known.
    pub country: Option<String>,
    /// Autonomous system number, when known.
    pub asn: Option<u32>,
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// Latitude, when known.
    pub latitude: Option<f64>,
    /// Longitude, when known.
    pub longitude: Option<f64>,
    /// When.
    pub at: Timestamp,
}

/// The previous successful login of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousLogin {
    /// When.
    pub at: Timestamp,
    /// Country code.
    pub country: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
}

/// What the history knew before a login.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorHistory {
    /// The user has no recorded login at all.
    pub first_login: bool,
    /// One of the login's fingerprints was seen before for this user.
    pub known_device: bool,
    /// The country was seen before for this user (true when unknown).
    pub known_country: bool,
    /// The ASN was seen before for this user (true when unknown).
    pub known_asn: bool,
    /// The user's most recent login.
    pub previous: Option<PreviousLogin>,
    /// Logins (of any user) recorded from the same IP since the burst window start.
    pub recent_logins_from_ip: u32,
}

/// Storage for risk scoring: login history and single-use token ids.
///
/// Implemented by every sessionward backend. The conformance cases in
/// the `testing` module (feature `testing`, `risk_store_conformance_tests!`) check an implementation.
#[async_trait]
pub trait RiskStore: Send + Sync + 'static {
    /// What was known about `facts` for `user` before this login, and how
    /// many logins came from `facts.ip` since `burst_since`.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure (the login then fails closed).
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError>;

    /// Records a successful login. Entries older than `keep_since` may be dropped.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes everything kept about `user`'s past logins (erasure on
    /// account deletion). Per-address login counts, which name no user,
    /// expire on their own.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError>;

    /// Marks a single-use token id as used. Returns `true` the first time
    /// and `false` on every later call, atomically, until `expires_at`
    /// (entries already expired at `now` may be dropped).
    ///
    /// # Errors
    /// [`StoreError`] on backend failure (the token is then refused).
    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}
