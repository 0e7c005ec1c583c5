//! Child processes for tests: a guard that always stops its child, and bounded runs.
//!
//! Everything here uses `std::process` and the system `kill` command, so no unsafe code and
//! no extra crates are needed.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`ChildGuard`] waits after SIGTERM before it sends SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Polling interval used while waiting for processes, files and sockets.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Lines read so far from one output stream of a guarded child.
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    eof: bool,
}

/// A shared, growing list of lines with a condition variable for waiters.
type SharedLines = Arc<(Mutex<Lines>, Condvar)>;

/// Starts a thread that reads `reader` line by line into a shared buffer.
fn collect_lines<R: Read + Send + 'static>(reader: R) -> SharedLines {
    let shared: SharedLines = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
    let for_thread = Arc::clone(&shared);
    thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).unwrap_or(0);
            let (lock, cvar) = &*for_thread;
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            if n == 0 {
                state.eof = true;
                cvar.notify_all();
                return;
            }
            let line = String::from_utf8_lossy(&buf);
            state
                .lines
                .push(line.trim_end_matches(['\n', '\r']).to_string());
            cvar.notify_all();
        }
    });
    shared
}

/// Waits until a line containing `needle` shows up in `shared`, or the deadline passes.
fn wait_for_line(shared: &SharedLines, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let (lock, cvar) = &**shared;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut seen = 0;
    loop {
        if let Some(line) = state.lines[seen..].iter().find(|l| l.contains(needle)) {
            return Some(line.clone());
        }
        seen = state.lines.len();
        let now = Instant::now();
        if state.eof || now >= deadline {
            return None;
        }
        state = cvar
            .wait_timeout(state, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Owns a running child process and stops it when dropped: SIGTERM (through the system
/// `kill` command), then SIGKILL after a grace period.
///
/// If the child was spawned with piped stdout and/or stderr, the guard reads them in
/// background threads so the child never blocks on a full pipe; the lines can be inspected
/// with [`ChildGuard::stdout_lines`], [`ChildGuard::wait_for_stdout_line`] and friends.
pub struct ChildGuard {
    child: Child,
    name: String,
    grace: Duration,
    stdout: Option<SharedLines>,
    stderr: Option<SharedLines>,
}

impl ChildGuard {
    /// Wraps an already spawned child. `name` is used in messages.
    pub fn new(name: impl Into<String>, mut child: Child) -> ChildGuard {
        let stdout = child.stdout.take().map(collect_lines);
        let stderr = child.stderr.take().map(collect_lines);
        ChildGuard {
            child,
            name: name.into(),
            grace: DEFAULT_GRACE,
            stdout,
            stderr,
        }
    }

    /// Spawns `cmd` with stdin from /dev/null and piped stdout and stderr, and guards it.
    /// Panics if the program cannot be started.
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> ChildGuard {
        ChildGuard::spawn_with_stderr(name, cmd, Stdio::piped())
    }

    /// Like [`ChildGuard::spawn`], but the child's stderr goes to `stderr` (a file, a pipe
    /// the test holds) instead of the guard's reader.
    pub fn spawn_with_stderr(
        name: impl Into<String>,
        cmd: &mut Command,
        stderr: Stdio,
    ) -> ChildGuard {
        let name = name.into();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("jit-e2e: cannot start {name} ({cmd:?}): {e}"));
        ChildGuard::new(name, child)
    }

    /// Sets how long to wait after SIGTERM before SIGKILL (default [`DEFAULT_GRACE`]).
    pub fn with_grace(mut self, grace: Duration) -> ChildGuard {
        self.grace = grace;
        self
    }

    /// The process id of the child.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Direct access to the child (for stdin, for example).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status if the child has exited, without blocking.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// True while the child has not exited.
    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// Waits up to `timeout` for the child to exit on its own.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends `signal` (a name such as `"TERM"` or `"HUP"`) to the child if it still runs.
    /// Returns false if the child had already exited or `kill` failed.
    pub fn signal(&mut self, signal: &str) -> bool {
        // Only signal an un-reaped child: its pid cannot have been reused.
        self.is_running() && send_signal(self.child.id(), signal)
    }

    /// Stops the child now (SIGTERM, then SIGKILL after the grace period) and returns its
    /// exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        if self.is_running() {
            send_signal(self.child.id(), "TERM");
            if let Some(status) = self.wait_timeout(self.grace) {
                return status;
            }
            let _ = self.child.kill();
        }
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("jit-e2e: waiting for {} failed: {e}", self.name))
    }

    /// Stdout lines read so far (empty if stdout was not piped).
    pub fn stdout_lines(&self) -> Vec<String> {
        snapshot(self.stdout.as_ref())
    }

    /// Stderr lines read so far (empty if stderr was not piped).
    pub fn stderr_lines(&self) -> Vec<String> {
        snapshot(self.stderr.as_ref())
    }

    /// Waits until a stdout line contains `needle`; returns that line, or `None` on timeout
    /// or when stdout closed without such a line.
    pub fn wait_for_stdout_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.stdout
            .as_ref()
            .and_then(|s| wait_for_line(s, needle, timeout))
    }

    /// Like [`ChildGuard::wait_for_stdout_line`], for stderr.
    pub fn wait_for_stderr_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.stderr
            .as_ref()
            .and_then(|s| wait_for_line(s, needle, timeout))
    }
}

