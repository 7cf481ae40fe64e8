//! The scripted device/location story from the risk issue, with an injected
//! clock: signals, scores, events and notices are exactly as expected.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sessionward_core::events::MemorySink;
use sessionward_core::notify::{NewLoginNotice, Notifier, NotifyError, OutboxNotifier};
use sessionward_core::risk::{RiskAction, RiskConfig};
use sessionward_core::tokens::{SigningKey, TokenConfig, TokenRejection};
use sessionward_core::{
    ActionToken, Clock, DeviceClass, DeviceInfo, Enrichment, Location, LoginEnricher, ManualClock,
    MemoryStore, NoticeLinks, RequestContext, RiskEngine, SessionError, SessionManager,
    SessionPolicy, SystemClock, UserId,
};

/// Maps the story's user agents and IPs to device and location facts.
struct StoryEnricher;

impl LoginEnricher for StoryEnricher {
    fn enrich(&self, ctx: &RequestContext) -> Enrichment {
        let (browser, os, class) = match ctx.user_agent().unwrap_or("") {
            "chrome-windows" => ("Chrome", "Windows", DeviceClass::Desktop),
            "safari-ios" => ("Mobile Safari", "iOS", DeviceClass::Mobile),
            _ => ("Other", "Other", DeviceClass::Other),
        };
        let location = match ctx.ip().map(|i| i.to_string()).as_deref() {
            Some("81.2.69.142") => Location {
                country_code: Some("GB".into()),
                country_name: Some("United Kingdom".into()),
                city: Some("London".into()),
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
                ..Location::default()
            },
            Some("89.160.20.128") => Location {
                country_code: Some("SE".into()),
                country_name: Some("Sweden".into()),
                city: Some("Linköping".into()),
                latitude: Some(58.4167),
                longitude: Some(15.6167),
                ..Location::default()
            },
            _ => Location::default(),
        };
        Enrichment {
            class,
            device: DeviceInfo {
                browser: Some(browser.into()),
                os: Some(os.into()),
                ..DeviceInfo::default()
            },
            location,
            anonymous_ip: false,
        }
    }
}

struct Story {
    manager: SessionManager,
    clock: ManualClock,
    events: Arc<MemorySink>,
    outbox: Arc<OutboxNotifier>,
    user: UserId,
}

fn test_tokens() -> TokenConfig {
    TokenConfig::builder("https://auth.test", "api")
        .signing_key(SigningKey::hs256("k1", &[9; 32]).unwrap())
        .refresh_key([8; 32])
        .build()
        .unwrap()
}

fn story_with(config: RiskConfig, notifier: Option<Arc<dyn Notifier>>) -> Story {
    story_on(config, notifier, Arc::new(StoryEnricher))
}

fn story_on(
    config: RiskConfig,
    notifier: Option<Arc<dyn Notifier>>,
    enricher: Arc<dyn LoginEnricher>,
) -> Story {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(SystemClock.now());
    let events = Arc::new(MemorySink::new(10_000));
    let outbox = Arc::new(OutboxNotifier::new(100));
    let links = NoticeLinks {
        sessions_url: "https://app.test/sessions".into(),
        not_me_url: "https://app.test/auth/sessions/not-me".into(),
    };
    let engine = RiskEngine::new(config, store.clone())
        .with_notifier(notifier.unwrap_or_else(|| outbox.clone()), links);
    // Long idle timeout: the story spans hours of one user's devices.
    let policy = SessionPolicy::builder()
        .idle_timeout(Duration::from_secs(4 * 3600))
        .build()
        .unwrap();
    let manager = SessionManager::builder(policy, test_tokens(), store)
        .clock(Arc::new(clock.clone()))
        .events(events.clone())
        .enricher(enricher)
        .risk(engine)
        .build()
        .unwrap();
    Story {
        manager,
        clock,
        events,
        outbox,
        user: UserId::new("alice").unwrap(),
    }
}

fn ctx(ua: &str, ip: &str) -> RequestContext {
    RequestContext::new()
        .with_user_agent(ua)
        .with_ip(ip.parse().unwrap())
}

fn signal_events(events: &MemorySink) -> Vec<&'static str> {
    events
        .names()
        .into_iter()
        .filter(|n| n.starts_with("authn_") && *n != "authn_login_risk")
        .collect()
}

