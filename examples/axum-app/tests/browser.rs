//! Browser end-to-end tests: the real `sessionward-example-axum` binary,
//! driven through headless Chromium by chromedriver (WebDriver).
//!
//! - `two_browsers_manage_sessions`: two isolated browser profiles with
//!   different user agents log in as alice; the first sees both sessions
//!   with the right device text, ends the second (through the confirmation
//!   dialog), whose next navigation lands on the login page with its tokens
//!   gone; "Sign out all devices" then ends the first. Both transports.
//! - `session_outlives_access_tokens`: silent refresh; logout with an
//!   expired access token still ends the session. Both transports.
//! - `layout_and_accessibility`: no horizontal overflow at 320/390/768/1280
//!   px on every view, axe-core finds nothing serious or critical on every
//!   view and dialog; screenshots at 390 and 1280 px.
//! - `dialogs_confirm_cancel_and_report`: every ending action asks first
//!   (Esc and Cancel change nothing), success is styled as success, a
//!   network failure and a dismissed re-authentication are handled,
//!   skeletons while loading, current session first with "Active now".
//! - `revoked_devices_are_told_why`: devices signed out from another one
//!   learn it, with the reason, on their next action and when a public view
//!   opens; the "Signed out" section lists them. Both transports.
//! - `limit_picker_and_evicted_devices`: the demo plan switch changes the
//!   limits at once; at the Strict plan's limit the sign-in page lists the
//!   devices and "Sign out and continue" ends the one picked and signs in
//!   (its browser is told it was signed out from another device); at the
//!   Solo plan's a new sign-in signs the others out, and they read "You
//!   were signed out because you signed in on another device…". Both
//!   transports.
//! - `same_browser_sessions_are_grouped`, `device_name_uses_client_hints`,
//!   `last_seen_place_differs_from_login_place`: the session-list API's
//!   `device_group`, `device_name` and `last_seen` fields, the last one
//!   through the app's `--trusted-proxies` switch (`X-Forwarded-For` from
//!   loopback).
//! - `dpop_bound_tokens_are_useless_elsewhere`: bearer tokens are bound to
//!   the page's non-extractable WebCrypto key (DPoP); everything a script
//!   in the page can read, replayed over plain HTTP (as `Bearer`, without a
//!   proof, with another key's proof), is refused; the page keeps working
//!   across a reload; logout deletes the key. Bearer only.
//!
//! Screenshots go to `<target>/browser-artifacts/` (and to `docs/images/`
//! with `SESSIONWARD_DOC_IMAGES=1`). axe-core comes from
//! `SESSIONWARD_AXE_JS` (default
//! `~/.cache/sessionward-ci/node_modules/axe-core/axe.min.js`, where
//! `.ci/extras.sh` installs it).
//!
//! Skipped with a `SKIPPED:` line when Chromium, chromedriver or axe-core
//! is not installed, unless `SESSIONWARD_REQUIRE_SERVICES=1`.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

mod common;
use common::{Proc, find_in_path, free_port, wait_for_port};
use serde_json::{Value, json};
use sessionward_core::Timestamp;
use sessionward_core::testing::dpop::DpopKey;
use sessionward_core::testing::http::send;
use sessionward_core::testing::web::{TestRequest, TestResponse};

const UA_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const UA_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// The widths the layout must fit without horizontal scrolling.
const WIDTHS: [u32; 4] = [320, 390, 768, 1280];
/// The widths of the screenshots.
const SHOT_WIDTHS: [u32; 2] = [390, 1280];

fn required() -> bool {
    std::env::var("SESSIONWARD_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn artifacts_dir() -> PathBuf {
    let dir = target_dir().join("browser-artifacts");
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

/// A headless Chromium on its own profile; `ua` overrides the User-Agent
/// (`None`: Chromium's own, whose client hints then match it).
async fn browser(driver: &str, chromium: &Path, profile: &Path, ua: Option<&str>) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        "--force-device-scale-factor=1".into(),
        "--window-size=1200,1000".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if let Some(ua) = ua {
        args.push(format!("--user-agent={ua}"));
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium, "args": args }),
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

async fn js_str(c: &Client, script: &str) -> String {
    js(c, script).await.as_str().unwrap_or_default().to_owned()
}

/// Runs `script` with `done` bound to the WebDriver callback.
async fn js_async(c: &Client, script: &str) -> Value {
    let wrapped = format!("const done = arguments[arguments.length - 1];\n{script}");
    c.execute_async(&wrapped, vec![]).await.expect(script)
}

/// Polls `script` (a JS expression) until it is truthy.
async fn until(c: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        let v = js(c, &format!("return !!({script});")).await;
        if v == json!(true) {
            return;
        }
        // Generous: on 2 busy cores (a fresh clone's `cargo test` builds
        // and runs other tests beside this one) one page load has taken
        // over 20 s; a condition that never holds still fails.
        if start.elapsed() > Duration::from_secs(60) {
            let body = js(c, "return document.body.innerText").await;
            panic!("timed out waiting for {what}; page text:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn press_escape(c: &Client) {
    c.active_element()
        .await
        .unwrap()
        .send_keys(&Key::Escape.to_string())
        .await
        .unwrap();
}

const LOGIN_VISIBLE: &str = "!document.getElementById('view-login').hidden";
const SESSIONS_VISIBLE: &str = "!document.getElementById('view-sessions').hidden";
const CARDS: &str = "document.querySelectorAll('.session-card').length";
const FLASH: &str = "return document.getElementById('flash').textContent";
const NOTICE: &str = "return document.getElementById('login-notice').textContent";

async fn log_in(c: &Client, base: &str) {
    c.goto(base).await.unwrap();
    until(c, "login page", LOGIN_VISIBLE).await;
    submit_login(c).await;
}

async fn submit_login(c: &Client) {
    for (id, text) in [
        ("login-username", "alice"),
        ("login-password", "alice-password"),
    ] {
        let field = c.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }
    click(c, "#login-submit").await;
    until(
        c,
        "own session card",
        "document.querySelector('.session-card[data-current=\"true\"]')",
    )
    .await;
}

/// `(device text, current, id)` of every session card, in page order.
async fn cards(c: &Client) -> Vec<(String, bool, String)> {
    let v = js(
        c,
        "return [...document.querySelectorAll('.session-card')].map(e => [(e.querySelector('.device-text') || e.closest('.device-group').querySelector('.group-name')).textContent, e.dataset.current === 'true', e.dataset.id]);",
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

async fn card_count(c: &Client) -> u64 {
    js(c, &format!("return {CARDS};")).await.as_u64().unwrap()
}

/// Names of the session tokens this browser still holds, per transport.
async fn stored_tokens(c: &Client, transport: &str) -> Vec<String> {
    if transport == "bearer" {
        let v = js(
            c,
            "return ['sw_access', 'sw_refresh', 'sw_token_type'].filter(k => localStorage.getItem(k) !== null);",
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

/// The screenshots `docs/sessions-page.md` shows, refreshed into
/// `docs/images/` by a run with `SESSIONWARD_DOC_IMAGES=1`.
const DOC_IMAGES: &[&str] = &[
    "sessions-390.png",
    "sessions-1280.png",
    "session-details-390.png",
    "session-details-1280.png",
    "confirm-dialog-390.png",
    "confirm-dialog-1280.png",
    "sessions-grouped-1280.png",
];

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let path = artifacts_dir().join(name);
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
    if DOC_IMAGES.contains(&name) && std::env::var("SESSIONWARD_DOC_IMAGES").is_ok_and(|v| v == "1")
    {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), &png).unwrap();
    }
}

/// The session list as the API returns it to this browser, fetched the
/// way the page fetches (with bearer transport: its token scheme and a
/// DPoP proof by its key).
async fn sessions_json(c: &Client) -> Value {
    js_async(
        c,
        "rawFetch('GET', state.cfg.prefix + '/sessions')
           .then(r => done(r.data), e => done({ fetch_error: String(e) }));",
    )
    .await
}

/// Asserts that every session of the list API carries `field`, which the
/// page needs for `what`; returns `true` so call sites read as guards.
async fn api_has(c: &Client, field: &str, what: &str) -> bool {
    let list = sessions_json(c).await;
    let has = list["sessions"]
        .as_array()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|v| v.get(field).is_some()));
    assert!(has, "{what}: the session-list API has no `{field}`: {list}");
    has
}

// ---------- layout and accessibility ----------

async fn set_width(c: &Client, width: u32, height: u32) {
    c.set_window_size(width, height).await.unwrap();
    until(
        c,
        &format!("a {width} px wide viewport"),
        &format!("window.innerWidth === {width}"),
    )
    .await;
}

/// The page fits the viewport: nothing scrolls sideways, the nav and the
/// "Sign out all devices" button are fully on screen, and session text
/// keeps a readable width.
async fn assert_fits(c: &Client, label: &str) {
    let v = js(
        c,
        "const w = window.innerWidth;
         const scrolls = (e) => { for (let p = e.parentElement; p; p = p.parentElement) {
           if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return true; } return false; };
         const wide = [...document.querySelectorAll('body *')]
           .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5 && !scrolls(e))
           .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' right=' + Math.round(e.getBoundingClientRect().right));
         const onScreen = (sel) => { const e = document.querySelector(sel);
           if (!e || !e.getClientRects().length) return true;
           const r = e.getBoundingClientRect(); return r.left >= 0 && r.right <= w + 0.5; };
         const texts = [...document.querySelectorAll('.session-main')].filter(e => e.getClientRects().length)
           .map(e => e.getBoundingClientRect().width);
         return { scroll: document.documentElement.scrollWidth, inner: w, wide,
                  nav: onScreen('#nav'), revokeAll: onScreen('#revoke-all'),
                  narrowest: texts.length ? Math.min(...texts) : null };",
    )
    .await;
    let (scroll, inner) = (v["scroll"].as_f64().unwrap(), v["inner"].as_f64().unwrap());
    assert!(
        scroll <= inner,
        "{label} at {inner} px: scrollWidth {scroll} > innerWidth; wider elements: {}",
        v["wide"]
    );
    // Nothing sticks out of the viewport either, clipped or not (content
    // of scrolling boxes such as the events log aside).
    assert_eq!(
        v["wide"],
        json!([]),
        "{label} at {inner} px: elements beyond the right edge"
    );
    assert_eq!(
        v["nav"],
        json!(true),
        "{label} at {inner} px: nav off screen"
    );
    assert_eq!(
        v["revokeAll"],
        json!(true),
        "{label} at {inner} px: 'Sign out all devices' off screen"
    );
    if let Some(narrowest) = v["narrowest"].as_f64() {
        let want = 0.55 * inner.min(980.0);
        assert!(
            narrowest >= want,
            "{label} at {inner} px: session text squeezed to {narrowest} px (want >= {want})"
        );
    }
}

fn axe_source() -> Option<&'static str> {
    static AXE: OnceLock<Option<String>> = OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::env::var_os("SESSIONWARD_AXE_JS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| {
                    PathBuf::from(h).join(".cache/sessionward-ci/node_modules/axe-core/axe.min.js")
                })
            })
            .unwrap_or_else(|| PathBuf::from("axe.min.js"));
        match std::fs::read_to_string(&path) {
            Ok(source) => Some(source),
            Err(e) => {
                assert!(
                    !required(),
                    "SESSIONWARD_REQUIRE_SERVICES=1 but axe-core is missing at {} ({e}); .ci/extras.sh installs it",
                    path.display()
                );
                println!(
                    "SKIPPED: accessibility checks need axe-core at {} (.ci/extras.sh installs it, or set SESSIONWARD_AXE_JS)",
                    path.display()
                );
                None
            }
        }
    })
    .as_deref()
}

