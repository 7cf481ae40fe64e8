//! What each command does, on a manager over the app's store.

use serde_json::json;
use sessionward_core::directory::{PageCursor, SessionFilter};
use sessionward_core::tokens::TokenConfig;
use sessionward_core::{
    DirectoryEntry, MatchingMode, SessionError, SessionId, SessionManager, SessionPolicy, UserId,
};

use crate::cli::{Cli, Command};

/// Runs the command; its JSON output, or the message to print.
pub(crate) async fn run(cli: Cli) -> Result<String, String> {
    let url = cli
        .store
        .as_deref()
        .ok_or("--store (or SESSIONWARD_STORE) names the app's store")?;
    let store = crate::store::open(url, &cli.redis_prefix).await?;
    let manager = manager(store.clone(), &cli)?;
    let output = match cli.command {
        Command::List {
            filter,
            limit,
            after,
            all,
        } => {
            let filter = filter.to_filter()?;
            let after = after
                .map(|c| PageCursor::parse(&c).map_err(|e| format!("--after: {e}")))
                .transpose()?;
            if all {
                json!({ "sessions": every_page(&manager, &filter).await? })
            } else {
                let page = manager
                    .find_sessions(&filter, after, limit)
                    .await
                    .map_err(failed)?;
                serde_json::to_value(page).map_err(|e| e.to_string())?
            }
        }
        Command::Show { user, session } => {
            let user = UserId::new(user).map_err(|e| format!("user: {e}"))?;
            let id = SessionId::parse(&session).map_err(|e| format!("session: {e}"))?;
            let record = store
                .get(&user, &id)
                .await
                .map_err(|e| failed(e.into()))?
                .ok_or("no such session of that user")?;
            serde_json::to_value(DirectoryEntry::from(record)).map_err(|e| e.to_string())?
        }
        Command::RevokeSession {
            user,
            session,
            reason,
        } => {
            let user = UserId::new(user).map_err(|e| format!("user: {e}"))?;
            let id = SessionId::parse(&session).map_err(|e| format!("session: {e}"))?;
            manager
                .revoke(&user, &id, reason.into())
                .await
                .map_err(|e| match e {
                    SessionError::NotFound => {
                        "no active session of that user with that id".to_owned()
                    }
                    e => failed(e),
                })?;
            json!({ "user": user, "session": id, "revoked": 1 })
        }
        Command::RevokeUser { user, reason } => {
            let user = UserId::new(user).map_err(|e| format!("user: {e}"))?;
            let ended = manager
                .revoke_all(&user, reason.into())
                .await
                .map_err(failed)?;
            json!({ "user": user, "revoked": ended })
        }
        Command::RevokeMatching {
            filter,
            dry_run,
            yes,
            reason,
        } => {
            let filter = filter.to_filter()?;
            if filter.selects_everything() {
                return Err("revoke-matching needs a filter that narrows (an empty filter, 0.0.0.0/0 or --min-risk low alone match every session)".into());
            }
            if cli.idle_timeout.is_none() {
                return Err("revoke-matching needs --idle-timeout (the app's): a session idle by a shorter timeout than the app's would be left alone".into());
            }
            let mode = match (dry_run, yes) {
                (true, _) => MatchingMode::DryRun,
                (false, true) => MatchingMode::Revoke,
                (false, false) => {
                    return Err("revoke-matching needs --dry-run or --yes".into());
                }
            };
            let report = manager
                .revoke_matching(&filter, reason.into(), mode)
                .await
                .map_err(failed)?;
            serde_json::to_value(report).map_err(|e| e.to_string())?
        }
        Command::Purge { yes } => {
            if !yes {
                return Err("purge deletes ended sessions for good: add --yes".into());
            }
            json!({ "purged": manager.purge_expired().await.map_err(failed)? })
        }
        Command::Export { user } => {
            let user = UserId::new(user).map_err(|e| format!("user: {e}"))?;
            let export = manager.export_user(&user).await.map_err(failed)?;
            serde_json::to_value(export).map_err(|e| e.to_string())?
        }
    };
    serde_json::to_string_pretty(&output).map_err(|e| e.to_string())
}

/// A manager that never issues a token: its keys are made up for this run.
/// The policy carries what judges activity and retention, from the flags.
fn manager(
    store: std::sync::Arc<dyn sessionward_core::SessionStore>,
    cli: &Cli,
) -> Result<SessionManager, String> {
    let defaults = SessionPolicy::default();
    let policy = SessionPolicy::builder()
        .idle_timeout(cli.idle_timeout.unwrap_or(defaults.idle_timeout()))
        .history_retention(
            cli.history_retention
                .unwrap_or(defaults.history_retention()),
        )
        .build()
        .map_err(|e| format!("policy: {e}"))?;
    let tokens = TokenConfig::builder("urn:sessionward:admin", "sessionward-admin")
        .ephemeral_keys()
        .build()
        .map_err(|e| format!("keys: {e}"))?;
    SessionManager::builder(policy, tokens, store)
        .build()
        .map_err(|e| format!("manager: {e}"))
}

/// Every page of `filter`.
async fn every_page(
    manager: &SessionManager,
    filter: &SessionFilter,
) -> Result<Vec<DirectoryEntry>, String> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = manager
            .find_sessions(filter, after, sessionward_core::directory::MAX_PAGE)
            .await
            .map_err(failed)?;
        all.extend(page.sessions);
        match page.next {
            Some(next) => after = Some(PageCursor::parse(&next).map_err(|e| e.to_string())?),
            None => return Ok(all),
        }
    }
}

fn failed(e: SessionError) -> String {
    if e.is_unavailable() {
        format!("the store did not answer: {e}")
    } else {
        e.to_string()
    }
}
