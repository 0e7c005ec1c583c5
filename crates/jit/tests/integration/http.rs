//! `jit::http::Client` against the fake jitd: pinning, error mapping, signed requests.

use jit::error::report;
use jit::http::Client;
use jit_proto::api::{Health, Whoami, WhoamiRequest};
use jit_proto::{ApiError, ErrorCode};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, PrivateKey};

use crate::fake_jitd::FakeJitd;

#[tokio::test]
async fn the_pinned_certificate_is_trusted() {
    let server = FakeJitd::start();
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let health: Health = client.get("/v1/healthz").await.unwrap();
    assert_eq!(health.status, "ok");
}

#[tokio::test]
async fn another_certificate_is_refused_with_a_clear_error() {
    let server = FakeJitd::start();
    let client = Client::new(&server.url, &"00".repeat(32)).unwrap();
    let err = client.get::<Health>("/v1/healthz").await.unwrap_err();
    let text = report(&err);
    assert!(
        text.contains("the server's TLS certificate does not match the one in your enrollment"),
        "{text}"
    );
    assert!(text.contains(&server.tls_sha256), "{text}");
    assert!(text.contains("hint: re-enroll"), "{text}");
    assert!(server.paths().is_empty(), "no request may reach the server");
}

#[tokio::test]
async fn an_unreachable_server_is_explained() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let client = Client::new(&url, &"00".repeat(32)).unwrap();
    let text = report(&client.get::<Health>("/v1/healthz").await.unwrap_err());
    assert!(
        text.contains(&format!("could not reach the server at {url}")),
        "{text}"
    );
    assert!(text.contains("hint: check that jitd is running"), "{text}");
}

#[tokio::test]
async fn error_bodies_keep_message_hint_and_retry_after() {
    let server = FakeJitd::start();
    server.state.lock().unwrap().forced = Some(ApiError {
        code: ErrorCode::TooManyAttempts,
        message: "too many wrong codes".to_string(),
        hint: Some("wait, then use a fresh code".to_string()),
        retry_after_seconds: Some(90),
    });
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let err = client.get::<Health>("/v1/healthz").await.unwrap_err();
    assert_eq!(
        jit::error::server_code(&err),
        Some(ErrorCode::TooManyAttempts)
    );
    let text = report(&err);
    assert!(
        text.contains("too many wrong codes (too_many_attempts); try again in 2m"),
        "{text}"
    );
    assert!(
        text.contains("hint: wait, then use a fresh code (wait 2m before trying again)"),
        "{text}"
    );
}

#[tokio::test]
async fn signed_requests_verify_and_other_devices_are_refused() {
    let server = FakeJitd::start();
    let device = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    server
        .state
        .lock()
        .unwrap()
        .add_device(device.public_key().clone(), "alice", true);
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let body = || WhoamiRequest {
        freshness: jit::signing::freshness(jit::clock::now()),
    };
    let whoami: Whoami = client
        .post_signed("/v1/whoami", &body(), &device)
        .await
        .unwrap();
    assert_eq!(whoami.user, "alice");

    let stranger = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    let err = client
        .post_signed::<_, Whoami>("/v1/whoami", &body(), &stranger)
        .await
        .unwrap_err();
    assert_eq!(
        jit::error::server_code(&err),
        Some(ErrorCode::UnknownDevice)
    );
    assert!(
        report(&err).contains("hint: enroll again"),
        "{}",
        report(&err)
    );
}
