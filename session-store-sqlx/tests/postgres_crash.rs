//! Fault injection on a PRIVATE Postgres cluster (own data directory and
//! port, created, crashed and restarted by the test; never the shared
//! server): authentication under load fails closed with `Unavailable`
//! while the server is down, recovers without rebuilding the manager when
//! it is back, and no session or revocation is lost across the crash
//! (`pg_ctl stop -m immediate` is a crash: no clean shutdown).
#![allow(missing_docs)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sessionward_core::testing::service_unavailable;
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    RequestContext, RevokeReason, SessionError, SessionManager, SessionPolicy, UserId,
};
use sessionward_sqlx::PostgresStore;

/// The cluster's binaries, from the Debian layout.
fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(name))
        .find(|p| p.is_file())
}

/// A private cluster; stopped and deleted on drop.
struct Cluster {
    dir: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    as_root: bool,
}

impl Cluster {
    fn run(&self, program: &Path, args: &[&str]) -> bool {
        // Postgres refuses to run as root: drop to the `postgres` user then.
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.status().is_ok_and(|s| s.success())
    }

    fn start(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let ok = self.run(
            &self.pg_ctl,
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(ok, "private Postgres did not start");
    }

    fn crash(&self) {
        let data = self.dir.join("data");
        assert!(
            self.run(
                &self.pg_ctl,
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop"
                ]
            ),
            "pg_ctl stop failed"
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            &self.pg_ctl,
            &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cluster() -> Option<Cluster> {
    let (Some(initdb), Some(pg_ctl)) = (pg_bin("initdb"), pg_bin("pg_ctl")) else {
        return service_unavailable(
            "Postgres server binaries (initdb, pg_ctl)",
            "/usr/lib/postgresql",
            "not installed",
        );
    };
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let dir = std::env::temp_dir().join(format!("sessionward-pg-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if as_root {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return service_unavailable("a `postgres` system user", "chown", "missing");
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Cluster {
        dir,
        port,
        pg_ctl,
        as_root,
    };
    let data = c.dir.join("data");
    if !c.run(
        &initdb,
        &[
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
    ) {
        return service_unavailable("initdb", data.to_str().unwrap(), "failed");
    }
    c.start();
    Some(c)
}

fn manager(store: PostgresStore) -> SessionManager {
    let tokens = TokenConfig::builder("https://crash.test", "crash")
        .signing_key(SigningKey::hs256("k1", &[3; 32]).unwrap())
        .refresh_key([4; 32])
        .build()
        .unwrap();
    SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(store))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_under_load_fails_closed_and_loses_nothing() {
    let Some(pg) = cluster() else { return };
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    store.migrate().await.unwrap();
    let m = manager(store);
    let (alice, bob) = (UserId::new("alice").unwrap(), UserId::new("bob").unwrap());
    let revoked = m.login(&alice, &RequestContext::new()).await.unwrap();
    m.revoke(&alice, &revoked.session.id, RevokeReason::Admin)
        .await
        .unwrap();
    let live = m.login(&bob, &RequestContext::new()).await.unwrap();
    let live_token = live.tokens.access_token.expose_secret().to_owned();
    let dead_token = revoked.tokens.access_token.expose_secret().to_owned();

    // Load: authenticate both tokens in a loop until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (accepted_dead, unavailable, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = {
        let (m, stop, accepted_dead, unavailable, other) = (
            m.clone(),
            stop.clone(),
            accepted_dead.clone(),
            unavailable.clone(),
            other.clone(),
        );
        let (live_token, dead_token) = (live_token.clone(), dead_token.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if m.authenticate(&dead_token).await.is_ok() {
                    accepted_dead.fetch_add(1, Ordering::SeqCst);
                }
                match m.authenticate(&live_token).await {
                    Ok(_) => {}
                    Err(e) if e.is_unavailable() => {
                        unavailable.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        other.fetch_add(1, Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    pg.crash();
    let down = Instant::now();
    while unavailable.load(Ordering::SeqCst) == 0 {
        assert!(
            down.elapsed() < Duration::from_secs(20),
            "no Unavailable while the server was down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = m
        .authenticate(&live_token)
        .await
        .expect_err("nothing is accepted while the store is down");
    assert!(
        err.is_unavailable(),
        "fail closed with Unavailable, got {err:?}"
    );

    pg.start();
    let up = Instant::now();
    loop {
        if m.authenticate(&live_token).await.is_ok() {
            break;
        }
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "no recovery after the server came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "recovered {:.0} ms after restart",
        up.elapsed().as_secs_f64() * 1000.0
    );
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();

    assert_eq!(
        accepted_dead.load(Ordering::SeqCst),
        0,
        "a revoked token was accepted during the outage"
    );
    assert_eq!(
        other.load(Ordering::SeqCst),
        0,
        "errors other than Unavailable for a live session"
    );
    assert!(
        matches!(
            m.authenticate(&dead_token).await,
            Err(SessionError::SessionEnded(_))
        ),
        "the revocation survived the crash"
    );
    assert_eq!(
        m.list(&bob, None).await.unwrap().len(),
        1,
        "the live session survived the crash"
    );
    m.refresh(&live.tokens.refresh_token)
        .await
        .expect("the live session still refreshes");
}