/// Runs axe-core on the page as it is; fails on any serious or critical
/// violation, printing every violation found.
async fn axe(c: &Client, label: &str) {
    let Some(source) = axe_source() else {
        return;
    };
    if js(c, "return typeof window.axe === 'undefined'").await == json!(true) {
        c.execute(source, vec![]).await.expect("inject axe-core");
    }
    let found = js_async(
        c,
        "axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v => ({
           id: v.id, impact: v.impact, help: v.help,
           nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\\s+/g, ' '))
         })))).catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
    )
    .await;
    let found = found.as_array().cloned().unwrap_or_default();
    let mut bad = Vec::new();
    for v in &found {
        let impact = v["impact"].as_str().unwrap_or("unknown");
        let line = format!(
            "  [{impact}] {}: {} {}",
            v["id"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or(""),
            v["nodes"]
        );
        if matches!(impact, "serious" | "critical") {
            bad.push(line);
        } else {
            println!("axe ({label}): {line}");
        }
    }
    assert!(
        bad.is_empty(),
        "axe-core: serious or critical violations on {label}:\n{}",
        bad.join("\n")
    );
    println!(
        "axe ({label}): no serious or critical violations ({} minor)",
        found.len()
    );
}

// ---------- the demo panel ----------

async fn simulate(c: &Client, device: &str, place: &str) -> String {
    js(
        c,
        &format!("document.getElementById('sim-device').value = '{device}'; document.getElementById('sim-ip').value = '{place}'; document.getElementById('sim-result').hidden = true; return null;"),
    )
    .await;
    click(c, "#sim-submit").await;
    until(
        c,
        "simulation result",
        "!document.getElementById('sim-result').hidden",
    )
    .await;
    js_str(c, "return document.getElementById('sim-result').innerText").await
}

/// A simulated login that exists afterwards (the demo's second factor
/// approved when the risk engine asks for it).
async fn simulate_created(c: &Client, device: &str, place: &str) -> String {
    let before = card_count(c).await;
    let mut result = simulate(c, device, place).await;
    if result.contains("Step-up required") {
        click(c, "#sim-result button").await;
        until(
            c,
            "step-up completion",
            "document.getElementById('sim-result').innerText.includes('Login created')",
        )
        .await;
        result = js_str(c, "return document.getElementById('sim-result').innerText").await;
    }
    assert!(
        result.contains("Login created"),
        "{device} in {place}: {result}"
    );
    until(
        c,
        "the simulated session in the list",
        &format!("{CARDS} === {}", before + 1),
    )
    .await;
    result
}

// ---------- dialogs ----------

const CONFIRM_OPEN: &str = "document.getElementById('confirm').open";

/// Clicks `css`, waits for the confirmation dialog and returns its title.
async fn open_confirm(c: &Client, css: &str) -> String {
    click(c, css).await;
    until(c, "the confirmation dialog", CONFIRM_OPEN).await;
    js_str(
        c,
        "return document.getElementById('confirm-title').textContent",
    )
    .await
}

async fn confirm(c: &Client) {
    click(c, "#confirm-ok").await;
    until(c, "the dialog to close", &format!("!{CONFIRM_OPEN}")).await;
}

/// Signs out the session `id` from this page, through its dialog.
async fn sign_out_card(c: &Client, id: &str) {
    let name = js_str(
        c,
        &format!("return document.querySelector('.session-card[data-id=\"{id}\"] .device-text').textContent"),
    )
    .await;
    let title = open_confirm(c, &format!(".session-card[data-id=\"{id}\"] .revoke-one")).await;
    assert_eq!(title, format!("Sign out {name}?"));
    let before = card_count(c).await;
    confirm(c).await;
    until(
        c,
        "the session to leave the list",
        &format!(
            "{CARDS} === {} && !document.querySelector('.session-card[data-id=\"{id}\"]')",
            before - 1
        ),
    )
    .await;
}

/// Replaces the page's `fetch` for requests whose URL ends with `suffix`:
/// `"reject"` makes them fail like a network error, otherwise they answer
/// `status` with `body`. `restore_fetch` undoes it.
async fn stub_fetch(c: &Client, suffix: &str, status: u16, body: &str) {
    js(
        c,
        &format!(
            "window.__fetch = window.__fetch || window.fetch;
             window.fetch = (url, opts) => String(url).endsWith({suffix:?})
               ? ({status} === 0 ? Promise.reject(new TypeError('Failed to fetch'))
                  : Promise.resolve(new Response({body:?}, {{ status: {status}, headers: {{ 'Content-Type': 'application/json' }} }})))
               : window.__fetch(url, opts);
             return null;"
        ),
    )
    .await;
}

