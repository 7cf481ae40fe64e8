//! Browser end-to-end test: the real `sessionward-example-axum` binary,
//! driven through headless Chromium by chromedriver (WebDriver).
//!
//! Two isolated browser profiles with different user agents log in as
//! alice; the first sees both sessions with the right device text, ends
//! the second, whose next navigation lands on the login page with its
//! tokens gone; "Log out from all devices" then ends the first. Runs for
//! both token transports (bearer: tokens in localStorage; cookies).
//! Screenshots go to `<target>/browser-artifacts/`.
//!
//! Skipped with a `SKIPPED:` line when Chromium or chromedriver is not
//! installed, unless `SESSIONWARD_REQUIRE_SERVICES=1`.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

mod common;
use common::{Proc, find_in_path, free_port, wait_for_port};
use serde_json::{Value, json};

const UA_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const UA_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sessionward-browser-{}-{tag}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn browser(driver: &str, chromium: &Path, profile: &Path, ua: &str) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1200,1000",
                format!("--user-data-dir={}", profile.display()),
                format!("--user-agent={ua}"),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("chromedriver session")
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect(script)
}

/// Polls `script` (a JS expression) until it is truthy.
async fn until(c: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        let v = js(c, &format!("return !!({script});")).await;
        if v == json!(true) {
            return;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let body = js(c, "return document.body.innerText").await;
            panic!("timed out waiting for {what}; page text:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const LOGIN_VISIBLE: &str = "!document.getElementById('view-login').hidden";

async fn log_in(c: &Client, base: &str) {
    c.goto(base).await.unwrap();
    until(c, "login page", LOGIN_VISIBLE).await;
    c.find(Locator::Id("login-username"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    c.find(Locator::Id("login-password"))
        .await
        .unwrap()
        .send_keys("alice-password")
        .await
        .unwrap();
    c.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "own session card",
        "document.querySelector('.session-card[data-current=\"true\"]')",
    )
    .await;
}

/// `(device text, current, id)` of every session card.
async fn cards(c: &Client) -> Vec<(String, bool, String)> {
    let v = js(
        c,
        "return [...document.querySelectorAll('.session-card')].map(e => [e.querySelector('.device-text').innerText, e.dataset.current === 'true', e.dataset.id]);",
    )
    .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_bool().unwrap(),
                r[2].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Names of the session tokens this browser still holds, per transport.
async fn stored_tokens(c: &Client, transport: &str) -> Vec<String> {
    if transport == "bearer" {
        let v = js(
            c,
            "return ['sw_access', 'sw_refresh'].filter(k => localStorage.getItem(k) !== null);",
        )
        .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    } else {
        c.get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|k| k.name().to_owned())
            .filter(|n| {
                n.starts_with("__Host-sw_access")
                    || n.starts_with("__Host-sw_csrf")
                    || n.starts_with("__Secure-sw_refresh")
            })
            .collect()
    }
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let path = artifacts_dir().join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
}

async fn simulate(c: &Client, device: &str, place: &str) -> String {
    js(
        c,
        &format!("document.getElementById('sim-device').value = '{device}'; document.getElementById('sim-ip').value = '{place}'; document.getElementById('sim-result').hidden = true; return null;"),
    )
    .await;
    c.find(Locator::Id("sim-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        c,
        "simulation result",
        "!document.getElementById('sim-result').hidden",
    )
    .await;
    js(c, "return document.getElementById('sim-result').innerText")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts the example app on a free port over a SQLite file in `dir`;
/// returns the process and its port.
fn start_app(dir: &Path, transport: &str, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let store = format!("sqlite://{}?mode=rwc", dir.join("demo.sqlite").display());
    let mut app = Proc(
        Command::new(env!("CARGO_BIN_EXE_sessionward-example-axum"))
            .args([
                "--port",
                &port.to_string(),
                "--store",
                &store,
                "--transport",
                transport,
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the example app"),
    );
    wait_for_port(port, &mut app.0, "example app");
    (app, port)
}

async fn scenario(driver: &str, chromium: &Path, transport: &str) {
    let dir = temp_dir(transport);
    let (app, port) = start_app(&dir, transport, &[]);
    let base = format!("http://127.0.0.1:{port}/");

    let first = browser(driver, chromium, &dir.join("profile-1"), UA_WINDOWS).await;
    let second = browser(driver, chromium, &dir.join("profile-2"), UA_IPHONE).await;

    log_in(&first, &base).await;
    log_in(&second, &base).await;
    assert!(
        !stored_tokens(&second, transport).await.is_empty(),
        "second browser holds tokens after login"
    );

    // The first browser sees both sessions with the right device text.
    first.refresh().await.unwrap();
    until(
        &first,
        "two sessions",
        "document.querySelectorAll('.session-card').length === 2",
    )
    .await;
    let list = cards(&first).await;
    println!("[{transport}] sessions seen by the first browser: {list:?}");
    let mine = list.iter().find(|c| c.1).expect("current session");
    let other = list.iter().find(|c| !c.1).expect("other session");
    assert_eq!(mine.0, "Chrome 131 on Windows 10");
    assert!(
        other.0.starts_with("Mobile Safari 17 on iOS"),
        "{}",
        other.0
    );
    let other_id = other.2.clone();
    // Both browsers are on this machine: the cards say so, never "Unknown location".
    let places = first
        .execute(
            "return [...document.querySelectorAll('.session-card .meta')].map(e => e.textContent).join('|')",
            vec![],
        )
        .await
        .unwrap();
    let places = places.as_str().unwrap_or_default().to_owned();
    assert!(places.contains("This computer"), "{places}");
    assert!(!places.contains("Unknown location"), "{places}");

    // A simulated login (demo panel) adds a flagged third session.
    let mut result = simulate(&first, "firefox-linux", "london").await;
    println!("[{transport}] simulate Firefox/Linux in London: {result}");
    if result.contains("Step-up required") {
        // The demo's second factor: approve it in the panel.
        first
            .find(Locator::Css("#sim-result button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            &first,
            "step-up completion",
            "document.getElementById('sim-result').innerText.includes('Login created')",
        )
        .await;
        result = js(
            &first,
            "return document.getElementById('sim-result').innerText",
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
        println!("[{transport}] after the demo second factor: {result}");
    }
    assert!(result.contains("Login created"), "{result}");
    until(
        &first,
        "three sessions",
        "document.querySelectorAll('.session-card').length === 3",
    )
    .await;
    screenshot(&first, &format!("sessions-{transport}.png")).await;

    // The first browser ends the second browser's session.
    first
        .find(Locator::Css(&format!(
            ".session-card[data-id=\"{other_id}\"] .revoke-one"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &first,
        "second session gone",
        "document.querySelectorAll('.session-card').length === 2",
    )
    .await;

    // The second browser's next navigation lands on the login page, tokens gone.
    second.goto(&base).await.unwrap();
    second.refresh().await.unwrap();
    until(&second, "login page in the second browser", LOGIN_VISIBLE).await;
    let left = stored_tokens(&second, transport).await;
    assert!(left.is_empty(), "second browser still holds {left:?}");
    println!("[{transport}] second browser: login page, no stored tokens");

    // A risky simulated login needs step-up; shown in the demo panel.
    let result = simulate(&first, "chrome-android", "linkoping").await;
    println!("[{transport}] simulate Chrome/Android in Linköping: {result}");
    screenshot(&first, &format!("sessions-demo-{transport}.png")).await;

    // "Log out from all devices" ends the first browser too.
    first
        .find(Locator::Id("revoke-all"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&first, "login page in the first browser", LOGIN_VISIBLE).await;
    first.goto(&format!("{base}#/sessions")).await.unwrap();
    first.refresh().await.unwrap();
    until(&first, "login page after navigation", LOGIN_VISIBLE).await;
    let left = stored_tokens(&first, transport).await;
    assert!(left.is_empty(), "first browser still holds {left:?}");
    println!("[{transport}] first browser: logged out from all devices, no stored tokens");

    first.close().await.unwrap();
    second.close().await.unwrap();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Access-token lifetime of the long-session scenario, in seconds.
const SHORT_TTL: u64 = 2;

/// One plain HTTP/1.1 request to the app; `(status, body)`.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Seconds until the `exp` of a JWT (negative once expired), decoded in the page.
async fn seconds_left(c: &Client, jwt: &str) -> f64 {
    let payload = jwt.split('.').nth(1).unwrap();
    let v = js(
        c,
        &format!("return JSON.parse(atob('{payload}'.replace(/-/g, '+').replace(/_/g, '/'))).exp - Date.now() / 1000;"),
    )
    .await;
    v.as_f64().unwrap()
}

/// The value of cookie `name` (WebDriver sees HttpOnly cookies too).
async fn cookie(c: &Client, name: &str) -> Option<String> {
    c.get_all_cookies()
        .await
        .unwrap()
        .iter()
        .find(|k| k.name() == name)
        .map(|k| k.value().to_owned())
}

/// `(access token, refresh token, csrf token)` the browser holds.
async fn held_tokens(c: &Client, transport: &str) -> (String, String, Option<String>) {
    if transport == "bearer" {
        let v = js(
            c,
            "return [localStorage.getItem('sw_access'), localStorage.getItem('sw_refresh')];",
        )
        .await;
        (
            v[0].as_str().unwrap().to_owned(),
            v[1].as_str().unwrap().to_owned(),
            None,
        )
    } else {
        (
            cookie(c, "__Host-sw_access").await.unwrap(),
            refresh_cookie(c).await,
            cookie(c, "__Host-sw_csrf").await,
        )
    }
}

/// The refresh cookie, scoped to `/auth`: read from a second tab opened on
/// a harmless page under that path (the not-me page without a token).
async fn refresh_cookie(c: &Client) -> String {
    let main = c.window().await.unwrap();
    let base = c.current_url().await.unwrap();
    let tab = c.new_window(true).await.unwrap();
    c.switch_to_window(tab.handle).await.unwrap();
    c.goto(base.join("/auth/sessions/not-me").unwrap().as_str())
        .await
        .unwrap();
    let value = cookie(c, "__Secure-sw_refresh").await;
    c.close_window().await.unwrap();
    c.switch_to_window(main).await.unwrap();
    value.expect("refresh cookie under /auth")
}

/// An active user stays signed in across several access-token lifetimes
/// (silent refresh before expiry, and on demand after an idle stretch),
/// with exactly one session; logging out after the access token expired
/// still ends the session server-side: the captured refresh token is refused.
async fn long_session(driver: &str, chromium: &Path, transport: &str) {
    let dir = temp_dir(&format!("long-{transport}"));
    let ttl = SHORT_TTL.to_string();
    let (app, port) = start_app(&dir, transport, &["--access-ttl", &ttl]);
    let base = format!("http://127.0.0.1:{port}/");
    let c = browser(driver, chromium, &dir.join("profile"), UA_WINDOWS).await;
    let started = Instant::now();
    log_in(&c, &base).await;
    let (first_access, _, _) = held_tokens(&c, transport).await;

    // Active for about four access-token lifetimes: click between views.
    let views = ["policy", "sessions", "notifications", "sessions"];
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(4 * SHORT_TTL) {
        let view = views[i % views.len()];
        i += 1;
        c.find(Locator::Css(&format!("nav a[data-view=\"{view}\"]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            &c,
            view,
            &format!("!document.getElementById('view-{view}').hidden"),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // An idle stretch longer than the access token: the next click refreshes on demand.
    tokio::time::sleep(Duration::from_secs(2 * SHORT_TTL + 1)).await;
    c.goto(&format!("{base}#/sessions")).await.unwrap();
    c.refresh().await.unwrap();
    until(
        &c,
        "session list after the idle stretch",
        "document.querySelector('.session-card[data-current=\"true\"]')",
    )
    .await;
    let (access, _, _) = held_tokens(&c, transport).await;
    assert_ne!(
        access, first_access,
        "[{transport}] the access token was renewed"
    );
    assert_eq!(
        cards(&c).await.len(),
        1,
        "[{transport}] exactly one session after {:?}",
        started.elapsed()
    );
    assert!(
        !js(&c, &format!("return {LOGIN_VISIBLE}"))
            .await
            .as_bool()
            .unwrap(),
        "never signed out"
    );
    println!(
        "[{transport}] signed in for {:?} with {SHORT_TTL}s access tokens, one session",
        started.elapsed()
    );

    // Stay quiet until the access token has run out, then log out.
    tokio::time::sleep(Duration::from_secs(2 * SHORT_TTL + 1)).await;
    let (access, refresh, csrf) = held_tokens(&c, transport).await;
    let left = seconds_left(&c, &access).await;
    assert!(
        left < 0.0,
        "[{transport}] access token should have expired ({left}s left)"
    );
    c.find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&c, "login page after logout", LOGIN_VISIBLE).await;
    let message = js(
        &c,
        "return document.getElementById('login-error').innerText",
    )
    .await;
    assert_eq!(message, json!("You are logged out."));
    assert!(stored_tokens(&c, transport).await.is_empty());

    // The refresh token captured before logout is dead on the server.
    let (status, body) = if transport == "bearer" {
        let body = json!({ "refresh_token": refresh }).to_string();
        http(
            port,
            "POST",
            "/auth/refresh",
            &[("Content-Type", "application/json")],
            &body,
        )
    } else {
        let csrf = csrf.unwrap();
        let cookies = format!("__Secure-sw_refresh={refresh}; __Host-sw_csrf={csrf}");
        http(
            port,
            "POST",
            "/auth/refresh",
            &[("Cookie", &cookies), ("X-CSRF-Token", &csrf)],
            "",
        )
    };
    assert_eq!(status, 401, "[{transport}] {body}");
    assert_eq!(body, r#"{"error":"invalid_token","reason":"logout"}"#);
    println!(
        "[{transport}] after logout with an expired access token, the refresh token is refused: {body}"
    );

    c.close().await.unwrap();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium, chromedriver (running on a free port) and a runtime, or
/// `None` after printing `SKIPPED:` when they are not installed.
fn browser_setup() -> Option<(Proc, String, PathBuf, tokio::runtime::Runtime)> {
    let required = std::env::var("SESSIONWARD_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let chromium = std::env::var_os("SESSIONWARD_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find_in_path(&["chromium", "chromium-browser", "google-chrome"]));
    let chromedriver = std::env::var_os("SESSIONWARD_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find_in_path(&["chromedriver"]));
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        if required {
            panic!(
                "SESSIONWARD_REQUIRE_SERVICES=1 but chromium/chromedriver are not installed (.ci/extras.sh installs them)"
            );
        }
        println!(
            "SKIPPED: browser test needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
        return None;
    };
    let driver_port = free_port();
    let mut driver = Proc(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    wait_for_port(driver_port, &mut driver.0, "chromedriver");
    let url = format!("http://127.0.0.1:{driver_port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Some((driver, url, chromium, rt))
}

/// The browser tests share two cores: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `scenario` for both transports, one browser test at a time.
fn per_transport<F, Fut>(scenario: F)
where
    F: Fn(String, PathBuf, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_driver, url, chromium, rt)) = browser_setup() else {
        return;
    };
    for transport in ["bearer", "cookies"] {
        rt.block_on(scenario(url.clone(), chromium.clone(), transport));
    }
}

#[test]
fn session_outlives_access_tokens() {
    per_transport(|url, chromium, t| async move { long_session(&url, &chromium, t).await });
}

#[test]
fn two_browsers_manage_sessions() {
    per_transport(|url, chromium, t| async move { scenario(&url, &chromium, t).await });
}
