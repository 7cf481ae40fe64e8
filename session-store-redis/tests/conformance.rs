//! The core conformance suite, unchanged, against a real Redis.

mod common;

use std::sync::Arc;

use sessionward_core::SessionStore;

async fn redis_store() -> Option<Arc<dyn SessionStore>> {
    Some(Arc::new(common::store().await?))
}

sessionward_core::store_conformance_tests!(redis_store);
sessionward_core::directory_seed_test!(redis_store);
