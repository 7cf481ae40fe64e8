//! The session row shared by every backend, and its conversions.

use sessionward_core::{
    DeviceClass, RefreshState, Revocation, RevokeReason, SeenLog, SessionId, SessionMeta,
    SessionRecord, StoreError, Timestamp, TokenHash, UserId,
};

/// The column list, in the order of [`SessionRow`] and of every INSERT.
macro_rules! cols {
    () => {
        "user_id, session_id, created_at, last_seen_at, expires_at, auth_time, refresh_hash, \
         refresh_generation, rotated_at, revoked_at, revoke_reason, ip, device_class, country, meta, \
         last_seen_from, places"
    };
}
pub(crate) use cols;

/// One `sessionward_sessions` row as the database returns it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    user_id: String,
    session_id: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    auth_time: i64,
    refresh_hash: Vec<u8>,
    refresh_generation: i64,
    rotated_at: i64,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
    ip: Option<String>,
    device_class: String,
    country: Option<String>,
    meta: String,
    last_seen_from: Option<String>,
    places: Option<String>,
}

fn corrupt(what: &str, session: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} in session row {session}"))
}

impl SessionRow {
    /// Decodes the row; any value that does not fit is [`StoreError::Corrupt`].
    pub(crate) fn into_record(self) -> Result<SessionRecord, StoreError> {
        let sid = self.session_id.clone();
        let user = UserId::new(self.user_id).map_err(|_| corrupt("invalid user id", &sid))?;
        let id =
            SessionId::parse(&self.session_id).map_err(|_| corrupt("invalid session id", &sid))?;
        let hash: [u8; 32] = self
            .refresh_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("refresh hash is not 32 bytes", &sid))?;
        let generation = u64::try_from(self.refresh_generation)
            .map_err(|_| corrupt("negative refresh generation", &sid))?;
        let revoked = match (self.revoked_at, self.revoke_reason) {
            (None, None) => None,
            (Some(at), Some(reason)) => Some(Revocation {
                at: Timestamp::from_unix_millis(at),
                reason: RevokeReason::parse(&reason)
                    .ok_or_else(|| corrupt("unknown revoke reason", &sid))?,
            }),
            _ => return Err(corrupt("half-set revocation", &sid)),
        };
        let ip = self
            .ip
            .map(|text| text.parse().map_err(|_| corrupt("invalid ip", &sid)))
            .transpose()?;
        let meta: SessionMeta =
            serde_json::from_str(&self.meta).map_err(|_| corrupt("invalid meta JSON", &sid))?;
        let seen = SeenLog {
            last: json_column(
                self.last_seen_from.as_deref(),
                "invalid last_seen_from JSON",
                &sid,
            )?,
            places: json_column(self.places.as_deref(), "invalid places JSON", &sid)?
                .unwrap_or_default(),
        }
        .bounded();
        Ok(SessionRecord {
            user,
            id,
            created_at: Timestamp::from_unix_millis(self.created_at),
            last_seen_at: Timestamp::from_unix_millis(self.last_seen_at),
            expires_at: Timestamp::from_unix_millis(self.expires_at),
            auth_time: Timestamp::from_unix_millis(self.auth_time),
            refresh: RefreshState {
                hash: TokenHash::from_bytes(hash),
                generation,
                rotated_at: Timestamp::from_unix_millis(self.rotated_at),
            },
            revoked,
            ip,
            device_class: DeviceClass::parse(&self.device_class),
            country: self.country,
            meta,
            seen,
        })
    }
}

/// A nullable JSON column.
fn json_column<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    what: &str,
    session: &str,
) -> Result<Option<T>, StoreError> {
    text.map(|t| serde_json::from_str(t).map_err(|_| corrupt(what, session)))
        .transpose()
}

/// The JSON text of the seen columns: `last_seen_from`, and `places`
/// (`None` binds `NULL`).
pub(crate) fn seen_columns(
    last: Option<&sessionward_core::SeenFrom>,
    places: Option<&[sessionward_core::SeenFrom]>,
) -> Result<(Option<String>, Option<String>), StoreError> {
    Ok((
        last.map(to_json).transpose()?,
        places.map(to_json).transpose()?,
    ))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// Decodes rows returned by an UPDATE that just revoked them, as they were
/// before (the revocation cleared).
pub(crate) fn before_revocation(rows: Vec<SessionRow>) -> Result<Vec<SessionRecord>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let mut rec = r.into_record()?;
            rec.revoked = None;
            Ok(rec)
        })
        .collect()
}

/// Decodes a list of rows.
pub(crate) fn records(rows: Vec<SessionRow>) -> Result<Vec<SessionRecord>, StoreError> {
    rows.into_iter().map(SessionRow::into_record).collect()
}

