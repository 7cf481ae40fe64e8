//! Mid-session anomalies in the flows: the throttled activity write and
//! the refresh compare the request with the session and act on the score.

use crate::enrich::{Describe, describe_place};
use crate::error::SessionError;
use crate::events::{AnomalyDetail, EventKind};
use crate::notify::NewLoginNotice;
use crate::record::{DeviceClass, Inactive, RevokeReason, SessionRecord};
use crate::risk::anomaly::{
    self, DEVICE_CHANGED, IMPOSSIBLE_TRAVEL, MidSessionAction, MidSessionAssessment,
};
use crate::seen::SeenFrom;
use crate::time::Timestamp;

use super::SessionManager;

/// "Chrome 131 on Windows 10 in London, United Kingdom".
fn device_and_place(
    device: &crate::record::DeviceInfo,
    ip: Option<std::net::IpAddr>,
    location: &crate::record::Location,
) -> String {
    format!("{} in {}", device.describe(), describe_place(ip, location))
}

impl SessionManager {
    /// Whether requests are compared with their sessions (a risk engine
    /// with mid-session checks on).
    pub(super) fn checks_mid_session(&self) -> bool {
        self.inner
            .risk
            .as_ref()
            .is_some_and(|r| r.mid_session.enabled)
    }

    /// Compares the use `seen` (a device of `class`) with `record`, emits
    /// an event per signal, records their names in `seen`, and applies
    /// the action: a notice, a refusal until the user signs in again, or
    /// the end of the session. Shadow mode only logs.
    pub(super) async fn check_mid_session(
        &self,
        record: &SessionRecord,
        seen: &mut SeenFrom,
        class: DeviceClass,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        let Some(risk) = self.inner.risk.as_ref().filter(|r| r.mid_session.enabled) else {
            return Ok(());
        };
        let config = &risk.mid_session;
        let assessment = anomaly::assess(config, record, seen, class);
        if assessment.signals.is_empty() {
            return Ok(());
        }
        let (before_device, before_ip, before_location) = match &record.seen.last {
            Some(last) => (&last.device, last.ip, &last.location),
            None => (&record.meta.device, record.ip, &record.meta.location),
        };
        let before = device_and_place(before_device, before_ip, before_location);
        let after = device_and_place(&seen.device, seen.ip, &seen.location);
        for signal in &assessment.signals {
            let detail = AnomalyDetail {
                weight: signal.weight,
                reason: signal.reason.clone(),
                score: assessment.score,
                action: assessment.action.as_str().to_owned(),
                shadow: config.shadow,
                before: before.clone(),
                after: after.clone(),
            };
            let kind = match signal.name.as_str() {
                DEVICE_CHANGED => EventKind::SessionDeviceChanged(detail),
                IMPOSSIBLE_TRAVEL => EventKind::SessionImpossibleTravel(detail),
                _ => EventKind::SessionNetworkAlternation(detail),
            };
            self.emit(self.event(now, kind, None, Some(record)));
        }
        seen.anomalies = assessment.signals.iter().map(|s| s.name.clone()).collect();
        if config.shadow {
            return Ok(());
        }
        match assessment.action {
            MidSessionAction::Allow => Ok(()),
            MidSessionAction::Notify => {
                self.notify_anomaly(record, &assessment, &before, &after, false, now)
                    .await;
                Ok(())
            }
            MidSessionAction::StepUp => Err(SessionError::SuspiciousUse),
            MidSessionAction::Revoke => {
                let reason = RevokeReason::Anomaly;
                if let Some(ended) = self
                    .inner
                    .store
                    .revoke(&record.user, &record.id, reason, now)
                    .await?
                {
                    self.revoked(now, reason, std::slice::from_ref(&ended))
                        .await;
                    self.notify_anomaly(&ended, &assessment, &before, &after, true, now)
                        .await;
                }
                Err(SessionError::SessionEnded(Inactive::Revoked(reason)))
            }
        }
    }

    /// Tells the user through the risk engine's notifier, if it has one:
    /// "Your session on Chrome on Windows was used from Firefox on Linux in
    /// Changchun — we signed it out".
    async fn notify_anomaly(
        &self,
        record: &SessionRecord,
        assessment: &MidSessionAssessment,
        before: &str,
        after: &str,
        signed_out: bool,
        now: Timestamp,
    ) {
        let Some(risk) = &self.inner.risk else { return };
        let Some((notifier, links)) = &risk.notifier else {
            return;
        };
        let Ok(not_me_url) = self.not_me_url(risk, links, record, now) else {
            return;
        };
        let outcome = if signed_out {
            " — we signed it out"
        } else {
            ""
        };
        let notice = NewLoginNotice {
            user: record.user.clone(),
            session_id: record.id.clone(),
            device: record.meta.device.describe(),
            location: describe_place(record.ip, &record.meta.location),
            ip: self.event_ip(record.ip),
            at: now,
            reasons: assessment.signals.clone(),
            sessions_url: links.sessions_url.clone(),
            not_me_url,
            anomaly: Some(format!(
                "Your session on {before} was used from {after}{outcome}"
            )),
        };
        self.deliver(notifier.as_ref(), &notice, record, now).await;
    }
}
