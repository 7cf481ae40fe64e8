//! The packed form of one session, as stored in the per-user hash.
//!
//! ```text
//! 1|created|last_seen|expires|auth_time|generation|rotated_at|hash|revoked_at|reason|ip|class|country[|app[|tenant]]\n{meta json}[\n{last seen json}\n{places json}]
//! ```
//!
//! The 14th field, the session's app ([`sessionward_core::AppId`], whose
//! charset needs no escaping), and the 15th, its tenant, are written only
//! for a session that has them (an empty app before a tenant), so records
//! without either keep the 13-field form older versions read. Per-app and
//! per-tenant limits compare them in Lua; they are not repeated in the
//! metadata.
//!
//! The two optional lines after the metadata are the session's
//! [`sessionward_core::SeenLog`]: the latest use (`SeenFrom` JSON, or
//! empty) and the recent places (a JSON array, or empty). The touch and
//! rotate scripts replace them as opaque text, in the same write as the
//! activity time.
//!
//! The header before the newline is what the Lua scripts read and rewrite
//! (timestamps are unix milliseconds in decimal, the refresh hash is base64url,
//! empty text means "none"). The descriptive metadata after the newline is
//! opaque to Lua, so the scripts never re-encode it (no float or number
//! rounding through cjson). `null` members of the metadata are dropped (they
//! decode back to their defaults) and well-known member names are shortened
//! through [`SHORT_KEYS`]; unknown names pass through unchanged.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionward_core::{
    AppId, DeviceClass, RefreshState, Revocation, RevokeReason, SeenFrom, SeenLog, SessionId,
    SessionMeta, SessionRecord, StoreError, TenantId, Timestamp, TokenHash, UserId,
};

/// Format version, the first header field.
const VERSION: &str = "1";
/// Number of `|`-separated header fields without an app; one more with it.
const FIELDS: usize = 13;

/// Encodes a record. The user is the hash key and the id the hash field, so
/// neither is repeated in the value.
pub(crate) fn encode(r: &SessionRecord) -> Result<String, StoreError> {
    let meta = meta_json(&r.meta)?;
    let mut out = String::with_capacity(160);
    let (revoked_at, reason) = match r.revoked {
        Some(rev) => (crate::args::millis(rev.at), rev.reason.as_str()),
        None => (String::new(), ""),
    };
    let ip = r.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let country = r.country.as_deref().map(escape).unwrap_or_default();
    let app = match (&r.meta.app, &r.meta.tenant) {
        (app, Some(tenant)) => format!(
            "|{}|{tenant}",
            app.as_ref().map(AppId::as_str).unwrap_or("")
        ),
        (Some(app), None) => format!("|{app}"),
        (None, None) => String::new(),
    };
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{VERSION}|{}|{}|{}|{}|{}|{}|{}|{revoked_at}|{reason}|{ip}|{}|{country}{app}\n{meta}",
        r.created_at.unix_millis(),
        r.last_seen_at.unix_millis(),
        r.expires_at.unix_millis(),
        r.auth_time.unix_millis(),
        r.refresh.generation,
        r.refresh.rotated_at.unix_millis(),
        hash_text(&r.refresh.hash),
        class_code(r.device_class),
    );
    let (last, places) = seen_lines(r.seen.last.as_deref(), &r.seen.places)?;
    if !last.is_empty() || !places.is_empty() {
        let _ = write!(out, "\n{last}\n{places}");
    }
    Ok(out)
}

/// The metadata line's JSON, as [`encode`] writes it.
/// The app is left out: the header holds it.
pub(crate) fn meta_json(meta: &SessionMeta) -> Result<serde_json::Value, StoreError> {
    let mut meta = serde_json::to_value(meta)
        .map_err(|e| StoreError::Corrupt(format!("session metadata does not serialize: {e}")))?;
    if let Some(members) = meta.as_object_mut() {
        members.remove("app");
        members.remove("tenant");
    }
    Ok(rename_keys(strip_nulls(meta), true))
}

/// The two seen lines: the latest use and the recent places, each JSON or
/// empty when absent.
pub(crate) fn seen_lines(
    last: Option<&SeenFrom>,
    places: &[SeenFrom],
) -> Result<(String, String), StoreError> {
    let last = last.map(to_json).transpose()?.unwrap_or_default();
    let places = if places.is_empty() {
        String::new()
    } else {
        to_json(places)?
    };
    Ok((last, places))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("session seen log does not serialize: {e}")))
}