impl fmt::Debug for ChildGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildGuard")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Copies the lines collected so far.
fn snapshot(shared: Option<&SharedLines>) -> Vec<String> {
    shared
        .map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).lines.clone())
        .unwrap_or_default()
}

/// Sends a signal by name to `pid` with the system `kill` command; true on success.
pub fn send_signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A command that did not finish in time; it was killed. Holds what it printed.
#[derive(Debug, Clone)]
pub struct TimedOut {
    /// The command line, as `Debug` prints it.
    pub command: String,
    /// The limit that was exceeded.
    pub timeout: Duration,
    /// Stdout captured before the kill.
    pub stdout: Vec<u8>,
    /// Stderr captured before the kill.
    pub stderr: Vec<u8>,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} did not finish within {:?} and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.timeout,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

impl std::error::Error for TimedOut {}

/// Starts a thread that reads everything from `reader` and sends it on completion.
fn read_all<R: Read + Send + 'static>(mut reader: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` to completion with stdin from /dev/null and captured stdout/stderr, killing it
/// (SIGKILL) if it runs longer than `timeout`.
///
/// Panics if the program cannot be started at all.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, TimedOut> {
    run_with_stdin(cmd, Stdio::null(), timeout)
}

/// Like [`run_with_timeout`], with the given standard input.
pub fn run_with_stdin(
    cmd: &mut Command,
    stdin: Stdio,
    timeout: Duration,
) -> Result<Output, TimedOut> {
    let command = format!("{cmd:?}");
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("jit-e2e: cannot start {command}: {e}"));
    let out_rx = child.stdout.take().map(read_all);
    let err_rx = child.stderr.take().map(read_all);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // A grandchild could keep a pipe open; never wait for it for long.
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|rx| rx.recv_timeout(Duration::from_secs(2)).ok())
            .unwrap_or_default()
    };
    let stdout = collect(out_rx);
    let stderr = collect(err_rx);
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(TimedOut {
            command,
            timeout,
            stdout,
            stderr,
        }),
    }
}

/// Runs `cmd` (limit 60 s) and panics with its output unless it exits successfully.
pub fn run_checked(cmd: &mut Command) -> Output {
    let output = run_with_timeout(cmd, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    if !output.status.success() {
        panic!(
            "jit-e2e: {cmd:?} failed with {}\n{}",
            output.status,
            describe(&output)
        );
    }
    output
}

/// Convenience accessors for [`Output`].
pub trait OutputExt {
    /// Stdout as (lossy) UTF-8.
    fn stdout_text(&self) -> String;
    /// Stderr as (lossy) UTF-8.
    fn stderr_text(&self) -> String;
    /// Status, stdout and stderr in one printable block, for assertion messages.
    fn describe(&self) -> String;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn describe(&self) -> String {
        describe(self)
    }
}

/// Status, stdout and stderr of `output` in one printable block.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
