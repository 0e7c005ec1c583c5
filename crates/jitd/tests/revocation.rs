//! Revocation end to end inside jitd: certificates issued over the API, revoked by serial,
//! key ID and user, then `GET /v1/krl` checked certificate by certificate with the real
//! `ssh-keygen -Q`, which must agree with the store and with `jit-krl`'s check.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fixture::*;
use jitd::revoke::{revoke, Target};
use tower::ServiceExt as _;

const POLICY: &str = r#"
[roles.web]
groups = ["sre"]
principals = ["deploy"]
"#;

fn ssh_keygen() -> &'static str {
    let path = "/usr/bin/ssh-keygen";
    assert!(
        Path::new(path).exists(),
        "ssh-keygen is missing: apt-get install -y openssh-client (or run `just test`, which installs it)"
    );
    path
}

async fn krl(f: &Fixture, etag: Option<&str>) -> (StatusCode, Vec<u8>, String) {
    let mut request = Request::get("/v1/krl");
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = f
        .app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, bytes, etag)
}

/// `ssh-keygen -Q`: true when the KRL revokes the certificate.
fn revoked(krl: &Path, cert: &Path) -> bool {
    let out = Command::new(ssh_keygen())
        .arg("-Q")
        .arg("-f")
        .arg(krl)
        .arg(cert)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    match (out.status.success(), text.contains("REVOKED")) {
        (true, false) => false,
        (false, true) => true,
        other => panic!("unexpected ssh-keygen -Q answer {other:?}: {text}"),
    }
}

#[tokio::test]
async fn the_krl_revokes_exactly_what_was_revoked() {
    let f = fixture(POLICY).await;
    let dir = tempfile::tempdir().unwrap();
    let mut certs = Vec::new();
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        let device = f.enrolled(user, &["sre"]).await;
        let (status, body) = f
            .issue(&device, &f.certificate_request(&device, "web", None))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let path = dir.path().join(format!("{user}-cert.pub"));
        std::fs::write(
            &path,
            format!("{}\n", body["certificate"].as_str().unwrap()),
        )
        .unwrap();
        certs.push((
            user,
            body["serial"].as_u64().unwrap(),
            body["key_id"].as_str().unwrap().to_string(),
            path,
        ));
    }
    // An empty KRL revokes nothing.
    let (status, empty, etag) = krl(&f, None).await;
    assert_eq!(status, StatusCode::OK);
    let krl_path = dir.path().join("revoked.krl");
    std::fs::write(&krl_path, &empty).unwrap();
    for (_, _, _, cert) in &certs {
        assert!(!revoked(&krl_path, cert));
    }
    let (status, _, _) = krl(&f, Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "unchanged KRL, same ETag");

    let store = &f.state.store;
    let hash = f.state.policy.hash().to_string();
    let now = f.now();
    revoke(
        store,
        &hash,
        &Target::Serial(certs[0].1),
        "lost laptop",
        "op",
        None,
        now,
    )
    .await
    .unwrap();
    revoke(
        store,
        &hash,
        &Target::KeyId(certs[1].2.clone()),
        "left the team",
        "op",
        None,
        now,
    )
    .await
    .unwrap();
    revoke(
        store,
        &hash,
        &Target::User("carol".into()),
        "incident",
        "op",
        None,
        now,
    )
    .await
    .unwrap();
    assert!(
        revoke(store, &hash, &Target::Serial(12345), "x", "op", None, now)
            .await
            .is_err(),
        "unknown serial"
    );

    let (status, bytes, new_etag) = krl(&f, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_etag, etag);
    std::fs::write(&krl_path, &bytes).unwrap();
    // The host side's reader (jit-krl) answers as OpenSSH does.
    let parsed = jit_krl::Krl::parse(&bytes).unwrap();
    for (user, serial, _, cert) in &certs {
        let expected = matches!(*user, "alice" | "bob" | "carol");
        assert_eq!(revoked(&krl_path, cert), expected, "{user}");
        let certificate = jit_krl::Certificate::read_file(cert).unwrap();
        assert_eq!(
            parsed.is_revoked_certificate(&certificate),
            expected,
            "jit-krl agrees for {user}"
        );
        assert_eq!(
            store.is_serial_revoked(*serial).await.unwrap(),
            expected,
            "store agrees for {user}"
        );
    }
    let records = f.assert_log_verifies().await;
    assert_eq!(records.iter().filter(|r| r["type"] == "revoked").count(), 3);

    // Once the certificates have expired they leave the KRL.
    f.clock.0.fetch_add(3 * 3600, Ordering::SeqCst);
    let (_, later, _) = krl(&f, None).await;
    assert!(later.len() < bytes.len(), "expired certificates drop out");
    std::fs::write(&krl_path, &later).unwrap();
    assert!(!revoked(&krl_path, &certs[0].3));
}

#[tokio::test]
async fn an_engineer_can_revoke_only_their_own_certificates() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let bob = f.enrolled("bob", &["sre"]).await;
    let (_, a) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    let (_, b) = f
        .issue(&bob, &f.certificate_request(&bob, "web", None))
        .await;
    let serial_a = a["serial"].as_u64().unwrap();
    let serial_b = b["serial"].as_u64().unwrap();
    let body = jit_proto::api::RevokeOwn {
        freshness: f.freshness(),
        serials: vec![serial_b],
    };
    let (status, _) = f
        .call(f.signed(&alice.key, "/v1/certificates/revoke", &body))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "bob's certificate is not alice's"
    );
    assert!(!f.state.store.is_serial_revoked(serial_b).await.unwrap());
    let body = jit_proto::api::RevokeOwn {
        freshness: f.freshness(),
        serials: vec![serial_a],
    };
    let (status, reply) = f
        .call(f.signed(&alice.key, "/v1/certificates/revoke", &body))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(f.state.store.is_serial_revoked(serial_a).await.unwrap());
    f.assert_log_verifies().await;
}