#[tokio::test]
async fn london_new_device_sweden_known_device() {
    let s = story_with(RiskConfig::default(), None);

    // 1. First ever login, London, Chrome on Windows: nothing to compare with.
    let first = s
        .manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    assert!(first.session.meta.risk.signals.is_empty());
    assert_eq!(first.session.meta.risk.level, "low");
    assert!(s.outbox.all().is_empty());

    // 2. Ten minutes later, a new device in London: new_device (20), low, notice.
    s.clock.advance(Duration::from_secs(600));
    s.events.clear();
    let phone = s
        .manager
        .login(&s.user, &ctx("safari-ios", "81.2.69.142"))
        .await
        .unwrap();
    let risk = &phone.session.meta.risk;
    assert_eq!(
        risk.signals
            .iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>(),
        vec!["new_device"]
    );
    assert_eq!((risk.score, risk.level.as_str()), (20, "low"));
    assert_eq!(signal_events(&s.events), vec!["authn_new_device"]);
    let notices = s.outbox.all();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0].headline(),
        "New login from Mobile Safari on iOS in London, United Kingdom"
    );
    assert!(
        notices[0]
            .not_me_url
            .starts_with("https://app.test/auth/sessions/not-me?token=")
    );
    assert_eq!(notices[0].sessions_url, "https://app.test/sessions");

    // 3. One hour later, the known laptop logs in from Sweden: new country
    //    (40) + impossible travel (60) = 100, high → step-up required.
    s.clock.advance(Duration::from_secs(3600));
    s.events.clear();
    let challenge = match s
        .manager
        .login(&s.user, &ctx("chrome-windows", "89.160.20.128"))
        .await
    {
        Err(SessionError::StepUpRequired(c)) => c,
        other => panic!("expected step-up, got {other:?}"),
    };
    assert_eq!(challenge.risk.score, 100);
    assert_eq!(challenge.risk.level, "high");
    let mut names: Vec<_> = challenge
        .risk
        .signals
        .iter()
        .map(|x| x.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, vec!["impossible_travel", "new_country"]);
    let mut evs = signal_events(&s.events);
    evs.sort();
    assert_eq!(evs, vec!["authn_impossible_travel", "authn_new_country"]);
    assert_eq!(
        s.manager.list(&s.user, None).await.unwrap().len(),
        2,
        "no session before step-up"
    );
    assert_eq!(s.outbox.all().len(), 1, "no notice before step-up");

    // The host verifies a second factor, then completes the login once.
    let stepped = s
        .manager
        .complete_step_up(&challenge.token, &ctx("chrome-windows", "89.160.20.128"))
        .await
        .unwrap();
    assert_eq!(stepped.session.meta.risk.score, 100);
    assert_eq!(s.outbox.all().len(), 2, "a notice for the stepped-up login");
    assert!(
        s.outbox.all()[1]
            .headline()
            .ends_with("in Linköping, Sweden")
    );
    assert!(matches!(
        s.manager
            .complete_step_up(&challenge.token, &ctx("chrome-windows", "89.160.20.128"))
            .await,
        Err(SessionError::InvalidToken(TokenRejection::AlreadyUsed))
    ));

    // 4. Same laptop, same place, later: no signal, no notice.
    s.clock.advance(Duration::from_secs(1800));
    s.events.clear();
    let again = s
        .manager
        .login(&s.user, &ctx("chrome-windows", "89.160.20.128"))
        .await
        .unwrap();
    assert!(again.session.meta.risk.signals.is_empty());
    assert!(signal_events(&s.events).is_empty());
    assert_eq!(s.outbox.all().len(), 2);

    // The list highlights the flags.
    let list = s
        .manager
        .list(&s.user, Some(&again.session.id))
        .await
        .unwrap();
    assert!(
        list.iter()
            .any(|v| v.risk.signals.iter().any(|x| x.name == "new_country"))
    );
}

#[tokio::test]
async fn not_me_link_revokes_everything_once() {
    let s = story_with(RiskConfig::default(), None);
    let a = s
        .manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(60));
    s.manager
        .login(&s.user, &ctx("safari-ios", "81.2.69.142"))
        .await
        .unwrap();
    let url = s.outbox.all()[0].not_me_url.clone();
    let token = ActionToken::new(url.split("token=").nth(1).unwrap());

    // Tampered: flip a character of the signature.
    let mut forged = token.expose_secret().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(matches!(
        s.manager.redeem_not_me(&ActionToken::new(forged)).await,
        Err(SessionError::InvalidToken(_))
    ));
    // An access token is not an action token, and vice versa.
    assert!(matches!(
        s.manager
            .redeem_not_me(&ActionToken::new(a.tokens.access_token.expose_secret()))
            .await,
        Err(SessionError::InvalidToken(TokenRejection::WrongType))
    ));
    assert!(matches!(
        s.manager.authenticate(token.expose_secret()).await,
        Err(SessionError::InvalidToken(TokenRejection::WrongType))
    ));

    assert_eq!(s.manager.redeem_not_me(&token).await.unwrap(), 2);
    assert!(
        s.manager
            .authenticate(a.tokens.access_token.expose_secret())
            .await
            .is_err()
    );
    assert!(s.events.names().contains(&"authn_not_me"));
    assert!(matches!(
        s.manager.redeem_not_me(&token).await,
        Err(SessionError::InvalidToken(TokenRejection::AlreadyUsed))
    ));
}

