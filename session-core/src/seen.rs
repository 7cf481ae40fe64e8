//! Where a session was last used, and the few places it was used from.
//!
//! A login records where it came from in the session's
//! [`crate::SessionMeta`]; every later use that writes activity (a refresh,
//! or the throttled touch of a request) records where *it* came from in
//! [`SeenLog::last`], in the same store write. [`SeenLog::places`] keeps a
//! short list of the distinct (network, place) pairs seen, newest first,
//! for the session's detail view.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::record::{DeviceInfo, Location};
use crate::time::Timestamp;

/// Most distinct (network, place) pairs kept per session.
pub const MAX_RECENT_PLACES: usize = 8;

/// One use of a session: when, from which address (in its stored form, see
/// [`crate::privacy::IpStorage`]), where, and on what device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenFrom {
    /// When.
    pub at: Timestamp,
    /// The client address as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Approximate location, looked up from the real address.
    #[serde(default)]
    pub location: Location,
    /// Parsed device facts of the request.
    #[serde(default)]
    pub device: DeviceInfo,
    /// Mid-session anomaly signals this use raised
    /// ([`crate::risk::anomaly`]), so the session list can show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}

impl SeenFrom {
    /// Whether `other` is the same (network, place) pair: the same /24 or
    /// /48 network (or stored pseudonym) and the same city, region and
    /// country.
    pub fn same_place(&self, other: &SeenFrom) -> bool {
        self.ip.map(crate::privacy::network) == other.ip.map(crate::privacy::network)
            && self.location.country_code == other.location.country_code
            && self.location.region == other.location.region
            && self.location.city == other.location.city
    }
}

/// Where a session was used after its login.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeenLog {
    /// The latest use that wrote activity, when it carried a request
    /// context; `None` until then (the login is in the session's meta).
    /// Boxed: most stored sessions have none, and a `SeenFrom` inline
    /// would add about 400 bytes to every record.
    pub last: Option<Box<SeenFrom>>,
    /// Distinct (network, place) pairs of uses after login, newest first,
    /// at most [`MAX_RECENT_PLACES`]; each with the latest time it was
    /// seen. An activity write puts its own use first; a refresh writes
    /// only `last`, which the next activity write folds in (a second
    /// refresh before that replaces it: the first one's place is then not
    /// kept, though the first use after a refresh always writes activity).
    pub places: Vec<SeenFrom>,
}

impl SeenLog {
    /// The list a write replaces [`SeenLog::places`] with when it records
    /// `new`: `new`, then the stored `last`, then the stored places,
    /// distinct by (network, place), newest first, without entries seen
    /// before `keep_since`, at most [`MAX_RECENT_PLACES`].
    pub fn places_with(&self, new: &SeenFrom, keep_since: Option<Timestamp>) -> Vec<SeenFrom> {
        let mut out: Vec<SeenFrom> = Vec::with_capacity(MAX_RECENT_PLACES);
        let candidates = std::iter::once(new)
            .chain(self.last.as_deref())
            .chain(self.places.iter());
        for seen in candidates {
            if out.len() == MAX_RECENT_PLACES {
                break;
            }
            let kept = keep_since.is_none_or(|since| seen.at >= since);
            if kept && !out.iter().any(|o| o.same_place(seen)) {
                out.push(seen.clone());
            }
        }
        out
    }

    /// Every place of this log and `login` (the session's login place),
    /// distinct, newest first: what a detail view lists.
    pub fn recent_places(&self, login: &SeenFrom) -> Vec<SeenFrom> {
        let mut all: Vec<&SeenFrom> = self
            .last
            .as_deref()
            .into_iter()
            .chain(self.places.iter())
            .chain(std::iter::once(login))
            .collect();
        // Stable: at equal times the later use (earlier in the list) wins.
        all.sort_by_key(|s| std::cmp::Reverse(s.at));
        let mut out: Vec<SeenFrom> = Vec::with_capacity(MAX_RECENT_PLACES);
        for seen in all {
            if out.len() == MAX_RECENT_PLACES {
                break;
            }
            if !out.iter().any(|o| o.same_place(seen)) {
                out.push(seen.clone());
            }
        }
        out
    }

    /// Clamps a decoded log to the bound (stores call it on read, so data
    /// written by another version cannot grow a list without limit).
    pub fn bounded(mut self) -> Self {
        self.places.truncate(MAX_RECENT_PLACES);
        self
    }
}

/// What [`crate::SessionStore::touch`] writes besides the activity time.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenUpdate {
    /// Becomes [`SeenLog::last`] (with the activity time).
    pub last: SeenFrom,
    /// Becomes [`SeenLog::places`], but only if the stored activity time is
    /// still `read_last_seen_at`: the list was merged from that read, and a
    /// write from a later read must not be replaced by it.
    pub places: Vec<SeenFrom>,
    /// The activity time of the record the places were merged from.
    pub read_last_seen_at: Timestamp,
}

/// How long recent places are kept: entries older than this are dropped
/// by the next write ([`crate::SessionPolicy::history_retention`]).
pub(crate) fn keep_since(now: Timestamp, retention: Option<Duration>) -> Option<Timestamp> {
    retention.map(|r| now.minus(r))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn seen(at: i64, ip: &str, city: &str) -> SeenFrom {
        SeenFrom {
            at: Timestamp::from_unix_millis(at),
            ip: Some(ip.parse().unwrap()),
            location: Location {
                city: Some(city.into()),
                ..Location::default()
            },
            device: DeviceInfo::default(),
            anomalies: Vec::new(),
        }
    }

    #[test]
    fn places_are_distinct_newest_first_and_bounded() {
        let mut log = SeenLog::default();
        for i in 0..20i64 {
            let new = seen(1_000 + i, &format!("81.2.{i}.1"), "London");
            log.places = log.places_with(&new, None);
            log.last = Some(Box::new(new));
        }
        assert_eq!(log.places.len(), MAX_RECENT_PLACES);
        assert_eq!(log.places[0].at, Timestamp::from_unix_millis(1_019));
        // The same network and city again updates its entry, adds none.
        let again = seen(2_000, "81.2.19.77", "London");
        let places = log.places_with(&again, None);
        assert_eq!(places.len(), MAX_RECENT_PLACES);
        assert_eq!(places[0], again);
        assert_eq!(places.iter().filter(|p| p.same_place(&again)).count(), 1);
    }

    #[test]
    fn the_stored_last_is_folded_in_and_old_entries_drop() {
        let log = SeenLog {
            last: Some(Box::new(seen(500, "89.160.20.112", "Linköping"))),
            places: vec![seen(100, "81.2.69.142", "London")],
        };
        let new = seen(900, "2.125.160.216", "Boxford");
        let places = log.places_with(&new, None);
        let cities: Vec<_> = places
            .iter()
            .map(|p| p.location.city.clone().unwrap())
            .collect();
        assert_eq!(cities, ["Boxford", "Linköping", "London"]);
        let recent = log.places_with(&new, Some(Timestamp::from_unix_millis(400)));
        assert_eq!(
            recent.len(),
            2,
            "entries seen before the retention cut drop"
        );
    }
}
