//! A deliberately small HTTP/1.1 client for tests over real TCP: one
//! request per connection (`Connection: close`), the whole answer read
//! back. Enough to drive an example app the way a browser would, without a
//! client crate.
// A test kit: a failed step is a panic, as in a test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::web::{Device, TestRequest, TestResponse};
use crate::web::ACCESS_COOKIE;

/// How long one exchange may take before the test fails.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request` to `addr` and reads the answer.
///
/// # Panics
/// When the server cannot be reached, answers malformed HTTP, uses a
/// transfer coding other than identity or chunked, or takes longer than
/// [`EXCHANGE_TIMEOUT`]: each is a failed test.
pub async fn send(addr: SocketAddr, request: &TestRequest) -> TestResponse {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(addr, request))
        .await
        .unwrap_or_else(|_| panic!("{} {} timed out", request.method, request.path))
}

async fn exchange(addr: SocketAddr, request: &TestRequest) -> TestResponse {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        request.method,
        request.path,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&request.body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    parse(&raw)
}

fn parse(raw: &[u8]) -> TestResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = std::str::from_utf8(&raw[..split]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    TestResponse {
        status,
        headers,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size_text = std::str::from_utf8(&body[..line_end]).expect("a chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hexadecimal chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The minimal example apps' story over real TCP, the same for every
/// framework: the app at `addr` has `GET /hello` behind a session, `POST
/// /login` (form `user`, `password`; `password` is the right one for
/// `user`) and the layer's session routes under `/auth`.
///
/// Anonymous `/hello` is `401 missing_token`; a wrong password is `401`
/// with no cookie, and so is an empty form; the right one signs in with
/// cookies; `/hello` greets the user; `/auth/sessions` lists one current
/// session that recorded the client's real address (`127.0.0.1`); logout
/// answers `204` with the wipe, and the old access cookie is then refused,
/// saying why.
///
/// # Panics
/// When any step differs.
pub async fn minimal_app_story(addr: SocketAddr, user: &str, password: &str) {
    let mut device = Device::new(
        false,
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        [127, 0, 0, 1],
    );
    let form = |device: &Device, password: &str| {
        let mut request = device
            .request("POST", "/login")
            .header("content-type", "application/x-www-form-urlencoded");
        request.body = format!("user={user}&password={password}").into_bytes();
        request
    };

    let r = step(addr, &mut device, |device| device.request("GET", "/hello")).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("missing_token"))
    );

    let r = step(addr, &mut device, |device| form(device, "not-the-password")).await;
    assert_eq!(r.status, 401, "a wrong password: {}", r.body);
    assert!(r.all("set-cookie").is_empty());
    let r = step(addr, &mut device, |device| {
        let mut empty = form(device, "");
        empty.body.clear();
        empty
    })
    .await;
    assert_eq!(
        r.status, 401,
        "an empty form is refused, not an error: {}",
        r.body
    );

    let r = step(addr, &mut device, |device| form(device, password)).await;
    assert_eq!(r.status, 200, "login: {}", r.body);
    let access = device
        .jar
        .get(ACCESS_COOKIE)
        .expect("an access cookie")
        .clone();

    let r = step(addr, &mut device, |device| device.request("GET", "/hello")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, format!("hello {user}").as_str())
    );

    let r = step(addr, &mut device, |device| {
        device.request("GET", "/auth/sessions")
    })
    .await;
    assert_eq!(r.status, 200, "sessions: {}", r.body);
    let sessions = r.json()["sessions"].as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(
        sessions[0]["ip"], "127.0.0.1",
        "the client address reached the session"
    );

    let r = step(addr, &mut device, |device| {
        device.request("POST", "/auth/logout")
    })
    .await;
    assert_eq!(r.status, 204, "logout: {}", r.body);
    assert_eq!(r.one("clear-site-data"), Some(crate::web::CLEAR_SITE_DATA));
    assert!(
        !device.jar.contains_key(ACCESS_COOKIE),
        "the access cookie is expired"
    );

    device.jar.insert(ACCESS_COOKIE.to_owned(), access);
    let r = step(addr, &mut device, |device| device.request("GET", "/hello")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_token");
    assert_eq!(r.json()["reason"], "logout");
}

/// Sends the request `build` makes from `device`, which absorbs the answer.
async fn step(
    addr: SocketAddr,
    device: &mut Device,
    build: impl FnOnce(&Device) -> TestRequest,
) -> TestResponse {
    let response = send(addr, &build(device)).await;
    device.absorb(&response);
    response
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_plain_and_chunked_bodies() {
        let plain = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n\r\nhi");
        assert_eq!((plain.status, plain.body.as_str()), (200, "hi"));
        assert_eq!(plain.one("set-cookie"), Some("a=1"));
        let chunked =
            parse(b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        assert_eq!((chunked.status, chunked.body.as_str()), (401, "abcde"));
    }
}
