//! Great-circle distance for impossible-travel detection.

/// Mean Earth radius in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// Haversine distance between two points in degrees, in kilometres.
///
/// ```
/// use sessionward_core::risk::distance_km;
/// let london_to_linkoping = distance_km(51.5142, -0.0931, 58.4167, 15.6167);
/// assert!((london_to_linkoping - 1258.0).abs() < 5.0);
/// ```
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}
