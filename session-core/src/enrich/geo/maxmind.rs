//! [`MaxMindResolver`]: MaxMind DB files (feature `geoip`).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use maxminddb::{Reader, geoip2};
use serde::Serialize;

use super::{AnonymousIp, GeoResolver, is_public_ip};
use crate::record::{Location, sanitize_text};

/// Longest name copied from a database into a [`Location`], in bytes.
const MAX_NAME_LEN: usize = 128;

/// Why a MaxMind database could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read.
    #[error("cannot read {kind} database {path}: {source}")]
    Io {
        /// Which database ("city", "asn", "anonymous_ip").
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid MaxMind DB.
    #[error("invalid {kind} database: {message}")]
    Invalid {
        /// Which database ("city", "asn", "anonymous_ip").
        kind: &'static str,
        /// The reader's error message.
        message: String,
    },
}

/// Where a MaxMind database comes from.
#[derive(Clone)]
pub enum DbSource {
    /// A file, read fully into memory; [`MaxMindResolver::reload`] reads it again.
    File(PathBuf),
    /// Bytes compiled into the binary.
    Static(&'static [u8]),
    /// Bytes supplied at run time.
    Bytes(Arc<[u8]>),
}

impl fmt::Debug for DbSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbSource::File(p) => f.debug_tuple("File").field(p).finish(),
            DbSource::Static(b) => write!(f, "Static({} bytes)", b.len()),
            DbSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl From<PathBuf> for DbSource {
    fn from(p: PathBuf) -> Self {
        DbSource::File(p)
    }
}

impl From<&str> for DbSource {
    /// A file path, as [`MaxMindResolver::open`] takes it.
    fn from(p: &str) -> Self {
        DbSource::File(PathBuf::from(p))
    }
}

impl From<&Path> for DbSource {
    fn from(p: &Path) -> Self {
        DbSource::File(p.to_path_buf())
    }
}

impl From<Vec<u8>> for DbSource {
    fn from(b: Vec<u8>) -> Self {
        DbSource::Bytes(b.into())
    }
}

impl From<&'static [u8]> for DbSource {
    fn from(b: &'static [u8]) -> Self {
        DbSource::Static(b)
    }
}

impl DbSource {
    fn load(&self, kind: &'static str) -> Result<Db, GeoError> {
        let bytes = match self {
            DbSource::File(path) => {
                DbBytes::Owned(std::fs::read(path).map_err(|source| GeoError::Io {
                    kind,
                    path: path.clone(),
                    source,
                })?)
            }
            DbSource::Static(b) => DbBytes::Static(b),
            DbSource::Bytes(b) => DbBytes::Shared(Arc::clone(b)),
        };
        Reader::from_source(bytes).map_err(|e| GeoError::Invalid {
            kind,
            message: e.to_string(),
        })
    }
}

/// Identity of one loaded database, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    /// Role in the resolver: `city`, `asn` or `anonymous_ip`.
    pub kind: &'static str,
    /// The database's own type, e.g. `GeoIP2-City`.
    pub database_type: String,
    /// Build time, seconds since the Unix epoch.
    pub build_epoch: u64,
}

/// Database bytes, without copying static or shared buffers.
enum DbBytes {
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for DbBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            DbBytes::Static(b) => b,
            DbBytes::Shared(b) => b,
            DbBytes::Owned(b) => b,
        }
    }
}

type Db = Reader<DbBytes>;

struct Loaded {
    city: Db,
    asn: Option<Db>,
    anonymous: Option<Db>,
}

#[derive(Clone, Debug)]
struct Sources {
    city: DbSource,
    asn: Option<DbSource>,
    anonymous: Option<DbSource>,
}

impl Sources {
    fn load(&self) -> Result<Loaded, GeoError> {
        Ok(Loaded {
            city: self.city.load("city")?,
            asn: self.asn.as_ref().map(|s| s.load("asn")).transpose()?,
            anonymous: self
                .anonymous
                .as_ref()
                .map(|s| s.load("anonymous_ip"))
                .transpose()?,
        })
    }
}

