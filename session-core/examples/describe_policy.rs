//! Prints the policy document for a typical configuration, and sample events.
//!
//! `cargo run -p sessionward-core --example describe_policy`

use std::time::Duration;

use sessionward_core::{DeviceClass, OnLimit, SessionPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(5)
        .max_sessions_per_ip(3)
        .max_sessions_per_device_class(DeviceClass::Mobile, 2)
        .max_countries(2)
        .on_limit(OnLimit::EvictLeastRecentlyUsed)
        .idle_timeout(Duration::from_secs(30 * 60))
        .absolute_lifetime(Duration::from_secs(12 * 3600))
        .build()?;
    println!("{}", policy.describe());
    Ok(())
}
