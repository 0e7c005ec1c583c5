//! The API in process (`app(state)` with `oneshot`), on a real SQLite store: enrollment,
//! issuance and every refusal the foundation promises, each leaving a verifiable log.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use fixture::*;
use std::sync::atomic::Ordering;

use axum::http::{Request, StatusCode};
use jit_mfa::TotpSecret;
use jit_proto::signing::HEADER_DEVICE;
use ssh_key::{Algorithm, HashAlg, PrivateKey};

const POLICY: &str = r#"
[roles.web]
groups = ["sre"]
principals = ["deploy", "web"]
hosts = ["web-*"]
default_ttl = "15m"
max_ttl = "1h"

[roles.db]
groups = ["dba"]
principals = ["postgres"]
"#;

const ECDSA_KEY: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBJbzSJddZadPsZMkCEhG9cToVvf6wms3pDxoFxawbr5UHWY8QwjEEhgK+clK01AKLHAnC1vpesyOfGY5/msASE= fixture";

/// An OpenSSH user certificate line (signed by a throwaway CA).
fn user_certificate_line() -> String {
    let ca = jit_ca::signer::Ed25519Signer::new(
        ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        "x",
    );
    let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let principals = vec!["deploy".to_string()];
    let request = jit_ca::user_cert::UserCertificateRequest {
        public_key: key.public_key(),
        user: "x",
        role: "web",
        principals: &principals,
        serial: 1,
        now: 1_800_000_000,
        backdate: std::time::Duration::from_secs(30),
        ttl: std::time::Duration::from_secs(60),
        extensions: &[],
        critical_options: &[],
        receipt: None,
    };
    jit_ca::user_cert::sign_user_certificate(&ca, &mut rand::rngs::OsRng, &request)
        .unwrap()
        .openssh
}

#[tokio::test]
async fn an_enrolled_engineer_gets_a_certificate_with_ca_made_fields() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let request = f.certificate_request(&alice, "web", None);
    let (status, body) = f.issue(&alice, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cert = ssh_key::Certificate::from_openssh(body["certificate"].as_str().unwrap()).unwrap();
    let serial = body["serial"].as_u64().unwrap();
    assert_ne!(serial, 0);
    assert_eq!(cert.serial(), serial);
    assert_eq!(cert.key_id(), format!("alice@web#{serial}"));
    assert_eq!(cert.valid_principals(), ["deploy", "web"]);
    assert_eq!(cert.valid_after(), f.now() - 30);
    assert_eq!(cert.valid_before(), f.now() + 15 * 60);
    assert_eq!(
        cert.public_key(),
        ssh_key::PublicKey::from_openssh(&request.public_key)
            .unwrap()
            .key_data()
    );
    let ca = f.state.user_ca.public_key().fingerprint(HashAlg::Sha256);
    cert.validate_at(f.now(), &[ca]).unwrap();

    let records = f.assert_log_verifies().await;
    let issued = records
        .iter()
        .find(|r| r["type"] == "issued")
        .expect("an issuance record");
    assert_eq!(issued["serial"], serial);
    assert_eq!(issued["user"], "alice");
    assert_eq!(issued["policy_hash"], f.state.policy.hash());
    assert_eq!(issued["key_id"], cert.key_id());
    assert_eq!(body["log_index"], records.len());
    // No secret in any record.
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(&request.otp), "a TOTP code reached the log");
    assert!(
        !all.contains(&alice.secret.to_base32()),
        "the TOTP secret reached the log"
    );
}

#[tokio::test]
async fn the_role_is_picked_by_host_when_absent() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let mut request = f.certificate_request(&alice, "web", None);
    request.role = None;
    request.host = Some("web-7".into());
    let (status, body) = f.issue(&alice, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "web");
    f.next_step();
    let mut request = f.certificate_request(&alice, "web", None);
    request.role = None;
    request.host = Some("db-1".into());
    let (status, body) = f.issue(&alice, &request).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "no_role_for_host")
    );
}

