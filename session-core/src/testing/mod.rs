//! The store conformance suite (feature `testing`).
//!
//! Every backend, including third-party ones, proves itself with one macro
//! call in an integration test:
//!
//! ```
//! // tests/conformance.rs of a store crate; needs tokio (macros, rt-multi-thread) as a dev-dependency.
//! # use sessionward_core::MemoryStore as MyStore;
//! # trait Connect: Sized { async fn connect(_: &str) -> Result<Self, ()>; }
//! # impl Connect for MyStore { async fn connect(_: &str) -> Result<Self, ()> { Ok(MyStore::new()) } }
//! async fn store() -> Option<std::sync::Arc<dyn sessionward_core::SessionStore>> {
//!     Some(std::sync::Arc::new(MyStore::connect("...").await.ok()?))
//! }
//! sessionward_core::store_conformance_tests!(store);
//! sessionward_core::directory_seed_test!(store);
//! # fn main() {}
//! ```
//!
//! The factory returns `None` to skip (after calling [`service_unavailable`],
//! which prints a `SKIPPED` line, or panics when
//! `SESSIONWARD_REQUIRE_SERVICES=1`). Each case uses fresh random user ids,
//! so stores may share one database between cases. Cases drive the real
//! [`crate::SessionManager`] with a [`crate::ManualClock`], and include
//! real concurrency: hundreds of parallel logins and refreshes.

pub(crate) mod cases;
mod dbsc_cases;
mod directory_cases;
mod docs;
pub mod dpop;
mod dpop_cases;
mod harness;
mod interleave;
mod limit_cases;
pub mod provider;
mod provider_cases;
// Needs tokio's net and io-util, which only the feature turns on.
#[cfg(feature = "testing")]
mod proxy;
mod race;
mod risk_cases;
mod seen_cases;
mod ssf_cases;
mod time_cases;
pub mod web;
// Needs tokio's net and io-util.
#[cfg(feature = "testing")]
pub mod http;

pub use cases::*;
pub use dbsc_cases::*;
pub use directory_cases::*;
pub use docs::quick_start_shows;
pub use dpop_cases::*;
pub use harness::{
    Harness, TestEnricher, fresh_user, require_services, service_unavailable, test_tokens,
};
pub use interleave::{ARRIVAL_TIMEOUT, HeldStore, Hold, StoreCall};
pub use limit_cases::*;
pub use provider_cases::*;
#[cfg(feature = "testing")]
pub use proxy::{TcpProxy, socket_of, url_via};
pub use race::random_interleavings;
pub use risk_cases::*;
pub use seen_cases::*;
pub use ssf_cases::*;
pub use time_cases::*;

/// Expands to one `#[tokio::test]` per conformance case, each calling
/// `$factory().await` for a store (`None` skips the case).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            login_then_authenticate,
            feed_announces_revocations_with_their_time,
            list_shows_only_own_active_sessions,
            concurrent_logins_reject_new,
            concurrent_logins_evict_oldest,
            concurrent_logins_evict_lru,
            evict_oldest_picks_oldest_login,
            evict_lru_picks_least_recent_activity,
            reject_new_reports_active_sessions,
            concurrent_logins_per_ip_limit,
            concurrent_logins_per_device_class_limit,
            concurrent_logins_country_limit,
            refresh_rotates_and_reuse_revokes_family,
            refresh_grace_returns_same_successor,
            refresh_grace_only_for_immediate_predecessor,
            concurrent_refresh_rotates_once_without_grace,
            concurrent_refresh_with_grace_shares_successor,
            forged_refresh_revokes_nothing,
            revoke_one_kills_access_and_refresh,
            revoke_other_users_session_is_not_found,
            revoke_all_and_revoke_others,
            idle_timeout_and_activity_reset,
            absolute_lifetime_caps_refresh,
            access_token_expiry,
            revoke_races_authenticate_and_refresh,
            reauthentication_replaces_session,
            purge_removes_only_ended_sessions,
            revocation_is_durable_tombstone,
            store_contract_rotate_and_touch,
            events_never_contain_raw_tokens,
            cached_mode_sees_revocation,
            random_interleavings,
            late_touch_after_idle_judgement,
            late_touch_after_revoke,
            late_rotate_after_revoke,
            rotate_racing_eviction,
            skewed_clocks_around_idle_boundary,
            held_login_after_password_change,
            logins_racing_password_change,
            lru_counts_unrecorded_use,
            last_seen_is_recorded_by_touch_and_refresh,
            recent_places_are_bounded,
            seen_writes_are_conditional,
            overview_lists_signed_out_sessions,
            erase_user_removes_everything,
            ended_sessions_are_kept_for_the_retention,
            dpop_binding_holds_across_instances,
            dpop_proof_on_an_unbound_session,
            dpop_failures_end_only_genuine_sessions,
            dbsc_binding_holds_across_instances,
            dbsc_racing_registrations_bind_one_key,
            resolver_limits_hold_under_concurrent_logins,
            per_app_limits_under_concurrency,
            two_limits_hit_at_once_end_one_session,
            continuation_ends_chosen_sessions_and_signs_in,
            continuation_redeemed_twice_concurrently,
            continuation_refuses_bad_tickets,
            continuation_races_an_ordinary_login,
            tenant_limits_hold_across_users,
            provider_logout_ends_the_named_session,
            directory_finds_sessions_across_users,
            revoke_matching_ends_exactly_what_matches,
            revoke_matching_rechecks_at_the_write,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(store) = $factory().await else { return };
                $crate::testing::$case(store).await;
            }
        )+
    };
}

/// Expands to the one `#[tokio::test]` that seeds
/// [`LARGE_SEED`] sessions and pages through them
/// ([`directory_pages_a_large_seed`]). Call it once per backend (on its
/// main configuration): it is the suite's slowest case, and it checks the
/// directory's indexes, not the configuration.
#[macro_export]
macro_rules! directory_seed_test {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory; directory_pages_a_large_seed);
    };
}

/// Expands to one `#[tokio::test]` per [`crate::risk::RiskStore`] case,
/// each calling `$factory().await` (`None` skips the case).
#[macro_export]
macro_rules! risk_store_conformance_tests {
    ($factory:path) => {
        $crate::risk_store_conformance_tests!(@cases $factory;
            risk_history_first_then_known,
            risk_burst_counts_logins_per_ip,
            risk_consume_once_is_single_use,
            risk_forget_user_drops_history,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(store) = $factory().await else { return };
                $crate::testing::$case(store).await;
            }
        )+
    };
}
