//! Command-line flags and environment variables of the example apps.

use std::net::IpAddr;
use std::time::Duration;

use sessionward_core::web::TokenTransport;

/// The usage text printed for `--help` and on bad flags.
pub const USAGE: &str = "\
Options (flags win over environment variables):
  --port <N>                     listen port            [SESSIONWARD_PORT]
  --host <IP>                    listen address (default 127.0.0.1) [SESSIONWARD_HOST]
  --store <URL>                  sqlite://path | postgres://… | mysql://… | redis://… | memory
                                 (default: a SQLite file next to the app)  [SESSIONWARD_STORE]
  --transport <cookies|bearer>   how the browser holds tokens (default cookies) [SESSIONWARD_TRANSPORT]
  --demo / --no-demo             demo panel and routes (default on)  [SESSIONWARD_DEMO=0|1]
  --trusted-proxies <CIDR,…>     read X-Forwarded-For from these peers only (default none)
                                 [SESSIONWARD_TRUSTED_PROXIES]
  --public-origin <URL>          the origin browsers use (default http://<host>:<port>);
                                 DPoP proofs must name it  [SESSIONWARD_PUBLIC_ORIGIN]
  --access-ttl <SECONDS>         access-token lifetime (default 300; a few seconds
                                 shows the page's silent refresh)  [SESSIONWARD_ACCESS_TTL]
Keys: SESSIONWARD_SIGNING_KEY and SESSIONWARD_REFRESH_KEY (hex, 32+ bytes each);
unset, a SQLite store keeps generated keys in <db>.keys (mode 0600) so its
sessions stay usable across restarts; other stores get random keys per start.
Every instance of a multi-instance deployment must share them, or tokens
from one instance are refused by the others.";

/// The example app's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listen address.
    pub host: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Store URL (`sqlite://…`, `postgres://…`, `mysql://…`, `redis://…`, `memory`).
    pub store: String,
    /// Token transport for the browser.
    pub transport: TokenTransport,
    /// Demo mode: the "simulate a login" panel and the security-events view.
    pub demo: bool,
    /// Access-token lifetime override (default: the demo policy's 5 minutes).
    pub access_ttl: Option<Duration>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (CIDR list).
    pub trusted_proxies: Option<String>,
    /// The origin clients use, which DPoP proofs name (default: [`Config::base_url`]).
    pub public_origin: Option<String>,
}

fn parse_ttl(name: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!("bad {name} `{v}` (whole seconds above zero)")),
    }
}

/// What parsing the command line produced.
#[derive(Debug)]
pub enum Parsed {
    /// Run with this configuration.
    Run(Config),
    /// `--help` was given.
    Help,
}

/// Parses a transport name.
pub fn parse_transport(text: &str) -> Result<TokenTransport, String> {
    match text.to_ascii_lowercase().as_str() {
        "cookies" | "cookie" => Ok(TokenTransport::Cookies),
        "bearer" => Ok(TokenTransport::Bearer),
        other => Err(format!(
            "unknown transport `{other}` (use cookies or bearer)"
        )),
    }
}

/// The name of a transport as the front-end knows it.
pub fn transport_name(t: TokenTransport) -> &'static str {
    match t {
        TokenTransport::Bearer => "bearer",
        _ => "cookies",
    }
}

