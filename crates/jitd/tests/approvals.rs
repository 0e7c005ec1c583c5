//! Approval gates, break-glass, out-of-hours alerts and the webhook, in process on a real
//! SQLite store with a hand-moved clock; the webhook receiver is a real HTTP server on
//! 127.0.0.1.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use fixture::*;
use jit_proto::api::{DecisionRequest, NewRequest, Signed};
use serde_json::Value;

const POLICY: &str = r#"
[roles.web]
groups = ["sre"]
principals = ["deploy"]

[roles.db]
groups = ["dev"]
principals = ["postgres"]
default_ttl = "30m"
max_ttl = "1h"
approval = { approvers = ["group:leads"], count = 1, window = "1h" }
ticket_pattern = "^INC-[0-9]+$"

[roles.root]
groups = ["dev"]
principals = ["root"]
approval = { approvers = ["group:leads"], count = 2, window = "1h" }

[roles.glass]
groups = ["sre"]
principals = ["root"]
break_glass = true
"#;

impl Fixture {
    async fn ask(
        &self,
        device: &Device,
        role: &str,
        reason: &str,
        ticket: Option<&str>,
    ) -> (StatusCode, Value) {
        let body = NewRequest {
            freshness: self.freshness(),
            role: role.into(),
            reason: reason.into(),
            ticket: ticket.map(str::to_string),
            ttl_seconds: None,
        };
        self.call(self.signed(&device.key, "/v1/requests", &body))
            .await
    }

    async fn decide(
        &self,
        device: &Device,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> (StatusCode, Value) {
        let verb = if approve { "approve" } else { "deny" };
        let body = DecisionRequest {
            freshness: self.freshness(),
            otp: jit_mfa::code_at(&device.secret, self.now()),
            reason: reason.map(str::to_string),
        };
        self.call(self.signed(&device.key, &format!("/v1/requests/{id}/{verb}"), &body))
            .await
    }

    async fn alerts(&self) -> Vec<Value> {
        self.state
            .store
            .due_alerts(i64::MAX as u64, 1000)
            .await
            .unwrap()
            .iter()
            .map(|a| serde_json::from_str(&a.payload).unwrap())
            .collect()
    }
}

fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no request id in {body}"))
        .to_string()
}

#[tokio::test]
async fn an_approved_request_becomes_one_certificate() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["dev", "leads"]).await;
    let bob = f.enrolled("bob", &["leads"]).await;

    // Without an approved request: refused, and told how to ask.
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "approval_required")
    );
    assert!(body["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("jit request"));

    // The ticket must match the role's pattern.
    let (status, body) = f.ask(&alice, "db", "migrate orders", Some("nope")).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "ticket_invalid")
    );
    let (status, body) = f.ask(&alice, "db", "migrate orders", Some("INC-42")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "pending");
    let id = id_of(&body);

    // Alice is in the approver group, but can never approve her own request.
    let (status, body) = f.decide(&alice, &id, true, None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "self_approval")
    );
    f.next_step();
    let (status, body) = f.decide(&bob, &id, true, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "approved");

    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["request_id"], id.as_str());
    let cert = ssh_key::Certificate::from_openssh(body["certificate"].as_str().unwrap()).unwrap();
    assert_eq!(cert.valid_principals(), ["postgres"]);

    // Used: a second certificate needs a new request.
    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "approval_required")
    );
    assert_eq!(f.certificates_of("alice").await, 1);

    let records = f.assert_log_verifies().await;
    let issued = records.iter().find(|r| r["type"] == "issued").unwrap();
    assert_eq!(issued["approvers"], serde_json::json!(["bob"]));
    assert_eq!(issued["reason"], "migrate orders");
    assert_eq!(issued["ticket"], "INC-42");
    assert_eq!(issued["request_id"], id.as_str());
    assert!(records.iter().any(|r| r["type"] == "requested"));
    assert!(records
        .iter()
        .any(|r| r["type"] == "decided" && r["approver"] == "bob"));
    let kinds: Vec<Value> = f.alerts().await.iter().map(|a| a["kind"].clone()).collect();
    assert!(kinds.contains(&"approval_requested".into()), "{kinds:?}");
    assert!(kinds.contains(&"approval_decided".into()), "{kinds:?}");
}