#[tokio::test]
async fn the_same_totp_code_works_once() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let code = jit_mfa::code_at(&alice.secret, f.now());
    let (status, _) = f
        .issue(
            &alice,
            &f.certificate_request(&alice, "web", Some(code.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", Some(code)))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "replayed_otp")
    );
    assert_eq!(f.certificates_of("alice").await, 1);
    let records = f.assert_log_verifies().await;
    assert!(records
        .iter()
        .any(|r| r["type"] == "denied" && r["code"] == "replayed_otp"));
}

#[tokio::test]
async fn six_wrong_codes_lock_the_user_out() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let right = jit_mfa::code_at(&alice.secret, f.now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    for attempt in 1..=5 {
        let (status, body) = f
            .issue(
                &alice,
                &f.certificate_request(&alice, "web", Some(wrong.clone())),
            )
            .await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_otp"),
            "attempt {attempt}"
        );
    }
    // Even the right code is refused while locked out.
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", Some(right)))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    assert!(body["error"]["retry_after_seconds"].as_u64().unwrap() > 0);
    assert_eq!(f.certificates_of("alice").await, 0);
    f.assert_log_verifies().await;
    // After the window, it cools down.
    f.clock.0.fetch_add(301, Ordering::SeqCst);
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unknown_device_is_refused() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let stranger = Device {
        key: PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap(),
        secret: TotpSecret::from_base32(&alice.secret.to_base32()).unwrap(),
    };
    let request = f.certificate_request(&stranger, "web", None);
    let (status, body) = f.issue(&stranger, &request).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "unknown_device")
    );
    // A known device whose signature was made by another key is refused too.
    let forged = f.signed(&stranger.key, "/v1/certificates", &request);
    let (mut parts, body) = forged.into_parts();
    parts.headers.insert(
        HEADER_DEVICE,
        alice
            .key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
            .parse()
            .unwrap(),
    );
    let (status, body) = f.call(Request::from_parts(parts, body)).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    assert_eq!(f.certificates_of("alice").await, 0);
    f.assert_log_verifies().await;
}

#[tokio::test]
async fn a_captured_request_cannot_be_replayed_or_delayed() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let body = serde_json::to_vec(&f.certificate_request(&alice, "web", None)).unwrap();
    let (status, _) = f
        .call(signed_raw(&alice.key, "/v1/certificates", body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let logged = f.assert_log_verifies().await.len();
    // Replays are refused before anything is counted: no log record, no TOTP failure (six
    // of them would otherwise lock alice out).
    for _ in 0..6 {
        let (status, reply) = f
            .call(signed_raw(&alice.key, "/v1/certificates", body.clone()))
            .await;
        assert_eq!(
            (status, code_of(&reply)),
            (StatusCode::UNAUTHORIZED, "replayed_request")
        );
    }
    assert_eq!(f.assert_log_verifies().await.len(), logged);
    f.next_step();
    let (status, _) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK, "replays did not count as failures");

    f.next_step();
    let late = f.certificate_request(&alice, "web", None);
    f.clock.0.fetch_add(120, Ordering::SeqCst);
    let (status, reply) = f.issue(&alice, &late).await;
    assert_eq!(
        (status, code_of(&reply)),
        (StatusCode::UNAUTHORIZED, "stale_request")
    );
    assert_eq!(f.certificates_of("alice").await, 2);
    f.assert_log_verifies().await;
}

#[tokio::test]
async fn enrollment_tokens_are_single_use_and_expire() {
    let f = fixture(POLICY).await;
    f.add_user("bob", &["sre".into()]).await;
    let token = f.token("bob", 600).await;
    let key = |_: ()| PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    assert_eq!(f.enroll_with(&token, &key(())).await.0, StatusCode::OK);
    let (status, body) = f.enroll_with(&token, &key(())).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let expiring = f.token("bob", 60).await;
    f.clock.0.fetch_add(61, Ordering::SeqCst);
    let (status, body) = f.enroll_with(&expiring, &key(())).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let (status, body) = f.enroll_with("never-issued", &key(())).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    f.assert_log_verifies().await;
}

