//! Errors that say the truth, through the real `app(state)` on a real SQLite store: a
//! conflict is 409, a full disk makes healthz and issuance 503 with `Retry-After` (and
//! nothing is issued), a flood is shed with 503 `overloaded` while healthz and metrics still
//! answer, and retries of one accepted TOTP code are replays, not guesses.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use fixture::*;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use jitd::state::Settings;
use ssh_key::{Algorithm, PrivateKey};
use tokio::io::AsyncWriteExt as _;

const POLICY: &str = r#"
[roles.web]
groups = ["sre"]
principals = ["deploy"]
default_ttl = "15m"
max_ttl = "1h"
"#;

/// The `Retry-After` header as seconds, checked against the body's `retry_after_seconds`.
fn retry_after(headers: &HeaderMap, body: &serde_json::Value) -> u64 {
    let header: u64 = headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After header: {body}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(body["error"]["retry_after_seconds"], header, "{body}");
    assert!(header > 0);
    header
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_retries_of_one_code_give_one_certificate_and_no_lockout() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let code = jit_mfa::code_at(&alice.secret, f.now());
    let requests = (0..16)
        .map(|_| {
            let request = f.certificate_request(&alice, "web", Some(code.clone()));
            f.signed(&alice.key, "/v1/certificates", &request)
        })
        .collect();
    let answers: Vec<_> = f
        .call_all(requests)
        .await
        .into_iter()
        .map(|(status, body)| (status, code_of(&body).to_string()))
        .collect();
    let issued = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let replayed = answers
        .iter()
        .filter(|a| **a == (StatusCode::UNAUTHORIZED, "replayed_otp".to_string()))
        .count();
    assert_eq!((issued, replayed), (1, 15), "{answers:?}");
    assert_eq!(f.certificates_of("alice").await, 1);
    // The replays were not guesses: alice is not locked out, the next code works.
    f.next_step();
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A wrong code still counts: five of them lock alice out.
    f.next_step();
    let right = jit_mfa::code_at(&alice.secret, f.now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..5 {
        let (status, body) = f
            .issue(
                &alice,
                &f.certificate_request(&alice, "web", Some(wrong.clone())),
            )
            .await;
        assert_eq!(code_of(&body), "invalid_otp", "{status} {body}");
    }
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", Some(right)))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    f.assert_log_verifies().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_enrolled_twice_at_once_is_a_conflict() {
    let f = fixture(POLICY).await;
    f.add_user("bob", &["sre".into()]).await;
    let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    let mut tokens = Vec::new();
    for n in 0..8 {
        tokens.push(f.token("bob", 600 + n).await);
    }
    // At once: the losers of the race meet either the early check or the store's unique key;
    // both are 409 `conflict`, never a 503.
    let requests = tokens.iter().map(|t| enroll_request(t, &key)).collect();
    let answers = f.call_all(requests).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!((*status, code_of(body)), (StatusCode::CONFLICT, "conflict"));
    }
    // And one after the other, before a token is spent.
    let token = f.token("bob", 900).await;
    let (status, body) = f.enroll_with(&token, &key).await;
    assert_eq!((status, code_of(&body)), (StatusCode::CONFLICT, "conflict"));
    let other = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
    assert_eq!(f.enroll_with(&token, &other).await.0, StatusCode::OK);
}

/// A small tmpfs mounted for one test (needs root), so the disk can really fill up.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(bytes: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "this test mounts a small tmpfs to fill it: run it as root"
        );
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Write a file until the disk is full; returns it (remove it to free the space).
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(error) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
                assert_eq!(error.raw_os_error(), Some(28), "ENOSPC, got {error}");
                break;
            }
        }
        // The last partial chunk may have left room for a few bytes: take them too.
        while file
            .write_all(&[0u8])
            .and_then(|()| file.sync_all())
            .is_ok()
        {}
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the store's threads may still hold its files for a moment.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_makes_health_and_issuance_503_with_retry_after() {
    let disk = Tmpfs::mount(8 << 20);
    let database = format!("sqlite://{}", disk.path().join("jit.db").display());
    let f = fixture_with(POLICY, Settings::default(), &database).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let (status, _, body) = f.get("/v1/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logged = f.assert_log_verifies().await.len();

    let filler = disk.fill();
    // Reads still work, writes do not: healthz must notice.
    let (status, headers, body) = f.get("/v1/healthz").await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    retry_after(&headers, &body);
    let request = f.certificate_request(&alice, "web", None);
    let (status, headers, body) = f
        .call_with_headers(f.signed(&alice.key, "/v1/certificates", &request))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code_of(&body), "log_unavailable", "{body}");
    retry_after(&headers, &body);
    assert!(!body.to_string().contains("cert-v01"), "{body}");
    assert_eq!(f.certificates_of("alice").await, 0);

    // Space again: healthy, the log intact, and the same code works (it was not spent).
    std::fs::remove_file(filler).unwrap();
    let (status, _, body) = f.get("/v1/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(f.assert_log_verifies().await.len(), logged);
    let (status, body) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Send a request's head and part of its body on a real connection, then stall: the
/// request is in flight until the connection is dropped.
async fn stalled_request(address: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /v1/enroll HTTP/1.1\r\nhost: jit\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_max_in_flight_requests_are_shed_but_health_and_metrics_answer() {
    let settings = Settings {
        max_in_flight: 2,
        ..Settings::default()
    };
    let f = fixture_with(POLICY, settings, "sqlite://jit.db").await;
    // The same app (and so the same limit) on a real socket, for requests that stall.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = f.app.clone().into_make_service();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // Stall requests until a probe is refused: then two stalled ones hold both permits (a
    // stalled request that met a probe's permit was itself refused, so add another).
    let mut stalled = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (headers, body) = loop {
        if stalled.len() < 8 {
            stalled.push(stalled_request(address).await);
        }
        let (status, headers, body) = f.get("/v1/ca").await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break (headers, body);
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            Instant::now() < deadline,
            "the stalled requests never took the permits"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code_of(&body), "overloaded", "{body}");
    assert_eq!(retry_after(&headers, &body), 1);
    let started = Instant::now();
    let (status, _, body) = f.get("/v1/ca").await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shed at once, not queued"
    );
    // Health checks and scrapes are never shed.
    let (status, _, body) = f.get("/v1/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = f.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = f.get("/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The stalled clients go away: their permits come back.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = f.get("/v1/ca").await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(code_of(&body), "overloaded", "{body}");
        assert!(Instant::now() < deadline, "permits were not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.abort();
}
