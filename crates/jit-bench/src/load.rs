//! Load phases over HTTPS keep-alive: closed loop (a fixed number of workers, each sending
//! its next request when the last one is answered) and open loop (requests sent on a fixed
//! schedule; latency counts from the scheduled send time, so a slow server cannot hide its
//! queue — no coordinated omission).
//!
//! Every phase stops by itself: after its requests, or at its time cap, whichever is first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jit_proto::signing::{HEADER_DEVICE, HEADER_SIGNATURE};
use jit_proto::ErrorBody;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cpu::{Meter, Usage};
use crate::users::{Pool, Prepared, Shortage, CERTIFICATES_PATH};

/// Longest wait for one request (well inside the server's 60 s freshness window).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How long an open-loop phase waits for outstanding answers after sending stopped.
const DRAIN: Duration = Duration::from_secs(5);

/// How a phase drives the server.
#[derive(Debug, Clone, Copy)]
pub enum PhaseKind {
    /// `concurrency` workers back to back.
    Closed {
        /// Number of workers (and keep-alive connections).
        concurrency: usize,
    },
    /// Requests scheduled at `rate` per second, at most `in_flight` at once.
    Open {
        /// Offered requests per second.
        rate: f64,
        /// Most requests (connections) outstanding at once; a request waiting for a
        /// slot is late, and its latency says so.
        in_flight: usize,
    },
}

/// One load phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Name in the tables.
    pub name: String,
    /// Closed or open loop.
    pub kind: PhaseKind,
    /// Requests to send.
    pub requests: usize,
    /// Hard limit on the phase's duration.
    pub time_cap: Duration,
}

/// What a phase measured.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// The phase.
    pub phase: Phase,
    /// Requests sent.
    pub sent: usize,
    /// 200 responses, i.e. certificates.
    pub certificates: usize,
    /// Everything else, by `STATUS code` or transport error.
    pub errors: BTreeMap<String, usize>,
    /// Requests never sent because the time cap came first.
    pub unsent: usize,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Latency of the 200 responses, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Where the CPU went while the phase ran.
    pub cpu: Usage,
}

impl PhaseResult {
    /// Certificates per second over the phase.
    pub fn rate(&self) -> f64 {
        self.certificates as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// jitd's context switches per certificate.
    pub fn switches_per_certificate(&self) -> Option<f64> {
        let switches = self.cpu.jitd_switches? as f64;
        (self.certificates > 0).then(|| switches / self.certificates as f64)
    }

    /// The `q` quantile (0..=1) of the certificate latency, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let n = self.latencies_us.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(self.latencies_us[rank - 1] as f64 / 1000.0)
    }
}

/// The HTTPS client of the benchmark: reqwest over the same pinned rustls configuration
/// (ring provider) as the `jit` CLI, keep-alive connections reused across requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client for `base` (`https://127.0.0.1:PORT`) trusting only the certificate `pin`.
    pub fn new(base: &str, pin: &str) -> anyhow::Result<Client> {
        let config = jit::tls::pinned_client_config(
            jit::tls::parse_pin(pin)?,
            jit::tls::MismatchRecord::default(),
        )?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .https_only(true)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(120))
            .user_agent(concat!("jit-bench/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTPS client")?;
        Ok(Client {
            http,
            base: base.to_string(),
        })
    }

    /// Open (or reuse) `connections` keep-alive connections with concurrent health checks,
    /// so TLS handshakes happen before a phase's clock starts.
    pub async fn warm(&self, connections: usize) -> anyhow::Result<()> {
        let mut set = JoinSet::new();
        for _ in 0..connections {
            let http = self.http.clone();
            let url = format!("{}/v1/healthz", self.base);
            set.spawn(async move { http.get(url).send().await?.error_for_status() });
        }
        while let Some(done) = set.join_next().await {
            done.context("a warm-up task panicked")?
                .context("warm-up health check failed")?;
        }
        Ok(())
    }

    /// Send one pre-signed certificate request.
    async fn send(&self, request: Prepared) -> Outcome {
        let response = self
            .http
            .post(format!("{}{CERTIFICATES_PATH}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_DEVICE, request.device)
            .header(HEADER_SIGNATURE, request.signature)
            .body(request.body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => return Outcome::Failed(transport(&error)),
        };
        let status = response.status();
        match response.bytes().await {
            Ok(_) if status == reqwest::StatusCode::OK => Outcome::Certificate,
            Ok(body) => Outcome::Failed(match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(ErrorBody { error }) => format!("{} {}", status.as_u16(), error.code),
                Err(_) => format!("{} (not a jit error body)", status.as_u16()),
            }),
            Err(error) => Outcome::Failed(transport(&error)),
        }
    }
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "transport: timeout".into()
    } else if error.is_connect() {
        "transport: connect".into()
    } else {
        "transport: other".into()
    }
}

enum Outcome {
    Certificate,
    Failed(String),
}

