//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`):
//! install any recorder (a Prometheus exporter, StatsD, …) in the host app
//! and these appear. Nothing is recorded without one, and nothing here
//! carries a user id, a session id or a token: labels are fixed sets of
//! names.
//!
//! | name | type | labels | counts / measures |
//! |---|---|---|---|
//! | `sessionward_logins_total` | counter | | sessions created by a login |
//! | `sessionward_limit_hits_total` | counter | `limit` (`per_user`, `per_ip`, `per_device_class`, `countries`), `action` ([`OnLimit::as_str`]: `reject_new`, `evict_oldest`, `evict_least_recently_used`) | logins that ran into a limit |
//! | `sessionward_evictions_total` | counter | | sessions ended to make room for a login |
//! | `sessionward_revocations_total` | counter | `reason` ([`RevokeReason::as_str`]) | sessions ended, evictions included |
//! | `sessionward_refreshes_total` | counter | | token rotations |
//! | `sessionward_refresh_reuse_total` | counter | | rotated refresh tokens presented again (the session is revoked) |
//! | `sessionward_rejections_total` | counter | `reason`: a [`TokenRejection::as_str`], `idle_timeout`, `absolute_timeout` or `session_ended` | refused tokens |
//! | `sessionward_store_errors_total` | counter | `kind` (`unavailable`, `conflict`, `corrupt`, `backend`) | failed store operations |
//! | `sessionward_authenticate_seconds` | histogram | `outcome` (`ok`, `refused`, `error`) | time of [`SessionManager::authenticate`] |
//! | `sessionward_detections_total` | counter | `detector` (`credential_stuffing`, `account_many_networks`, `token_reuse_burst`) | cross-account detections of [`crate::detect::DetectingSink`] |
//! | `sessionward_ssf_sets_total` | counter | `outcome` (`queued`, `queue_failed`, `delivered`, `refused`, `retrying`, `expired`) | Security Event Tokens of the [`crate::ssf::Transmitter`] |
//! | `sessionward_feed_events_total` | counter | `kind` (`connected`, `disconnected`, `revoked`) | revocation-feed messages a cached-mode manager received |
//! | `sessionward_feed_connected` | gauge | | 1 while the revocation feed is connected, else 0 |
//! | `sessionward_feed_lag_seconds` | histogram | | from a revocation on any instance to its arrival here (stores that send the time: Postgres, Redis) |
//!
//! [`RevokeReason::as_str`]: crate::RevokeReason::as_str
//! [`OnLimit::as_str`]: crate::OnLimit::as_str
//! [`TokenRejection::as_str`]: crate::tokens::TokenRejection::as_str
//! [`SessionManager::authenticate`]: crate::SessionManager::authenticate

use std::time::Duration;

use crate::events::{EventKind, SecurityEvent};
use crate::record::{Inactive, RevokeReason};
use crate::store::{FeedEvent, StoreError};
use crate::time::Timestamp;

/// Sessions created by a login.
pub const LOGINS: &str = "sessionward_logins_total";
/// Logins that ran into a limit, by `limit` and `action`.
pub const LIMIT_HITS: &str = "sessionward_limit_hits_total";
/// Sessions ended to make room for a login.
pub const EVICTIONS: &str = "sessionward_evictions_total";
/// Sessions ended, by `reason`.
pub const REVOCATIONS: &str = "sessionward_revocations_total";
/// Token rotations.
pub const REFRESHES: &str = "sessionward_refreshes_total";
/// Rotated refresh tokens presented again.
pub const REUSE_DETECTIONS: &str = "sessionward_refresh_reuse_total";
/// Refused tokens, by `reason`.
pub const REJECTIONS: &str = "sessionward_rejections_total";
/// Failed store operations, by `kind`.
pub const STORE_ERRORS: &str = "sessionward_store_errors_total";
/// Time of `authenticate`, by `outcome`.
pub const AUTHENTICATE_SECONDS: &str = "sessionward_authenticate_seconds";
/// Cross-account detections, by `detector`.
pub const DETECTIONS: &str = "sessionward_detections_total";
/// Security Event Tokens of the transmitter, by `outcome`.
pub const SSF_SETS: &str = "sessionward_ssf_sets_total";
/// Revocation-feed messages received, by `kind`.
pub const FEED_EVENTS: &str = "sessionward_feed_events_total";
/// 1 while the revocation feed is connected.
pub const FEED_CONNECTED: &str = "sessionward_feed_connected";
/// From a revocation to its arrival over the feed.
pub const FEED_LAG_SECONDS: &str = "sessionward_feed_lag_seconds";