#[tokio::test]
async fn not_me_link_expires() {
    let s = story_with(RiskConfig::default(), None);
    s.manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    s.manager
        .login(&s.user, &ctx("safari-ios", "81.2.69.142"))
        .await
        .unwrap();
    let url = s.outbox.all()[0].not_me_url.clone();
    let token = ActionToken::new(url.split("token=").nth(1).unwrap());
    s.clock.advance(Duration::from_secs(2 * 3600));
    assert!(matches!(
        s.manager.redeem_not_me(&token).await,
        Err(SessionError::InvalidToken(TokenRejection::Expired))
    ));
    assert_eq!(
        s.manager.list(&s.user, None).await.unwrap().len(),
        2,
        "nothing revoked"
    );
}

#[tokio::test]
async fn shadow_mode_logs_but_allows() {
    let config = RiskConfig {
        on_high: RiskAction::Deny,
        shadow: true,
        ..RiskConfig::default()
    };
    let s = story_with(config, None);
    s.manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(600));
    let l = s
        .manager
        .login(&s.user, &ctx("safari-ios", "89.160.20.128"))
        .await
        .expect("shadow mode allows");
    assert_eq!(l.session.meta.risk.level, "high");
    let decision = s
        .events
        .events()
        .into_iter()
        .rev()
        .find(|e| e.kind.name() == "authn_login_risk")
        .unwrap();
    assert!(
        decision.to_json().contains(r#""action":"deny""#)
            && decision.to_json().contains(r#""shadow":true"#)
    );
}

#[tokio::test]
async fn deny_refuses_and_records_nothing() {
    let config = RiskConfig {
        on_high: RiskAction::Deny,
        ..RiskConfig::default()
    };
    let s = story_with(config, None);
    s.manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(600));
    for _ in 0..2 {
        // A denied attempt must not make the device "known" for the next try.
        assert!(matches!(
            s.manager
                .login(&s.user, &ctx("safari-ios", "89.160.20.128"))
                .await,
            Err(SessionError::LoginDenied(_))
        ));
    }
    assert_eq!(s.manager.list(&s.user, None).await.unwrap().len(), 1);
}

struct BrokenNotifier;

#[async_trait]
impl Notifier for BrokenNotifier {
    async fn notify(&self, _: &NewLoginNotice) -> Result<(), NotifyError> {
        Err(NotifyError("smtp down".into()))
    }
}

#[tokio::test]
async fn notifier_failure_never_fails_the_login() {
    let s = story_with(RiskConfig::default(), Some(Arc::new(BrokenNotifier)));
    s.manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    s.manager
        .login(&s.user, &ctx("safari-ios", "81.2.69.142"))
        .await
        .expect("login succeeds");
    assert!(s.events.names().contains(&"notification_failed"));
}

#[tokio::test]
async fn login_burst_from_one_ip() {
    let s = story_with(RiskConfig::default(), None);
    for i in 0..9 {
        let user = UserId::new(format!("user-{i}")).unwrap();
        let l = s
            .manager
            .login(&user, &ctx("chrome-windows", "81.2.69.142"))
            .await
            .unwrap();
        assert!(
            l.session.meta.risk.signals.is_empty(),
            "login {i} is below the burst threshold"
        );
    }
    let l = s
        .manager
        .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
        .await
        .unwrap();
    assert!(
        l.session
            .meta
            .risk
            .signals
            .iter()
            .any(|x| x.name == "login_burst")
    );
    assert!(s.events.names().contains(&"authn_login_burst"));
}

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// The same story on the bundled uap-core regexes and MaxMind test City
/// database (without the Anonymous-IP test database, which lists the
/// London test address as anonymous).
#[tokio::test]
async fn the_story_on_bundled_data() {
    use sessionward_core::enrich::{CachedParser, MaxMindResolver, UapParser};
    let city =
        MaxMindResolver::from_bytes(&include_bytes!("../data/geoip/GeoIP2-City-Test.mmdb")[..])
            .unwrap();
    let parser = CachedParser::with_default_capacity(UapParser::shared_embedded().unwrap());
    let enricher = Arc::new(sessionward_core::Enricher::new(
        Arc::new(parser),
        Arc::new(city),
    ));
    let s = story_on(RiskConfig::default(), None, enricher);
    let first = s
        .manager
        .login(&s.user, &ctx(CHROME_WINDOWS, "81.2.69.142"))
        .await
        .unwrap();
    assert_eq!(first.session.device_class, DeviceClass::Desktop);
    assert_eq!(first.session.country.as_deref(), Some("GB"));
    s.clock.advance(Duration::from_secs(600));
    let phone = s
        .manager
        .login(&s.user, &ctx(SAFARI_IOS, "81.2.69.142"))
        .await
        .unwrap();
    assert_eq!(phone.session.device_class, DeviceClass::Mobile);
    assert_eq!(
        phone
            .session
            .meta
            .risk
            .signals
            .iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>(),
        vec!["new_device"]
    );
    let notice = &s.outbox.all()[0];
    assert!(
        notice
            .headline()
            .starts_with("New login from Mobile Safari 17 on iOS"),
        "{}",
        notice.headline()
    );
    assert!(
        notice.headline().ends_with("in London, United Kingdom"),
        "{}",
        notice.headline()
    );
    s.clock.advance(Duration::from_secs(3600));
    match s
        .manager
        .login(&s.user, &ctx(CHROME_WINDOWS, "89.160.20.128"))
        .await
    {
        Err(SessionError::StepUpRequired(c)) => {
            let mut names: Vec<_> = c.risk.signals.iter().map(|x| x.name.clone()).collect();
            names.sort();
            assert!(
                names.contains(&"new_country".to_owned())
                    && names.contains(&"impossible_travel".to_owned()),
                "{names:?}"
            );
        }
        other => panic!("expected step-up, got {other:?}"),
    }
}