/// What one worker or task saw.
#[derive(Default)]
struct Tally {
    sent: usize,
    certificates: usize,
    errors: BTreeMap<String, usize>,
    latencies_us: Vec<u64>,
    last_done: Option<Instant>,
}

impl Tally {
    fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.sent += 1;
        match outcome {
            Outcome::Certificate => {
                self.certificates += 1;
                self.latencies_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
            }
            Outcome::Failed(kind) => *self.errors.entry(kind).or_default() += 1,
        }
        self.last_done = Some(Instant::now());
    }

    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.certificates += other.certificates;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
        self.last_done = self.last_done.max(other.last_done);
    }
}

/// Sign the phase's requests, warm the connections, then run the phase, reading the CPU
/// time of the parties with `meter`.
pub async fn run_phase(
    client: &Client,
    pool: &mut Pool,
    phase: &Phase,
    meter: &Meter,
) -> anyhow::Result<PhaseResult> {
    let requests = match pool.prepare(phase.requests) {
        Err(error) if error.is::<Shortage>() => {
            // Users free up as time moves on: wait for the next TOTP step once.
            let wait = crate::users::until_next_step()? + 1;
            println!("  (waiting {wait}s for the next TOTP step: {error})");
            tokio::time::sleep(Duration::from_secs(wait)).await;
            pool.prepare(phase.requests)
        }
        other => other,
    }
    .with_context(|| format!("cannot prepare the requests of phase {}", phase.name))?;
    let connections = match phase.kind {
        PhaseKind::Closed { concurrency } => concurrency,
        PhaseKind::Open { in_flight, .. } => in_flight,
    };
    client.warm(connections).await?;
    let cpu_before = meter.read();
    let started = Instant::now();
    let (mut tally, unsent) = match phase.kind {
        PhaseKind::Closed { concurrency } => {
            closed(client, requests, concurrency, started + phase.time_cap).await?
        }
        PhaseKind::Open { rate, in_flight } => {
            open(client, requests, rate, in_flight, started, phase.time_cap).await?
        }
    };
    let cpu = meter.read().usage_since(&cpu_before);
    tally.latencies_us.sort_unstable();
    let elapsed = tally.last_done.unwrap_or(started).duration_since(started);
    Ok(PhaseResult {
        phase: phase.clone(),
        sent: tally.sent,
        certificates: tally.certificates,
        errors: tally.errors,
        unsent,
        elapsed,
        latencies_us: tally.latencies_us,
        cpu,
    })
}

async fn closed(
    client: &Client,
    requests: Vec<Prepared>,
    concurrency: usize,
    deadline: Instant,
) -> anyhow::Result<(Tally, usize)> {
    let queue = Arc::new(Mutex::new(requests.into_iter()));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let client = client.clone();
        workers.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some(request) = next else { break };
                let sent = Instant::now();
                let outcome = client.send(request).await;
                tally.record(outcome, sent.elapsed());
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(done) = workers.join_next().await {
        total.merge(done.context("a load worker panicked")?);
    }
    let unsent = queue.lock().map(|q| q.len()).unwrap_or(0);
    Ok((total, unsent))
}

async fn open(
    client: &Client,
    requests: Vec<Prepared>,
    rate: f64,
    in_flight: usize,
    started: Instant,
    time_cap: Duration,
) -> anyhow::Result<(Tally, usize)> {
    // Sending stops at the cap; outstanding answers then get DRAIN more.
    let deadline = started + time_cap;
    let slots = Arc::new(Semaphore::new(in_flight));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total_requests = requests.len();
    let mut tasks = JoinSet::new();
    let mut total = Tally::default();
    let mut dispatched = 0;
    for (i, request) in requests.into_iter().enumerate() {
        let scheduled = started + interval.mul_f64(i as f64);
        if scheduled >= deadline {
            break;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(Ok(slot)) =
            tokio::time::timeout_at(deadline.into(), slots.clone().acquire_owned()).await
        else {
            break;
        };
        while let Some(done) = tasks.try_join_next() {
            total.merge(done.context("a load task panicked")?);
        }
        let client = client.clone();
        tasks.spawn(async move {
            let outcome = client.send(request).await;
            drop(slot);
            let mut tally = Tally::default();
            tally.record(outcome, scheduled.elapsed());
            tally
        });
        dispatched += 1;
    }
    // Answers still outstanding after the drain count as unanswered (the tasks are dropped).
    let drain = tokio::time::timeout_at((Instant::now() + DRAIN).into(), async {
        while let Some(done) = tasks.join_next().await {
            total.merge(done.context("a load task panicked")?);
        }
        anyhow::Ok(())
    })
    .await;
    match drain {
        Ok(result) => result?,
        Err(_) => {
            let left = tasks.len();
            tasks.abort_all();
            total.sent += left;
            *total
                .errors
                .entry("not answered in time".into())
                .or_default() += left;
        }
    }
    Ok((total, total_requests - dispatched))
}
