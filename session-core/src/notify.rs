//! New-login notices with a "this wasn't me" link.
//!
//! The manager builds a [`NewLoginNotice`] when the risk policy says so and
//! hands it to a [`Notifier`]. Delivery failure never fails the login: it is
//! retried once and then reported as a `notification_failed` event.
//!
//! # Writing an email or webhook notifier
//! Implement [`Notifier`]; make `notify` enqueue (a channel, an outbox
//! table) and return quickly — it is awaited on the login path with a
//! timeout. Render `notice.headline()` and the two URLs; never log
//! `not_me_url` (it carries a single-use token).

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use crate::ids::{SessionId, UserId};
use crate::record::RiskSignal;
use crate::time::Timestamp;

/// A "new login" message for the account owner.
#[derive(Clone, Serialize)]
pub struct NewLoginNotice {
    /// The account.
    pub user: UserId,
    /// The new session.
    pub session_id: SessionId,
    /// "Chrome 131 on Windows 10".
    pub device: String,
    /// "London, United Kingdom".
    pub location: String,
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// Login time.
    pub at: Timestamp,
    /// Risk signals with reasons.
    pub reasons: Vec<RiskSignal>,
    /// Link to the session-management page.
    pub sessions_url: String,
    /// Link that ends every session of the account (signed, single-use, short-lived).
    pub not_me_url: String,
    /// For a notice about a session used the way a stolen one is (not a
    /// new login): what happened, in words, which [`NewLoginNotice::headline`]
    /// then returns.
    pub anomaly: Option<String>,
}

impl fmt::Debug for NewLoginNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewLoginNotice")
            .field("user", &self.user)
            .field("device", &self.device)
            .field("location", &self.location)
            .field("at", &self.at)
            .field("not_me_url", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl NewLoginNotice {
    /// "New login from Chrome 131 on Windows 10 in London, United Kingdom".
    pub fn headline(&self) -> String {
        if let Some(anomaly) = &self.anomaly {
            return anomaly.clone();
        }
        let place = match self.location.as_str() {
            crate::enrich::THIS_COMPUTER => "on this computer".to_owned(),
            crate::enrich::LOCAL_NETWORK => "on your local network".to_owned(),
            "Unknown location" => "from an unknown location".to_owned(),
            known => format!("in {known}"),
        };
        format!("New login from {} {place}", self.device)
    }
}

/// Why a notice was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("notification delivery failed: {0}")]
pub struct NotifyError(pub String);

/// Delivers new-login notices (email, push, webhook, in-app outbox).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Delivers or enqueues one notice. Should return quickly.
    ///
    /// # Errors
    /// [`NotifyError`] when delivery failed; the manager retries once and
    /// then records a `notification_failed` event.
    async fn notify(&self, notice: &NewLoginNotice) -> Result<(), NotifyError>;
}

/// Logs notices through `tracing` (target `sessionward::notify`), without the "not me" URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingNotifier;

#[async_trait]
impl Notifier for TracingNotifier {
    async fn notify(&self, notice: &NewLoginNotice) -> Result<(), NotifyError> {
        tracing::info!(target: "sessionward::notify", user = %notice.user, headline = %notice.headline(), "new login notice");
        Ok(())
    }
}

/// Keeps notices in memory per user (bounded), for in-app "your
/// notifications" views, demos and tests.
#[derive(Debug)]
pub struct OutboxNotifier {
    notices: Mutex<VecDeque<NewLoginNotice>>,
    capacity: usize,
}

impl OutboxNotifier {
    /// An outbox keeping at most `capacity` notices in total.
    pub fn new(capacity: usize) -> Self {
        OutboxNotifier {
            notices: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// The notices for `user`, newest first.
    pub fn for_user(&self, user: &UserId) -> Vec<NewLoginNotice> {
        let notices = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        notices
            .iter()
            .rev()
            .filter(|n| &n.user == user)
            .cloned()
            .collect()
    }

    /// All notices, oldest first.
    pub fn all(&self) -> Vec<NewLoginNotice> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn notify(&self, notice: &NewLoginNotice) -> Result<(), NotifyError> {
        let mut notices = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        if notices.len() == self.capacity {
            notices.pop_front();
        }
        notices.push_back(notice.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::NewLoginNotice;
    use crate::enrich::{LOCAL_NETWORK, THIS_COMPUTER};
    use crate::ids::{SessionId, UserId};
    use crate::time::Timestamp;

    fn notice(location: &str) -> NewLoginNotice {
        NewLoginNotice {
            user: UserId::new("alice").unwrap(),
            session_id: SessionId::generate(),
            device: "Firefox 140 on Linux".to_owned(),
            location: location.to_owned(),
            ip: None,
            at: Timestamp::from_unix_millis(0),
            reasons: Vec::new(),
            sessions_url: String::new(),
            not_me_url: String::new(),
            anomaly: None,
        }
    }

    #[test]
    fn headlines_read_as_sentences_wherever_the_login_came_from() {
        assert_eq!(
            notice("London, United Kingdom").headline(),
            "New login from Firefox 140 on Linux in London, United Kingdom"
        );
        assert_eq!(
            notice(THIS_COMPUTER).headline(),
            "New login from Firefox 140 on Linux on this computer"
        );
        assert_eq!(
            notice(LOCAL_NETWORK).headline(),
            "New login from Firefox 140 on Linux on your local network"
        );
        assert_eq!(
            notice("Unknown location").headline(),
            "New login from Firefox 140 on Linux from an unknown location"
        );
    }
}