async fn restore_fetch(c: &Client) {
    js(
        c,
        "if (window.__fetch) { window.fetch = window.__fetch; delete window.__fetch; } return null;",
    )
    .await;
}

// ---------- the app ----------

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

/// The example app's `--help` text.
fn app_help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sessionward-example-axum"))
        .arg("--help")
        .output()
        .expect("run the example app");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One scenario's example app (over a fresh SQLite file) and browsers.
struct Fixture {
    dir: PathBuf,
    app: Proc,
    port: u16,
    base: String,
    driver: String,
    chromium: PathBuf,
}

impl Fixture {
    fn start(driver: &str, chromium: &Path, tag: &str, transport: &str, extra: &[&str]) -> Self {
        let dir = temp_dir(&format!("{tag}-{transport}"));
        let (app, port) = start_app(&dir, transport, extra);
        Fixture {
            dir,
            app,
            port,
            base: format!("http://127.0.0.1:{port}/"),
            driver: driver.to_owned(),
            chromium: chromium.to_owned(),
        }
    }

    async fn browser(&self, profile: &str, ua: Option<&str>) -> Client {
        browser(&self.driver, &self.chromium, &self.dir.join(profile), ua).await
    }

    async fn finish(self, clients: impl IntoIterator<Item = Client>) {
        for c in clients {
            c.close().await.unwrap();
        }
        drop(self.app);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn scenario(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "two", transport, &[]);
    let base = f.base.clone();
    let first = f.browser("profile-1", Some(UA_WINDOWS)).await;
    let second = f.browser("profile-2", Some(UA_IPHONE)).await;

    log_in(&first, &base).await;
    log_in(&second, &base).await;
    assert!(
        !stored_tokens(&second, transport).await.is_empty(),
        "second browser holds tokens after login"
    );

    // The first browser sees both sessions with the right device text.
    first.refresh().await.unwrap();
    until(&first, "two sessions", &format!("{CARDS} === 2")).await;
    let list = cards(&first).await;
    println!("[{transport}] sessions seen by the first browser: {list:?}");
    let mine = list.iter().find(|c| c.1).expect("current session");
    let other = list.iter().find(|c| !c.1).expect("other session");
    assert!(mine.0.starts_with("Chrome 131 on Windows"), "{}", mine.0);
    // The User-Agent's "Mobile Safari 17 on iOS 17", or the server's
    // `device_name` ("iPhone (Safari 17)") once it sends one.
    assert!(
        other.0.starts_with("Mobile Safari 17 on iOS") || other.0.contains("iPhone"),
        "{}",
        other.0
    );
    let other_id = other.2.clone();
    // Both browsers are on this machine: the cards say so, never "Unknown location".
    let places = js_str(
        &first,
        "return [...document.querySelectorAll('.session-card .meta')].map(e => e.textContent).join('|')",
    )
    .await;
    assert!(places.contains("This computer"), "{places}");
    assert!(!places.contains("Unknown location"), "{places}");

    // A simulated login (demo panel) adds a third session.
    let result = simulate_created(&first, "firefox-linux", "london").await;
    println!("[{transport}] simulate Firefox/Linux in London: {result}");
    screenshot(&first, &format!("sessions-{transport}.png")).await;

    // The first browser ends the second browser's session.
    sign_out_card(&first, &other_id).await;

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

    // "Sign out all devices" ends the first browser too.
    open_confirm(&first, "#revoke-all").await;
    confirm(&first).await;
    until(&first, "login page in the first browser", LOGIN_VISIBLE).await;
    let notice = js_str(&first, NOTICE).await;
    assert!(
        notice.starts_with("You signed out from all devices ("),
        "{notice}"
    );
    first.goto(&format!("{base}#/sessions")).await.unwrap();
    first.refresh().await.unwrap();
    until(&first, "login page after navigation", LOGIN_VISIBLE).await;
    let left = stored_tokens(&first, transport).await;
    assert!(left.is_empty(), "first browser still holds {left:?}");
    println!("[{transport}] first browser: logged out from all devices, no stored tokens");
    f.finish([first, second]).await;
}

/// Every view at every width: no sideways scrolling, axe-clean; the
/// screenshots of the docs.
async fn layout_and_a11y(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "layout", transport, &[]);
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    c.goto(&f.base).await.unwrap();
    until(&c, "login page", LOGIN_VISIBLE).await;
    for w in WIDTHS {
        set_width(&c, w, 900).await;
        assert_fits(&c, "login").await;
        if SHOT_WIDTHS.contains(&w) {
            axe(&c, &format!("login at {w} px")).await;
            screenshot(&c, &format!("login-{w}.png")).await;
        }
    }
    set_width(&c, 1280, 1000).await;
    submit_login(&c).await;
    simulate_created(&c, "firefox-linux", "london").await;
    simulate_created(&c, "safari-iphone", "london").await;
    // The screenshots show the list, not the demo result.
    js(
        &c,
        "document.getElementById('sim-result').hidden = true; return null;",
    )
    .await;

    for w in WIDTHS {
        set_width(&c, w, 1100).await;
        assert_fits(&c, "sessions").await;
        if SHOT_WIDTHS.contains(&w) {
            axe(&c, &format!("sessions at {w} px")).await;
            screenshot(&c, &format!("sessions-{w}.png")).await;
        }
    }

    // The detail view of the London session.
    let london = js_str(
        &c,
        "return [...document.querySelectorAll('.session-card')].find(e => e.dataset.current !== 'true' && e.textContent.includes('London')).dataset.id",
    )
    .await;
    let card = format!(".session-card[data-id=\"{london}\"]");
    click(&c, &format!("{card} .details-toggle")).await;
    until(
        &c,
        "the details",
        &format!("!document.querySelector('{card} .session-details').hidden"),
    )
    .await;
    let expanded = js_str(
        &c,
        &format!(
            "return document.querySelector('{card} .details-toggle').getAttribute('aria-expanded')"
        ),
    )
    .await;
    assert_eq!(expanded, "true");
    let details = js_str(
        &c,
        &format!("return document.querySelector('{card} .session-details').innerText"),
    )
    .await;
    println!("details of the London session:\n{details}");
    for want in ["Signed in", "London", "Security check", "Device", "Browser"] {
        assert!(details.contains(want), "details lack {want:?}:\n{details}");
    }
    js(
        &c,
        &format!(
            "document.querySelector('{card}').scrollIntoView({{block: 'center'}}); return null;"
        ),
    )
    .await;
    for w in WIDTHS {
        set_width(&c, w, 1100).await;
        assert_fits(&c, "session details").await;
        if SHOT_WIDTHS.contains(&w) {
            js(
                &c,
                &format!("document.querySelector('{card}').scrollIntoView({{block: 'center'}}); return null;"),
            )
            .await;
            axe(&c, &format!("session details at {w} px")).await;
            screenshot(&c, &format!("session-details-{w}.png")).await;
        }
    }

    // The confirmation dialog, over the list.
    click(&c, &format!("{card} .details-toggle")).await;
    js(&c, "window.scrollTo(0, 0); return null;").await;
    for w in SHOT_WIDTHS {
        set_width(&c, w, 900).await;
        let title = open_confirm(&c, &format!("{card} .revoke-one")).await;
        assert!(
            title.starts_with("Sign out ") && title.ends_with('?'),
            "{title}"
        );
        assert_fits(&c, "confirmation dialog").await;
        axe(&c, &format!("confirmation dialog at {w} px")).await;
        screenshot(&c, &format!("confirm-dialog-{w}.png")).await;
        press_escape(&c).await;
        until(&c, "the dialog to close", &format!("!{CONFIRM_OPEN}")).await;
    }

    // The "Signed out" section, once the API lists ended sessions.
    set_width(&c, 1280, 1000).await;
    if js(
        &c,
        "return !document.getElementById('ended-section').hidden",
    )
    .await
        == json!(true)
    {
        js(
            &c,
            "document.getElementById('ended-section').open = true; return null;",
        )
        .await;
        axe(&c, "signed-out section").await;
    }