/// A [`SessionRecord`] in the shape of the table's columns, ready to bind.
pub(crate) struct Encoded<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) auth_time: i64,
    pub(crate) refresh_hash: &'a [u8],
    pub(crate) refresh_generation: i64,
    pub(crate) rotated_at: i64,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) revoke_reason: Option<&'static str>,
    pub(crate) ip: Option<String>,
    pub(crate) device_class: &'static str,
    pub(crate) country: Option<&'a str>,
    pub(crate) meta: String,
    pub(crate) last_seen_from: Option<String>,
    pub(crate) places: Option<String>,
    pub(crate) ip_key: Option<String>,
}

/// The address as the `ip_key` column holds it: 32 lowercase hex digits of
/// its 128-bit IPv6 form (IPv4 as IPv4-mapped), so text order is address
/// order and an address block is one range of the column's index.
pub(crate) fn ip_key(ip: std::net::IpAddr) -> String {
    let v6 = match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        std::net::IpAddr::V6(v6) => v6,
    };
    format!("{:032x}", u128::from(v6))
}

impl<'a> Encoded<'a> {
    /// Encodes a record for insertion.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the metadata cannot be serialised or the
    /// generation does not fit a signed 64-bit column.
    pub(crate) fn new(r: &'a SessionRecord) -> Result<Self, StoreError> {
        let meta = serde_json::to_string(&r.meta).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let refresh_generation =
            i64::try_from(r.refresh.generation).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let places = Some(r.seen.places.as_slice()).filter(|p| !p.is_empty());
        let (last_seen_from, places) = seen_columns(r.seen.last.as_deref(), places)?;
        Ok(Encoded {
            user_id: r.user.as_str(),
            session_id: r.id.as_str(),
            created_at: r.created_at.unix_millis(),
            last_seen_at: r.last_seen_at.unix_millis(),
            expires_at: r.expires_at.unix_millis(),
            auth_time: r.auth_time.unix_millis(),
            refresh_hash: r.refresh.hash.as_bytes(),
            refresh_generation,
            rotated_at: r.refresh.rotated_at.unix_millis(),
            revoked_at: r.revoked.map(|v| v.at.unix_millis()),
            revoke_reason: r.revoked.map(|v| v.reason.as_str()),
            ip: r.ip.map(|ip| ip.to_string()),
            device_class: r.device_class.as_str(),
            country: r.country.as_deref(),
            meta,
            last_seen_from,
            places,
            ip_key: r.ip.map(ip_key),
        })
    }
}

/// Binds an [`Encoded`] record to a query in column order: the columns of
/// `cols!()`, then `ip_key` (written, never read back).
macro_rules! bind_record {
    ($query:expr, $e:expr) => {{
        let e = $e;
        $query
            .bind(e.user_id)
            .bind(e.session_id)
            .bind(e.created_at)
            .bind(e.last_seen_at)
            .bind(e.expires_at)
            .bind(e.auth_time)
            .bind(e.refresh_hash)
            .bind(e.refresh_generation)
            .bind(e.rotated_at)
            .bind(e.revoked_at)
            .bind(e.revoke_reason)
            .bind(e.ip.as_deref())
            .bind(e.device_class)
            .bind(e.country)
            .bind(e.meta.as_str())
            .bind(e.last_seen_from.as_deref())
            .bind(e.places.as_deref())
            .bind(e.ip_key.as_deref())
    }};
}
pub(crate) use bind_record;

/// Converts a generation for binding.
pub(crate) fn generation(g: u64) -> Result<i64, StoreError> {
    i64::try_from(g).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// The revocations of a create decision grouped by reason, as session ids:
/// one `UPDATE` per reason that has any.
pub(crate) fn revocations_by_reason(
    decision: &sessionward_core::CreateDecision,
) -> Vec<(RevokeReason, Vec<&str>)> {
    let mut groups: Vec<(RevokeReason, Vec<&str>)> = Vec::new();
    for (record, reason) in decision.revocations() {
        match groups.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, ids)) => ids.push(record.id.as_str()),
            None => groups.push((reason, vec![record.id.as_str()])),
        }
    }
    groups
}

/// A stored "not before" mark.
pub(crate) fn mark(millis: Option<i64>) -> Option<Timestamp> {
    millis.map(Timestamp::from_unix_millis)
}

/// The `meta` JSON a rotation that binds a key writes.
pub(crate) fn meta_text(meta: &sessionward_core::SessionMeta) -> Result<String, StoreError> {
    serde_json::to_string(meta).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// The `last_seen_from` JSON a rotation writes, if the request carries one.
pub(crate) fn seen_text(
    req: &sessionward_core::RotateRequest,
) -> Result<Option<String>, StoreError> {
    req.seen.as_ref().map(to_json).transpose()
}