impl Config {
    /// Reads the process's arguments and environment. `default_port` and
    /// `default_sqlite` (a file path) are the app's defaults.
    ///
    /// # Errors
    /// A message naming the bad flag or value.
    pub fn from_env(default_port: u16, default_sqlite: &str) -> Result<Parsed, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self::parse(std::env::args().skip(1), env, default_port, default_sqlite)
    }

    /// [`Config::from_env`] on explicit arguments and environment lookup.
    ///
    /// # Errors
    /// A message naming the bad flag or value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
        default_port: u16,
        default_sqlite: &str,
    ) -> Result<Parsed, String> {
        let mut config = Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: default_port,
            store: format!("sqlite://{default_sqlite}?mode=rwc"),
            transport: TokenTransport::Cookies,
            demo: true,
            access_ttl: None,
            trusted_proxies: None,
            public_origin: None,
        };
        if let Some(v) = env("SESSIONWARD_PORT") {
            config.port = v
                .parse()
                .map_err(|_| format!("bad SESSIONWARD_PORT `{v}`"))?;
        }
        if let Some(v) = env("SESSIONWARD_HOST") {
            config.host = v
                .parse()
                .map_err(|_| format!("bad SESSIONWARD_HOST `{v}`"))?;
        }
        if let Some(v) = env("SESSIONWARD_STORE") {
            config.store = v;
        }
        if let Some(v) = env("SESSIONWARD_TRANSPORT") {
            config.transport = parse_transport(&v)?;
        }
        if let Some(v) = env("SESSIONWARD_DEMO") {
            config.demo = !matches!(v.as_str(), "0" | "false" | "no" | "off");
        }
        if let Some(v) = env("SESSIONWARD_ACCESS_TTL") {
            config.access_ttl = Some(parse_ttl("SESSIONWARD_ACCESS_TTL", &v)?);
        }
        if let Some(v) = env("SESSIONWARD_TRUSTED_PROXIES") {
            config.trusted_proxies = Some(v);
        }
        if let Some(v) = env("SESSIONWARD_PUBLIC_ORIGIN") {
            config.public_origin = Some(v);
        }
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            match flag.as_str() {
                "--port" => {
                    let v = value("--port")?;
                    config.port = v.parse().map_err(|_| format!("bad --port `{v}`"))?;
                }
                "--host" => {
                    let v = value("--host")?;
                    config.host = v.parse().map_err(|_| format!("bad --host `{v}`"))?;
                }
                "--store" => config.store = value("--store")?,
                "--transport" => config.transport = parse_transport(&value("--transport")?)?,
                "--trusted-proxies" => config.trusted_proxies = Some(value("--trusted-proxies")?),
                "--public-origin" => config.public_origin = Some(value("--public-origin")?),
                "--demo" => config.demo = true,
                "--no-demo" => config.demo = false,
                "--access-ttl" => {
                    config.access_ttl = Some(parse_ttl("--access-ttl", &value("--access-ttl")?)?);
                }
                "-h" | "--help" => return Ok(Parsed::Help),
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        Ok(Parsed::Run(config))
    }

    /// The origin DPoP proofs must name: `--public-origin`, else the base URL.
    pub fn origin(&self) -> String {
        self.public_origin
            .clone()
            .unwrap_or_else(|| self.base_url())
    }

    /// The app's base URL, used in notification links.
    pub fn base_url(&self) -> String {
        match self.host {
            IpAddr::V6(h) => format!("http://[{h}]:{}", self.port),
            IpAddr::V4(h) => format!("http://{h}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        match Config::parse(
            args.iter().map(|s| s.to_string()),
            |_| None,
            3000,
            "d.sqlite",
        ) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let c = parse(&[]);
        assert_eq!(c.port, 3000);
        assert_eq!(c.store, "sqlite://d.sqlite?mode=rwc");
        assert_eq!(c.transport, TokenTransport::Cookies);
        assert!(c.demo);
        let c = parse(&[
            "--port",
            "4000",
            "--transport",
            "bearer",
            "--no-demo",
            "--store",
            "memory",
        ]);
        assert_eq!(
            (c.port, c.transport, c.demo),
            (4000, TokenTransport::Bearer, false)
        );
        assert_eq!(c.store, "memory");
        assert_eq!(c.base_url(), "http://127.0.0.1:4000");
        assert_eq!(c.access_ttl, None);
        let c = parse(&["--access-ttl", "3"]);
        assert_eq!(c.access_ttl, Some(Duration::from_secs(3)));
        assert!(Config::parse(["--access-ttl".into(), "0".into()], |_| None, 1, "x").is_err());
        assert!(Config::parse(["--bogus".to_string()], |_| None, 1, "x").is_err());
    }
}