    // The other views.
    for view in ["notifications", "events", "policy"] {
        click(&c, &format!("nav a[data-view=\"{view}\"]")).await;
        until(
            &c,
            view,
            &format!("!document.getElementById('view-{view}').hidden"),
        )
        .await;
        let current = js_str(
            &c,
            "return document.querySelector('nav a[aria-current=\"page\"]').dataset.view",
        )
        .await;
        assert_eq!(current, view, "aria-current marks the open view");
        for w in WIDTHS {
            set_width(&c, w, 900).await;
            assert_fits(&c, view).await;
        }
        axe(&c, &format!("{view} at 320 px")).await;
        set_width(&c, 1280, 900).await;
        axe(&c, &format!("{view} at 1280 px")).await;
    }

    f.finish([c]).await;
}

async fn dialogs(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "dialogs", transport, &[]);
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    log_in(&c, &f.base).await;
    simulate_created(&c, "firefox-linux", "london").await;
    simulate_created(&c, "safari-iphone", "london").await;

    // Current session first, "Active now"; the others with relative times
    // in <time datetime title>.
    let list = cards(&c).await;
    assert!(list[0].1, "the current session comes first: {list:?}");
    let first = js_str(
        &c,
        "return document.querySelector('.session-card .status').textContent",
    )
    .await;
    assert_eq!(first, "Active now");
    let times = js(
        &c,
        "return [...document.querySelectorAll('.session-card:not(.current) .status time')].map(t => [t.textContent, t.getAttribute('datetime'), t.title]);",
    )
    .await;
    let times = times.as_array().unwrap();
    assert_eq!(times.len(), 2, "{times:?}");
    for t in times {
        let text = t[0].as_str().unwrap();
        assert!(
            text == "just now" || text.ends_with(" ago"),
            "relative time {text:?}"
        );
        assert!(
            t[1].as_str().unwrap().ends_with('Z'),
            "datetime attribute {t:?}"
        );
        assert!(!t[2].as_str().unwrap().is_empty(), "exact time title {t:?}");
    }
    let current = js_str(
        &c,
        "return document.querySelector('nav a[aria-current=\"page\"]').dataset.view",
    )
    .await;
    assert_eq!(current, "sessions");
    // Per-button names name the device.
    let labels = js(
        &c,
        "return [...document.querySelectorAll('.session-card')].map(e => [e.querySelector('.device-text').textContent, e.querySelector('.revoke-one').getAttribute('aria-label')]);",
    )
    .await;
    for l in labels.as_array().unwrap() {
        let (name, label) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
        assert!(
            label.starts_with(&format!("Sign out {name}")),
            "{label:?} for {name:?}"
        );
    }

    // Skeletons while the list loads.
    js(
        &c,
        "window.__fetch = window.fetch;
         window.fetch = (url, opts) => String(url).endsWith('/auth/sessions')
           ? new Promise(res => { window.__release = () => res(window.__fetch(url, opts)); })
           : window.__fetch(url, opts);
         state.sessions = []; renderSessions(); return null;",
    )
    .await;
    until(
        &c,
        "skeletons",
        "document.querySelectorAll('#sessions .skeleton-card').length > 0 && document.getElementById('sessions').getAttribute('aria-busy') === 'true'",
    )
    .await;
    until(
        &c,
        "the held request",
        "typeof window.__release === 'function'",
    )
    .await;
    js(&c, "window.__release(); return null;").await;
    until(
        &c,
        "the list after loading",
        &format!("{CARDS} === 3 && !document.querySelector('.skeleton-card') && document.getElementById('sessions').getAttribute('aria-busy') === 'false'"),
    )
    .await;
    restore_fetch(&c).await;

    // End one session: Esc and Cancel change nothing, confirming ends it.
    let other = list.iter().find(|s| !s.1).unwrap().clone();
    let button = format!(".session-card[data-id=\"{}\"] .revoke-one", other.2);
    let title = open_confirm(&c, &button).await;
    assert_eq!(title, format!("Sign out {}?", other.0));
    let focused = js_str(&c, "return document.activeElement.id").await;
    assert_eq!(focused, "confirm-cancel", "focus moves into the dialog");
    axe(&c, "confirmation dialog").await;
    press_escape(&c).await;
    until(&c, "Esc closes the dialog", &format!("!{CONFIRM_OPEN}")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(card_count(&c).await, 3, "Esc ended nothing");
    assert_eq!(js_str(&c, FLASH).await, "", "Esc says nothing");
    let back = js_str(&c, "return document.activeElement.dataset.id || ''").await;
    assert_eq!(back, other.2, "focus returns to the button");
    open_confirm(&c, &button).await;
    click(&c, "#confirm-cancel").await;
    until(&c, "Cancel closes the dialog", &format!("!{CONFIRM_OPEN}")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(card_count(&c).await, 3, "Cancel ended nothing");
    assert_eq!(
        sessions_json(&c).await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    sign_out_card(&c, &other.2).await;
    let flash = js_str(&c, FLASH).await;
    assert_eq!(flash, format!("Signed out {}.", other.0));
    let style = js(
        &c,
        "const f = document.getElementById('flash'); return [f.className, getComputedStyle(f).backgroundColor];",
    )
    .await;
    assert_eq!(style[0], json!("flash ok"), "success is styled as success");
    assert_eq!(style[1], json!("rgb(230, 244, 236)"), "the success colours");

    // A network failure says so, and ends nothing.
    stub_fetch(&c, "/sessions/revoke-others", 0, "").await;
    let title = open_confirm(&c, "#revoke-others").await;
    assert_eq!(title, "Sign out 1 other session?");
    confirm(&c).await;
    until(
        &c,
        "the network error",
        "document.getElementById('flash').textContent === \"Can't reach the server — try again.\"",
    )
    .await;
    assert_eq!(
        js_str(&c, "return document.getElementById('flash').className").await,
        "flash bad"
    );
    restore_fetch(&c).await;
    assert_eq!(
        sessions_json(&c).await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A dismissed re-authentication changes nothing and says nothing.
    js(
        &c,
        "document.getElementById('flash').textContent = ''; return null;",
    )
    .await;
    stub_fetch(
        &c,
        "/sessions/revoke-others",
        401,
        r#"{"error":"reauthentication_required"}"#,
    )
    .await;
    open_confirm(&c, "#revoke-others").await;
    confirm(&c).await;
    until(
        &c,
        "the re-authentication prompt",
        "document.getElementById('reauth').open",
    )
    .await;
    let focused = js_str(&c, "return document.activeElement.id").await;
    assert_eq!(focused, "reauth-password");
    axe(&c, "re-authentication dialog").await;
    press_escape(&c).await;
    until(
        &c,
        "Esc closes the prompt",
        "!document.getElementById('reauth').open",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        js_str(&c, FLASH).await,
        "",
        "a dismissed prompt says nothing"
    );
    assert_eq!(
        js(&c, &format!("return {SESSIONS_VISIBLE}")).await,
        json!(true)
    );
    restore_fetch(&c).await;
    assert_eq!(
        sessions_json(&c).await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Confirmed: the other session ends.
    open_confirm(&c, "#revoke-others").await;
    confirm(&c).await;
    until(&c, "one session left", &format!("{CARDS} === 1")).await;
    assert_eq!(js_str(&c, FLASH).await, "Signed out 1 other session.");

    // Log out everywhere: asked, then the login page with a success notice.
    let title = open_confirm(&c, "#revoke-all").await;
    assert_eq!(title, "Sign out everywhere?");
    press_escape(&c).await;
    until(&c, "Esc closes the dialog", &format!("!{CONFIRM_OPEN}")).await;
    assert_eq!(card_count(&c).await, 1);
    open_confirm(&c, "#revoke-all").await;
    confirm(&c).await;
    until(&c, "the login page", LOGIN_VISIBLE).await;
    assert_eq!(
        js_str(&c, NOTICE).await,
        "You signed out from all devices (1 session)."
    );
    assert_eq!(
        js_str(
            &c,
            "return document.getElementById('login-notice').className"
        )
        .await,
        "notice-box ok"
    );
    assert!(stored_tokens(&c, transport).await.is_empty());

    f.finish([c]).await;
}

const SIGNED_OUT_BY_YOU: &str =
    "This device was signed out by you from another device. Sign in again to continue.";

/// Devices signed out from another one learn it with the reason: one on
/// its next action on a stale screen, one when it opens a public view.
async fn revoked_told(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "revoked", transport, &[]);
    let base = f.base.clone();
    let a = f.browser("profile-a", Some(UA_WINDOWS)).await;
    let b = f.browser("profile-b", Some(UA_IPHONE)).await;
    let c = f.browser("profile-c", Some(UA_WINDOWS)).await;
    log_in(&a, &base).await;
    log_in(&b, &base).await;
    log_in(&c, &base).await;
    // c leaves the app for a public view of it while it still holds tokens.
    c.goto(&format!("{base}#/login")).await.unwrap();
    until(&c, "login page", LOGIN_VISIBLE).await;
    a.refresh().await.unwrap();
    until(&a, "three sessions", &format!("{CARDS} === 3")).await;
    let ended: Vec<String> = cards(&a)
        .await
        .into_iter()
        .filter(|s| !s.1)
        .map(|s| s.2)
        .collect();
    let title = open_confirm(&a, "#revoke-others").await;
    assert_eq!(title, "Sign out 2 other sessions?");
    confirm(&a).await;
    until(&a, "one session left", &format!("{CARDS} === 1")).await;

    // b still shows its session list; its next action tells it why.
    assert_eq!(
        js(&b, &format!("return {SESSIONS_VISIBLE}")).await,
        json!(true)
    );
    click(&b, "nav a[data-view=\"policy\"]").await;
    until(&b, "the login page", LOGIN_VISIBLE).await;
    assert_eq!(js_str(&b, NOTICE).await, SIGNED_OUT_BY_YOU);
    assert!(stored_tokens(&b, transport).await.is_empty());

    // c opens the (public) login page again: told before anything else.
    c.goto(&format!("{base}#/login")).await.unwrap();
    c.refresh().await.unwrap();
    until(
        &c,
        "the signed-out notice",
        "document.getElementById('login-notice').textContent !== ''",
    )
    .await;
    assert_eq!(js_str(&c, NOTICE).await, SIGNED_OUT_BY_YOU);
    assert_eq!(
        js_str(
            &c,
            "return document.getElementById('login-notice').className"
        )
        .await,
        "notice-box warn"
    );
    assert!(stored_tokens(&c, transport).await.is_empty());
    axe(&c, "login page with the signed-out notice").await;
    println!("[{transport}] stale devices told: {SIGNED_OUT_BY_YOU}");

    // a's "Signed out" section lists both, with how they ended.
    if sessions_json(&a).await.get("ended").is_some() {
        a.refresh().await.unwrap();
        until(
            &a,
            "the signed-out section",
            "!document.getElementById('ended-section').hidden",
        )
        .await;
        let items = js(
            &a,
            "return [...document.querySelectorAll('#ended .ended-item')].map(e => [e.dataset.id, e.dataset.reason, e.querySelector('.ended-text').textContent]);",
        )
        .await;
        println!("[{transport}] signed out: {items}");
        for id in &ended {
            let item = items
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i[0] == json!(id))
                .unwrap_or_else(|| panic!("{id} missing from the signed-out section: {items}"));
            assert_eq!(item[1], json!("user"));
            assert!(
                item[2].as_str().unwrap().contains("by you"),
                "ended_text: {item}"
            );
        }
        let summary = js_str(
            &a,
            "return document.querySelector('#ended-section summary').textContent",
        )
        .await;
        assert!(summary.starts_with("Signed out"), "{summary}");
    } else {
        panic!("the \"Signed out\" section: the session-list API has no `ended`");
    }

    f.finish([a, b, c]).await;
}

const UA_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const PICKER_VISIBLE: &str = "!document.getElementById('limit-picker').hidden";
const EVICTED_NOTICE: &str = "You were signed out because you signed in on another device and the device limit was reached. Sign in again to continue.";

/// Switches the signed-in user's demo plan through the page's select.
async fn switch_plan(c: &Client, plan: &str, label: &str) {
    until(
        c,
        "the plan switch",
        "document.getElementById('plan-select').options.length > 0",
    )
    .await;
    js(
        c,
        &format!("const s = document.getElementById('plan-select'); s.value = '{plan}'; s.dispatchEvent(new Event('change')); return null;"),
    )
    .await;
    until(
        c,
        "the plan's limits",
        &format!("document.getElementById('plan-text').textContent.startsWith('Plan {label}:')"),
    )
    .await;
}

/// The id of the browser's own session card.
async fn own_session(c: &Client) -> String {
    cards(c)
        .await
        .into_iter()
        .find(|s| s.1)
        .expect("own card")
        .2
}

/// Limits that change with the plan, without a restart; at the Strict
/// plan's limit the sign-in page lists the devices and signs out the one
/// picked ("sign out a device and continue"), whose browser is told it was
/// signed out from another device; at the Solo plan's, the older devices
/// are signed out and told it was because of a sign-in elsewhere.
async fn limits_and_plans(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "limits", transport, &[]);
    let base = f.base.clone();
    let a = f.browser("profile-a", Some(UA_WINDOWS)).await;
    let b = f.browser("profile-b", Some(UA_IPHONE)).await;
    let c = f.browser("profile-c", Some(UA_LINUX)).await;
    log_in(&a, &base).await;
    switch_plan(&a, "strict", "Strict").await;
    let text = js_str(
        &a,
        "return document.getElementById('plan-text').textContent",
    )
    .await;
    assert!(text.contains("at most 2 active sessions"), "{text}");
    let a_id = own_session(&a).await;
    log_in(&b, &base).await;

    // c is the third device: the picker, not an error.
    c.goto(&base).await.unwrap();
    until(&c, "login page", LOGIN_VISIBLE).await;
    for (id, text) in [
        ("login-username", "alice"),
        ("login-password", "alice-password"),
    ] {
        let field = c.find(Locator::Id(id)).await.unwrap();
        field.send_keys(text).await.unwrap();
    }
    click(&c, "#login-submit").await;
    until(&c, "the device picker", PICKER_VISIBLE).await;
    let items = js(
        &c,
        "return [...document.querySelectorAll('#limit-sessions .limit-item')].map(e => [e.dataset.id, e.querySelector('.limit-name').textContent]);",
    )
    .await;
    let items = items.as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().any(|i| i[0] == json!(a_id)), "{items:?}");
    assert!(
        js_str(
            &c,
            "return document.getElementById('limit-text').textContent"
        )
        .await
        .contains("2 devices"),
    );
    axe(&c, "the device picker").await;
    screenshot(&c, &format!("limit-picker-{transport}.png")).await;
    click(
        &c,
        &format!("#limit-sessions .limit-item[data-id=\"{a_id}\"] .limit-end"),
    )
    .await;
    until(
        &c,
        "signed in after the picker",
        "document.querySelector('.session-card[data-current=\"true\"]')",
    )
    .await;
    // The list may re-render once more after the sign-in: wait for it.
    until(
        &c,
        "still the plan's two sessions",
        &format!("{CARDS} === 2"),
    )
    .await;
    // a learns why on its next action.
    click(&a, "nav a[data-view=\"policy\"]").await;
    until(&a, "the login page", LOGIN_VISIBLE).await;
    assert_eq!(js_str(&a, NOTICE).await, SIGNED_OUT_BY_YOU);
    println!("[{transport}] picker: {items:?}; a told: {SIGNED_OUT_BY_YOU}");

    // Solo: one device. a signs in again; b and c are signed out, and told why.
    switch_plan(&c, "solo", "Solo").await;
    submit_login(&a).await;
    until(&a, "a alone", &format!("{CARDS} === 1")).await;
    for (name, other) in [("b", &b), ("c", &c)] {
        click(other, "nav a[data-view=\"policy\"]").await;
        until(other, "the login page", LOGIN_VISIBLE).await;
        assert_eq!(js_str(other, NOTICE).await, EVICTED_NOTICE, "{name}");
        assert!(stored_tokens(other, transport).await.is_empty(), "{name}");
    }
    axe(&b, "login page with the evicted notice").await;
    println!("[{transport}] evicted devices told: {EVICTED_NOTICE}");
    f.finish([a, b, c]).await;
}