/// A genuinely signed action token whose `exp` is out of range is a typed
/// rejection, not an overflow when its single-use id is stored.
#[tokio::test]
async fn action_token_with_extreme_expiry_is_refused() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};

    let s = story_with(RiskConfig::default(), None);
    for ua in ["chrome-windows", "safari-ios"] {
        s.manager
            .login(&s.user, &ctx(ua, "81.2.69.142"))
            .await
            .unwrap();
    }
    let url = s.outbox.all()[0].not_me_url.clone();
    let genuine = url.split("token=").nth(1).unwrap().to_owned();
    let mut parts = genuine.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    for exp in [i64::MAX, -1] {
        claims["exp"] = serde_json::json!(exp);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let input = format!("{header}.{payload}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&[9; 32]).unwrap();
        mac.update(input.as_bytes());
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert!(
            matches!(
                s.manager.redeem_not_me(&ActionToken::new(token)).await,
                Err(SessionError::InvalidToken(TokenRejection::NumberOutOfRange))
            ),
            "exp {exp}"
        );
    }
    // The genuine link still works: nothing was used up.
    assert_eq!(
        s.manager
            .redeem_not_me(&ActionToken::new(genuine))
            .await
            .unwrap(),
        2
    );
}

/// A login that needs a second factor keeps its options through the
/// challenge: the completed session is in the login's app with its
/// sign-in method (so per-app limits count it), and a password change
/// between the password check and the second factor refuses it.
#[tokio::test]
async fn step_up_keeps_the_logins_options() {
    use sessionward_core::{AppId, LoginOptions, ProviderSession, RevokeReason, StepUpChallenge};
    let provider = ProviderSession::new("https://idp.example.com", "u-1").with_sid("s-1");
    let options = LoginOptions::signed_in_with("passkey")
        .in_app(AppId::new("mobile").unwrap())
        .via_provider(provider.clone());
    // A story whose second login (from Sweden, an hour after London) needs a second factor.
    let challenged = || async {
        let s = story_with(RiskConfig::default(), None);
        s.manager
            .login(&s.user, &ctx("chrome-windows", "81.2.69.142"))
            .await
            .unwrap();
        s.clock.advance(Duration::from_secs(3600));
        let sweden = ctx("chrome-windows", "89.160.20.128");
        let challenge: Box<StepUpChallenge> = match s
            .manager
            .login_with(&s.user, &sweden, options.clone())
            .await
        {
            Err(SessionError::StepUpRequired(c)) => c,
            other => panic!("expected step-up, got {other:?}"),
        };
        (s, sweden, challenge)
    };
    let (s, sweden, challenge) = challenged().await;
    let stepped = s
        .manager
        .complete_step_up(&challenge.token, &sweden)
        .await
        .unwrap();
    assert_eq!(
        stepped.session.meta.app.as_ref().map(AppId::as_str),
        Some("mobile")
    );
    assert_eq!(
        stepped.session.meta.sign_in_method.as_deref(),
        Some("passkey")
    );
    assert_eq!(stepped.session.meta.provider, Some(provider));

    let (s, sweden, challenge) = challenged().await;
    s.clock.advance(Duration::from_millis(10));
    s.manager
        .revoke_all(&s.user, RevokeReason::PasswordChange)
        .await
        .unwrap();
    s.clock.advance(Duration::from_millis(10));
    assert!(matches!(
        s.manager.complete_step_up(&challenge.token, &sweden).await,
        Err(SessionError::CredentialsRevoked)
    ));
}