#[tokio::test]
async fn an_unconfirmed_device_gets_nothing() {
    let f = fixture(POLICY).await;
    f.add_user("bob", &["sre".into()]).await;
    let token = f.token("bob", 600).await;
    let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let (_, body) = f.enroll_with(&token, &key).await;
    let device = Device {
        key,
        secret: TotpSecret::from_base32(body["totp_secret"].as_str().unwrap()).unwrap(),
    };
    let (status, body) = f
        .issue(&device, &f.certificate_request(&device, "web", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "device_not_confirmed")
    );
}

#[tokio::test]
async fn policy_refusals_say_why_and_issue_nothing() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "db", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "role_not_allowed")
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("dba"),
        "{body}"
    );
    // The refused request spent its code: the same code for a role alice holds is a replay.
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "replayed_otp")
    );
    // A wrong code is the answer before the policy's refusal.
    f.next_step();
    let mut wrong = f.certificate_request(&alice, "db", None);
    let first = if wrong.otp.starts_with('0') { "1" } else { "0" };
    wrong.otp.replace_range(0..1, first);
    let (status, body) = f.issue(&alice, &wrong).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_otp")
    );
    f.next_step();
    let mut long = f.certificate_request(&alice, "web", None);
    long.ttl_seconds = Some(2 * 3600);
    let (status, body) = f.issue(&alice, &long).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "ttl_too_long")
    );
    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "nope", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "unknown_role")
    );
    f.next_step();
    let mut ecdsa = f.certificate_request(&alice, "web", None);
    // made once by `ssh-keygen -t ecdsa`; the role allows only ssh-ed25519
    ecdsa.public_key = ECDSA_KEY.into();
    let (status, body) = f.issue(&alice, &ecdsa).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "key_type_not_allowed")
    );
    f.next_step();
    // A certificate offered as the key to certify is refused: raw public keys only.
    let mut cert_as_key = f.certificate_request(&alice, "web", None);
    cert_as_key.public_key = user_certificate_line();
    let (status, body) = f.issue(&alice, &cert_as_key).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_public_key")
    );
    f.next_step();
    let mut garbage = f.certificate_request(&alice, "web", None);
    garbage.public_key = "ssh-ed25519 not-base64".into();
    let (status, body) = f.issue(&alice, &garbage).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_public_key")
    );
    assert_eq!(f.certificates_of("alice").await, 0);
    let records = f.assert_log_verifies().await;
    assert!(records.iter().filter(|r| r["type"] == "denied").count() >= 4);
}

#[tokio::test]
async fn a_disabled_user_gets_nothing() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    f.change(jit_store::Change::SetUserDisabled {
        name: "alice".into(),
        disabled: true,
        at: f.now(),
        reason: "user disabled".into(),
        revoked_by: "test".into(),
    })
    .await;
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "user_disabled")
    );
    assert_eq!(f.certificates_of("alice").await, 0);
}

#[tokio::test]
async fn when_the_log_cannot_be_written_no_certificate_leaves_the_server() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let before = f.assert_log_verifies().await.len();
    // A real SQLite failure on the log table (as a full disk would give), not a mock.
    let db = f._dir.path().join("jit.db");
    let tamper = rusqlite::Connection::open(&db).unwrap();
    tamper
        .busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    tamper
        .execute_batch("CREATE TRIGGER log_full BEFORE INSERT ON log_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .unwrap();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "log_unavailable")
    );
    assert!(body.get("certificate").is_none());
    assert!(
        !body.to_string().contains("cert-v01"),
        "no certificate in the error body"
    );
    assert_eq!(f.certificates_of("alice").await, 0);
    tamper.execute_batch("DROP TRIGGER log_full").unwrap();
    assert_eq!(f.assert_log_verifies().await.len(), before);
    f.next_step();
    let (status, _) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "service resumes once the log is writable"
    );
}