/// Two logins in the same browser profile show as one device.
async fn grouped(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "grouped", transport, &[]);
    let base = f.base.clone();
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    let other = f.browser("profile-2", Some(UA_IPHONE)).await;
    log_in(&other, &base).await;
    log_in(&c, &base).await;
    // Forget the session (not the browser): a second, separate login.
    for name in ["__Host-sw_access", "__Host-sw_csrf"] {
        c.delete_cookie(name).await.unwrap();
    }
    js(&c, "localStorage.clear(); return null;").await;
    log_in(&c, &base).await;
    until(&c, "three sessions", &format!("{CARDS} === 3")).await;
    if api_has(&c, "device_group", "grouping same-device sessions").await {
        let groups = js(
            &c,
            "return [...document.querySelectorAll('.device-group')].map(g => [g.classList.contains('multi'), g.querySelectorAll('.session-card').length, (g.querySelector('.group-name') || {}).textContent || '']);",
        )
        .await;
        println!("[{transport}] groups: {groups}");
        let groups = groups.as_array().unwrap();
        assert_eq!(groups.len(), 2, "one group per device: {groups:?}");
        assert_eq!(groups[0][0], json!(true), "{groups:?}");
        assert_eq!(
            groups[0][1],
            json!(2),
            "both logins of this browser: {groups:?}"
        );
        assert!(
            groups[0][2].as_str().unwrap().contains("Windows"),
            "{groups:?}"
        );
        assert_eq!(groups[1][1], json!(1), "{groups:?}");
        let titles = js(
            &c,
            "return [...document.querySelectorAll('.device-group.multi .session-title')].map(t => t.textContent);",
        )
        .await;
        let titles = titles.as_array().unwrap();
        assert_eq!(titles.len(), 2, "{titles:?}");
        assert!(
            titles[0].as_str().unwrap().starts_with("This session"),
            "{titles:?}"
        );
        assert!(
            titles[1].as_str().unwrap().starts_with("Signed in "),
            "{titles:?}"
        );
        axe(&c, "grouped sessions").await;
        screenshot(&c, "sessions-grouped-1280.png").await;
    }
    f.finish([c, other]).await;
}

