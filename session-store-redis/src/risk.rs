//! [`RiskStore`] on Redis: per-user login history in the user's slot,
//! cross-user login bursts per IP, and single-use token ids.

use async_trait::async_trait;
use futures_util::future::try_join;
use serde_json::{Map, Value};
use sessionward_core::risk::{LoginFacts, PreviousLogin, PriorHistory, RiskStore};
use sessionward_core::{SessionId, StoreError, Timestamp, UserId};

use crate::args::millis;
use crate::{RedisStore, keys};

/// The history field holding the previous login.
const LAST: &str = "last";

fn country_field(country: &str) -> String {
    format!("c:{country}")
}

fn asn_field(asn: u32) -> String {
    format!("a:{asn}")
}

/// The fields a login stamps (and `login_history` looks up), in the order
/// fingerprints, country, ASN.
fn fact_fields(facts: &LoginFacts) -> Vec<String> {
    let mut fields: Vec<String> = facts
        .fingerprints
        .iter()
        .map(|f| keys::fingerprint_field(f))
        .collect();
    fields.extend(facts.country.as_deref().map(country_field));
    fields.extend(facts.asn.map(asn_field));
    fields
}

/// Compact JSON of the previous login: `{"at":…,"c":…,"la":…,"lo":…}`,
/// absent members left out.
fn encode_last(facts: &LoginFacts) -> String {
    let mut m = Map::new();
    m.insert("at".into(), Value::from(facts.at.unix_millis()));
    if let Some(c) = &facts.country {
        m.insert("c".into(), Value::from(c.as_str()));
    }
    // Non-finite coordinates become null and are dropped on reading.
    if let Some(la) = facts.latitude {
        m.insert("la".into(), Value::from(la));
    }
    if let Some(lo) = facts.longitude {
        m.insert("lo".into(), Value::from(lo));
    }
    Value::Object(m).to_string()
}

fn decode_last(raw: &str) -> Result<PreviousLogin, StoreError> {
    let corrupt = || StoreError::Corrupt("redis login history: bad previous login".to_owned());
    let v: Value = serde_json::from_str(raw).map_err(|_| corrupt())?;
    let at = v.get("at").and_then(Value::as_i64).ok_or_else(corrupt)?;
    Ok(PreviousLogin {
        at: Timestamp::from_unix_millis(at),
        country: v.get("c").and_then(Value::as_str).map(str::to_owned),
        latitude: v.get("la").and_then(Value::as_f64),
        longitude: v.get("lo").and_then(Value::as_f64),
    })
}

impl RedisStore {
    /// `MEMORY USAGE` of the user's login-history hash in bytes (`None`
    /// when no login of the user is recorded), for capacity planning.
    ///
    /// # Errors
    /// [`StoreError`] when Redis does not answer.
    pub async fn history_memory_usage(&self, user: &UserId) -> Result<Option<u64>, StoreError> {
        self.key_memory_usage(keys::history_key(self.key_prefix(), user))
            .await
    }
}

