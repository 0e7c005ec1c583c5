//! Prometheus metrics (`GET /metrics`, text exposition format).

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// Every metric jitd exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    issued: Family<Labels, Counter>,
    denials: Family<Labels, Counter>,
    totp_failures: Counter,
    webhook_failures: Counter,
    approvals_pending: Gauge,
    issuance_seconds: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(crate::logging::Counters::default())
    }
}

impl Metrics {
    /// Every metric, with the log output's own counters (see [`crate::logging`]).
    pub fn new(log: crate::logging::Counters) -> Self {
        let mut registry = Registry::with_prefix("jit");
        let issued = Family::<Labels, Counter>::default();
        let denials = Family::<Labels, Counter>::default();
        let totp_failures = Counter::default();
        let webhook_failures = Counter::default();
        let approvals_pending = Gauge::default();
        // 0.25 ms .. ~2 s
        let issuance_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 14));
        registry.register(
            "certificates_issued",
            "Certificates issued, by role",
            issued.clone(),
        );
        registry.register(
            "denials",
            "Refused requests, by reason code",
            denials.clone(),
        );
        registry.register(
            "totp_failures",
            "Wrong or malformed TOTP codes (a used code tried again is not counted)",
            totp_failures.clone(),
        );
        registry.register(
            "webhook_delivery_failures",
            "Failed alert webhook deliveries",
            webhook_failures.clone(),
        );
        registry.register(
            "approvals_pending",
            "Access requests waiting for approval",
            approvals_pending.clone(),
        );
        registry.register(
            "issuance_latency_seconds",
            "Time to handle a certificate request that was issued",
            issuance_seconds.clone(),
        );
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the log output could not keep up (a full pipe, a slow disk)",
            log.dropped,
        );
        registry.register(
            "log_write_errors",
            "Log lines that could not be written (a closed pipe, a full disk)",
            log.write_errors,
        );
        Self {
            registry: Mutex::new(registry),
            issued,
            denials,
            totp_failures,
            webhook_failures,
            approvals_pending,
            issuance_seconds,
        }
    }

    /// A certificate was issued for `role` after `seconds`.
    pub fn issued(&self, role: &str, seconds: f64) {
        self.issued
            .get_or_create(&vec![("role".into(), role.into())])
            .inc();
        self.issuance_seconds.observe(seconds);
    }

    /// A request was refused with `code`.
    pub fn denied(&self, code: &str) {
        self.denials
            .get_or_create(&vec![("reason".into(), code.into())])
            .inc();
    }

    /// A TOTP code was refused.
    pub fn totp_failed(&self) {
        self.totp_failures.inc();
    }

    /// An alert could not be delivered.
    pub fn webhook_failed(&self) {
        self.webhook_failures.inc();
    }

    /// The text exposition, with `approvals_pending` set to `pending`.
    pub fn render(&self, pending: u64) -> String {
        self.approvals_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let mut out = String::new();
        match self.registry.lock() {
            Ok(registry) => {
                if encode(&mut out, &registry).is_err() {
                    out.clear();
                }
            }
            Err(_) => out.clear(),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exported_families() {
        let metrics = Metrics::default();
        metrics.issued("web", 0.002);
        metrics.denied("role_not_allowed");
        metrics.totp_failed();
        let log = crate::logging::Counters::default();
        let metrics_with_log = Metrics::new(log.clone());
        log.write_errors.inc();
        assert!(
            metrics_with_log
                .render(0)
                .contains("jit_log_write_errors_total 1"),
            "the log counters are the ones exported"
        );
        let text = metrics.render(3);
        assert!(
            text.contains("jit_certificates_issued_total{role=\"web\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("jit_denials_total{reason=\"role_not_allowed\"} 1"),
            "{text}"
        );
        assert!(text.contains("jit_totp_failures_total 1"), "{text}");
        assert!(text.contains("jit_approvals_pending 3"), "{text}");
        assert!(text.contains("jit_log_lines_dropped_total 0"), "{text}");
        assert!(
            text.contains("jit_issuance_latency_seconds_bucket"),
            "{text}"
        );
    }
}
