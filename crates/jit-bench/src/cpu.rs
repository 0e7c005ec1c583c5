//! Where the CPU went during a phase: jitd, PostgreSQL (when it is the backend), the
//! benchmark itself, and everything else on the machine. "Everything else" is the
//! warning light: on a machine that is not idle the numbers are low, and this says so.
//!
//! All from `/proc` (Linux), in cores kept busy on average (CPU seconds ÷ wall seconds).

use std::time::{Duration, Instant};

/// USER_HZ: the unit of `/proc` CPU times, 100 on every Linux ABI the project runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads the CPU time of the processes of one benchmark run.
#[derive(Debug, Clone)]
pub struct Meter {
    jitd: u32,
    postmaster: Option<u32>,
}

/// CPU seconds used so far, per party, at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    at: Instant,
    jitd: Option<f64>,
    postgres: Option<f64>,
    bench: Option<f64>,
    machine: Option<f64>,
    jitd_switches: Option<u64>,
}

/// Cores kept busy on average between two readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The jitd process.
    pub jitd: Option<f64>,
    /// The PostgreSQL postmaster and its backends (when PostgreSQL is the backend).
    pub postgres: Option<f64>,
    /// This process (the load generator).
    pub bench: Option<f64>,
    /// Every other process and the kernel's own work.
    pub other: Option<f64>,
    /// Context switches of jitd's threads in the interval (voluntary and not).
    pub jitd_switches: Option<u64>,
}

impl Meter {
    /// A meter for jitd's process and, when `postgres_port` is given, the PostgreSQL
    /// server listening on that port.
    pub fn new(jitd: u32, postgres_port: Option<u16>) -> Meter {
        Meter {
            jitd,
            postmaster: postgres_port.and_then(find_postmaster),
        }
    }

    /// CPU seconds used so far.
    pub fn read(&self) -> Reading {
        Reading {
            at: Instant::now(),
            jitd: stat(&self.jitd.to_string()).map(|s| s.own()),
            postgres: self.postmaster.and_then(tree_seconds),
            bench: stat("self").map(|s| s.own()),
            machine: machine_busy_seconds(),
            jitd_switches: context_switches(self.jitd),
        }
    }
}

impl Reading {
    /// Cores used on average from `before` to this reading.
    pub fn usage_since(&self, before: &Reading) -> Usage {
        let wall = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let rate = |after: Option<f64>, before: Option<f64>| Some((after? - before?) / wall);
        let jitd = rate(self.jitd, before.jitd);
        let postgres = rate(self.postgres, before.postgres);
        let bench = rate(self.bench, before.bench);
        let other = rate(self.machine, before.machine).map(|machine| {
            let ours = jitd.unwrap_or(0.0) + postgres.unwrap_or(0.0) + bench.unwrap_or(0.0);
            (machine - ours).max(0.0)
        });
        Usage {
            jitd,
            postgres,
            bench,
            other,
            jitd_switches: self
                .jitd_switches
                .zip(before.jitd_switches)
                .map(|(after, before)| after.saturating_sub(before)),
        }
    }
}

/// Cores the whole machine keeps busy over `window` (sleeps that long): how idle it is.
pub fn machine_busy_cores(window: Duration) -> Option<f64> {
    let started = Instant::now();
    let before = machine_busy_seconds()?;
    std::thread::sleep(window);
    Some((machine_busy_seconds()? - before) / started.elapsed().as_secs_f64())
}

/// Busy time of every CPU so far (all but idle and I/O wait), seconds, from `/proc/stat`.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    let busy: f64 = ticks.iter().take(8).sum::<f64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy / TICKS_PER_SECOND)
}

/// Context switches so far of every live thread of `pid` (`/proc/PID/task/*/status`).
fn context_switches(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        total += status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    Some(total)
}

/// The fields of `/proc/PID/stat` the meter needs.
struct Stat {
    ppid: u32,
    utime: f64,
    stime: f64,
    cutime: f64,
    cstime: f64,
}

impl Stat {
    /// The process's own CPU seconds.
    fn own(&self) -> f64 {
        (self.utime + self.stime) / TICKS_PER_SECOND
    }

    /// Its own and its reaped children's CPU seconds.
    fn with_children(&self) -> f64 {
        (self.utime + self.stime + self.cutime + self.cstime) / TICKS_PER_SECOND
    }
}

/// `/proc/PID/stat` of a number or `self`.
fn stat(pid: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised command name come fields 3 (state), 4 (ppid) ... 14-17
    // (utime, stime, cutime, cstime).
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        utime: number(11)?,
        stime: number(12)?,
        cutime: number(13)?,
        cstime: number(14)?,
    })
}

/// Numeric entries of `/proc`.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// The postmaster started with `-p PORT` (the test harness starts it that way).
fn find_postmaster(port: u16) -> Option<u32> {
    let port = port.to_string();
    pids().find(|pid| {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        args.first().is_some_and(|a| a.ends_with(b"/postgres"))
            && args
                .windows(2)
                .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
    })
}

/// CPU seconds of the postmaster, its live backends and the backends it has reaped.
fn tree_seconds(postmaster: u32) -> Option<f64> {
    let root = stat(&postmaster.to_string())?.with_children();
    let children: f64 = pids()
        .filter_map(|pid| stat(&pid.to_string()))
        .filter(|s| s.ppid == postmaster)
        .map(|s| s.with_children())
        .sum();
    Some(root + children)
}