/// The device name of a Chromium session uses the platform version the
/// browser gives in its client hints: the User-Agent string says "Windows
/// NT 10.0" for Windows 10 and 11 alike; the hints (here Chromium's own,
/// overridden through DevTools to a Windows 11 machine, since headless
/// Linux gives no platform version) tell them apart.
async fn client_hints(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "hints", transport, &[]);
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    let full = "131.0.6778.86";
    cdp(
        &c,
        driver,
        "Emulation.setUserAgentOverride",
        json!({
            "userAgent": UA_WINDOWS,
            "userAgentMetadata": {
                "brands": [{ "brand": "Google Chrome", "version": "131" }, { "brand": "Chromium", "version": "131" }],
                "fullVersionList": [{ "brand": "Google Chrome", "version": full }, { "brand": "Chromium", "version": full }],
                "platform": "Windows",
                "platformVersion": "15.0.0",
                "architecture": "x86",
                "model": "",
                "mobile": false,
            },
        }),
    )
    .await;
    // The first page load receives `Accept-CH`; the login request then
    // carries the high-entropy hints.
    log_in(&c, &f.base).await;
    if api_has(&c, "device_name", "device names from client hints").await {
        let version = js_async(
            &c,
            "navigator.userAgentData.getHighEntropyValues(['platformVersion'])
               .then(h => done(h.platformVersion), e => done(String(e)));",
        )
        .await;
        let version = version.as_str().unwrap().to_owned();
        let major: u32 = version.split('.').next().unwrap().parse().unwrap();
        // Microsoft's mapping: platform version 13 and up is Windows 11.
        let want = if major >= 13 {
            "Windows 11"
        } else {
            "Windows 10"
        };
        let name = cards(&c).await.into_iter().find(|s| s.1).unwrap().0;
        println!("[{transport}] platform version {version}: device name {name:?}");
        assert!(
            name.contains(want),
            "{name:?} for platform version {version}"
        );
        let api_name = sessions_json(&c).await["sessions"][0]["device_name"].clone();
        assert_eq!(
            api_name,
            json!(name),
            "the page shows the API's device name"
        );
    }
    f.finish([c]).await;
}

