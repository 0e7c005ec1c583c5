//! Shared fixture for the in-process API tests: a jitd `app(state)` on a real SQLite
//! store, enrolled devices, signed requests, a clock moved by hand.
#![allow(dead_code)] // each test file uses a different part

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use jit_mfa::TotpSecret;
use jit_proto::api::{CertificateRequest, EnrollConfirmRequest, EnrollResponse, Freshness};
use jit_proto::signing::{signed_bytes, HEADER_DEVICE, HEADER_SIGNATURE, SIGNATURE_NAMESPACE};
use jitd::clock::Clock;
use jitd::state::AppState;
use serde_json::{json, Value};
use ssh_key::{Algorithm, HashAlg, PrivateKey};
use tower::ServiceExt as _;

/// A clock tests move by hand.
pub struct TestClock(pub AtomicU64);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One jitd app on a fresh SQLite store, with a hand-moved clock.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub state: Arc<AppState>,
    pub app: Router,
    pub clock: Arc<TestClock>,
}

/// An enrolled device and the TOTP secret its authenticator holds.
pub struct Device {
    pub key: PrivateKey,
    pub secret: TotpSecret,
}

/// A fixture running `policy`.
pub async fn fixture(policy: &str) -> Fixture {
    fixture_with(policy, jitd::state::Settings::default(), "sqlite://jit.db").await
}

/// A fixture running `policy` with `settings`, on the store `database` names (relative
/// paths are under the fixture's own temporary directory).
pub async fn fixture_with(
    policy: &str,
    settings: jitd::state::Settings,
    database: &str,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicU64::new(1_800_000_000)));
    let state = jitd::test_support::app_state_with(
        dir.path(),
        database,
        policy,
        clock.clone(),
        settings,
        true,
    )
    .await
    .unwrap();
    Fixture {
        _dir: dir,
        app: jitd::api::app(state.clone()),
        state,
        clock,
    }
}

impl Fixture {
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Move to the next TOTP step, so a fresh code is available.
    pub fn next_step(&self) {
        self.clock.0.fetch_add(30, Ordering::SeqCst);
    }

    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, value) = self.call_with_headers(request).await;
        (status, value)
    }

    /// Like [`Fixture::call`], with the response headers.
    pub async fn call_with_headers(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, HeaderMap, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }

    /// `GET path`, with the response headers.
    pub async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Value) {
        self.call_with_headers(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// Commit a state change with an operator's record, as the admin commands do.
    pub async fn change(&self, change: jit_store::Change) -> jit_store::Applied {
        jitd::test_support::commit_change(&self.state, change)
            .await
            .unwrap()
    }

    /// Add a user.
    pub async fn add_user(&self, name: &str, groups: &[String]) {
        self.change(jit_store::Change::AddUser {
            name: name.into(),
            groups: groups.to_vec(),
            at: self.now(),
        })
        .await;
    }

    pub async fn token(&self, user: &str, expires_in: u64) -> String {
        let secret = format!("secret-for-{user}-{expires_in}");
        self.change(jit_store::Change::AddEnrollmentToken {
            token_hash: jitd::enroll::token_hash(&secret),
            user: user.into(),
            at: self.now(),
            expires_at: self.now() + expires_in,
        })
        .await;
        secret
    }

    pub async fn enroll_with(&self, token: &str, key: &PrivateKey) -> (StatusCode, Value) {
        self.call(enroll_request(token, key)).await
    }

    /// Send every request at once (each on its own task); the answers in order.
    pub async fn call_all(&self, requests: Vec<Request<Body>>) -> Vec<(StatusCode, Value)> {
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let app = self.app.clone();
                tokio::spawn(async move {
                    let response = app.oneshot(request).await.unwrap();
                    let status = response.status();
                    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                        .await
                        .unwrap();
                    (
                        status,
                        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    )
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }

    pub async fn enrolled(&self, user: &str, groups: &[&str]) -> Device {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.add_user(user, &groups).await;
        let token = self.token(user, 3600).await;
        let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        let (status, body) = self.enroll_with(&token, &key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let response: EnrollResponse = serde_json::from_value(body).unwrap();
        let device = Device {
            key,
            secret: TotpSecret::from_base32(&response.totp_secret).unwrap(),
        };
        let confirm = EnrollConfirmRequest {
            freshness: self.freshness(),
            otp: jit_mfa::code_at(&device.secret, self.now()),
        };
        let (status, body) = self
            .call(self.signed(&device.key, "/v1/enroll/confirm", &confirm))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.next_step();
        device
    }

    pub fn freshness(&self) -> Freshness {
        Freshness {
            timestamp: self.now(),
            nonce: hex::encode(rand::random::<[u8; 16]>()),
        }
    }

    pub fn signed(
        &self,
        key: &PrivateKey,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Request<Body> {
        let body = serde_json::to_vec(body).unwrap();
        signed_raw(key, path, body)
    }

    pub fn certificate_request(
        &self,
        device: &Device,
        role: &str,
        otp: Option<String>,
    ) -> CertificateRequest {
        let client = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        CertificateRequest {
            freshness: self.freshness(),
            role: Some(role.into()),
            host: None,
            ttl_seconds: None,
            public_key: client.public_key().to_openssh().unwrap(),
            otp: otp.unwrap_or_else(|| jit_mfa::code_at(&device.secret, self.now())),
            reason: None,
            ticket: None,
        }
    }

    pub async fn issue(
        &self,
        device: &Device,
        request: &CertificateRequest,
    ) -> (StatusCode, Value) {
        self.call(self.signed(&device.key, "/v1/certificates", request))
            .await
    }

    pub async fn certificates_of(&self, user: &str) -> usize {
        self.state
            .store
            .unexpired_certificates(user, self.now())
            .await
            .unwrap()
            .len()
    }

    pub async fn assert_log_verifies(&self) -> Vec<Value> {
        let entries = self.state.store.log_entries(1, 10_000).await.unwrap();
        jit_log::verify_chain(entries.clone()).expect("the log chain verifies");
        entries
            .iter()
            .map(|e| serde_json::from_str(&e.body).unwrap())
            .collect()
    }
}

/// `POST /v1/enroll` of `key` with the enrollment token `token`.
pub fn enroll_request(token: &str, key: &PrivateKey) -> Request<Body> {
    let body = json!({
        "token_secret": token,
        "device_public_key": key.public_key().to_openssh().unwrap(),
        "device_name": "laptop",
    });
    Request::post("/v1/enroll")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A request signed by `key` with exactly `body`.
pub fn signed_raw(key: &PrivateKey, path: &str, body: Vec<u8>) -> Request<Body> {
    let signature = key
        .sign(
            SIGNATURE_NAMESPACE,
            HashAlg::Sha512,
            &signed_bytes("POST", path, &body),
        )
        .unwrap();
    let mut encoded = Vec::new();
    ssh_encoding::Encode::encode(&signature, &mut encoded).unwrap();
    Request::post(path)
        .header("content-type", "application/json")
        .header(
            HEADER_DEVICE,
            key.public_key().fingerprint(HashAlg::Sha256).to_string(),
        )
        .header(
            HEADER_SIGNATURE,
            base64::engine::general_purpose::STANDARD.encode(encoded),
        )
        .body(Body::from(body))
        .unwrap()
}

/// The error code of an error body.
pub fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}