/// Login history and single-use token ids on Redis; see the
/// [crate documentation](crate#risk-scoring-data) for the layout.
///
/// | method | Redis |
/// |---|---|
/// | `login_history` | `HMGET` of the user's history hash, concurrently with `ZCOUNT` of the IP's set |
/// | `record_login` | one script on the user's history hash, concurrently with one script on the IP's set |
/// | `consume_once` | `SET … NX PX` |
/// | `forget_user` | `DEL` of the user's history hash |
#[async_trait]
impl RiskStore for RedisStore {
    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        let mut del = redis::cmd("DEL");
        del.arg(keys::history_key(self.key_prefix(), user));
        let mut conn = self.conn();
        let _: u64 = self.run(del.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        let prefix = self.key_prefix();
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(keys::history_key(prefix, user))
            .arg(LAST)
            .arg(fact_fields(facts));
        let mut conn = self.conn();
        let history = self.run(hmget.query_async::<Vec<Option<String>>>(&mut conn));
        let burst = async {
            let Some(ip) = facts.ip else {
                return Ok(0u64);
            };
            let mut zcount = redis::cmd("ZCOUNT");
            zcount
                .arg(keys::ip_key(prefix, ip))
                .arg(millis(burst_since))
                .arg("+inf");
            let mut conn = self.conn();
            self.run(zcount.query_async::<u64>(&mut conn)).await
        };
        let (values, burst) = try_join(history, burst).await?;
        let recent_logins_from_ip = u32::try_from(burst).unwrap_or(u32::MAX);
        let Some((last, found)) = values.split_first() else {
            return Err(crate::args::unexpected());
        };
        let Some(last) = last else {
            // `last` is written by every recorded login and never trimmed:
            // without it the user has no history (never logged in, or not
            // within the retention).
            return Ok(PriorHistory {
                first_login: true,
                known_device: false,
                known_country: true,
                known_asn: true,
                previous: None,
                recent_logins_from_ip,
            });
        };
        let n_fp = facts.fingerprints.len();
        if found.len()
            != n_fp + usize::from(facts.country.is_some()) + usize::from(facts.asn.is_some())
        {
            return Err(crate::args::unexpected());
        }
        let (fps, rest) = found.split_at(n_fp);
        let mut rest = rest.iter();
        let country = facts.country.as_ref().map(|_| rest.next());
        let asn = facts.asn.map(|_| rest.next());
        let known = |slot: Option<Option<&Option<String>>>| {
            slot.is_none_or(|v| v.is_some_and(Option::is_some))
        };
        Ok(PriorHistory {
            first_login: false,
            known_device: fps.iter().any(Option::is_some),
            known_country: known(country),
            known_asn: known(asn),
            previous: Some(decode_last(last)?),
            recent_logins_from_ip,
        })
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        let prefix = self.key_prefix();
        let scripts = &self.inner.scripts;
        let mut history = scripts.record_login.key(keys::history_key(prefix, user));
        history
            .arg(millis(facts.at))
            .arg(millis(keep_since))
            .arg(encode_last(facts))
            .arg(fact_fields(facts));
        let mut conn = self.conn();
        let history = self.run(history.invoke_async::<u64>(&mut conn));
        let ip = async {
            let Some(ip) = facts.ip else {
                return Ok(0u64);
            };
            // Unique per login (66 random bits), so concurrent logins in one
            // millisecond all count.
            let nonce = SessionId::generate();
            let member = format!("{}:{}", facts.at.unix_millis(), &nonce.as_str()[..11]);
            let mut inv = scripts.record_ip.key(keys::ip_key(prefix, ip));
            inv.arg(millis(facts.at))
                .arg(member)
                .arg(millis(keep_since))
                .arg(self.inner.ip_login_cap);
            let mut conn = self.conn();
            self.run(inv.invoke_async::<u64>(&mut conn)).await
        };
        try_join(history, ip).await?;
        Ok(())
    }

    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // Relative to the caller's `now` (the store never reads a clock);
        // an already expired id is kept 1 ms, like a dropped entry.
        let ttl = expires_at
            .unix_millis()
            .saturating_sub(now.unix_millis())
            .max(1);
        let mut set = redis::cmd("SET");
        set.arg(keys::once_key(self.key_prefix(), token_id))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        let mut conn = self.conn();
        let reply: Option<String> = self.run(set.query_async(&mut conn)).await?;
        Ok(reply.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_login_round_trips_compactly() {
        let facts = LoginFacts {
            fingerprints: vec!["ua:Chrome|Windows|desktop".into()],
            country: Some("GB".into()),
            asn: Some(64_500),
            ip: None,
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            at: Timestamp::from_unix_millis(1_767_225_600_123),
        };
        let raw = encode_last(&facts);
        assert_eq!(
            raw,
            r#"{"at":1767225600123,"c":"GB","la":51.5142,"lo":-0.0931}"#
        );
        assert!(raw.len() <= 64, "fits a listpack entry");
        let prev = decode_last(&raw).unwrap();
        assert_eq!(prev.at, facts.at);
        assert_eq!(prev.country.as_deref(), Some("GB"));
        assert_eq!(
            (prev.latitude, prev.longitude),
            (Some(51.5142), Some(-0.0931))
        );
        let bare = LoginFacts {
            country: None,
            latitude: None,
            longitude: Some(f64::NAN),
            ..facts
        };
        let prev = decode_last(&encode_last(&bare)).unwrap();
        assert_eq!(
            (prev.country, prev.latitude, prev.longitude),
            (None, None, None)
        );
    }

    #[test]
    fn fields_are_short_and_ordered() {
        let facts = LoginFacts {
            fingerprints: vec!["ua:a".into(), format!("id:{}", "f".repeat(64))],
            country: Some("SE".into()),
            asn: Some(3301),
            ip: None,
            latitude: None,
            longitude: None,
            at: Timestamp::from_unix_millis(0),
        };
        let fields = fact_fields(&facts);
        assert_eq!(fields.len(), 4);
        assert!(
            fields[..2]
                .iter()
                .all(|f| f.starts_with("fp:") && f.len() == 25)
        );
        assert_eq!(&fields[2..], ["c:SE", "a:3301"]);
    }
}