/// The stored text of a refresh-token hash.
pub(crate) fn hash_text(hash: &TokenHash) -> String {
    URL_SAFE_NO_PAD.encode(hash.as_bytes())
}

/// Decodes the value stored for session `id` of `user`.
pub(crate) fn decode(user: &UserId, id: &str, raw: &str) -> Result<SessionRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("redis session record: {what}"));
    let mut lines = raw.splitn(4, '\n');
    let head = lines.next().unwrap_or("");
    let meta = lines.next().unwrap_or("");
    let seen_last = lines.next().unwrap_or("");
    let seen_places = lines.next().unwrap_or("");
    let f: Vec<&str> = head.split('|').collect();
    if !(FIELDS..=FIELDS + 2).contains(&f.len()) || f[0] != VERSION {
        return Err(corrupt("unknown format"));
    }
    let ts = |i: usize| {
        f[i].parse::<i64>()
            .map(Timestamp::from_unix_millis)
            .map_err(|_| corrupt("bad timestamp"))
    };
    let id = SessionId::parse(id).map_err(|_| corrupt("bad session id"))?;
    let hash: [u8; 32] = URL_SAFE_NO_PAD
        .decode(f[7])
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("bad refresh hash"))?;
    let revoked = if f[8].is_empty() {
        None
    } else {
        Some(Revocation {
            at: ts(8)?,
            reason: RevokeReason::parse(f[9]).ok_or_else(|| corrupt("bad revoke reason"))?,
        })
    };
    let ip = if f[10].is_empty() {
        None
    } else {
        Some(f[10].parse().map_err(|_| corrupt("bad ip"))?)
    };
    let country = if f[12].is_empty() {
        None
    } else {
        Some(unescape(f[12]).ok_or_else(|| corrupt("bad country"))?)
    };
    let mut meta: SessionMeta = if meta.is_empty() {
        SessionMeta::default()
    } else {
        let value: serde_json::Value =
            serde_json::from_str(meta).map_err(|_| corrupt("bad metadata"))?;
        serde_json::from_value(rename_keys(value, false)).map_err(|_| corrupt("bad metadata"))?
    };
    meta.app = match f.get(FIELDS).filter(|a| !a.is_empty()) {
        Some(app) => Some(AppId::new(*app).map_err(|_| corrupt("bad app"))?),
        None => None,
    };
    meta.tenant = match f.get(FIELDS + 1) {
        Some(t) => Some(TenantId::new(*t).map_err(|_| corrupt("bad tenant"))?),
        None => None,
    };
    let seen = SeenLog {
        last: if seen_last.is_empty() {
            None
        } else {
            Some(serde_json::from_str(seen_last).map_err(|_| corrupt("bad last-seen line"))?)
        },
        places: if seen_places.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(seen_places).map_err(|_| corrupt("bad places line"))?
        },
    }
    .bounded();
    Ok(SessionRecord {
        user: user.clone(),
        id,
        created_at: ts(1)?,
        last_seen_at: ts(2)?,
        expires_at: ts(3)?,
        auth_time: ts(4)?,
        refresh: RefreshState {
            hash: TokenHash::from_bytes(hash),
            generation: f[5].parse().map_err(|_| corrupt("bad generation"))?,
            rotated_at: ts(6)?,
        },
        revoked,
        ip,
        device_class: class_from_code(f[11]).ok_or_else(|| corrupt("bad device class"))?,
        country,
        meta,
        seen,
    })
}

/// One-letter stored form of a device class (the scripts only compare it).
pub(crate) fn class_code(class: DeviceClass) -> &'static str {
    match class {
        DeviceClass::Desktop => "d",
        DeviceClass::Mobile => "m",
        DeviceClass::Tablet => "t",
        DeviceClass::Bot => "b",
        DeviceClass::Other => "o",
    }
}

fn class_from_code(code: &str) -> Option<DeviceClass> {
    Some(match code {
        "d" => DeviceClass::Desktop,
        "m" => DeviceClass::Mobile,
        "t" => DeviceClass::Tablet,
        "b" => DeviceClass::Bot,
        "o" => DeviceClass::Other,
        _ => return None,
    })
}

