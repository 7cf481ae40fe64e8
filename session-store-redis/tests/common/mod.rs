//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::Duration;

use sessionward_core::testing::service_unavailable;
use sessionward_core::{
    AppId, CreateOutcome, CreateRequest, DeviceClass, DeviceInfo, Location, OnLimit, RefreshState,
    RiskSignal, RiskSummary, SessionId, SessionLimits, SessionMeta, SessionRecord, SessionStore,
    Timestamp, TokenHash, UserId,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};

/// `SESSIONWARD_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("SESSIONWARD_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix unique to this test process, so runs never see each other's data.
pub fn run_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        format!(
            "swtest:{}:",
            SessionId::generate().as_str().replace('-', "x")
        )
    })
}

/// A store on the shared Redis, or `None` (skip) when it is unreachable.
pub async fn store_with(config: RedisStoreConfig) -> Option<RedisStore> {
    let url = redis_url();
    match RedisStore::connect(&url, config.with_key_prefix(run_prefix())).await {
        Ok(store) => Some(store),
        Err(e) => service_unavailable("Redis", &url, e),
    }
}

/// The default configuration with generous timeouts: the concurrency cases
/// queue hundreds of scripts at once on a machine that may be busy, and a
/// slow answer there is not what they test. Production keeps the 1 s / 2 s
/// defaults; the outage tests set their own short timeouts.
pub fn test_config() -> RedisStoreConfig {
    RedisStoreConfig::default()
        .with_response_timeout(std::time::Duration::from_secs(15))
        .with_operation_timeout(std::time::Duration::from_secs(20))
}

/// A store with [`test_config`].
pub async fn store() -> Option<RedisStore> {
    store_with(test_config()).await
}

/// A free port for a cluster node: Redis Cluster also listens on the port
/// plus 10000 (the cluster bus) and refuses a port above 55535, so an
/// ephemeral port from the OS (up to 60999 here) made the node fail to
/// start about one time in five. Both ports are checked free, and both lie
/// below the OS's ephemeral range (32768 and up), so no outgoing connection
/// takes one between the check and the start.
fn cluster_port() -> u16 {
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    (0..2_000u64)
        .map(|i| {
            10_000
                + ((seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(i * 7_919))
                    % 12_767) as u16
        })
        .find(|&port| free(port) && free(port + 10_000))
        .expect("a free port pair for a cluster node")
}

/// A private `redis-server` child on a free loopback port, killed on drop.
/// Never the shared server.
pub struct PrivateRedis {
    /// The port it listens on.
    pub port: u16,
    child: Option<std::process::Child>,
    extra: Vec<String>,
    dir: std::path::PathBuf,
}

impl PrivateRedis {
    /// Starts one, or `None` (skip) when `redis-server` is not installed.
    pub fn start(extra: &[&str]) -> Option<Self> {
        let probe = std::process::Command::new("redis-server")
            .arg("--version")
            .output();
        if let Err(e) = probe {
            return service_unavailable("redis-server binary", "PATH", e);
        }
        let port = if extra.contains(&"--cluster-enabled") {
            cluster_port()
        } else {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let dir =
            std::env::temp_dir().join(format!("sessionward-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = PrivateRedis {
            port,
            child: None,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir,
        };
        server.spawn();
        Some(server)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server process on the same port and waits until it answers.
    pub fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "private redis did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The process id of the running server, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// A synchronous connection to it, for test setup.
    pub fn admin(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Kills the server process (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `command` (an `INFO`/`CLUSTER INFO` style query) on `server`
/// until its text contains `needle`; panics after 10 s.
pub fn wait_for_info(server: &PrivateRedis, command: &redis::Cmd, needle: &str) {
    let mut conn = server.admin();
    let started = std::time::Instant::now();
    loop {
        let info: String = command.query(&mut conn).unwrap();
        if info.contains(needle) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never saw {needle}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private single-node Redis Cluster (`--cluster-enabled yes`, all 16384
/// slots on the one node), or `None` (skip) without `redis-server`.
pub fn start_cluster() -> Option<PrivateRedis> {
    let server = PrivateRedis::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ])?;
    let _: () = redis::cmd("CLUSTER")
        .arg("ADDSLOTSRANGE")
        .arg(0)
        .arg(16383)
        .query(&mut server.admin())
        .unwrap();
    wait_for_info(
        &server,
        redis::cmd("CLUSTER").arg("INFO"),
        "cluster_state:ok",
    );
    Some(server)
}

/// A session of `user` created at `now`, ending 12 h later; `rich` fills
/// the metadata (User-Agent, parsed device, city-level location, one risk
/// signal).
pub fn record(user: &UserId, now: Timestamp, rich: bool) -> SessionRecord {
    let meta = if rich {
        SessionMeta {
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".into()),
            device: DeviceInfo {
                browser: Some("Chrome".into()),
                browser_version: Some("131.0".into()),
                os: Some("Windows".into()),
                os_version: Some("10".into()),
                device_family: Some("Other".into()),
                ..DeviceInfo::default()
            },
            location: Location {
                country_code: Some("GB".into()),
                country_name: Some("United Kingdom".into()),
                city: Some("London".into()),
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
                accuracy_radius_km: Some(10),
                ..Location::default()
            },
            risk: RiskSummary {
                score: 20,
                level: "low".into(),
                signals: vec![RiskSignal {
                    name: "new_device".into(),
                    weight: 20,
                    reason: "first login from this device".into(),
                }],
            },
            sign_in_method: Some("password".into()),
            device_group: Some("3f2a9c0d81b4e6f7".into()),
            binding: None,
            app: Some(AppId::new("web").unwrap()),
            tenant: Some(sessionward_core::TenantId::new("acme").unwrap()),
            provider: Some(
                sessionward_core::ProviderSession::new("https://idp.example.com", "248289761001")
                    .with_sid("08a5019c"),
            ),
        }
    } else {
        SessionMeta::default()
    };
    SessionRecord {
        user: user.clone(),
        id: SessionId::generate(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus(Duration::from_secs(12 * 3600)),
        auth_time: now,
        refresh: RefreshState {
            hash: TokenHash::of(SessionId::generate().as_str().as_bytes()),
            generation: 0,
            rotated_at: now,
        },
        revoked: None,
        ip: Some("81.2.69.142".parse().unwrap()),
        device_class: DeviceClass::Desktop,
        country: Some("GB".into()),
        meta,
        seen: Default::default(),
    }
}

/// No limits.
pub fn unlimited() -> SessionLimits {
    SessionLimits {
        per_user: None,
        per_app: None,
        per_tenant: None,
        per_ip: None,
        per_device_class: Vec::new(),
        max_countries: None,
        on_limit: OnLimit::RejectNew,
    }
}

/// Creates `r` under [`unlimited`] limits, asserting it was created.
pub async fn create(store: &dyn SessionStore, r: SessionRecord, now: Timestamp) {
    let out = store
        .create(CreateRequest {
            session: r,
            limits: unlimited(),
            now,
            idle_cutoff: now.minus(Duration::from_secs(1800)),
            replaces: None,
            ends: Vec::new(),
            credential_verified_at: now,
            touch_interval: Duration::from_secs(60),
            keep_ended_for: std::time::Duration::ZERO,
        })
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Created { .. }));
}
