//! Fresh keys only, in process: jitd certifies a single well-formed key it never certified
//! before and that is none of its own keys and no device key; enrollment (devices and
//! hosts) refuses jitd's own keys, and a device key must never have been certified.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fixture::*;
use jit_proto::api::HostEnrollRequest;
use serde_json::Value;
use ssh_key::{Algorithm, PrivateKey, PublicKey};

const POLICY: &str = "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"deploy\"]\n";

fn fresh() -> PrivateKey {
    PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap()
}

fn line(key: &PublicKey) -> String {
    key.to_openssh().unwrap()
}

/// jitd's own public keys, each with what it is.
fn own_keys(f: &Fixture) -> Vec<(&'static str, String)> {
    let state = &f.state;
    vec![
        ("user CA key", line(state.user_ca.public_key())),
        ("previous user CA key", line(&state.user_ca_previous[0])),
        ("host CA key", line(state.host_ca.public_key())),
        ("previous host CA key", line(&state.host_ca_previous[0])),
        ("log key", line(state.log_key.public_key())),
    ]
}

fn denials(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["type"] == "denied").collect()
}

#[tokio::test]
async fn only_a_fresh_single_key_is_certified() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let bob = f.enrolled("bob", &["sre"]).await;
    let first = f.certificate_request(&alice, "web", None);
    let (status, body) = f.issue(&alice, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (one, two) = (line(fresh().public_key()), line(fresh().public_key()));
    let not_allowed = (StatusCode::FORBIDDEN, "key_not_allowed");
    let mut cases: Vec<(&str, String, (StatusCode, &str))> = own_keys(&f)
        .into_iter()
        .map(|(what, key)| (what, key, not_allowed))
        .collect();
    cases.extend([
        ("own device key", line(alice.key.public_key()), not_allowed),
        (
            "another user's device key",
            line(bob.key.public_key()),
            not_allowed,
        ),
        (
            "a key certified before",
            first.public_key.clone(),
            (StatusCode::CONFLICT, "key_reused"),
        ),
        (
            "two key lines",
            format!("{one}\n{two}"),
            (StatusCode::BAD_REQUEST, "invalid_public_key"),
        ),
        (
            "garbage after the key",
            format!("{one} laptop\0\x1b[2Jgarbage"),
            (StatusCode::BAD_REQUEST, "invalid_public_key"),
        ),
    ]);
    for (what, public_key, expected) in cases {
        f.next_step();
        let before = f.assert_log_verifies().await;
        let mut request = f.certificate_request(&alice, "web", None);
        request.public_key = public_key;
        let (status, body) = f.issue(&alice, &request).await;
        assert_eq!((status, code_of(&body)), expected, "{what}: {body}");
        assert!(body.get("certificate").is_none(), "{what}");
        assert!(body["error"]["hint"].is_string(), "{what}: no hint");
        assert_eq!(f.certificates_of("alice").await, 1, "{what}: issued");
        let after = f.assert_log_verifies().await;
        assert_eq!(after.len(), before.len() + 1, "{what}: one record");
        let denied = after.last().unwrap();
        assert_eq!(denied["type"], "denied", "{what}");
        assert_eq!(denied["code"], expected.1, "{what}");
        assert_eq!(denied["user"], "alice", "{what}");
    }
    // Refused like a policy denial: after the code was counted, so that code is spent.
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "replayed_otp")
    );
    assert_eq!(f.certificates_of("bob").await, 0);
    let records = f.assert_log_verifies().await;
    assert!(denials(&records).len() >= 10);
}

#[tokio::test]
async fn a_wrong_code_is_the_answer_before_the_key() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let mut request = f.certificate_request(&alice, "web", Some("000000".into()));
    if jit_mfa::code_at(&alice.secret, f.now()) == "000000" {
        request.otp = "111111".into();
    }
    request.public_key = line(f.state.user_ca.public_key());
    let (status, body) = f.issue(&alice, &request).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_otp")
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_key_get_one_certificate() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let bob = f.enrolled("bob", &["sre"]).await;
    let key = line(fresh().public_key());
    let mut for_alice = f.certificate_request(&alice, "web", None);
    let mut for_bob = f.certificate_request(&bob, "web", None);
    for_alice.public_key = key.clone();
    for_bob.public_key = key;
    // Both may pass jitd's early check; the store's unique index settles it.
    let ((a, a_body), (b, b_body)) =
        tokio::join!(f.issue(&alice, &for_alice), f.issue(&bob, &for_bob));
    let mut outcomes = [(a, code_of(&a_body)), (b, code_of(&b_body))];
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (StatusCode::OK, "<none>"),
            (StatusCode::CONFLICT, "key_reused")
        ],
        "{a_body} {b_body}"
    );
    let issued = f.certificates_of("alice").await + f.certificates_of("bob").await;
    assert_eq!(issued, 1);
    let records = f.assert_log_verifies().await;
    assert_eq!(denials(&records).len(), 1);
    assert_eq!(denials(&records)[0]["code"], "key_reused");
}

#[tokio::test]
async fn enrollment_refuses_jitds_own_keys_and_certified_keys() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let certified = f.certificate_request(&alice, "web", None);
    let (status, body) = f.issue(&alice, &certified).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    f.add_user("carol", &["sre".into()]).await;
    let token = f.token("carol", 3600).await;
    let enroll = |public_key: String| {
        let body = serde_json::json!({
            "token_secret": token,
            "device_public_key": public_key,
            "device_name": "laptop",
        });
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    // Only Ed25519 keys can be device keys, and jitd's own keys are all Ed25519 here.
    for (what, key) in own_keys(&f) {
        let (status, body) = f.call(enroll(key)).await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::FORBIDDEN, "key_not_allowed"),
            "{what}: {body}"
        );
    }
    let (status, body) = f.call(enroll(certified.public_key.clone())).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::CONFLICT, "key_reused"),
        "{body}"
    );
    // Nothing was registered and the token is still good for a key of its own.
    let own = fresh();
    let (status, body) = f.call(enroll(line(own.public_key()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], "carol");
}

#[tokio::test]
async fn host_enrollment_refuses_jitds_own_keys() {
    let f = fixture(POLICY).await;
    let token_hash = jitd::enroll::token_hash("host-secret");
    f.change(jit_store::Change::AddHost {
        name: "web-1".into(),
        principals: vec!["web-1".into()],
        token_hash: token_hash.clone(),
        expires_at: f.now() + 600,
        at: f.now(),
    })
    .await;
    let enroll = |public_key: String| {
        let body = HostEnrollRequest {
            token_secret: "host-secret".into(),
            public_key,
        };
        Request::post("/v1/hosts/enroll")
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    for (what, key) in own_keys(&f) {
        let (status, body) = f.call(enroll(key)).await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::FORBIDDEN, "key_not_allowed"),
            "{what}: {body}"
        );
    }
    // The token was not used up by the refusals.
    let (status, body) = f.call(enroll(line(fresh().public_key()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