#[tokio::test]
async fn two_approvals_need_two_distinct_approvers() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["dev"]).await;
    let bob = f.enrolled("bob", &["leads"]).await;
    let carol = f.enrolled("carol", &["leads"]).await;
    let mallory = f.enrolled("mallory", &["dev"]).await;
    let (_, body) = f.ask(&alice, "root", "kernel upgrade", None).await;
    let id = id_of(&body);

    let (status, body) = f.decide(&mallory, &id, true, None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "not_an_approver")
    );
    let (status, body) = f.decide(&bob, &id, true, None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    f.next_step();
    let (status, body) = f.decide(&bob, &id, true, None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::CONFLICT, "request_not_pending"),
        "bob counts once"
    );
    let (status, _) = f
        .issue(&alice, &f.certificate_request(&alice, "root", None))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "one approval of two is not enough"
    );
    let (status, body) = f.decide(&carol, &id, true, None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "root", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = f.assert_log_verifies().await;
    let issued = records.iter().find(|r| r["type"] == "issued").unwrap();
    assert_eq!(issued["approvers"], serde_json::json!(["bob", "carol"]));
}

#[tokio::test]
async fn denied_and_expired_approvals_yield_nothing() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["dev"]).await;
    let bob = f.enrolled("bob", &["leads"]).await;

    let (_, body) = f.ask(&alice, "db", "look around", Some("INC-1")).await;
    let denied = id_of(&body);
    let (status, body) = f.decide(&bob, &denied, false, None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "reason_required")
    );
    let (status, body) = f
        .decide(&bob, &denied, false, Some("use the replica"))
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("denied"))
    );
    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "approval_required")
    );

    let (_, body) = f.ask(&alice, "db", "again", Some("INC-2")).await;
    let approved = id_of(&body);
    f.next_step();
    let (status, _) = f.decide(&bob, &approved, true, None).await;
    assert_eq!(status, StatusCode::OK);
    // The window (1h) passes before alice uses it.
    f.clock.0.fetch_add(3601, Ordering::SeqCst);
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "approval_required")
    );
    let (status, body) = f
        .call(f.signed(
            &alice.key,
            &format!("/v1/requests/{approved}/status"),
            &Signed {
                freshness: f.freshness(),
            },
        ))
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("expired"))
    );
    assert_eq!(f.certificates_of("alice").await, 0);
    f.assert_log_verifies().await;
}

#[tokio::test]
async fn requests_are_listed_for_their_requester_and_approvers_only() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["dev"]).await;
    let bob = f.enrolled("bob", &["leads"]).await;
    let eve = f.enrolled("eve", &["sre"]).await;
    let (_, body) = f.ask(&alice, "db", "x", Some("INC-3")).await;
    let id = id_of(&body);
    let list = |device: &Device| {
        f.signed(
            &device.key,
            "/v1/requests/list",
            &Signed {
                freshness: f.freshness(),
            },
        )
    };
    let (_, mine) = f.call(list(&alice)).await;
    assert_eq!(
        (
            mine["mine"][0]["id"].as_str(),
            mine["to_decide"].as_array().unwrap().len()
        ),
        (Some(id.as_str()), 0)
    );
    let (_, bobs) = f.call(list(&bob)).await;
    assert_eq!(bobs["to_decide"][0]["id"].as_str(), Some(id.as_str()));
    let (_, eves) = f.call(list(&eve)).await;
    assert!(
        eves["mine"].as_array().unwrap().is_empty()
            && eves["to_decide"].as_array().unwrap().is_empty()
    );
    let (status, _) = f
        .call(f.signed(
            &eve.key,
            &format!("/v1/requests/{id}/status"),
            &Signed {
                freshness: f.freshness(),
            },
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "outsiders do not see requests"
    );
    let (status, body) = f.ask(&alice, "web", "no approval needed", None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "role_not_allowed")
    );
    let sre = f.enrolled("sam", &["sre"]).await;
    let (status, body) = f.ask(&sre, "web", "no approval needed", None).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "approval_not_required")
    );
}

#[tokio::test]
async fn break_glass_issues_at_once_with_a_reason_and_alerts() {
    let f = fixture(POLICY).await;
    let sam = f.enrolled("sam", &["sre"]).await;
    let (status, body) = f
        .issue(&sam, &f.certificate_request(&sam, "glass", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "reason_required")
    );
    assert_eq!(f.certificates_of("sam").await, 0);
    f.next_step();
    let mut request = f.certificate_request(&sam, "glass", None);
    request.reason = Some("INC-9 database down, on-call lead unreachable".into());
    let (status, body) = f.issue(&sam, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["break_glass"], true);
    let serial = body["serial"].as_u64().unwrap();

    let alerts = f.alerts().await;
    let glass = alerts
        .iter()
        .find(|a| a["kind"] == "break_glass")
        .expect("a break-glass alert");
    assert!(glass["text"].as_str().unwrap().contains("BREAK-GLASS"));
    assert_eq!(glass["fields"]["serial"], serial);
    assert_eq!(
        glass["fields"]["reason"],
        "INC-9 database down, on-call lead unreachable"
    );
    let reviews = f.state.store.pending_reviews().await.unwrap();
    assert_eq!(
        reviews.iter().map(|r| r.serial).collect::<Vec<_>>(),
        vec![serial]
    );
    let records = f.assert_log_verifies().await;
    let issued = records.iter().find(|r| r["type"] == "issued").unwrap();
    assert_eq!(issued["break_glass"], true);
}