/// One chromedriver command through its Chrome DevTools passthrough.
async fn cdp(c: &Client, driver: &str, cmd: &str, params: Value) {
    let sid = c.session_id().await.unwrap().expect("a WebDriver session");
    let port: u16 = driver.rsplit(':').next().unwrap().parse().unwrap();
    let body = json!({ "cmd": cmd, "params": params }).to_string();
    let path = format!("/session/{sid}/goog/cdp/execute");
    let (status, out) = tokio::task::spawn_blocking(move || {
        http(
            port,
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            &body,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{cmd}: {out}");
}

/// The switch of the example app that trusts loopback as a reverse proxy.
const TRUST_PROXY_FLAG: &str = "--trusted-proxies";

/// A session signed in from London (81.2.69.142) and refreshed from
/// Linköping (89.160.20.112) shows both: the login place and the last-seen
/// place. The addresses reach the app as `X-Forwarded-For` from a loopback
/// "proxy".
async fn last_seen_place(driver: &str, chromium: &Path, transport: &str) {
    assert!(
        app_help().contains(TRUST_PROXY_FLAG),
        "the example app has no `{TRUST_PROXY_FLAG} <CIDR,…>` switch"
    );
    let proxies = [TRUST_PROXY_FLAG, "127.0.0.1/32,::1/128"];
    let f = Fixture::start(driver, chromium, "seen", transport, &proxies);
    let base = f.base.clone();
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    let forwarded_for = |ip: &str| json!({ "headers": { "X-Forwarded-For": ip } });
    cdp(&c, driver, "Network.enable", json!({})).await;
    cdp(
        &c,
        driver,
        "Network.setExtraHTTPHeaders",
        forwarded_for("81.2.69.142"),
    )
    .await;
    log_in(&c, &base).await;
    cdp(
        &c,
        driver,
        "Network.setExtraHTTPHeaders",
        forwarded_for("89.160.20.112"),
    )
    .await;
    let refreshed = js_async(
        &c,
        "refreshTokens().then(r => done(r.status), e => done(String(e)));",
    )
    .await;
    assert_eq!(refreshed, json!(200));
    c.refresh().await.unwrap();
    until(&c, "the session list", &format!("{CARDS} === 1")).await;
    if api_has(&c, "last_seen", "the last-seen place").await {
        click(&c, ".session-card .details-toggle").await;
        let rows = js(
            &c,
            "return Object.fromEntries([...document.querySelectorAll('.session-card .detail-row')].map(r => [r.querySelector('dt').textContent, r.querySelector('dd').textContent]));",
        )
        .await;
        println!("[{transport}] details: {rows}");
        let signed_in = rows["Signed in"].as_str().unwrap_or_default();
        assert!(signed_in.contains("London"), "{rows}");
        let seen = rows["Last seen"].as_str().unwrap_or_default();
        assert!(seen.contains("Linköping"), "{rows}");
        let meta = js_str(
            &c,
            "return document.querySelector('.session-card .meta').textContent",
        )
        .await;
        assert!(
            meta.contains("Linköping"),
            "the card shows the last-seen place: {meta}"
        );
        // London to Linköping within seconds is impossible travel: the
        // refresh went through (notify), and the card is highlighted.
        let unusual = rows["Unusual activity"].as_str().unwrap_or_default();
        assert!(unusual.contains("too far apart"), "{rows}");
        let badge = js_str(
            &c,
            "const b = document.querySelector('.session-card.risky .badge.anomaly'); return b ? b.textContent : '';",
        )
        .await;
        assert_eq!(badge, "Unusual activity");
    }
    f.finish([c]).await;
}

/// Access-token lifetime of the long-session scenario, in seconds.
const SHORT_TTL: u64 = 2;

/// One plain HTTP/1.1 request; `(status, body)`. Reads exactly the
/// response (by `Content-Length`, or to the last chunk), so a server that
/// keeps the connection open cannot stall it.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
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
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).expect("read the response");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        let complete = text.split_once("\r\n\r\n").is_some_and(|(head, rest)| {
            let head = head.to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match length {
                Some(len) => rest.len() >= len,
                None => head.contains("transfer-encoding: chunked") && rest.ends_with("0\r\n\r\n"),
            }
        });
        if n == 0 || complete {
            break;
        }
    }
    let out = String::from_utf8_lossy(&raw).into_owned();
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
    let ttl = SHORT_TTL.to_string();
    let f = Fixture::start(driver, chromium, "long", transport, &["--access-ttl", &ttl]);
    let (base, port) = (f.base.clone(), f.port);
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    let started = Instant::now();
    log_in(&c, &base).await;
    let (first_access, _, _) = held_tokens(&c, transport).await;

    // Active for about four access-token lifetimes: click between views.
    let views = ["policy", "sessions", "notifications", "sessions"];
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(4 * SHORT_TTL) {
        let view = views[i % views.len()];
        i += 1;
        click(&c, &format!("nav a[data-view=\"{view}\"]")).await;
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
    // Bearer sessions are bound to the page's key: the replay below gets a
    // proof made by that key now, so only the ended session can refuse it.
    let proof = if transport == "bearer" {
        let p = js_async(
            &c,
            "currentKey().then(k => k ? dpopProof(k, 'POST', state.cfg.prefix + '/refresh') : 'no key')
               .then(done, e => done(String(e)));",
        )
        .await;
        let p = p.as_str().unwrap_or_default().to_owned();
        assert_eq!(p.split('.').count(), 3, "a proof by the page's key: {p}");
        Some(p)
    } else {
        None
    };
    click(&c, "#logout").await;
    until(&c, "login page after logout", LOGIN_VISIBLE).await;
    assert_eq!(js_str(&c, NOTICE).await, "You signed out.");
    assert!(stored_tokens(&c, transport).await.is_empty());

    // The refresh token captured before logout is dead on the server.
    let (status, body) = if let Some(proof) = proof {
        let body = json!({ "refresh_token": refresh }).to_string();
        http(
            port,
            "POST",
            "/auth/refresh",
            &[("Content-Type", "application/json"), ("DPoP", &proof)],
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

    f.finish([c]).await;
}

const BOUND_TEXT: &str = "Bound to a key on this device";

/// Everything a script in the page can read: localStorage, and every
/// IndexedDB record with what WebCrypto lets it do with the keys in them
/// (`pkcs8` and `jwk` say what an export of each key gave).
const LOOT: &str = "
  const req = (r) => new Promise((ok, no) => { r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  (async () => {
    const storage = Object.fromEntries(Object.keys(localStorage).map(k => [k, localStorage.getItem(k)]));
    const databases = (await indexedDB.databases()).map(d => d.name);
    const keys = [];
    for (const name of databases) {
      const db = await req(indexedDB.open(name));
      for (const store of db.objectStoreNames) {
        for (const record of await req(db.transaction(store).objectStore(store).getAll())) {
          for (const [field, key] of Object.entries(record)) {
            if (!(key instanceof CryptoKey)) continue;
            const tryExport = (format) => crypto.subtle.exportKey(format, key)
              .then(k => format === 'jwk' ? k : 'exported', e => 'refused: ' + e.name);
            keys.push({ db: name, store, field, type: key.type, extractable: key.extractable,
                        algorithm: key.algorithm.name, curve: key.algorithm.namedCurve, usages: key.usages,
                        pkcs8: key.type === 'private' ? await tryExport('pkcs8') : null,
                        jwk: await tryExport('jwk') });
          }
        }
      }
      db.close();
    }
    return { storage, databases, keys };
  })().then(done, e => done({ error: String(e) }));";

/// `r` is the DPoP refusal: 401 with a `DPoP` challenge from a protected
/// route, 400 from the refresh route (a token endpoint, RFC 9449 §5).
fn assert_dpop_refused(r: &TestResponse, token_endpoint: bool, what: &str) {
    let body = r.json();
    assert_eq!(
        body["error"],
        json!("invalid_dpop_proof"),
        "{what}: {} {}",
        r.status,
        r.body
    );
    if token_endpoint {
        assert_eq!(r.status, 400, "{what}: {}", r.body);
    } else {
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        let challenge = r.one("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("DPoP error=\"invalid_dpop_proof\""),
            "{what}: WWW-Authenticate {challenge:?}"
        );
    }
    println!("[bearer] {what}: {} {}", r.status, r.body);
}

fn unix_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(i64::try_from(ms).unwrap())
}

/// The public JWK `x` of the key pair the page keeps, read from IndexedDB.
async fn stored_key_x(c: &Client) -> Value {
    let loot = js_async(c, LOOT).await;
    loot["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{loot}"))
        .iter()
        .find(|k| k["type"] == json!("public"))
        .map_or(Value::Null, |k| k["jwk"]["x"].clone())
}

/// Bearer tokens bound to the page's key (DPoP): a script that reads all
/// the page can read — localStorage and IndexedDB — gets the tokens but
/// not the private key (non-extractable: WebCrypto refuses to export it),
/// and the tokens replayed from elsewhere, as `Bearer`, as `DPoP` without
/// a proof or with a proof by another key, are refused, access and
/// refresh. The page itself keeps working across a reload; logout deletes
/// the key and the next login makes a new one.
async fn dpop_stolen(driver: &str, chromium: &Path, transport: &str) {
    let f = Fixture::start(driver, chromium, "dpop", transport, &[]);
    let addr = SocketAddr::from(([127, 0, 0, 1], f.port));
    let c = f.browser("profile", Some(UA_WINDOWS)).await;
    log_in(&c, &f.base).await;

    // The session is bound, and the page says so on its card and in its details.
    let list = sessions_json(&c).await;
    let mine = list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == json!(true)))
        .unwrap_or_else(|| panic!("no current session: {list}"))
        .clone();
    assert_eq!(mine["binding"], json!("dpop"), "{mine}");
    assert_eq!(mine["binding_text"], json!(BOUND_TEXT), "{mine}");
    let card = ".session-card[data-current=\"true\"]";
    let badge = js_str(
        &c,
        &format!("return document.querySelector('{card} .badge.bound')?.textContent ?? ''"),
    )
    .await;
    assert_eq!(badge, BOUND_TEXT, "the card's badge");
    click(&c, &format!("{card} .details-toggle")).await;
    let rows = js(
        &c,
        &format!("return Object.fromEntries([...document.querySelectorAll('{card} .detail-row')].map(r => [r.querySelector('dt').textContent, r.querySelector('dd').textContent]));"),
    )
    .await;
    assert_eq!(rows["Protection"], json!(BOUND_TEXT), "details: {rows}");
    axe(&c, "session details of a key-bound session").await;

    // A script in the page takes everything it can.
    let loot = js_async(&c, LOOT).await;
    println!("[bearer] what a script in the page can read: {loot}");
    let storage = &loot["storage"];
    assert_eq!(storage["sw_token_type"], json!("DPoP"), "{loot}");
    let access = storage["sw_access"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = storage["sw_refresh"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let keys = loot["keys"].as_array().unwrap_or_else(|| panic!("{loot}"));
    let private: Vec<&Value> = keys
        .iter()
        .filter(|k| k["type"] == json!("private"))
        .collect();
    assert_eq!(private.len(), 1, "one private key in IndexedDB: {loot}");
    let private = private[0];
    assert_eq!(private["algorithm"], json!("ECDSA"), "{private}");
    assert_eq!(private["curve"], json!("P-256"), "{private}");
    assert_eq!(private["usages"], json!(["sign"]), "{private}");
    assert_eq!(private["extractable"], json!(false), "{private}");
    assert_eq!(
        private["pkcs8"],
        json!("refused: InvalidAccessError"),
        "{private}"
    );
    assert_eq!(
        private["jwk"],
        json!("refused: InvalidAccessError"),
        "{private}"
    );
    let public = keys
        .iter()
        .find(|k| k["type"] == json!("public"))
        .unwrap_or_else(|| panic!("{loot}"));
    assert!(public["jwk"].get("d").is_none(), "{public}");
    let first_x = public["jwk"]["x"].clone();
    assert!(first_x.is_string(), "{public}");

    // From elsewhere (plain HTTP, no browser), the tokens are refused.
    let cfg = send(addr, &TestRequest::new("GET", "/api/config"))
        .await
        .json();
    let origin = cfg["public_origin"]
        .as_str()
        .expect("public_origin")
        .to_owned();
    let prefix = cfg["prefix"].as_str().unwrap_or("/auth").to_owned();
    let refresh_path = format!("{prefix}/refresh");
    let me = |scheme: &str| {
        TestRequest::new("GET", "/api/me").header("authorization", format!("{scheme} {access}"))
    };
    let refresh_req = || {
        TestRequest::new("POST", refresh_path.clone()).json(&json!({ "refresh_token": refresh }))
    };
    assert_dpop_refused(
        &send(addr, &me("Bearer")).await,
        false,
        "access token as Bearer",
    );
    assert_dpop_refused(
        &send(addr, &me("DPoP")).await,
        false,
        "access token as DPoP without a proof",
    );
    assert_dpop_refused(
        &send(addr, &refresh_req()).await,
        true,
        "refresh token without a proof",
    );
    // A key of the thief's own signs honest-looking proofs.
    let thief = DpopKey::p256();
    let me_uri = format!("{origin}/api/me");
    let refresh_uri = format!("{origin}{refresh_path}");
    let forged = me("DPoP").header(
        "dpop",
        thief.proof("GET", &me_uri, Some(&access), None, unix_now()),
    );
    assert_dpop_refused(
        &send(addr, &forged).await,
        false,
        "access token with another key's proof",
    );
    let forged = refresh_req().header(
        "dpop",
        thief.proof("POST", &refresh_uri, None, None, unix_now()),
    );
    assert_dpop_refused(
        &send(addr, &forged).await,
        true,
        "refresh token with another key's proof",
    );
    // Those proofs are well made: the same key logs in and uses its own
    // session, so the refusals above are about the key alone.
    let login = TestRequest::new("POST", "/login")
        .header(
            "dpop",
            thief.proof("POST", &format!("{origin}/login"), None, None, unix_now()),
        )
        .json(&json!({ "username": "alice", "password": "alice-password" }));
    let r = send(addr, &login).await;
    assert_eq!(r.status, 200, "the thief key's own login: {}", r.body);
    assert_eq!(r.json()["token_type"], json!("DPoP"), "{}", r.body);
    let own = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = send(
        addr,
        &TestRequest::new("GET", "/api/me")
            .header("authorization", format!("DPoP {own}"))
            .header(
                "dpop",
                thief.proof("GET", &me_uri, Some(&own), None, unix_now()),
            ),
    )
    .await;
    assert_eq!(r.status, 200, "the thief key's own session: {}", r.body);

    // The page, with its key, carries on: after a reload (the key comes
    // back from IndexedDB) it shows the sessions, and rotates the refresh
    // token nobody else could use.
    c.refresh().await.unwrap();
    until(
        &c,
        "the session list after a reload",
        &format!("document.querySelector('{card}') && {CARDS} === 2"),
    )
    .await;
    let refreshed = js_async(
        &c,
        "refreshTokens().then(r => done([r.status, r.data && r.data.token_type]), e => done(String(e)));",
    )
    .await;
    assert_eq!(refreshed, json!([200, "DPoP"]), "the page's own refresh");
    let (_, rotated, _) = held_tokens(&c, transport).await;
    assert_ne!(rotated, refresh, "the refresh token rotated");
    let list = sessions_json(&c).await;
    let current = list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == json!(true)))
        .unwrap_or_else(|| panic!("no current session after the refresh: {list}"));
    assert_eq!(current["id"], mine["id"], "the same session");
    assert_eq!(current["binding"], json!("dpop"));
    c.refresh().await.unwrap();
    until(
        &c,
        "the session list after the refresh",
        &format!("document.querySelector('{card}')"),
    )
    .await;
    println!("[bearer] the page keeps working with its key after a reload and a refresh");

    // Logout deletes the key; the next login makes a new one.
    click(&c, "#logout").await;
    until(&c, "login page after logout", LOGIN_VISIBLE).await;
    assert!(stored_tokens(&c, transport).await.is_empty());
    assert_eq!(
        stored_key_x(&c).await,
        Value::Null,
        "the key is deleted on logout"
    );
    // A fresh page (the old list's cards gone) for the next login.
    c.refresh().await.unwrap();
    until(&c, "login page after a reload", LOGIN_VISIBLE).await;
    assert_eq!(stored_key_x(&c).await, Value::Null, "no key after a reload");
    submit_login(&c).await;
    let second_x = stored_key_x(&c).await;
    assert!(second_x.is_string(), "a key for the new session");
    assert_ne!(second_x, first_x, "the new session has a new key");
    let list = sessions_json(&c).await;
    let current = list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == json!(true)))
        .unwrap_or_else(|| panic!("no current session after the new login: {list}"));
    assert_eq!(current["binding"], json!("dpop"), "{current}");
    assert_ne!(current["id"], mine["id"], "a new session");

    // A browser without IndexedDB (the page can't keep a key) signs in
    // with plain bearer tokens, and works.
    let plain = f.browser("profile-no-idb", Some(UA_WINDOWS)).await;
    cdp(
        &plain,
        driver,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "Object.defineProperty(window, 'indexedDB', { value: undefined });" }),
    )
    .await;
    log_in(&plain, &f.base).await;
    assert_eq!(
        js(&plain, "return typeof indexedDB").await,
        json!("undefined")
    );
    assert_eq!(
        js(&plain, "return localStorage.getItem('sw_token_type')").await,
        json!("Bearer")
    );
    let list = sessions_json(&plain).await;
    let current = list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == json!(true)))
        .unwrap_or_else(|| panic!("no current session without IndexedDB: {list}"));
    assert_eq!(current["binding"], Value::Null, "not bound: {current}");
    let badges = js(
        &plain,
        &format!("return document.querySelectorAll('{card} .badge.bound').length"),
    )
    .await;
    assert_eq!(badges, json!(0));
    println!("[bearer] without IndexedDB: plain bearer tokens, an unbound session");

    f.finish([c, plain]).await;
}

