//! Mid-session anomalies with the injected clock and the bundled test
//! GeoIP addresses: a browser change, impossible travel, two networks
//! taking turns, both at once, and shadow mode; each produces exactly the
//! expected signals, events, notices and action.

use std::sync::Arc;
use std::time::Duration;

use sessionward_core::events::MemorySink;
use sessionward_core::notify::OutboxNotifier;
use sessionward_core::risk::{MidSessionConfig, RiskConfig};
use sessionward_core::tokens::{SigningKey, TokenConfig, TokenRejection};
use sessionward_core::{
    Clock, Enricher, Inactive, ManualClock, MemoryStore, NoticeLinks, RequestContext, RevokeReason,
    RiskEngine, SessionError, SessionManager, SessionPolicy, SystemClock, UserId,
};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// London (GeoIP2 test data).
const LONDON: &str = "81.2.69.142";
/// Boxford, about 90 km from London, another network.
const BOXFORD: &str = "2.125.160.216";
/// Changchun, China.
const CHANGCHUN: &str = "175.16.199.1";

struct Story {
    manager: SessionManager,
    clock: ManualClock,
    events: Arc<MemorySink>,
    outbox: Arc<OutboxNotifier>,
    store: Arc<MemoryStore>,
}

fn story(mid: MidSessionConfig) -> Story {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(SystemClock.now());
    let events = Arc::new(MemorySink::new(10_000));
    let outbox = Arc::new(OutboxNotifier::new(100));
    let links = NoticeLinks {
        sessions_url: "https://app.test/sessions".into(),
        not_me_url: "https://app.test/auth/sessions/not-me".into(),
    };
    let engine = RiskEngine::new(RiskConfig::default(), store.clone())
        .with_notifier(outbox.clone(), links)
        .with_mid_session(mid);
    let policy = SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let tokens = TokenConfig::builder("https://auth.test", "api")
        .signing_key(SigningKey::hs256("k1", &[9; 32]).unwrap())
        .refresh_key([8; 32])
        .build()
        .unwrap();
    let manager = SessionManager::builder(policy, tokens, store.clone())
        .clock(Arc::new(clock.clone()))
        .events(events.clone())
        .enricher(Arc::new(Enricher::bundled().unwrap()))
        .risk(engine)
        .build()
        .unwrap();
    Story {
        manager,
        clock,
        events,
        outbox,
        store,
    }
}

fn ctx(ua: &str, ip: &str) -> RequestContext {
    RequestContext::new()
        .with_user_agent(ua)
        .with_ip(ip.parse().unwrap())
}

impl Story {
    /// Logs alice in on Chrome in London; returns the access token.
    async fn login(&self) -> String {
        let user = UserId::new("alice").unwrap();
        let login = self
            .manager
            .login(&user, &ctx(CHROME_WINDOWS, LONDON))
            .await
            .unwrap();
        self.events.clear();
        login.tokens.access_token.expose_secret().to_owned()
    }

    /// A request `after` the previous one, when its activity write is due.
    async fn use_from(
        &self,
        token: &str,
        after: Duration,
        ua: &str,
        ip: &str,
    ) -> Result<(), SessionError> {
        self.clock.advance(after);
        self.manager
            .authenticate_with(token, &ctx(ua, ip))
            .await
            .map(drop)
    }

    fn anomaly_events(&self) -> Vec<&'static str> {
        self.events
            .names()
            .into_iter()
            .filter(|n| n.starts_with("authn_session_"))
            .collect()
    }

    fn headlines(&self) -> Vec<String> {
        // The first login's own notice is not about an anomaly.
        self.outbox
            .all()
            .iter()
            .filter(|n| n.anomaly.is_some())
            .map(|n| n.headline())
            .collect()
    }
}

const MINUTES_5: Duration = Duration::from_secs(300);

/// The default thresholds, acted on (the default is shadow mode).
fn enforcing() -> MidSessionConfig {
    MidSessionConfig {
        shadow: false,
        ..MidSessionConfig::default()
    }
}

