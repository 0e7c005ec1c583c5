//! Alerts: every alert goes to the structured log at once and, when a webhook is configured,
//! into a queue in the store. A background worker delivers the queue (Slack-compatible JSON:
//! a `text` field plus structured fields), retrying with exponential backoff; the queue
//! survives restarts. Raising an alert never blocks or fails the request that raised it.

use std::sync::Arc;
use std::time::Duration;

use jit_store::Store;
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::metrics::Metrics;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A request was refused.
    Denied,
    /// A user hit the TOTP attempt limit.
    TotpLockout,
    /// A break-glass certificate was issued.
    BreakGlass,
    /// A certificate was issued outside business hours.
    OutOfHours,
    /// Someone asked for a role that needs approval.
    ApprovalRequested,
    /// An approver decided a request.
    ApprovalDecided,
    /// A device finished enrollment.
    Enrolled,
    /// The KRL could not be built (hosts keep their last one).
    KrlFailed,
}

impl AlertKind {
    /// The kind's name on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Denied => "denied",
            AlertKind::TotpLockout => "totp_lockout",
            AlertKind::BreakGlass => "break_glass",
            AlertKind::OutOfHours => "out_of_hours",
            AlertKind::ApprovalRequested => "approval_requested",
            AlertKind::ApprovalDecided => "approval_decided",
            AlertKind::Enrolled => "enrolled",
            AlertKind::KrlFailed => "krl_failed",
        }
    }
}

/// Raises alerts: log line now, webhook delivery later.
pub struct Alerter {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    webhook: bool,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

impl Alerter {
    /// An alerter; `webhook` says whether alerts are queued for delivery.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, webhook: bool) -> Self {
        Self {
            store,
            clock,
            webhook,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Woken whenever an alert is queued (for the delivery worker).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Raise an alert. `fields` must hold no secret (no codes, keys or tokens).
    pub async fn raise(&self, kind: AlertKind, text: String, fields: Map<String, Value>) {
        let now = self.clock.now();
        let structured = Value::Object(fields.clone());
        tracing::warn!(alert = kind.as_str(), fields = %structured, "{text}");
        if !self.webhook {
            return;
        }
        let payload = json!({
            "text": format!("[jit] {text}"),
            "kind": kind.as_str(),
            "time": now,
            "fields": fields,
        });
        match self
            .store
            .enqueue_alert(kind.as_str(), &payload.to_string(), now)
            .await
        {
            Ok(_) => self.wake.notify_one(),
            Err(error) => {
                tracing::error!(%error, alert = kind.as_str(), "could not queue an alert for the webhook")
            }
        }
    }
}

/// Seconds to wait after the `attempts`-th failed delivery: 1, 2, 4, ... capped at 5 minutes.
pub fn backoff_seconds(attempts: u32) -> u64 {
    2u64.saturating_pow(attempts.saturating_sub(1)).min(300)
}

/// Deliver queued alerts to `url` until `shutdown` resolves. Each alert is POSTed as JSON; a
/// 2xx answer marks it delivered, anything else schedules a retry with backoff.
pub async fn deliver(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    url: String,
    wake: Arc<Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // One crypto provider per process (ring); a no-op when `serve` installed it already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client; alerts stay queued");
            return;
        }
    };
    tokio::pin!(shutdown);
    loop {
        let now = clock.now();
        match store.due_alerts(now, 20).await {
            Ok(due) => {
                for alert in due {
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(alert.payload.clone())
                        .send()
                        .await;
                    let outcome = match sent {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => Err(format!("webhook answered {}", response.status())),
                        Err(error) => Err(format!("webhook unreachable: {error}")),
                    };
                    let result = match outcome {
                        Ok(()) => store.alert_delivered(alert.id, clock.now()).await,
                        Err(error) => {
                            metrics.webhook_failed();
                            let retry = clock.now() + backoff_seconds(alert.attempts + 1);
                            tracing::warn!(alert = alert.id, kind = %alert.kind, %error, retry_at = retry, "alert delivery failed; will retry");
                            store.alert_failed(alert.id, &error, retry).await
                        }
                    };
                    if let Err(error) = result {
                        tracing::error!(%error, "cannot update the alert queue");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot read the alert queue"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => {},
            _ = tokio::time::sleep(Duration::from_secs(1)) => {},
        }
    }
}

/// Build a fields map from pairs.
pub fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(
            (1..=4).map(backoff_seconds).collect::<Vec<_>>(),
            vec![1, 2, 4, 8]
        );
        assert_eq!(backoff_seconds(30), 300);
        assert_eq!(backoff_seconds(u32::MAX), 300);
    }
}
