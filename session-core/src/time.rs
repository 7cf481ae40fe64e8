//! Time as the library sees it: millisecond UTC timestamps and an injectable clock.
//!
//! Every timeout in sessionward is computed from a [`Clock`], so tests can use
//! [`ManualClock`] and move time forward without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// Serializes as an RFC 3339 string with a `Z` offset (OWASP logging asks for
/// ISO 8601 with a UTC offset) and deserializes from the same.
///
/// ```
/// use sessionward_core::Timestamp;
/// let t = Timestamp::from_unix_millis(1_700_000_000_123);
/// assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123Z");
/// assert_eq!(t.unix_seconds(), 1_700_000_000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down), as used in JWT claims.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant plus `d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_millis(d)))
    }

    /// This instant minus `d`, saturating instead of overflowing.
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_millis(d)))
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// RFC 3339 / ISO 8601 text in UTC, millisecond precision.
    pub fn to_rfc3339(self) -> String {
        match self.rfc3339_bytes() {
            // The bytes are ASCII digits and separators.
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => self.to_rfc3339_slow(),
        }
    }

    /// The 24 bytes of `YYYY-MM-DDTHH:MM:SS.mmmZ` for instants RFC 3339 can
    /// write (years 0000–9999), computed without a calendar library or a
    /// formatter: this runs for every timestamp in every event and every
    /// session list (issue 18 measured `format!` at a fifth of a list).
    fn rfc3339_bytes(self) -> Option<[u8; 24]> {
        if !(RFC3339_MIN_MILLIS..=RFC3339_MAX_MILLIS).contains(&self.0) {
            return None;
        }
        let days = self.0.div_euclid(86_400_000);
        let in_day = self.0.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let fields: [(i64, usize); 7] = [
            (year, 4),
            (month, 2),
            (day, 2),
            (in_day / 3_600_000, 2),
            (in_day / 60_000 % 60, 2),
            (in_day / 1_000 % 60, 2),
            (in_day % 1_000, 3),
        ];
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut end = 0;
        for (i, (value, width)) in fields.into_iter().enumerate() {
            end += width;
            let mut v = value;
            for slot in out[end - width..end].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            end += usize::from(i < 6); // the separator after each field but the last
        }
        Some(out)
    }

    /// The calendar library's answer, for instants outside years 0000–9999.
    fn to_rfc3339_slow(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Parses RFC 3339 text (any offset) into a timestamp.
    ///
    /// # Errors
    /// Returns `None` when the text is not RFC 3339, or when its instant
    /// falls outside the years 0000–9999 in UTC (a non-UTC offset can move
    /// `0000-01-01` or `9999-12-31` out of them): [`Timestamp::to_rfc3339`]
    /// could not write such an instant back as RFC 3339, so a value that
    /// deserialized would no longer serialize to something that parses.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        let millis = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
        (RFC3339_MIN_MILLIS..=RFC3339_MAX_MILLIS)
            .contains(&millis)
            .then_some(Timestamp(millis))
    }
}

/// Year, month and day of the proleptic Gregorian calendar for days since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `0000-01-01T00:00:00.000Z`: the earliest instant RFC 3339 can write in UTC.
const RFC3339_MIN_MILLIS: i64 = -62_167_219_200_000;
/// `9999-12-31T23:59:59.999Z`: the latest instant RFC 3339 can write in UTC.
const RFC3339_MAX_MILLIS: i64 = 253_402_300_799_999;

/// Milliseconds in a duration, saturating at `i64::MAX`.
pub(crate) fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_bytes() {
            Some(bytes) => s.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default()),
            None => s.serialize_str(&self.to_rfc3339_slow()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

/// A source of the current time.
///
/// The manager reads the time only through this trait; inject a
/// [`ManualClock`] in tests.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(duration_millis)
            .unwrap_or(0);
        Timestamp(millis)
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::{Clock, ManualClock, Timestamp};
/// let clock = ManualClock::new(Timestamp::from_unix_millis(1_000));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now().unix_millis(), 3_000);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.0)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(duration_millis(d), Ordering::SeqCst);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast writer agrees with the calendar library everywhere it
    /// applies: both ends, leap days, century rules, and a spread of
    /// instants across the whole range.
    #[test]
    fn fast_rfc3339_matches_the_calendar_library() {
        let mut instants = vec![
            RFC3339_MIN_MILLIS,
            RFC3339_MAX_MILLIS,
            0,
            -1,
            951_782_400_000,    // 2000-02-29
            4_107_542_399_999,  // 2100-02-28T23:59:59.999
            -2_203_891_200_001, // 1900-02-28T23:59:59.999
            1_700_000_000_123,
        ];
        let step = (RFC3339_MAX_MILLIS - RFC3339_MIN_MILLIS) / 20_011;
        instants.extend((0..20_011).map(|i| RFC3339_MIN_MILLIS + i * step + i % 86_400_000));
        for millis in instants {
            let t = Timestamp(millis);
            assert_eq!(t.to_rfc3339(), t.to_rfc3339_slow(), "{millis}");
            assert_eq!(
                Timestamp::parse_rfc3339(&t.to_rfc3339()),
                Some(t),
                "{millis}"
            );
        }
        assert_eq!(
            Timestamp(RFC3339_MAX_MILLIS + 1).to_rfc3339(),
            Timestamp(RFC3339_MAX_MILLIS + 1).to_rfc3339_slow()
        );
        assert_eq!(
            serde_json::to_string(&Timestamp(1_700_000_000_123)).unwrap(),
            "\"2023-11-14T22:13:20.123Z\""
        );
    }

    /// Regression (found by the `policy_ids` fuzz target): an offset that
    /// moves the instant out of years 0000–9999 UTC used to be accepted,
    /// and `to_rfc3339` then wrote `-001-12-31T23:00:00.000Z` (or a
    /// `@…ms` fallback past 9999), which does not parse back.
    #[test]
    fn parse_rejects_instants_that_cannot_round_trip() {
        // The minimised fuzz input, verbatim.
        assert_eq!(Timestamp::parse_rfc3339("0000-01-01T00:00:00+01:00"), None);
        assert_eq!(
            Timestamp::parse_rfc3339("9999-12-31T23:59:59.999999999-01:00"),
            None
        );
    }

    #[test]
    fn rfc3339_range_ends_round_trip() {
        for text in [
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "0000-01-01T00:59:00+00:59",
            "2023-11-14T22:13:20.123Z",
        ] {
            let t = Timestamp::parse_rfc3339(text).expect("parses");
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t), "{text}");
        }
        assert_eq!(
            Timestamp::parse_rfc3339("0000-01-01T00:00:00Z").map(Timestamp::unix_millis),
            Some(RFC3339_MIN_MILLIS)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("9999-12-31T23:59:59.999Z").map(Timestamp::unix_millis),
            Some(RFC3339_MAX_MILLIS)
        );
    }
}