/// Another browser on another OS mid-session: `device_changed` (60), the
/// step-up action: that client is refused (`SuspiciousUse`: wipe, sign in
/// again) on every request, while the owner's browser keeps working.
#[tokio::test]
async fn browser_change_requires_signing_in_again() {
    let s = story(enforcing());
    let token = s.login().await;
    let refused = s.use_from(&token, MINUTES_5, FIREFOX_LINUX, LONDON).await;
    assert!(
        matches!(refused, Err(SessionError::SuspiciousUse)),
        "{refused:?}"
    );
    assert_eq!(s.anomaly_events(), ["authn_session_device_changed"]);
    let event = &s.events.events()[0];
    let json = serde_json::to_value(event).unwrap();
    assert_eq!(json["action"], "step_up");
    assert_eq!(json["weight"], 60);
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("Firefox on Linux"),
        "{json}"
    );
    // No activity was written: the next request is compared and refused again.
    let again = s
        .use_from(&token, Duration::from_secs(1), FIREFOX_LINUX, LONDON)
        .await;
    assert!(matches!(again, Err(SessionError::SuspiciousUse)));
    s.use_from(&token, Duration::from_secs(1), CHROME_WINDOWS, LONDON)
        .await
        .unwrap();
    assert!(s.headlines().is_empty(), "step-up sends no notice");
}

/// London, then Changchun five minutes later on the same browser:
/// `impossible_travel` (50), notify: the request goes on, the user is told,
/// and the session list shows the signal on the last use.
#[tokio::test]
async fn impossible_travel_notifies() {
    let s = story(enforcing());
    let token = s.login().await;
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, CHANGCHUN)
        .await
        .unwrap();
    assert_eq!(s.anomaly_events(), ["authn_session_impossible_travel"]);
    let headlines = s.headlines();
    assert_eq!(headlines.len(), 1, "{headlines:?}");
    assert!(
        headlines[0].starts_with("Your session on Chrome 131 on Windows")
            && headlines[0].contains("Changchun"),
        "{headlines:?}"
    );
    let user = UserId::new("alice").unwrap();
    let list = s.manager.list(&user, None).await.unwrap();
    assert_eq!(
        list[0].last_seen.as_ref().unwrap().anomalies,
        ["impossible_travel"]
    );
}

/// Firefox on Linux in Changchun five minutes after Chrome in London: both
/// signals (110), revoke: the session ends with reason `anomaly` and the
/// notice says so.
#[tokio::test]
async fn both_at_once_ends_the_session() {
    let s = story(enforcing());
    let token = s.login().await;
    let ended = s
        .use_from(&token, MINUTES_5, FIREFOX_LINUX, CHANGCHUN)
        .await;
    assert!(
        matches!(
            ended,
            Err(SessionError::SessionEnded(Inactive::Revoked(
                RevokeReason::Anomaly
            )))
        ),
        "{ended:?}"
    );
    assert_eq!(
        s.anomaly_events(),
        [
            "authn_session_device_changed",
            "authn_session_impossible_travel"
        ]
    );
    assert!(s.events.names().contains(&"authn_token_revoked"));
    let headlines = s.headlines();
    assert_eq!(headlines.len(), 1);
    assert!(
        headlines[0].contains("was used from Firefox 133 on Linux in Changchun")
            && headlines[0].ends_with("we signed it out"),
        "{headlines:?}"
    );
    // The owner's own browser is refused now too: the session is over.
    let after = s
        .use_from(&token, Duration::from_secs(1), CHROME_WINDOWS, LONDON)
        .await;
    assert!(matches!(after, Err(SessionError::SessionEnded(_))));
}

/// London, Boxford, London again within the window: the return is
/// `network_alternation` (30), notify. Moving once is not.
#[tokio::test]
async fn two_networks_taking_turns() {
    let s = story(enforcing());
    let token = s.login().await;
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, BOXFORD)
        .await
        .unwrap();
    assert!(s.anomaly_events().is_empty(), "one move is no signal");
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, LONDON)
        .await
        .unwrap();
    assert_eq!(s.anomaly_events(), ["authn_session_network_alternation"]);
    assert_eq!(s.headlines().len(), 1);
    // Outside the window it is just a move back.
    let s = story(enforcing());
    let token = s.login().await;
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, BOXFORD)
        .await
        .unwrap();
    s.use_from(&token, Duration::from_secs(20 * 60), CHROME_WINDOWS, LONDON)
        .await
        .unwrap();
    assert!(s.anomaly_events().is_empty());
}