#[tokio::test]
async fn issuance_outside_business_hours_alerts() {
    let policy = format!(
        "[business_hours]\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"]\nhours = \"09:00-18:00\"\ntime_zone = \"UTC\"\n{POLICY}"
    );
    let f = fixture(&policy).await;
    let sam = f.enrolled("sam", &["sre"]).await;
    // 1_800_000_000 is Friday 2027-01-15 08:00 UTC: one hour before opening.
    let (status, body) = f
        .issue(&sam, &f.certificate_request(&sam, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alerts = f.alerts().await;
    assert!(
        alerts.iter().any(|a| a["kind"] == "out_of_hours"),
        "{alerts:?}"
    );
    // Two hours later it is business as usual: no new out-of-hours alert.
    f.clock.0.fetch_add(2 * 3600, Ordering::SeqCst);
    let (status, _) = f
        .issue(&sam, &f.certificate_request(&sam, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    let count = f
        .alerts()
        .await
        .iter()
        .filter(|a| a["kind"] == "out_of_hours")
        .count();
    assert_eq!(count, 1);
    let records = f.assert_log_verifies().await;
    let flags: Vec<bool> = records
        .iter()
        .filter(|r| r["type"] == "issued")
        .map(|r| r["out_of_hours"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(flags, vec![true, false]);
}

/// A real HTTP receiver on 127.0.0.1 that records every body it gets.
async fn receiver(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<Value>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_slice::<Value>(&body).unwrap());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_webhook_delays_alerts_but_never_fails_an_issuance() {
    let f = fixture(POLICY).await;
    // Reserve a port, then close it: the receiver is down.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(jitd::alerts::deliver(
        f.state.store.clone(),
        f.state.clock.clone(),
        f.state.metrics.clone(),
        url,
        f.state.alerter.wake_handle(),
        async move {
            let _ = stopped.await;
        },
    ));
    let sam = f.enrolled("sam", &["sre"]).await;
    let mut request = f.certificate_request(&sam, "glass", None);
    request.reason = Some("INC-10 outage".into());
    let (status, body) = f.issue(&sam, &request).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the webhook being down never fails an issuance: {body}"
    );

    // Deliveries fail and back off; nothing is lost.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = f.state.metrics.render(0);
        if metrics.contains("jit_webhook_delivery_failures_total")
            && !metrics.contains("jit_webhook_delivery_failures_total 0")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery attempt was made"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!f.alerts().await.is_empty(), "the alerts are still queued");

    // The receiver comes back on the same port; once the backoff passes, everything arrives.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let got = receiver(listener).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        f.clock.0.fetch_add(60, Ordering::SeqCst);
        f.state.alerter.wake_handle().notify_one();
        let kinds: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap_or("").to_string())
            .collect();
        if kinds.iter().any(|k| k == "break_glass") && kinds.iter().any(|k| k == "enrolled") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queued alerts never arrived: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = got.lock().unwrap().clone();
    let glass = got.iter().find(|a| a["kind"] == "break_glass").unwrap();
    assert!(
        glass["text"]
            .as_str()
            .unwrap()
            .starts_with("[jit] BREAK-GLASS"),
        "Slack-compatible text: {glass}"
    );
    stop.send(()).unwrap();
    worker.await.unwrap();
}

#[tokio::test]
async fn metrics_count_issuances_denials_and_pending_approvals() {
    let f = fixture(POLICY).await;
    let sam = f.enrolled("sam", &["sre"]).await;
    let alice = f.enrolled("alice", &["dev"]).await;
    let (status, _) = f
        .issue(&sam, &f.certificate_request(&sam, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f.ask(&alice, "db", "x", Some("INC-4")).await;
    assert_eq!(status, StatusCode::OK);
    let response = f
        .call(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.0, StatusCode::OK);
    let text = {
        let response = tower::ServiceExt::oneshot(
            f.app.clone(),
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        String::from_utf8(
            axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    };
    assert!(
        text.contains("jit_certificates_issued_total{role=\"web\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("jit_denials_total{reason=\"role_not_allowed\"} 1"),
        "{text}"
    );
    assert!(text.contains("jit_approvals_pending 1"), "{text}");
    assert!(
        text.contains("jit_issuance_latency_seconds_count 1"),
        "{text}"
    );
}
