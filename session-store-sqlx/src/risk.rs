//! Pieces shared by every backend's [`RiskStore`](sessionward_core::risk::RiskStore)
//! implementation: history keys, the `login_history` result row, and the
//! used-token cleanup batch.

use sessionward_core::TokenHash;
use sessionward_core::risk::{LoginFacts, PreviousLogin, PriorHistory};

/// `kind` of a device fingerprint row in `sessionward_login_history`.
pub(crate) const KIND_DEVICE: &str = "device";
/// `kind` of a country row.
pub(crate) const KIND_COUNTRY: &str = "country";
/// `kind` of an ASN row (value in decimal).
pub(crate) const KIND_ASN: &str = "asn";

/// Longest value stored as is (the MySQL columns are `VARCHAR(255)`).
const MAX_KEY_CHARS: usize = 255;

/// Expired used-token rows deleted per sweep: with one sweep per
/// [`TOKEN_GC_EVERY`] inserts on average, 64 per insert, enough to outpace
/// the inserts while keeping each delete bounded.
pub(crate) const TOKEN_GC_BATCH: i64 = 64 * TOKEN_GC_EVERY as i64;

/// One successful `consume_once` in this many (on average) sweeps expired
/// ids, so a call is one statement, not two (DPoP records a proof id per
/// request).
const TOKEN_GC_EVERY: u8 = 16;

/// Whether the insert of `key` sweeps: decided by the key's hash, so the
/// share is even however the ids look.
pub(crate) fn sweeps(key: &str) -> bool {
    TokenHash::of(key.as_bytes()).as_bytes()[0].is_multiple_of(TOKEN_GC_EVERY)
}

/// A value as stored: itself, or `sha256:<hex>` when longer than 255
/// characters, so every backend keys it identically and nothing is truncated.
pub(crate) fn key(value: &str) -> String {
    if value.chars().count() > MAX_KEY_CHARS {
        format!("sha256:{}", TokenHash::of(value.as_bytes()).to_hex())
    } else {
        value.to_owned()
    }
}

/// The stored device keys of a login, deduplicated.
pub(crate) fn device_keys(facts: &LoginFacts) -> Vec<String> {
    let mut keys: Vec<String> = facts.fingerprints.iter().map(|f| key(f)).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The stored country key of a login.
pub(crate) fn country_key(facts: &LoginFacts) -> Option<String> {
    facts.country.as_deref().map(key)
}

/// The stored ASN key of a login.
pub(crate) fn asn_key(facts: &LoginFacts) -> Option<String> {
    facts.asn.map(|a| a.to_string())
}

/// Every `(kind, value)` a login records, sorted and deduplicated, so
/// concurrent upserts lock rows in the same order.
pub(crate) fn history_keys(facts: &LoginFacts) -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&'static str, String)> = device_keys(facts)
        .into_iter()
        .map(|k| (KIND_DEVICE, k))
        .collect();
    keys.extend(country_key(facts).map(|c| (KIND_COUNTRY, c)));
    keys.extend(asn_key(facts).map(|a| (KIND_ASN, a)));
    keys.sort();
    keys.dedup();
    keys
}

/// The IP of a login as stored.
pub(crate) fn ip_key(facts: &LoginFacts) -> Option<String> {
    facts.ip.map(|ip| ip.to_string())
}

/// The one row every backend's `login_history` query returns.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    /// The user has any history or last-login row.
    pub(crate) seen: bool,
    /// Any of the login's fingerprints is in the history.
    pub(crate) known_device: bool,
    /// The country is in the history, or the login has none.
    pub(crate) known_country: bool,
    /// The ASN is in the history, or the login has none.
    pub(crate) known_asn: bool,
    /// Logins from the IP since the burst window start.
    pub(crate) recent: i64,
    /// `sessionward_last_login` columns (NULL when there is no row).
    pub(crate) at: Option<i64>,
    pub(crate) country: Option<String>,
    pub(crate) latitude: Option<f64>,
    pub(crate) longitude: Option<f64>,
}

impl HistoryRow {
    /// What the row says, shaped like the in-memory store's answer.
    pub(crate) fn into_prior(self) -> PriorHistory {
        let recent_logins_from_ip = u32::try_from(self.recent.max(0)).unwrap_or(u32::MAX);
        if !self.seen {
            return PriorHistory {
                first_login: true,
                known_device: false,
                known_country: true,
                known_asn: true,
                previous: None,
                recent_logins_from_ip,
            };
        }
        PriorHistory {
            first_login: false,
            known_device: self.known_device,
            known_country: self.known_country,
            known_asn: self.known_asn,
            previous: self.at.map(|at| PreviousLogin {
                at: sessionward_core::Timestamp::from_unix_millis(at),
                country: self.country,
                latitude: self.latitude,
                longitude: self.longitude,
            }),
            recent_logins_from_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_hashed() {
        assert_eq!(
            key("ua:Chrome|Windows|desktop"),
            "ua:Chrome|Windows|desktop"
        );
        let long = "x".repeat(300);
        let k = key(&long);
        assert!(k.starts_with("sha256:") && k.len() == 7 + 64, "{k}");
        assert_eq!(k, key(&long));
        assert_eq!(key(&"é".repeat(255)), "é".repeat(255));
    }

    #[test]
    fn history_keys_sorted_and_unique() {
        let facts = LoginFacts {
            fingerprints: vec!["ua:b".into(), "ua:a".into(), "ua:b".into()],
            country: Some("GB".into()),
            asn: Some(64_500),
            ip: None,
            latitude: None,
            longitude: None,
            at: sessionward_core::Timestamp::from_unix_millis(0),
        };
        assert_eq!(
            history_keys(&facts),
            vec![
                ("asn", "64500".to_owned()),
                ("country", "GB".to_owned()),
                ("device", "ua:a".to_owned()),
                ("device", "ua:b".to_owned()),
            ]
        );
    }
}