/// Shadow mode, the default, logs the same signals and action and changes
/// nothing.
#[tokio::test]
async fn shadow_mode_changes_nothing() {
    assert!(MidSessionConfig::default().shadow, "shadow by default");
    let s = story(MidSessionConfig::default());
    let token = s.login().await;
    s.use_from(&token, MINUTES_5, FIREFOX_LINUX, CHANGCHUN)
        .await
        .unwrap();
    assert_eq!(
        s.anomaly_events(),
        [
            "authn_session_device_changed",
            "authn_session_impossible_travel"
        ]
    );
    let json = serde_json::to_value(&s.events.events()[0]).unwrap();
    assert_eq!(
        (json["action"].as_str(), json["shadow"].as_bool()),
        (Some("revoke"), Some(true))
    );
    assert!(s.headlines().is_empty());
    let user = UserId::new("alice").unwrap();
    assert_eq!(
        s.manager.list(&user, None).await.unwrap().len(),
        1,
        "still active"
    );
    let _ = &s.store;
}

/// A refresh is compared too, before it rotates: the revoking case ends
/// the session and hands out no tokens.
#[tokio::test]
async fn refresh_is_compared_before_rotating() {
    let s = story(enforcing());
    let user = UserId::new("alice").unwrap();
    let login = s
        .manager
        .login(&user, &ctx(CHROME_WINDOWS, LONDON))
        .await
        .unwrap();
    s.clock.advance(MINUTES_5);
    let refused = s
        .manager
        .refresh_with(&login.tokens.refresh_token, &ctx(FIREFOX_LINUX, CHANGCHUN))
        .await;
    assert!(
        matches!(
            refused,
            Err(SessionError::SessionEnded(Inactive::Revoked(
                RevokeReason::Anomaly
            )))
        ),
        "{refused:?}"
    );
    // A forged token for the same session triggers nothing.
    let s = story(enforcing());
    let login = s
        .manager
        .login(&user, &ctx(CHROME_WINDOWS, LONDON))
        .await
        .unwrap();
    let real = login.tokens.refresh_token.expose_secret();
    // One character well inside the secret, so the token still parses.
    let mut chars: Vec<char> = real.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    s.clock.advance(MINUTES_5);
    let r = s
        .manager
        .refresh_with(
            &sessionward_core::RefreshToken::new(forged),
            &ctx(FIREFOX_LINUX, CHANGCHUN),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(SessionError::InvalidToken(
                TokenRejection::UnknownRefreshToken
            ))
        ),
        "a parsed token whose secret is wrong: {r:?}"
    );
    assert!(
        s.events
            .names()
            .iter()
            .all(|n| !n.starts_with("authn_session_"))
    );
    assert_eq!(s.manager.list(&user, None).await.unwrap().len(), 1);
}

/// A thief holding a DPoP-bound session's refresh token but not its key
/// cannot get the session ended by looking different: the request is
/// refused for the missing proof before anything is compared.
#[tokio::test]
async fn a_copied_bound_refresh_token_ends_nothing() {
    use sessionward_core::binding::{DpopRequest, ProofError};
    use sessionward_core::testing::dpop::DpopKey;
    let s = story(enforcing());
    let user = UserId::new("alice").unwrap();
    let key = DpopKey::p256();
    let uri = "https://app.test/login";
    let proof = key.proof("POST", uri, None, None, s.clock.now());
    let login = s
        .manager
        .login(
            &user,
            &ctx(CHROME_WINDOWS, LONDON).with_dpop(DpopRequest::new(proof, "POST", uri)),
        )
        .await
        .unwrap();
    s.events.clear();
    s.clock.advance(MINUTES_5);
    let r = s
        .manager
        .refresh_with(&login.tokens.refresh_token, &ctx(FIREFOX_LINUX, CHANGCHUN))
        .await;
    assert!(
        matches!(r, Err(SessionError::Proof(ProofError::Missing))),
        "{r:?}"
    );
    assert!(s.anomaly_events().is_empty(), "{:?}", s.events.names());
    assert_eq!(
        s.manager.list(&user, None).await.unwrap().len(),
        1,
        "still active"
    );
}

/// A dual-stack client switching between its IPv4 and IPv6 addresses is
/// not two networks taking turns.
#[tokio::test]
async fn dual_stack_is_not_alternation() {
    let s = story(enforcing());
    let token = s.login().await;
    // An IPv6 address without location data, then London's IPv4 again.
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, "2001:db8::1")
        .await
        .unwrap();
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, LONDON)
        .await
        .unwrap();
    s.use_from(&token, MINUTES_5, CHROME_WINDOWS, "2001:db8::1")
        .await
        .unwrap();
    assert!(s.anomaly_events().is_empty(), "{:?}", s.events.names());
}
