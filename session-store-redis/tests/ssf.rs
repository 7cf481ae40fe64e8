//! The core [`SsfStore`] conformance suite (the Shared Signals outbox)
//! against the shared Redis, and once on a three-node cluster: every key
//! shares the `{ssf}` hash tag, so each script stays on one slot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use sessionward_core::ssf::SsfStore;
use sessionward_core::testing;
use sessionward_redis::RedisStore;

async fn redis_ssf_store() -> Option<Arc<dyn SsfStore>> {
    Some(Arc::new(common::store().await?))
}

sessionward_core::ssf_store_conformance_tests!(redis_ssf_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssf_outbox_on_a_cluster() {
    let Some(server) = common::start_cluster() else {
        return;
    };
    let store = RedisStore::connect_cluster([server.url()], common::test_config())
        .await
        .unwrap();
    let store: Arc<dyn SsfStore> = Arc::new(store);
    testing::ssf_streams_are_versioned(store.clone()).await;
    testing::ssf_outbox_queues_each_set_once_in_order(store.clone()).await;
    testing::ssf_claims_lease_each_set(store.clone()).await;
    testing::ssf_concurrent_claims_never_share_a_set(store.clone()).await;
    testing::ssf_retry_is_conditional_on_the_claim(store.clone()).await;
    testing::ssf_remove_expire_and_delete(store).await;
    drop(server);
}