/// Chromium, chromedriver (running on a free port) and a runtime, or
/// `None` after printing `SKIPPED:` when they are not installed.
fn browser_setup() -> Option<(Proc, String, PathBuf, tokio::runtime::Runtime)> {
    let chromium = std::env::var_os("SESSIONWARD_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find_in_path(&["chromium", "chromium-browser", "google-chrome"]));
    let chromedriver = std::env::var_os("SESSIONWARD_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find_in_path(&["chromedriver"]));
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        assert!(
            !required(),
            "SESSIONWARD_REQUIRE_SERVICES=1 but chromium/chromedriver are not installed (.ci/extras.sh installs them)"
        );
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

/// Runs `scenario` once per transport in `transports`, one browser test at a time.
fn run<F, Fut>(transports: &[&'static str], scenario: F)
where
    F: Fn(String, PathBuf, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_driver, url, chromium, rt)) = browser_setup() else {
        return;
    };
    for transport in transports {
        rt.block_on(scenario(url.clone(), chromium.clone(), transport));
    }
}

const BOTH: &[&str] = &["bearer", "cookies"];

/// `#[test] fn $name`: `$scenario` once per transport of `$transports`.
macro_rules! browser_test {
    ($(#[$doc:meta])* $name:ident, $transports:expr, $scenario:ident) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            run($transports, |url, chromium, t| async move {
                $scenario(&url, &chromium, t).await
            });
        }
    };
}

browser_test!(session_outlives_access_tokens, BOTH, long_session);
browser_test!(two_browsers_manage_sessions, BOTH, scenario);
browser_test!(layout_and_accessibility, &["cookies"], layout_and_a11y);
browser_test!(dialogs_confirm_cancel_and_report, &["bearer"], dialogs);
browser_test!(revoked_devices_are_told_why, BOTH, revoked_told);
browser_test!(
    /// The demo plan switch, the device picker at the limit, and evicted
    /// devices told why.
    limit_picker_and_evicted_devices,
    BOTH,
    limits_and_plans
);
browser_test!(
    /// The device cookie that ties a browser's logins together exists with
    /// cookie transport only.
    same_browser_sessions_are_grouped,
    &["cookies"],
    grouped
);
browser_test!(device_name_uses_client_hints, &["cookies"], client_hints);
browser_test!(
    /// DPoP binds bearer tokens only.
    dpop_bound_tokens_are_useless_elsewhere,
    &["bearer"],
    dpop_stolen
);
browser_test!(
    last_seen_place_differs_from_login_place,
    &["cookies"],
    last_seen_place
);
