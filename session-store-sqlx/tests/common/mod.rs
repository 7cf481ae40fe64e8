//! Shared test support: service URLs, isolated schemas/databases, and
//! checks every backend runs.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{RequestContext, RevokeReason, SessionPolicy, SessionStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Serialises one-time setup (schema/database creation, migrations) across
/// the tests of one binary, which run on separate runtimes.
pub static SETUP: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

pub fn postgres_url() -> String {
    std::env::var("SESSIONWARD_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("SESSIONWARD_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A name no other test run uses.
pub fn unique_name(prefix: &str) -> String {
    let id = sessionward_core::SessionId::generate();
    let tail: String = id
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        tail.to_ascii_lowercase()
    )
}

/// Login, revoke, then reopen through `reopen`: the revoked session stays dead
/// and an untouched one stays alive.
pub async fn restart_keeps_revocations(
    first: Arc<dyn SessionStore>,
    close: impl AsyncFnOnce(),
    reopen: impl AsyncFnOnce() -> Arc<dyn SessionStore>,
) {
    let h = Harness::new(first, SessionPolicy::default());
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let dead = h.manager.login(&user, &ctx).await.unwrap();
    let alive = h.manager.login(&user, &ctx).await.unwrap();
    h.manager
        .revoke(&user, &dead.session.id, RevokeReason::User)
        .await
        .unwrap();
    drop(h);
    close().await;

    let h2 = Harness::new(reopen().await, SessionPolicy::default());
    assert!(
        h2.manager
            .authenticate(dead.tokens.access_token.expose_secret())
            .await
            .is_err(),
        "a revoked session came back after a restart"
    );
    assert!(
        h2.manager
            .refresh(&dead.tokens.refresh_token)
            .await
            .is_err()
    );
    h2.manager
        .authenticate(alive.tokens.access_token.expose_secret())
        .await
        .expect("an untouched session survives a restart");
}

/// A TCP forwarder to a database that the test can take down and bring
/// back on the same port, to simulate an outage.
pub struct Proxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = Proxy {
            addr,
            target,
            task: None,
        };
        p.task = Some(tokio::spawn(serve(listener, target)));
        p
    }

    /// Stops accepting and cuts every forwarded connection.
    pub fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Accepts again on the same port.
    pub async fn up(&mut self) {
        self.down();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind proxy port: {e}"),
            }
        };
        self.task = Some(tokio::spawn(serve(listener, self.target)));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
    }
}

async fn serve(listener: TcpListener, target: SocketAddr) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        conns.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// Resolves the host:port of a database URL (loopback by default).
pub fn socket_of(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap_or("");
    let hostport = rest.split('/').next().unwrap_or("");
    let hostport = hostport.rsplit('@').next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or(default_port)),
        None => (hostport, default_port),
    };
    let host = if host.is_empty() || host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().unwrap()
}

/// Rewrites a URL's host:port to `addr`.
pub fn url_via(url: &str, addr: SocketAddr, default_port: u16) -> String {
    let from = socket_of(url, default_port);
    let original = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    let hostport = original.rsplit('@').next().unwrap_or("");
    let _ = from;
    url.replacen(hostport, &addr.to_string(), 1)
}

/// A database "restart" while the pool's connections sit idle: the proxy
/// cuts every connection and comes straight back, with no call in between.
///
/// With `test_before_acquire` off (the [`sessionward_sqlx::StoreOptions`]
/// default) a call may get a dead pooled connection: it must fail closed
/// (`Unavailable`, never an accepted token) and the store must recover
/// within a few calls. With the ping on, the first call already succeeds.
pub async fn stale_connections_fail_closed_then_recover(
    store: Arc<dyn SessionStore>,
    proxy: &mut Proxy,
    ping: bool,
) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let l = h.manager.login(&user, &ctx).await.unwrap();
    let token = l.tokens.access_token.expose_secret().to_owned();
    h.manager.authenticate(&token).await.unwrap();
    // Let sqlx's release check finish so the connections are idle in the pool.
    tokio::time::sleep(Duration::from_millis(100)).await;

    proxy.up().await;

    let mut failures = 0;
    loop {
        match store.get(&user, &l.session.id).await {
            Ok(found) => {
                assert!(found.is_some());
                break;
            }
            Err(e) => {
                assert!(
                    e.is_unavailable(),
                    "a stale connection must fail closed: {e:?}"
                );
                failures += 1;
                assert!(failures <= 4, "never recovered after {failures} failures");
            }
        }
    }
    if ping {
        assert_eq!(failures, 0, "the ping replaces dead connections before use");
    }
    println!("test_before_acquire={ping}: {failures} failed call(s) after the restart");
    h.manager
        .authenticate(&token)
        .await
        .expect("recovered after the restart");
}