/// Percent-escapes the bytes that would break the header (`|`, newline) and
/// `%` itself, so equality of escaped text is equality of the original.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 3)?;
        out.push(match code {
            "25" => '%',
            "7C" => '|',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Defines [`SHORT_KEYS`] and the two lookups from one list, so the lookups
/// compile to `match`es: a session list decodes every member of ten records,
/// and a linear scan of the table per member cost as much as the parse.
macro_rules! short_keys {
    ($(($long:literal, $short:literal)),* $(,)?) => {
        /// Member names of [`SessionMeta`] (at any depth) and their stored
        /// short forms. No short form is itself a member name, so unknown
        /// members written by a newer core pass through both directions
        /// unchanged. (The lookups below are what the codec uses; the list
        /// itself is for the tests that check it.)
        #[cfg(test)]
        const SHORT_KEYS: &[(&str, &str)] = &[$(($long, $short)),*];

        /// The stored short form of a member name.
        fn short_key(long: &str) -> Option<&'static str> {
            match long {
                $($long => Some($short),)*
                _ => None,
            }
        }

        /// The member name of a stored short form.
        fn long_key(short: &str) -> Option<&'static str> {
            match short {
                $($short => Some($long),)*
                _ => None,
            }
        }
    };
}

short_keys! {
    ("user_agent", "ua"),
    ("device", "d"),
    ("browser", "b"),
    ("browser_version", "bv"),
    ("os_version", "ov"),
    ("device_family", "df"),
    ("device_brand", "db"),
    ("device_model", "dm"),
    ("location", "l"),
    ("country_code", "cc"),
    ("country_name", "cn"),
    ("region", "rg"),
    ("city", "c"),
    ("latitude", "la"),
    ("longitude", "lo"),
    ("accuracy_radius_km", "ar"),
    ("asn", "a"),
    ("asn_org", "ao"),
    ("risk", "r"),
    ("score", "s"),
    ("level", "lv"),
    ("signals", "sg"),
    ("name", "n"),
    ("weight", "w"),
    ("reason", "rs"),
}

fn rename_keys(value: serde_json::Value, shorten: bool) -> serde_json::Value {
    let lookup = if shorten { short_key } else { long_key };
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match lookup(&k) {
                        Some(renamed) => renamed.to_owned(),
                        None => k,
                    };
                    (key, rename_keys(v, shorten))
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(|v| rename_keys(v, shorten)).collect())
        }
        other => other,
    }
}

