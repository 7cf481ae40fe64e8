//! Conformance case for back-channel logout: the provider session a login
//! records survives the store, and the revocation reason does too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::ids::UserId;
use crate::manager::LoginOptions;
use crate::memory::MemoryStore;
use crate::policy::SessionPolicy;
use crate::record::{ProviderSession, RequestContext, RevokeReason};
use crate::store::SessionStore;
use crate::testing::Harness;
use crate::testing::provider::{IDP_ISSUER, TestProvider};
use crate::time::Clock;

/// Two federated sessions and a local one: a logout token for one
/// provider session ends exactly that session, with reason
/// `provider_logout`, as the store reads it back; the other keeps its
/// provider record.
pub async fn provider_logout_ends_the_named_session(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = UserId::new(format!("bcl-{}", crate::SessionId::generate().as_str())).unwrap();
    let provider = |sid: &str| ProviderSession::new(IDP_ISSUER, user.as_str()).with_sid(sid);
    let mut sessions = Vec::new();
    for options in [
        LoginOptions::default().via_provider(provider("sid-a")),
        LoginOptions::default().via_provider(provider("sid-b")),
        LoginOptions::default(),
    ] {
        let login = h
            .manager
            .login_with(&user, &RequestContext::new(), options)
            .await
            .unwrap();
        sessions.push(login.session.id);
    }
    let idp = TestProvider::new();
    let receiver = idp.receiver(Arc::new(MemoryStore::new()));
    let token = idp.logout_token(h.clock.now(), Some(user.as_str()), Some("sid-a"));
    assert_eq!(
        h.manager
            .back_channel_logout(&receiver, &token)
            .await
            .unwrap(),
        1
    );

    let a = store.get(&user, &sessions[0]).await.unwrap().unwrap();
    assert_eq!(
        a.revoked.map(|r| r.reason),
        Some(RevokeReason::ProviderLogout)
    );
    let b = store.get(&user, &sessions[1]).await.unwrap().unwrap();
    assert_eq!(b.revoked, None);
    assert_eq!(b.meta.provider, Some(provider("sid-b")));
    let local = store.get(&user, &sessions[2]).await.unwrap().unwrap();
    assert_eq!((local.revoked, local.meta.provider), (None, None));
}
