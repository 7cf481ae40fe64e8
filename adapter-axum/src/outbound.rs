//! Calls to other services over hyper's client: pushing Security Event
//! Tokens (RFC 8935) to receivers, and reading an identity provider's
//! JWKS.

use std::fmt;

use async_trait::async_trait;
use axum::body::Bytes;
use std::time::Duration;

use axum::http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use sessionward_core::provider::{ProviderKeyError, ProviderKeySource, ProviderKeys};
use sessionward_core::ssf::{PushAuthorization, PushOutcome, SetPusher};

/// Longest answer body read (an RFC 8935 error is a small JSON object).
const MAX_ANSWER: usize = 4096;

/// A [`SetPusher`] on hyper's HTTP/1.1 client. It never follows
/// redirects, and sends `Content-Type: application/secevent+jwt`,
/// `Accept: application/json` and the stream's `Authorization` header.
///
/// [`HyperSetPusher::plain_http`] speaks `http://` only (loopback tests,
/// a TLS-terminating sidecar). For `https://` receivers, give
/// [`HyperSetPusher::with_connector`] a TLS connector of your choice (for
/// example `hyper-rustls`' `HttpsConnector`); no TLS stack is chosen for
/// you.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use sessionward_axum::HyperSetPusher;
/// let pusher = HyperSetPusher::plain_http();
/// assert!(format!("{pusher:?}").contains("HyperSetPusher"));
/// # }
/// ```
#[derive(Clone)]
pub struct HyperSetPusher<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
}

impl<C> fmt::Debug for HyperSetPusher<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperSetPusher").finish_non_exhaustive()
    }
}

impl HyperSetPusher<HttpConnector> {
    /// A pusher for `http://` endpoints.
    pub fn plain_http() -> Self {
        Self::with_connector(HttpConnector::new())
    }
}

impl<C> HyperSetPusher<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A pusher connecting through `connector` (a TLS connector for
    /// `https://`).
    pub fn with_connector(connector: C) -> Self {
        HyperSetPusher {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

#[async_trait]
impl<C> SetPusher for HyperSetPusher<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    async fn push(
        &self,
        endpoint_url: &str,
        authorization: Option<&PushAuthorization>,
        set: &str,
    ) -> PushOutcome {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(endpoint_url)
            .header(header::CONTENT_TYPE, "application/secevent+jwt")
            .header(header::ACCEPT, "application/json");
        if let Some(auth) = authorization {
            request = request.header(header::AUTHORIZATION, auth.expose_secret());
        }
        let request = match request.body(Full::new(Bytes::from(set.to_owned()))) {
            Ok(r) => r,
            Err(_) => return PushOutcome::Failed("the endpoint URL is not a valid URI".into()),
        };
        let answer = match self.client.request(request).await {
            Ok(a) => a,
            Err(e) => return PushOutcome::Failed(format!("no answer: {e}")),
        };
        let status = answer.status().as_u16();
        let body = Limited::new(answer.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        PushOutcome::from_response(status, &body)
    }
}

/// Longest key set read.
const MAX_JWKS: usize = 256 * 1024;
/// Longest a key set fetch may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`ProviderKeySource`] that `GET`s the provider's `jwks_uri`, for
/// [`IdentityProvider::from_key_source`](sessionward_core::provider::IdentityProvider::from_key_source)
/// and [`with_key_source`](sessionward_core::provider::IdentityProvider::with_key_source):
/// `200` with at most 256 KiB of JSON, within 5 s; redirects are not
/// followed. As with [`HyperSetPusher`], `https://` needs a TLS connector
/// given to [`HyperJwksSource::with_connector`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use sessionward_axum::HyperJwksSource;
/// assert!(HyperJwksSource::plain_http("http://127.0.0.1:8080/jwks").is_ok());
/// assert!(HyperJwksSource::plain_http("not a url").is_err());
/// # }
/// ```
#[derive(Clone)]
pub struct HyperJwksSource<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
    url: Uri,
}

impl<C> fmt::Debug for HyperJwksSource<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperJwksSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HyperJwksSource<HttpConnector> {
    /// Reads `url` over `http://`.
    ///
    /// # Errors
    /// [`ProviderKeyError::Fetch`] when `url` is not an absolute URI.
    pub fn plain_http(url: &str) -> Result<Self, ProviderKeyError> {
        Self::with_connector(url, HttpConnector::new())
    }
}

impl<C> HyperJwksSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// Reads `url` through `connector` (a TLS connector for `https://`).
    ///
    /// # Errors
    /// [`ProviderKeyError::Fetch`] when `url` is not an absolute URI.
    pub fn with_connector(url: &str, connector: C) -> Result<Self, ProviderKeyError> {
        let url: Uri = url
            .parse()
            .map_err(|_| ProviderKeyError::Fetch("the key set URL is not a URI".into()))?;
        if url.scheme().is_none() || url.host().is_none() {
            return Err(ProviderKeyError::Fetch(
                "the key set URL must be absolute".into(),
            ));
        }
        Ok(HyperJwksSource {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url,
        })
    }
}

#[async_trait]
impl<C> ProviderKeySource for HyperJwksSource<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    async fn fetch(&self) -> Result<ProviderKeys, ProviderKeyError> {
        let fail = |why: String| ProviderKeyError::Fetch(why);
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.url.clone())
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| fail(e.to_string()))?;
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(format!("no answer: {e}")))?;
            if answer.status() != StatusCode::OK {
                return Err(fail(format!("the provider answered {}", answer.status())));
            }
            Limited::new(answer.into_body(), MAX_JWKS)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|_| fail("the key set is too large or cut short".into()))
        };
        let body = tokio_timeout(exchange).await?;
        let text =
            std::str::from_utf8(&body).map_err(|_| fail("the key set is not UTF-8".into()))?;
        ProviderKeys::from_jwks(text)
    }
}

async fn tokio_timeout<T>(
    fut: impl std::future::Future<Output = Result<T, ProviderKeyError>>,
) -> Result<T, ProviderKeyError> {
    tokio::time::timeout(JWKS_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(ProviderKeyError::Fetch(
                "the key set fetch timed out".into(),
            ))
        })
}