/// Removes `null` object members at any depth, and members of the top-level
/// object that end up as empty objects. Every metadata struct is
/// `#[serde(default)]`, so both decode back to the same value.
fn strip_nulls(value: serde_json::Value) -> serde_json::Value {
    fn strip(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, strip(v)))
                    .collect(),
            ),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(strip).collect())
            }
            other => other,
        }
    }
    match strip(value) {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !matches!(v, serde_json::Value::Object(m) if m.is_empty()))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sessionward_core::{DeviceInfo, Location, RiskSignal, RiskSummary};

    fn record() -> SessionRecord {
        let t = Timestamp::from_unix_millis(1_767_225_600_123);
        SessionRecord {
            user: UserId::new("a{b}|c").unwrap(),
            id: SessionId::generate(),
            created_at: t,
            last_seen_at: t,
            expires_at: Timestamp::from_unix_millis(1_767_268_800_123),
            auth_time: t,
            refresh: RefreshState {
                hash: TokenHash::of(b"secret"),
                generation: 7,
                rotated_at: t,
            },
            revoked: None,
            ip: Some("2001:db8::1".parse().unwrap()),
            device_class: DeviceClass::Mobile,
            country: Some("G|B%\n".into()),
            meta: SessionMeta::default(),
            seen: Default::default(),
        }
    }

    #[test]
    fn round_trips_minimal_and_full_records() {
        let mut r = record();
        let raw = encode(&r).unwrap();
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        assert!(raw.len() < 200, "minimal record is compact: {raw}");

        r.revoked = Some(Revocation {
            at: r.created_at,
            reason: RevokeReason::RefreshTokenReuse,
        });
        r.ip = None;
        r.country = None;
        r.meta = SessionMeta {
            user_agent: Some("Mozilla/5.0 \"x\" | y".into()),
            device: DeviceInfo {
                browser: Some("Chrome".into()),
                os: Some(String::new()),
                ..DeviceInfo::default()
            },
            location: Location {
                latitude: Some(51.514_199_999_999_994),
                longitude: Some(-0.093_1),
                accuracy_radius_km: Some(100),
                ..Location::default()
            },
            risk: RiskSummary {
                score: 40,
                level: "medium".into(),
                signals: vec![RiskSignal {
                    name: "new_device".into(),
                    weight: 40,
                    reason: "first login\nfrom here".into(),
                }],
            },
            sign_in_method: Some("pass|key\n".into()),
            device_group: Some("0123456789abcdef".into()),
            binding: Some(sessionward_core::binding::KeyBinding::Dpop {
                jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
            }),
            app: None,
            tenant: None,
            provider: Some(
                sessionward_core::ProviderSession::new("https://idp|x\n", "sub\"1").with_sid("s|2"),
            ),
        };
        let raw = encode(&r).unwrap();
        assert_eq!(raw.matches('\n').count(), 1, "metadata is one line");
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        assert_eq!(raw.split('\n').next().unwrap().split('|').count(), 13);

        // With an app, the header gets a 14th field the scripts compare;
        // the metadata does not repeat it.
        r.meta.app = Some(sessionward_core::AppId::new("mobile").unwrap());
        let raw = encode(&r).unwrap();
        let head = raw.split('\n').next().unwrap();
        assert!(head.ends_with("|mobile"), "{head}");
        assert!(!raw.contains("\"app\""), "{raw}");
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        // A tenant is the 15th, after an app or an empty one.
        r.meta.tenant = Some(sessionward_core::TenantId::new("acme").unwrap());
        let raw = encode(&r).unwrap();
        assert!(raw.split('\n').next().unwrap().ends_with("|mobile|acme"));
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        r.meta.app = None;
        let raw = encode(&r).unwrap();
        assert!(raw.split('\n').next().unwrap().ends_with("||acme"));
        assert!(!raw.contains("\"tenant\""), "{raw}");
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        r.meta.tenant = None;

        let seen = sessionward_core::SeenFrom {
            at: r.created_at,
            ip: Some("2a02:ff0:3::9".parse().unwrap()),
            location: Location {
                city: Some("Line\nbreak|pipe".into()),
                ..Location::default()
            },
            device: DeviceInfo::default(),
            anomalies: vec!["device_changed".into()],
        };
        r.seen.last = Some(Box::new(seen.clone()));
        let raw = encode(&r).unwrap();
        assert_eq!(raw.matches('\n').count(), 3, "two seen lines follow");
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
        r.seen.places = vec![seen.clone(), seen];
        let raw = encode(&r).unwrap();
        assert_eq!(decode(&r.user, r.id.as_str(), &raw).unwrap(), r);
    }

    #[test]
    fn short_keys_never_collide_with_member_names() {
        let full = SessionMeta {
            user_agent: Some("x".into()),
            device: DeviceInfo {
                browser: Some("x".into()),
                browser_version: Some("x".into()),
                os: Some("x".into()),
                os_version: Some("x".into()),
                device_family: Some("x".into()),
                device_brand: Some("x".into()),
                device_model: Some("x".into()),
            },
            location: Location {
                country_code: Some("x".into()),
                country_name: Some("x".into()),
                region: Some("x".into()),
                city: Some("x".into()),
                latitude: Some(1.5),
                longitude: Some(1.5),
                accuracy_radius_km: Some(1),
                asn: Some(1),
                asn_org: Some("x".into()),
            },
            risk: RiskSummary {
                score: 1,
                level: "x".into(),
                signals: vec![RiskSignal {
                    name: "x".into(),
                    weight: 1,
                    reason: "x".into(),
                }],
            },
            sign_in_method: Some("x".into()),
            device_group: Some("x".into()),
            binding: Some(sessionward_core::binding::KeyBinding::Dpop { jkt: "x".into() }),
            app: Some(sessionward_core::AppId::new("x").unwrap()),
            tenant: Some(sessionward_core::TenantId::new("x").unwrap()),
            provider: Some(sessionward_core::ProviderSession::new("x", "x").with_sid("x")),
        };
        fn names(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| {
                    out.push(k.clone());
                    names(v, out);
                }),
                serde_json::Value::Array(a) => a.iter().for_each(|v| names(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        names(&serde_json::to_value(&full).unwrap(), &mut all);
        for (long, short) in SHORT_KEYS {
            assert!(all.contains(&(*long).to_owned()), "{long} is a member name");
            assert!(!all.contains(&(*short).to_owned()), "{short} collides");
        }
        let mut r = record();
        r.meta = full;
        assert_eq!(
            decode(&r.user, r.id.as_str(), &encode(&r).unwrap()).unwrap(),
            r
        );
    }

    #[test]
    fn rejects_garbage() {
        let r = record();
        assert!(decode(&r.user, r.id.as_str(), "2|x").is_err());
        assert!(decode(&r.user, "short", &encode(&r).unwrap()).is_err());
    }
}
