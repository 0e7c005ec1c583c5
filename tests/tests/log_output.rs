//! Logging never wedges jitd: with its stderr unwritable (the pipe's reader gone, the log
//! file's disk full) or stuck (a pipe nobody reads), a real `jitd serve` keeps answering,
//! issues certificates, counts the lost lines in `/metrics` and exits 0 on SIGTERM.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::fs::OpenOptions;
use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jit_e2e::jit::{api_client, ApiEngineer, Ca};
use jit_e2e::tmpfs::Tmpfs;

const ROLE: &str = "e2e";

/// How long any one request may take while the log output is broken or stuck.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// How long jitd may take to exit after SIGTERM (the harness sends SIGKILL after 5 s).
const STOP_WITHIN: Duration = Duration::from_secs(5);

const WRITE_ERRORS: &str = "jit_log_write_errors_total";
const DROPPED: &str = "jit_log_lines_dropped_total";

fn policy() -> String {
    format!(
        r#"
[roles.{ROLE}]
groups = ["sre"]
principals = ["jit-e2e-deploy"]
default_ttl = "10m"
max_ttl = "1h"
"#
    )
}

/// An engineer enrolled over the API of a running CA, and a pinned HTTPS client.
struct Probe {
    runtime: tokio::runtime::Runtime,
    client: jit::http::Client,
    http: reqwest::Client,
    engineer: ApiEngineer,
    base: String,
}

impl Probe {
    /// Add a user and enroll a device over the API (every request answered in time).
    fn enroll(ca: &Ca) -> Probe {
        let token = ca.add_user("alice", "sre");
        let pin = jit_proto::token::EnrollmentToken::decode(&token)
            .unwrap()
            .tls_sha256;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = api_client(ca.port(), &pin);
        let engineer = runtime
            .block_on(within(ApiEngineer::enroll(&client, &token)))
            .unwrap_or_else(|e| panic!("enrollment failed: {e:#}"));
        let http = engineer.raw_client().unwrap();
        Probe {
            runtime,
            client,
            http,
            engineer,
            base: ca.url(),
        }
    }

    /// `GET path`: status and body.
    fn get(&self, path: &str) -> (u16, String) {
        self.runtime.block_on(within(async {
            let response = self
                .http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {path} got no answer: {e:#}"));
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }))
    }

    /// `GET /v1/healthz` answers "ok".
    fn healthz(&self) {
        let (status, body) = self.get("/v1/healthz");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"ok\""), "{body}");
    }

    /// A certificate is issued for ROLE.
    fn issue(&self) {
        let response = self
            .runtime
            .block_on(within(async {
                let code = self.engineer.next_code().await;
                self.engineer.certify(&self.client, ROLE, &code).await
            }))
            .unwrap_or_else(|e| panic!("no certificate: {e:#}"));
        assert!(
            response.certificate.contains("-cert-v01@openssh.com "),
            "{}",
            response.certificate
        );
    }

    /// The value of the counter `name` in `/metrics`.
    fn metric(&self, name: &str) -> u64 {
        let (status, text) = self.get("/metrics");
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Wait (at most 5 s) until the counter `name` is above zero; its value.
    fn metric_rises(&self, name: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let value = self.metric(name);
            if value > 0 {
                return value;
            }
            assert!(Instant::now() < deadline, "{name} stayed 0");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `future`, failing the test when it takes longer than [`ANSWER_WITHIN`].
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(ANSWER_WITHIN, future)
        .await
        .unwrap_or_else(|_| panic!("no answer within {ANSWER_WITHIN:?}: jitd is wedged"))
}

/// What every case checks with the log output broken: healthz answers, an engineer
/// enrolls, a certificate is issued and committed to the log.
fn serves(ca: &Ca) -> Probe {
    let probe = Probe::enroll(ca);
    probe.healthz();
    probe.issue();
    assert_eq!(ca.issued_count(), 1, "the issuance is in the log");
    probe.healthz();
    probe
}

/// SIGTERM stops jitd with status 0 within [`STOP_WITHIN`].
fn stops_on_sigterm(ca: &mut Ca) {
    let started = Instant::now();
    let (clean, _) = ca.stop();
    let took = started.elapsed();
    assert!(
        clean,
        "jitd did not exit with status 0 after SIGTERM (took {took:?}; SIGKILL comes after 5 s)"
    );
    assert!(took < STOP_WITHIN, "jitd took {took:?} to stop");
}

#[test]
fn a_log_pipe_whose_reader_is_gone_stops_neither_answers_nor_sigterm() {
    let mut ca = Ca::init(&policy());
    let (reader, writer) = std::io::pipe().unwrap();
    ca.start_logging_to(Stdio::from(writer), "info");
    // The reader dies after start-up: every later write fails with EPIPE.
    drop(reader);
    let probe = serves(&ca);
    assert!(probe.metric_rises(WRITE_ERRORS) >= 3, "a line per request");
    stops_on_sigterm(&mut ca);
}

#[test]
fn a_full_disk_under_the_log_file_stops_neither_answers_nor_sigterm() {
    // Declared first, so dropped (unmounted) after jitd has stopped, even on failure.
    let disk = Tmpfs::mount(64);
    let log_path = disk.path().join("jitd.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    disk.fill("filler");
    let refused = OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap()
        .write_all(b"x\n")
        .expect_err("the log file cannot grow on the full disk");
    assert_eq!(refused.kind(), std::io::ErrorKind::StorageFull);

    let mut ca = Ca::init(&policy());
    ca.start_logging_to(Stdio::from(log), "info");
    let probe = serves(&ca);
    assert!(probe.metric_rises(WRITE_ERRORS) >= 3, "a line per request");

    // Room again: the log resumes by itself and says that lines were lost.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log_path)
        .unwrap()
        .contains("log lines were lost")
    {
        assert!(Instant::now() < deadline, "the log did not resume");
        probe.healthz();
        std::thread::sleep(Duration::from_millis(50));
    }
    stops_on_sigterm(&mut ca);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains(r#"path="/v1/healthz""#), "{text}");
    assert!(text.contains("jitd stopped"), "{text}");
}

#[test]
fn a_log_pipe_nobody_reads_delays_no_answer() {
    let mut ca = Ca::init(&policy());
    // Held open and never read: once its 64 KiB are full, every write blocks.
    let (_reader, writer) = std::io::pipe().unwrap();
    // `trace` writes about a kilobyte per request, to fill the pipe and the queue quickly.
    ca.start_logging_to(Stdio::from(writer), "trace");
    let probe = Probe::enroll(&ca);
    let mut requests = 0;
    while probe.metric(DROPPED) == 0 {
        assert!(
            requests < 20_000,
            "no log line dropped after {requests} requests"
        );
        for _ in 0..50 {
            probe.healthz();
        }
        requests += 50;
    }
    // With the pipe and the queue full, real work is still done at once.
    probe.issue();
    assert_eq!(ca.issued_count(), 1, "the issuance is in the log");
    stops_on_sigterm(&mut ca);
}
