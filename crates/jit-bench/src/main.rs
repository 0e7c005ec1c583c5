//! `jit-bench`: how many certificates per second a release `jitd` issues over HTTPS on this
//! machine, at what latency, and how that compares with the in-process signing limit.
//!
//! # Layout
//! - [`server`]: a throwaway `jitd` (init, bench policy, serve, health wait, peak RSS, stop).
//! - [`users`]: enrolled users written straight into the store, and pre-signed requests
//!   that respect the single-use TOTP rule.
//! - [`load`]: closed-loop (fixed concurrency) and open-loop (fixed offered rate) phases.
//! - [`inprocess`]: request-signature verification + certificate signing on one core.
//! - [`disk`]: appends + `fdatasync` per second, the ceiling of durable commits here.
//! - [`cpu`]: where the CPU went in each phase (jitd, PostgreSQL, the bench, the rest).
//! - [`profile`]: an optional `perf` sample of the server.
//! - [`postgres`]: a throwaway, durable PostgreSQL 15 cluster for `--backend postgres`.
//! - [`report`]: the machine, the Markdown tables and `docs/benchmarks.md`.
//!
//! Every phase is bounded in requests and in time, and all traffic stays on 127.0.0.1.
#![forbid(unsafe_code)]

mod cpu;
mod disk;
mod inprocess;
mod load;
/// The store tests' throwaway-cluster harness (std only, made to be reused like this).
#[path = "../../jit-store/tests/support/postgres.rs"]
mod pg_harness;
mod postgres;
mod profile;
mod report;
mod server;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use crate::load::{Phase, PhaseKind};
use crate::report::{BackendReport, RunReport};

/// Measure jitd's certificate issuance throughput and latency on this machine.
///
/// Starts a release jitd on 127.0.0.1 in a temporary data directory, enrolls users directly
/// in its store, and drives `POST /v1/certificates` with pre-signed requests.
#[derive(Debug, Parser)]
#[command(name = "jit-bench", version, about, long_about = None)]
struct Args {
    /// The jitd binary to benchmark (a release build: `cargo build --release -p jitd`).
    #[arg(long)]
    jitd: PathBuf,
    /// Storage backend(s) to measure; repeat the flag for several.
    #[arg(long, value_enum, default_values_t = vec![Backend::Sqlite])]
    backend: Vec<Backend>,
    /// Write or update this Markdown file (e.g. docs/benchmarks.md) with the results.
    #[arg(long)]
    write_docs: Option<PathBuf>,
    /// Scale every phase's request count (0.05 for a quick smoke run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Most users to enroll (each gives at most two certificates per TOTP window).
    #[arg(long, default_value_t = 80_000)]
    max_users: usize,
    /// Sample the server with `perf` during an extra, unreported concurrency-32 phase.
    #[arg(long)]
    profile: bool,
}

/// A storage backend jitd can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL 15 cluster started for the run.
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The measured phases, in order, with `scale` applied to their sizes.
fn phases(scale: f64) -> Vec<Phase> {
    let n = |count: f64| ((count * scale).round() as usize).max(10);
    let closed = |concurrency: usize, requests: f64| Phase {
        name: format!("closed, concurrency {concurrency}"),
        kind: PhaseKind::Closed { concurrency },
        requests: n(requests),
        time_cap: Duration::from_secs(20),
    };
    // Sending stops 3 s after the schedule ends: a server slower than the offered rate
    // leaves the rest unsent (counted), and what was sent shows the queueing delay.
    let open = |rate: f64, seconds: f64| Phase {
        name: format!("open, {rate:.0}/s offered"),
        kind: PhaseKind::Open {
            rate,
            in_flight: 128,
        },
        requests: n(rate * seconds),
        time_cap: Duration::from_secs_f64(seconds + 3.0),
    };
    vec![
        closed(1, 2_000.0),
        closed(8, 10_000.0),
        closed(32, 30_000.0),
        open(1_000.0, 4.0),
        open(2_500.0, 4.0),
        open(5_000.0, 4.0),
        open(10_000.0, 4.0),
    ]
}

