//! `--profile`: sample the server with `perf record -e cpu-clock` during an extra
//! concurrency-32 phase, and keep the top of `perf report` (by shared object and by symbol).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cpu::Meter;
use crate::load::{self, Client, Phase, PhaseResult};
use crate::users::Pool;

/// How long `perf` samples the server.
pub const SECONDS: u64 = 6;

/// Lines kept from each report.
const TOP: usize = 15;

/// What the sample showed.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The phase that ran while sampling (perf adds some overhead).
    pub phase: Option<PhaseResult>,
    /// `NN.NN%  object` lines.
    pub by_object: Vec<String>,
    /// `NN.NN%  object  symbol` lines.
    pub by_symbol: Vec<String>,
    /// Why there is no profile, when there is none.
    pub unavailable: Option<String>,
}

impl Profile {
    fn unavailable(why: impl Into<String>) -> Profile {
        Profile {
            phase: None,
            by_object: Vec::new(),
            by_symbol: Vec::new(),
            unavailable: Some(why.into()),
        }
    }
}

/// Run `phase` while `perf` samples process `pid`.
pub async fn sample(
    client: &Client,
    pool: &mut Pool,
    phase: &Phase,
    meter: &Meter,
    pid: u32,
) -> Profile {
    let usable = Command::new("perf")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        return Profile::unavailable("perf is not installed");
    }
    let data = std::env::temp_dir().join(format!("jit-bench-perf-{}.data", std::process::id()));
    let recorder = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", "499", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep", &SECONDS.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut recorder = match recorder {
        Ok(child) => child,
        Err(error) => return Profile::unavailable(format!("cannot start perf record: {error}")),
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phase = load::run_phase(client, pool, phase, meter).await;
    let deadline = Instant::now() + Duration::from_secs(SECONDS + 10);
    let recorded = loop {
        match recorder.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => {
                let _ = recorder.kill();
                let _ = recorder.wait();
                break false;
            }
        }
    };
    let mut profile = if recorded {
        let path = data.clone();
        let reports =
            tokio::task::spawn_blocking(move || (report(&path, "dso"), report(&path, "dso,sym")))
                .await;
        match reports {
            Ok((Ok(by_object), Ok(by_symbol))) => Profile {
                phase: None,
                by_object,
                by_symbol,
                unavailable: None,
            },
            Ok((Err(e), _)) | Ok((_, Err(e))) => Profile::unavailable(e),
            Err(_) => Profile::unavailable("perf report panicked"),
        }
    } else {
        Profile::unavailable("perf record failed (no permission to sample, or no perf events here)")
    };
    let _ = std::fs::remove_file(&data);
    match phase {
        Ok(result) => profile.phase = Some(result),
        Err(error) => eprintln!("the profiled phase failed: {error:#}"),
    }
    profile
}

/// The top lines of `perf report --sort SORT`, whitespace collapsed.
fn report(data: &std::path::Path, sort: &str) -> Result<Vec<String>, String> {
    let output = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", sort, "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perf report: {e}"))?;
    if !output.status.success() {
        return Err("perf report failed".into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && line.contains('%'))
        .take(TOP)
        .map(|line| {
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            match line.char_indices().nth(140) {
                Some((cut, _)) => format!("{}…", &line[..cut]),
                None => line,
            }
        })
        .collect())
}