fn ended_name(reason: Inactive) -> &'static str {
    match reason {
        Inactive::IdleTimeout => "idle_timeout",
        Inactive::AbsoluteTimeout => "absolute_timeout",
        Inactive::Revoked(_) => "session_ended",
    }
}

/// Counts what a security event says.
pub(crate) fn event(event: &SecurityEvent) {
    match &event.kind {
        EventKind::SessionCreated => ::metrics::counter!(LOGINS).increment(1),
        EventKind::SessionRenewed { .. } => ::metrics::counter!(REFRESHES).increment(1),
        EventKind::SessionRevoked { reason } => {
            ::metrics::counter!(REVOCATIONS, "reason" => reason.as_str()).increment(1);
            if *reason == RevokeReason::Evicted {
                ::metrics::counter!(EVICTIONS).increment(1);
            }
        }
        EventKind::SessionLimitReached { limit, action } => ::metrics::counter!(
            LIMIT_HITS,
            "limit" => limit.as_str(),
            "action" => action.as_str()
        )
        .increment(1),
        EventKind::TokenReuse { .. } => ::metrics::counter!(REUSE_DETECTIONS).increment(1),
        EventKind::TokenRejected { why } => {
            ::metrics::counter!(REJECTIONS, "reason" => why.as_str()).increment(1);
        }
        EventKind::SessionExpired { reason } | EventKind::SessionUseAfterExpire { reason } => {
            ::metrics::counter!(REJECTIONS, "reason" => ended_name(*reason)).increment(1);
        }
        _ => {}
    }
}

/// Counts a cross-account detection.
pub(crate) fn detection(event: &SecurityEvent) {
    let detector = match event.kind {
        EventKind::CredentialStuffing(_) => "credential_stuffing",
        EventKind::AccountManyNetworks(_) => "account_many_networks",
        EventKind::TokenReuseBurst(_) => "token_reuse_burst",
        _ => return,
    };
    ::metrics::counter!(DETECTIONS, "detector" => detector).increment(1);
}

/// Counts SETs queued for delivery.
pub(crate) fn ssf_queued(n: usize) {
    ::metrics::counter!(SSF_SETS, "outcome" => "queued").increment(n as u64);
}

/// Counts SETs that could not be queued (the outbox store failed).
pub(crate) fn ssf_queue_failed(n: usize) {
    ::metrics::counter!(SSF_SETS, "outcome" => "queue_failed").increment(n as u64);
}

/// Counts what a delivery pass did.
pub(crate) fn ssf_delivery(report: &crate::ssf::DeliveryReport) {
    for (outcome, n) in [
        ("delivered", report.delivered),
        ("refused", report.refused),
        ("retrying", report.retrying),
        ("expired", report.expired),
    ] {
        if n > 0 {
            ::metrics::counter!(SSF_SETS, "outcome" => outcome).increment(n as u64);
        }
    }
}

/// Counts a failed store operation.
pub(crate) fn store_error(error: &StoreError) {
    let kind = match error {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Conflict(_) => "conflict",
        StoreError::IdTaken => "id_taken",
        StoreError::Corrupt(_) => "corrupt",
        _ => "backend",
    };
    ::metrics::counter!(STORE_ERRORS, "kind" => kind).increment(1);
}

/// How `authenticate` ended: `ok`, `refused` (a token or session refusal)
/// or `error` (the store failed).
pub(crate) fn authenticated(elapsed: Duration, outcome: &'static str) {
    ::metrics::histogram!(AUTHENTICATE_SECONDS, "outcome" => outcome).record(elapsed.as_secs_f64());
}

/// Counts a feed message; `now` is the receiving instance's clock.
pub(crate) fn feed(event: &FeedEvent, now: Timestamp) {
    let kind = match event {
        FeedEvent::Connected => {
            ::metrics::gauge!(FEED_CONNECTED).set(1.0);
            "connected"
        }
        FeedEvent::Disconnected => {
            ::metrics::gauge!(FEED_CONNECTED).set(0.0);
            "disconnected"
        }
        FeedEvent::Revoked { at, .. } => {
            if let Some(at) = at {
                let lag_ms = now.unix_millis().saturating_sub(at.unix_millis()).max(0);
                ::metrics::histogram!(FEED_LAG_SECONDS).record(lag_ms as f64 / 1000.0);
            }
            "revoked"
        }
    };
    ::metrics::counter!(FEED_EVENTS, "kind" => kind).increment(1);
}
