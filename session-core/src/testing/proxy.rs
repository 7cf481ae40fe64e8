//! [`TcpProxy`]: a loopback TCP forwarder a test can make silent, cut, and
//! bring back, to prove that a store or an app fails closed within its
//! bound when its database stops answering, and recovers without a restart.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP forwarder on a free `127.0.0.1` port to `target`. Dropping it
/// stops it. Its tasks run on the runtime that called [`TcpProxy::start`].
#[derive(Debug)]
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
    stalled: watch::Sender<bool>,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        #[allow(clippy::expect_used)]
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("bound address");
        let mut p = TcpProxy {
            addr,
            target,
            task: None,
            stalled: watch::Sender::new(false),
        };
        p.task = Some(tokio::spawn(serve(listener, target, p.stalled.subscribe())));
        p
    }

    /// A silent database: every connection, open or new, stays open but
    /// nothing goes through in either direction (the proxy stops reading,
    /// so what is sent waits unread), until [`TcpProxy::resume`].
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Forwards again, what waited first.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }

    /// Stops accepting and cuts every forwarded connection.
    pub fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Accepts again on the same port.
    ///
    /// # Panics
    /// If the port cannot be bound again within five seconds.
    pub async fn up(&mut self) {
        self.down();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind proxy port: {e}"),
            }
        };
        self.task = Some(tokio::spawn(serve(
            listener,
            self.target,
            self.stalled.subscribe(),
        )));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.down();
    }
}

async fn serve(listener: TcpListener, target: SocketAddr, stalled: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            return;
        };
        let stalled = stalled.clone();
        conns.spawn(async move {
            if let Ok(outbound) = TcpStream::connect(target).await {
                let (from_client, to_client) = inbound.into_split();
                let (from_server, to_server) = outbound.into_split();
                tokio::join!(
                    pump(from_client, to_server, stalled.clone()),
                    pump(from_server, to_client, stalled),
                );
            }
        });
    }
}

/// Copies one direction until end of stream, holding off while stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        // While stalled, read nothing: the sender's bytes wait unread.
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes that arrived as the stall began wait for the resume too.
        if stalled.wait_for(|s| !*s).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The `host:port` of a database URL such as
/// `postgres://user@127.0.0.1:5432/db` (`localhost` or no host mean
/// 127.0.0.1; no port means `default_port`).
///
/// ```
/// use sessionward_core::testing::socket_of;
/// let addr = socket_of("postgres://postgres@localhost/postgres", 5432);
/// assert_eq!(addr.to_string(), "127.0.0.1:5432");
/// ```
///
/// # Panics
/// If the host is not an IP address (or `localhost`).
pub fn socket_of(url: &str, default_port: u16) -> SocketAddr {
    let hostport = authority(url).rsplit('@').next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or(default_port)),
        None => (hostport, default_port),
    };
    let host = if host.is_empty() || host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    #[allow(clippy::expect_used)]
    format!("{host}:{port}")
        .parse()
        .expect("a database URL with an IP host")
}

/// `url` with its `host:port` replaced by `addr` (to route it through a
/// [`TcpProxy`]).
///
/// ```
/// use sessionward_core::testing::url_via;
/// let url = url_via("mysql://root@127.0.0.1:3306/test", "127.0.0.1:4000".parse().unwrap());
/// assert_eq!(url, "mysql://root@127.0.0.1:4000/test");
/// ```
pub fn url_via(url: &str, addr: SocketAddr) -> String {
    let hostport = authority(url).rsplit('@').next().unwrap_or("");
    match url.split_once("://") {
        Some((scheme, rest)) => {
            format!(
                "{scheme}://{}",
                rest.replacen(hostport, &addr.to_string(), 1)
            )
        }
        None => url.to_owned(),
    }
}

fn authority(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("")
}
