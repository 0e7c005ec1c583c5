//! `jit::http::Client` against the real jitd: pinning, error mapping, signed requests.

use jit::error::report;
use jit::http::Client;
use jit_mfa::TotpSecret;
use jit_proto::api::{
    EnrollConfirmRequest, EnrollRequest, EnrollResponse, Health, Whoami, WhoamiRequest,
};
use jit_proto::ErrorCode;
use jitd::state::Settings;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, PrivateKey};

use crate::server::{self, Jitd as _, TestServer};

/// Register a new device of alice (`POST /v1/enroll`, as `jit enroll` does): its key and
/// the TOTP secret the server gave it.
async fn register(client: &Client, server: &TestServer) -> (PrivateKey, TotpSecret) {
    let device = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    let secret = server.enrollment_secret("alice").unwrap();
    let request = EnrollRequest {
        token_secret: secret,
        device_public_key: device.public_key().to_openssh().unwrap(),
        device_name: "test".into(),
    };
    let enrolled: EnrollResponse = client.post("/v1/enroll", &request).await.unwrap();
    let secret = TotpSecret::from_base32(&enrolled.totp_secret).unwrap();
    (device, secret)
}

fn confirmation(otp: String) -> EnrollConfirmRequest {
    EnrollConfirmRequest {
        freshness: jit::signing::freshness(jit::clock::now()),
        otp,
    }
}

#[tokio::test]
async fn the_pinned_certificate_is_trusted() {
    let server = server::start();
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let health: Health = client.get("/v1/healthz").await.unwrap();
    assert_eq!(health.status, "ok");
}

#[tokio::test]
async fn another_certificate_is_refused_with_a_clear_error() {
    let server = server::start();
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
    // One wrong code locks alice out for two minutes: the lockout jitd answers with
    // `too_many_attempts`, a hint and `retry_after_seconds`.
    let server = server::start_with(Settings {
        attempt_limit: jit_mfa::AttemptLimit {
            max_failures: 1,
            window_seconds: 120,
        },
        ..Settings::default()
    });
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let (device, _) = register(&client, &server).await;
    let path = "/v1/enroll/confirm";
    let wrong = client
        .post_signed::<_, Whoami>(path, &confirmation("000000".into()), &device)
        .await
        .unwrap_err();
    assert_eq!(jit::error::server_code(&wrong), Some(ErrorCode::InvalidOtp));

    let err = client
        .post_signed::<_, Whoami>(path, &confirmation("000000".into()), &device)
        .await
        .unwrap_err();
    assert_eq!(
        jit::error::server_code(&err),
        Some(ErrorCode::TooManyAttempts)
    );
    let text = report(&err);
    assert!(
        text.contains("too many wrong codes for alice; wait 1")
            && text.contains("s before trying again (too_many_attempts); try again in 2m"),
        "{text}"
    );
    assert!(
        text.contains(
            "hint: check that your authenticator app shows the jit entry and your clock is \
             right (wait 2m before trying again)"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn signed_requests_verify_and_other_devices_are_refused() {
    let server = server::start();
    let client = Client::new(&server.url, &server.tls_sha256).unwrap();
    let (device, secret) = register(&client, &server).await;
    let code = jit_mfa::code_at(&secret, jit::clock::now());
    let confirmed: Whoami = client
        .post_signed("/v1/enroll/confirm", &confirmation(code), &device)
        .await
        .unwrap();
    assert_eq!(confirmed.user, "alice");

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
        report(&err).contains("hint: enroll this device with `jit enroll TOKEN`"),
        "{}",
        report(&err)
    );
}
