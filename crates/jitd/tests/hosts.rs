//! Host certificates in process: a host trades its single-use token for a host certificate
//! signed by the host CA, and renews it with a request signed by its own host key.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fixture::*;
use jit_proto::api::{HostEnrollRequest, HostRenewRequest};
use ssh_key::certificate::CertType;
use ssh_key::{Algorithm, HashAlg, PrivateKey};

const POLICY: &str = "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"deploy\"]\n";

#[tokio::test]
async fn a_host_enrolls_once_and_renews_with_its_own_key() {
    let f = fixture(POLICY).await;
    let principals = vec!["web-1".to_string(), "127.0.0.1".to_string()];
    let token_hash = jitd::enroll::token_hash("host-secret");
    f.change(jit_store::Change::AddHost {
        name: "web-1".into(),
        principals: principals.clone(),
        token_hash: token_hash.clone(),
        expires_at: f.now() + 600,
        at: f.now(),
    })
    .await;
    let host_key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let enroll = |secret: &str| {
        let body = HostEnrollRequest {
            token_secret: secret.into(),
            public_key: host_key.public_key().to_openssh().unwrap(),
        };
        Request::post("/v1/hosts/enroll")
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    let (status, body) = f.call(enroll("host-secret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cert = ssh_key::Certificate::from_openssh(body["certificate"].as_str().unwrap()).unwrap();
    assert_eq!(cert.cert_type(), CertType::Host);
    assert_eq!(cert.valid_principals(), principals.as_slice());
    assert_eq!(cert.public_key(), host_key.public_key().key_data());
    let host_ca = f.state.host_ca.public_key().fingerprint(HashAlg::Sha256);
    cert.validate_at(f.now(), &[host_ca]).unwrap();
    let user_ca = f.state.user_ca.public_key().fingerprint(HashAlg::Sha256);
    assert!(
        cert.validate_at(f.now(), &[user_ca]).is_err(),
        "signed by the host CA, not the user CA"
    );

    let (status, body) = f.call(enroll("host-secret")).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "single use"
    );

    let renewal = HostRenewRequest {
        freshness: f.freshness(),
        public_key: host_key.public_key().to_openssh().unwrap(),
    };
    let (status, body) = f
        .call(f.signed(&host_key, "/v1/hosts/renew", &renewal))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["host"], "web-1");

    // A renewal signed by another key (claiming the host's key) is refused.
    let intruder = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let forged = HostRenewRequest {
        freshness: f.freshness(),
        public_key: host_key.public_key().to_openssh().unwrap(),
    };
    let (status, _) = f
        .call(f.signed(&intruder, "/v1/hosts/renew", &forged))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