/// The extra phase sampled by `perf` (`--profile`); not in the tables.
fn profile_phase(scale: f64) -> Phase {
    Phase {
        name: "profile, concurrency 32".into(),
        kind: PhaseKind::Closed { concurrency: 32 },
        requests: ((20_000.0 * scale).round() as usize).max(10),
        time_cap: Duration::from_secs(profile::SECONDS + 2),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One crypto provider for the process (FIELD-NOTES: rustls panics on two).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let jitd = args
        .jitd
        .canonicalize()
        .with_context(|| format!("no jitd binary at {}", args.jitd.display()))?;
    if !(args.scale > 0.0 && args.scale <= 10.0) {
        anyhow::bail!("--scale must be above 0 and at most 10");
    }
    let machine = report::Machine::detect();
    println!("{}", machine.markdown());
    let scratch = std::env::temp_dir();
    let disk_syncs_per_sec = disk::syncs_per_sec(&scratch, Duration::from_secs(1))?;
    println!(
        "disk under {}: {disk_syncs_per_sec:.0} appends + fdatasync per second",
        scratch.display()
    );
    let idle_check =
        tokio::task::spawn_blocking(|| cpu::machine_busy_cores(Duration::from_secs(2)))
            .await
            .ok()
            .flatten();
    if let Some(busy) = idle_check {
        println!("CPU busy before the run (2 s, whole machine): {busy:.2} cores");
        if busy > 0.2 {
            println!(
                "WARNING: the machine is not idle; the numbers below will be low (see \"other CPU\")"
            );
        }
    }
    println!();

    let mut backends = Vec::new();
    let mut failed = false;
    for backend in dedup(&args.backend) {
        println!("## backend: {}\n", backend.name());
        match run_backend(&jitd, backend, &args).await {
            Ok(result) => {
                println!("{}", result.markdown());
                backends.push(result);
            }
            Err(error) => {
                eprintln!(
                    "error: the {} benchmark did not complete: {error:#}\n",
                    backend.name()
                );
                failed = true;
            }
        }
    }

    println!("measuring the in-process limit (one thread, no HTTP, no storage)...");
    let limit = tokio::task::spawn_blocking(|| inprocess::measure(Duration::from_secs(2)))
        .await
        .context("the in-process measurement panicked")??;
    let run = RunReport {
        machine,
        backends,
        limit,
        disk_syncs_per_sec,
        busy_before: idle_check,
        scale: args.scale,
    };
    println!("\n{}", run.summary_markdown());
    if let Some(path) = &args.write_docs {
        if run.backends.is_empty() {
            eprintln!("not writing {}: no backend completed", path.display());
        } else {
            report::write_docs(path, &run)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn dedup(backends: &[Backend]) -> Vec<Backend> {
    let mut out: Vec<Backend> = Vec::new();
    for backend in backends {
        if !out.contains(backend) {
            out.push(*backend);
        }
    }
    out
}

/// Start jitd on `backend`, enroll users, run every phase, read the peak RSS, stop jitd.
async fn run_backend(jitd: &Path, backend: Backend, args: &Args) -> anyhow::Result<BackendReport> {
    let work = tempfile::Builder::new()
        .prefix("jit-bench-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let cluster = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(postgres::Cluster::start().await?),
    };
    let database = cluster.as_ref().map(|c| c.url().to_string());
    let server = server::Jitd::start(jitd, &work.path().join("jitd"), database.as_deref()).await?;
    println!(
        "jitd (pid {}) serves {} from {}",
        server.pid(),
        server.base_url(),
        server.data_dir().display()
    );

    let plan = phases(args.scale);
    let mut planned: usize = plan.iter().map(|p| p.requests).sum();
    if args.profile {
        planned += profile_phase(args.scale).requests;
    }
    let wanted = planned.div_ceil(2) + 16;
    let count = wanted.min(args.max_users);
    let store = jit_store::open(
        database.as_deref().unwrap_or(server::SQLITE_DATABASE),
        server.data_dir(),
    )
    .await
    .context("cannot open jitd's store from the benchmark")?;
    let started = std::time::Instant::now();
    let mut pool = users::create(store.clone(), count).await?;
    drop(store);
    let enroll_seconds = started.elapsed().as_secs_f64();
    println!(
        "enrolled N = {count} users in the store in {enroll_seconds:.1}s ({planned} requests planned; \
         a TOTP code is single use per user and 30 s step, so each user gives at most 2 per window)"
    );

    let client = load::Client::new(server.base_url(), server.tls_pin())?;
    let meter = cpu::Meter::new(server.pid(), cluster.as_ref().and_then(|c| c.port()));
    let mut results = Vec::new();
    for phase in &plan {
        let result = load::run_phase(&client, &mut pool, phase, &meter).await?;
        println!("{}", report::phase_line(&result));
        results.push(result);
    }
    let profile = match args.profile {
        true => {
            let phase = profile_phase(args.scale);
            Some(profile::sample(&client, &mut pool, &phase, &meter, server.pid()).await)
        }
        false => None,
    };
    let peak_rss_kib = server.peak_rss_kib()?;
    let database_bytes = server.database_bytes();
    server.stop().await;
    if let Some(cluster) = cluster {
        cluster.stop().await;
    }
    Ok(BackendReport {
        backend: backend.name(),
        users: count,
        enroll_seconds,
        phases: results,
        peak_rss_kib,
        database_bytes,
        profile,
    })
}
