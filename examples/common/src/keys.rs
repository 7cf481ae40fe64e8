//! Token keys: from `SESSIONWARD_SIGNING_KEY` / `SESSIONWARD_REFRESH_KEY`
//! (hex), else from a key file kept next to the SQLite store, else random.
//!
//! Keys must live exactly as long as the sessions they sign. Random keys
//! over a persistent store leave every stored session listed as active
//! after a restart although no token of it can ever verify again: ghost
//! sessions that count toward the limits. So with a SQLite file the demo
//! generates its keys once, randomly, and keeps them in `<db>.keys`
//! (created `0600`, refused if group/other can read it), next to the
//! sessions they belong to; deleting the database and the key file together
//! starts afresh. This is the pattern to copy: in production the keys come
//! from your secret store and outlive every session. Only the `memory`
//! store, whose sessions die with the process, uses per-start random keys;
//! server stores (Postgres, MySQL, Redis) without the variables get random
//! keys and a loud warning.

use std::io::Write;
use std::path::{Path, PathBuf};

use sessionward_core::tokens::{SigningKey, TokenConfig};

/// Issuer claim of the example apps' tokens.
pub const ISSUER: &str = "http://sessionward.example";
/// Audience claim of the example apps' tokens.
pub const AUDIENCE: &str = "sessionward-example";

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

fn random_32() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no system randomness: {e}"))?;
    Ok(key)
}

fn key_from_env(
    name: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    match env(name) {
        None => Ok(None),
        Some(v) => match decode_hex(&v) {
            Some(bytes) if bytes.len() >= 32 => Ok(Some(bytes)),
            _ => Err(format!(
                "{name} must be at least 32 bytes of hex (64+ hex digits)"
            )),
        },
    }
}

/// Where the keys came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SESSIONWARD_SIGNING_KEY` and `SESSIONWARD_REFRESH_KEY`.
    Environment,
    /// The key file (created now when `created`).
    File {
        /// The file.
        path: PathBuf,
        /// Whether this start generated it.
        created: bool,
    },
    /// Fresh random keys for this process only.
    Random,
}

/// The key file kept next to a SQLite store (`sqlite://path?…` →
/// `path.keys`); `None` for every other store.
pub fn key_file_for_store(store_url: &str) -> Option<PathBuf> {
    let rest = store_url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().filter(|p| !p.is_empty())?;
    if path == ":memory:" {
        return None;
    }
    let mut file = PathBuf::from(path).into_os_string();
    file.push(".keys");
    Some(PathBuf::from(file))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signing and the refresh key.
type KeyPair = ([u8; 32], [u8; 32]);

/// Reads `signing=<hex>` / `refresh=<hex>` lines.
fn parse_key_file(text: &str) -> Option<KeyPair> {
    let line = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
            .and_then(decode_hex)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
    };
    Some((line("signing")?, line("refresh")?))
}

