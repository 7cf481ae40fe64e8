//! Demo plans: each user's session limits come from their plan, which the
//! page can switch at run time (a [`LimitResolver`], so the next login
//! uses the new limits without a restart).
//!
//! | plan | devices | at the limit |
//! |---|---|---|
//! | `standard` (default) | the demo policy's 3 (1 bot, 2 countries) | the least recently used device is signed out |
//! | `strict` | 2 | the new sign-in is refused; the page offers to sign out a device and continue |
//! | `solo` | 1 | the other device is signed out (the oldest first) |
//!
//! `GET /api/plan` tells the signed-in user their plan and its limits in
//! words; `POST /demo/plan` with `{"plan": "strict"}` switches it (demo
//! mode only).

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use sessionward_core::limits::{LimitQuery, LimitResolver, ResolvedLimits};
use sessionward_core::store::BoxError;
use sessionward_core::web::WebResponse;
use sessionward_core::{AuthenticatedSession, OnLimit, UserId};

use crate::pages::{error, json};
use crate::setup::DemoApp;

/// The plans, in the order the page lists them: key and label.
pub const PLANS: &[(&str, &str)] = &[
    ("standard", "Standard"),
    ("strict", "Strict"),
    ("solo", "Solo"),
];

/// Every user's plan (the default one when absent).
#[derive(Debug, Default)]
pub struct DemoPlans {
    chosen: RwLock<HashMap<UserId, &'static str>>,
}

impl DemoPlans {
    /// `user`'s plan key.
    pub fn plan_of(&self, user: &UserId) -> &'static str {
        self.chosen
            .read()
            .ok()
            .and_then(|plans| plans.get(user).copied())
            .unwrap_or(PLANS[0].0)
    }

    /// Puts `user` on the plan `key`; `false` for an unknown plan.
    pub fn switch(&self, user: &UserId, key: &str) -> bool {
        let Some((key, _)) = PLANS.iter().find(|(k, _)| *k == key) else {
            return false;
        };
        match self.chosen.write() {
            Ok(mut plans) => {
                plans.insert(user.clone(), key);
                true
            }
            Err(_) => false,
        }
    }
}

#[async_trait]
impl LimitResolver for DemoPlans {
    async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError> {
        let key = self.plan_of(login.user);
        let mut limits = login.policy.clone();
        match key {
            "strict" => {
                limits.per_user = Some(2);
                limits.on_limit = OnLimit::RejectNew;
            }
            "solo" => {
                limits.per_user = Some(1);
                limits.on_limit = OnLimit::EvictOldest;
            }
            _ => {}
        }
        let label = PLANS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, label)| label);
        Ok(ResolvedLimits::for_plan(label, limits))
    }
}

/// `GET /api/plan`: the caller's plan, the plans there are, and the limits
/// of the caller's next sign-in in words.
pub async fn plan(app: &DemoApp, session: &AuthenticatedSession) -> WebResponse {
    let manager = app.api.manager();
    let text = manager
        .describe_limits(
            &session.user,
            None,
            &sessionward_core::RequestContext::new(),
        )
        .await;
    match text {
        Ok(text) => json(
            200,
            &json!({
                "plan": app.plans.plan_of(&session.user),
                "plans": PLANS.iter().map(|(k, l)| json!({"key": k, "label": l})).collect::<Vec<_>>(),
                "text": text,
            }),
        ),
        Err(_) => error(503, "unavailable"),
    }
}

#[derive(Deserialize)]
struct SwitchBody {
    plan: String,
}

/// `POST /demo/plan` with `{"plan": key}` (demo only): puts the caller on
/// that plan, then answers as [`plan`].
pub async fn switch_plan(
    app: &DemoApp,
    session: &AuthenticatedSession,
    body: &[u8],
) -> WebResponse {
    let body: SwitchBody = match crate::pages::demo_body(app, body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if !app.plans.switch(&session.user, &body.plan) {
        return error(400, "unknown_plan");
    }
    plan(app, session).await
}