/// [`GeoResolver`] over MaxMind DB files: a City (or Enterprise) database,
/// optionally an ASN database and an Anonymous IP database.
///
/// Databases are read fully into memory. Lookups take a read lock only long
/// enough to clone an [`Arc`], so [`MaxMindResolver::reload`] can swap in new
/// files while lookups continue.
///
/// ```
/// use sessionward_core::enrich::{GeoResolver, MaxMindResolver};
///
/// let geo = MaxMindResolver::bundled_test_data()?;
/// let loc = geo.locate("81.2.69.142".parse().unwrap());
/// assert_eq!(loc.country_code.as_deref(), Some("GB"));
/// assert_eq!(loc.city.as_deref(), Some("London"));
/// # Ok::<(), sessionward_core::enrich::GeoError>(())
/// ```
pub struct MaxMindResolver {
    sources: Sources,
    loaded: RwLock<Arc<Loaded>>,
}

impl fmt::Debug for MaxMindResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxMindResolver")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl MaxMindResolver {
    /// Opens a City database file (e.g. `GeoLite2-City.mmdb`).
    pub fn open(city: impl AsRef<Path>) -> Result<Self, GeoError> {
        Self::from_source(DbSource::File(city.as_ref().to_path_buf()))
    }

    /// Loads a City database from bytes.
    pub fn from_bytes(city: impl Into<Arc<[u8]>>) -> Result<Self, GeoError> {
        Self::from_source(DbSource::Bytes(city.into()))
    }

    /// Loads a City database from any [`DbSource`].
    pub fn from_source(city: impl Into<DbSource>) -> Result<Self, GeoError> {
        Self::build(Sources {
            city: city.into(),
            asn: None,
            anonymous: None,
        })
    }

    /// Adds an ASN database (e.g. `GeoLite2-ASN.mmdb`); fills
    /// [`Location::asn`] and [`Location::asn_org`].
    pub fn with_asn(self, asn: impl Into<DbSource>) -> Result<Self, GeoError> {
        let mut sources = self.sources;
        sources.asn = Some(asn.into());
        Self::build(sources)
    }

    /// Adds a GeoIP2 Anonymous IP database; enables
    /// [`GeoResolver::is_anonymous`].
    pub fn with_anonymous_ip(self, db: impl Into<DbSource>) -> Result<Self, GeoError> {
        let mut sources = self.sources;
        sources.anonymous = Some(db.into());
        Self::build(sources)
    }

    /// MaxMind's **test** databases, compiled into the crate: the
    /// `GeoIP2-City-Test`, `GeoLite2-ASN-Test` and
    /// `GeoIP2-Anonymous-IP-Test` files from the MaxMind-DB test suite.
    ///
    /// They hold a few made-up ranges (81.2.69.142 → London, 89.160.20.128
    /// → Linköping, …) for demos and tests. They are **TEST DATA ONLY**:
    /// real traffic resolves to unknown. Use [`MaxMindResolver::open`] with
    /// a real database in production.
    #[cfg(feature = "bundled-test-data")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bundled-test-data")))]
    pub fn bundled_test_data() -> Result<Self, GeoError> {
        static TEST_CITY_DB: &[u8] = include_bytes!("../../../data/geoip/GeoIP2-City-Test.mmdb");
        static TEST_ASN_DB: &[u8] = include_bytes!("../../../data/geoip/GeoLite2-ASN-Test.mmdb");
        static TEST_ANONYMOUS_DB: &[u8] =
            include_bytes!("../../../data/geoip/GeoIP2-Anonymous-IP-Test.mmdb");
        Self::build(Sources {
            city: DbSource::Static(TEST_CITY_DB),
            asn: Some(DbSource::Static(TEST_ASN_DB)),
            anonymous: Some(DbSource::Static(TEST_ANONYMOUS_DB)),
        })
    }

    fn build(sources: Sources) -> Result<Self, GeoError> {
        let loaded = sources.load()?;
        Ok(Self {
            sources,
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    /// Re-reads every database from its source (files from disk) and swaps
    /// them in atomically. On error the previous databases stay in use.
    pub fn reload(&self) -> Result<(), GeoError> {
        let fresh = Arc::new(self.sources.load()?);
        match self.loaded.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// Metadata of the databases in use.
    pub fn database_info(&self) -> Vec<DatabaseInfo> {
        let loaded = self.current();
        let info = |kind, db: &Db| DatabaseInfo {
            kind,
            database_type: db.metadata().database_type.clone(),
            build_epoch: db.metadata().build_epoch,
        };
        let mut out = vec![info("city", &loaded.city)];
        if let Some(db) = &loaded.asn {
            out.push(info("asn", db));
        }
        if let Some(db) = &loaded.anonymous {
            out.push(info("anonymous_ip", db));
        }
        out
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

fn name(value: Option<&str>) -> Option<String> {
    value
        .map(|v| sanitize_text(v.trim(), MAX_NAME_LEN))
        .filter(|v| !v.is_empty())
}

fn fill_city(db: &Db, ip: IpAddr, loc: &mut Location) {
    let Ok(result) = db.lookup(ip) else { return };
    let Ok(Some(city)) = result.decode::<geoip2::City<'_>>() else {
        return;
    };
    loc.country_code = name(city.country.iso_code);
    loc.country_name = name(city.country.names.english);
    loc.region = city
        .subdivisions
        .first()
        .and_then(|s| name(s.names.english));
    loc.city = name(city.city.names.english);
    loc.latitude = city.location.latitude.filter(|v| v.is_finite());
    loc.longitude = city.location.longitude.filter(|v| v.is_finite());
    loc.accuracy_radius_km = city.location.accuracy_radius;
}

fn fill_asn(db: &Db, ip: IpAddr, loc: &mut Location) {
    let Ok(result) = db.lookup(ip) else { return };
    let Ok(Some(asn)) = result.decode::<geoip2::Asn<'_>>() else {
        return;
    };
    loc.asn = asn.autonomous_system_number;
    loc.asn_org = name(asn.autonomous_system_organization);
}

impl GeoResolver for MaxMindResolver {
    fn locate(&self, ip: IpAddr) -> Location {
        let ip = ip.to_canonical();
        let mut loc = Location::default();
        if !is_public_ip(ip) {
            return loc;
        }
        let loaded = self.current();
        fill_city(&loaded.city, ip, &mut loc);
        if let Some(asn) = &loaded.asn {
            fill_asn(asn, ip, &mut loc);
        }
        loc
    }

    fn is_anonymous(&self, ip: IpAddr) -> Option<AnonymousIp> {
        let ip = ip.to_canonical();
        if !is_public_ip(ip) {
            return None;
        }
        let loaded = self.current();
        let db = loaded.anonymous.as_ref()?;
        // No record means the database lists nothing against this address.
        let Some(record) = db.lookup(ip).ok()?.decode::<geoip2::AnonymousIp>().ok()? else {
            return Some(AnonymousIp::default());
        };
        let flag = |f: Option<bool>| f.unwrap_or(false);
        let mut out = AnonymousIp {
            anonymous: flag(record.is_anonymous),
            vpn: flag(record.is_anonymous_vpn),
            hosting: flag(record.is_hosting_provider),
            public_proxy: flag(record.is_public_proxy),
            residential_proxy: flag(record.is_residential_proxy),
            tor_exit: flag(record.is_tor_exit_node),
        };
        out.anonymous |=
            out.vpn || out.hosting || out.public_proxy || out.residential_proxy || out.tor_exit;
        Some(out)
    }
}