/// Loads the key file, or creates it with fresh random keys (mode `0600`,
/// written to a temporary file and linked into place, so two instances
/// starting at once agree on one pair).
fn load_or_create(path: &Path) -> Result<(KeyPair, bool), String> {
    let fail = |e: &dyn std::fmt::Display| format!("key file {}: {e}", path.display());
    if !path.exists() {
        // A fresh checkout has no `data/` folder yet: the keys are made
        // before the SQLite store creates it.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let keys = (random_32()?, random_32()?);
        let tmp = path.with_extension(format!("keys.tmp.{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| fail(&e))?;
        let text = format!("signing={}\nrefresh={}\n", hex(&keys.0), hex(&keys.1));
        let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok((keys, true)),
            // Another instance won the race: use its keys.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(&e)),
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| fail(&e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(fail(&format_args!(
                "readable by group or others (mode {:o}); run chmod 600 on it",
                mode & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
    let keys = parse_key_file(&text)
        .ok_or_else(|| fail(&"expected `signing=<64 hex>` and `refresh=<64 hex>` lines"))?;
    Ok((keys, false))
}

/// Builds the token configuration from the environment, else the key
/// file `key_file` (created when missing), else random keys.
///
/// # Errors
/// A message when a key variable or the key file is malformed or unreadable.
pub fn token_config(
    env: impl Fn(&str) -> Option<String>,
    key_file: Option<&Path>,
) -> Result<(TokenConfig, KeySource), String> {
    let signing = key_from_env("SESSIONWARD_SIGNING_KEY", &env)?;
    let refresh = key_from_env("SESSIONWARD_REFRESH_KEY", &env)?;
    let (signing, refresh, source) = match (signing, refresh) {
        (Some(s), Some(r)) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&r[..32]);
            (s, out, KeySource::Environment)
        }
        (None, None) if key_file.is_some() => {
            let path = key_file.map(Path::to_path_buf).unwrap_or_default();
            let ((s, r), created) = load_or_create(&path)?;
            (s.to_vec(), r, KeySource::File { path, created })
        }
        (None, None) => (random_32()?.to_vec(), random_32()?, KeySource::Random),
        _ => {
            return Err(
                "set both SESSIONWARD_SIGNING_KEY and SESSIONWARD_REFRESH_KEY, or neither".into(),
            );
        }
    };
    let key = SigningKey::hs256("example-1", &signing).map_err(|e| e.to_string())?;
    let config = TokenConfig::builder(ISSUER, AUDIENCE)
        .signing_key(key)
        .refresh_key(refresh)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((config, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keys() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
        let k = "ab".repeat(32);
        let env = |n: &str| (n.starts_with("SESSIONWARD_")).then(|| k.clone());
        let (_, source) = token_config(env, None).unwrap();
        assert_eq!(source, KeySource::Environment);
        let (_, source) = token_config(|_| None, None).unwrap();
        assert_eq!(source, KeySource::Random);
        assert!(token_config(|_| Some("abcd".into()), None).is_err());
        let only_one = |n: &str| (n == "SESSIONWARD_SIGNING_KEY").then(|| k.clone());
        assert!(token_config(only_one, None).is_err());
    }

    #[test]
    fn key_file_next_to_sqlite() {
        assert_eq!(
            key_file_for_store("sqlite:///var/x/demo.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/x/demo.sqlite.keys"))
        );
        assert_eq!(key_file_for_store("memory"), None);
        assert_eq!(key_file_for_store("postgres://db/x"), None);
    }

    /// The same keys across restarts: a token minted before "restart"
    /// verifies after it; the file is private; a new file means new keys.
    #[test]
    fn key_file_survives_restarts() {
        let dir = std::env::temp_dir().join(format!("sw-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo.sqlite.keys");
        let (first, source) = token_config(|_| None, Some(&path)).unwrap();
        assert!(matches!(source, KeySource::File { created: true, .. }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = token_config(|_| None, Some(&path)).unwrap();
        assert!(matches!(source, KeySource::File { created: false, .. }));
        let token = first
            .sign_jwt("at+jwt", &serde_json::json!({"x": 1}))
            .unwrap();
        assert!(
            second
                .verify_jwt::<serde_json::Value>("at+jwt", &token)
                .is_ok()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(token_config(|_| None, Some(&path)).is_err());
        }
        std::fs::remove_file(&path).unwrap();
        let (third, _) = token_config(|_| None, Some(&path)).unwrap();
        assert!(
            third
                .verify_jwt::<serde_json::Value>("at+jwt", &token)
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A fresh checkout: neither the data folder nor the key file exists
    /// yet. The first start creates both (the demo's first command must
    /// work on a new machine).
    #[test]
    fn first_start_creates_the_data_folder() {
        let root = std::env::temp_dir().join(format!("sw-keys-fresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let path = root.join("data").join("demo.sqlite.keys");
        let (_, source) = token_config(|_| None, Some(&path)).unwrap();
        assert!(matches!(source, KeySource::File { created: true, .. }));
        assert!(path.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
