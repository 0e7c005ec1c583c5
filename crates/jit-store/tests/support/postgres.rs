//! A throwaway PostgreSQL 15 cluster for tests: [`fresh_database`] hands each test its own
//! database on one cluster shared by every test of the test process; [`Cluster::start`]
//! gives a test a private cluster it may stop and start (outage tests).
//!
//! Reuse from any test crate (std only, no other dependency):
//! `#[path = "<...>/crates/jit-store/tests/support/postgres.rs"] mod postgres_cluster;`
//! then `let url = postgres_cluster::fresh_database();`.
//!
//! # What runs
//! - The server binaries of `/usr/lib/postgresql/15/bin`; if `initdb` is missing the
//!   tests FAIL (never skip) with the hint to `apt-get install -y postgresql-15`.
//! - The server never runs as root: under root the harness creates the system user
//!   `jit-pg-test` (`useradd --system --no-create-home`, only if missing; concurrent test
//!   processes take turns through a lock file, since `useradd` alone would let two of them
//!   create the user twice) and runs `initdb` and `pg_ctl` through
//!   `runuser -u jit-pg-test --`.
//! - Each cluster lives in `$TMPDIR/jit-pg-test/<pid>-<starttime>-<n>/` (`/tmp` when the
//!   service user could not enter `$TMPDIR`), owned by the user the server runs as, mode
//!   0700: `data/`, `server.log`, and the Unix socket. It listens on 127.0.0.1 only,
//!   on a free port (retried if another process takes the port first), trusts 127.0.0.1
//!   and the Unix socket in `pg_hba.conf` and nothing else, and runs with `fsync=off`.
//!   Start-up is bounded: it must accept connections within 20 s.
//!
//! # Lifecycle: nothing outlives the test process
//! Rust never drops statics, and `pg_ctl start` detaches the postmaster (own session), so
//! the process exiting stops nothing by itself. Each cluster therefore has a watchdog: a
//! `sh` started before the server, whose stdin is a pipe whose only write end this test
//! process holds (close-on-exec, so no other child inherits it). Whenever the test process
//! ends (tests done, panic, Ctrl-C, even SIGKILL) the kernel closes that end; the watchdog
//! reads end-of-file, runs `pg_ctl stop -m fast` (then `-m immediate` if needed) and
//! removes the cluster directory. The watchdog ignores SIGHUP/SIGINT/SIGQUIT/SIGTERM, so a
//! Ctrl-C to the process group does not kill it before it has cleaned up, and it holds no
//! stdout/stderr of the test run, so nothing waiting on those pipes is kept waiting.
//! Backstop for the one case the watchdog cannot cover (it being SIGKILLed too): a
//! directory name records its owner's pid and start time; every start first stops and
//! removes clusters whose owner process is gone.
//! A private [`Cluster`] is stopped and removed when dropped.
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Where the PostgreSQL 15 server binaries are.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The system user the server runs as when the tests run as root.
pub const SERVICE_USER: &str = "jit-pg-test";
/// The superuser of every throwaway cluster (trust authentication, no password).
pub const SUPERUSER: &str = "postgres";
/// Test processes running as root hold this lock while they create [`SERVICE_USER`].
pub const USERADD_LOCK: &str = "/tmp/.jit-pg-test-useradd.lock";
/// How long a cluster may take to accept connections.
pub const READY_WITHIN: Duration = Duration::from_secs(20);
const INSTALL_HINT: &str =
    "PostgreSQL 15 server binaries are missing (/usr/lib/postgresql/15/bin/initdb): \
     apt-get install -y postgresql-15 (or run `just test`)";

/// The cluster shared by every test of this process, started by the first caller.
static SHARED: LazyLock<Cluster> = LazyLock::new(|| {
    Cluster::start().unwrap_or_else(|e| panic!("throwaway PostgreSQL 15 cluster: {e}"))
});

/// Clusters started by this process so far (names their directories).
static STARTED: AtomicU64 = AtomicU64::new(0);

/// The cluster shared by every test of this process (started on first use).
pub fn shared() -> &'static Cluster {
    &SHARED
}

/// The URL of a new, empty database on the shared cluster.
pub fn fresh_database() -> String {
    shared()
        .create_database()
        .unwrap_or_else(|e| panic!("creating a test database: {e}"))
}

/// One throwaway cluster (see the module documentation for its lifecycle).
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    /// `Some(user)` when the server runs as another user (the tests run as root).
    run_as: Option<String>,
    next_database: AtomicU64,
    /// Write end of the watchdog's stdin: never written; closing it stops the cluster.
    watchdog: Mutex<Option<ChildStdin>>,
}

impl Cluster {
    /// Create and start a new cluster, owned by the caller (stopped when dropped).
    pub fn start() -> io::Result<Cluster> {
        if !Path::new(BIN).join("initdb").exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT));
        }
        let run_as = match effective_uid()? {
            0 => Some(ensure_service_user()?),
            _ => None,
        };
        let mut temp = std::env::temp_dir();
        if run_as.is_some() && !reachable_by_all(&temp) {
            temp = PathBuf::from("/tmp"); // the service user could not enter $TMPDIR
        }
        let parent = temp.join("jit-pg-test");
        fs::create_dir_all(&parent)?;
        // like /tmp: everyone may add a cluster, only its owner may remove it
        let _ = fs::set_permissions(&parent, fs::Permissions::from_mode(0o1777));
        reap_orphans(&parent, run_as.as_deref());

        let me = std::process::id();
        let started = start_time(me).ok_or_else(|| io::Error::other("no /proc/self/stat"))?;
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{me}-{started}-{n}"));
        fs::create_dir(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &run_as {
            check(
                Command::new("chown").arg(format!("{user}:")).arg(&dir),
                "chown",
            )?;
        }
        let mut cluster = Cluster {
            dir,
            port: 0,
            run_as,
            next_database: AtomicU64::new(1),
            watchdog: Mutex::new(None),
        };
        cluster.spawn_watchdog()?;
        cluster.init()?;
        cluster.port = cluster.start_on_a_free_port()?;
        Ok(cluster)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Create a new, empty database; returns its URL.
    pub fn create_database(&self) -> io::Result<String> {
        let name = format!("t_{}", self.next_database.fetch_add(1, Ordering::Relaxed));
        check(
            Command::new(Path::new(BIN).join("createdb"))
                .args(["-h", "127.0.0.1", "-U", SUPERUSER, "-p"])
                .arg(self.port.to_string())
                .arg(&name)
                .env_remove("PGPASSWORD")
                .stdin(Stdio::null()),
            "createdb",
        )?;
        Ok(self.url(&name))
    }

    /// Stop the server (fast shutdown: sessions are cut), keeping its data.
    pub fn stop(&self) -> io::Result<()> {
        self.pg_ctl(&["stop", "-s", "-m", "fast", "-t", "20"])
            .map(drop)
    }

    /// Start the server again after [`Cluster::stop`], on the same port.
    pub fn resume(&self) -> io::Result<()> {
        self.pg_start(self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn server_command(&self, program: &str) -> Command {
        server_command(self.run_as.as_deref(), program, &self.dir)
    }

    fn pg_ctl(&self, args: &[&str]) -> io::Result<Output> {
        check(
            self.server_command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(args),
            "pg_ctl",
        )
    }

    /// The watchdog that stops the cluster and removes its directory once this process
    /// has exited (or dropped the cluster): it waits for end-of-file on its stdin.
    fn spawn_watchdog(&self) -> io::Result<()> {
        const SCRIPT: &str = r#"trap '' HUP INT QUIT TERM
cat >/dev/null 2>&1
as_server() { if [ -n "$JIT_PG_USER" ]; then runuser -u "$JIT_PG_USER" -- "$@"; else "$@"; fi; }
if [ -f "$JIT_PG_DIR/data/postmaster.pid" ]; then
  as_server "$JIT_PG_BIN/pg_ctl" -D "$JIT_PG_DIR/data" stop -s -m fast -t 10 ||
    as_server "$JIT_PG_BIN/pg_ctl" -D "$JIT_PG_DIR/data" stop -s -m immediate -t 10
fi
[ -n "$JIT_PG_DIR" ] && rm -rf "$JIT_PG_DIR""#;
        let child = Command::new("sh")
            .args(["-c", SCRIPT, "jit-pg-watchdog"])
            .env("JIT_PG_DIR", &self.dir)
            .env("JIT_PG_BIN", BIN)
            .env("JIT_PG_USER", self.run_as.as_deref().unwrap_or(""))
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // The Child handle is dropped without waiting: the watchdog must outlive us.
        *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = child.stdin;
        Ok(())
    }

    fn init(&self) -> io::Result<()> {
        check(
            self.server_command("initdb")
                .arg("-D")
                .arg(self.data())
                .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
                .args(["--no-sync", "--no-instructions"]),
            "initdb",
        )?;
        let settings = format!(
            "\n# throwaway test cluster (jit-store tests/support/postgres.rs)\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 300\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            self.dir.display()
        );
        let conf = self.data().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf)?;
        text.push_str(&settings);
        fs::write(&conf, text)?;
        fs::write(
            self.data().join("pg_hba.conf"),
            "# throwaway test cluster: trust the Unix socket and 127.0.0.1, nothing else\n\
             local all all trust\n\
             host all all 127.0.0.1/32 trust\n",
        )?;
        Ok(())
    }

    /// Start on a free port; a port taken between choosing and binding is retried.
    fn start_on_a_free_port(&self) -> io::Result<u16> {
        let mut last = None;
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            match self.pg_start(port) {
                Ok(()) => return Ok(port),
                Err(e) if self.log().contains("could not bind") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free port")))
    }

    fn pg_start(&self, port: u16) -> io::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        let log = self.dir.join("server.log");
        let log = log.to_string_lossy();
        let timeout = READY_WITHIN.as_secs().to_string();
        let options = format!("-p {port}");
        self.pg_ctl(&[
            "start", "-w", "-s", "-t", &timeout, "-l", &log, "-o", &options,
        ])
        .map_err(|e| io::Error::other(format!("{e}\nserver log:\n{}", self.log())))?;
        // pg_ctl saw the server up; also wait until TCP on 127.0.0.1 answers
        loop {
            let ready = Command::new(Path::new(BIN).join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    SUPERUSER,
                    "-p",
                    &port.to_string(),
                ])
                .stdin(Stdio::null())
                .status()?;
            if ready.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "PostgreSQL did not accept connections within {READY_WITHIN:?}\nserver log:\n{}",
                self.log()
            ),
        ))
    }

    /// The end of the server log (for error messages).
    fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
        // end-of-file for the watchdog, which then removes the directory
        self.watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// A command for a server binary, run as the service user `run_as` when set, in `dir`
/// (the service user may not be allowed into the test's working directory).
fn server_command(run_as: Option<&str>, program: &str, dir: &Path) -> Command {
    let program = Path::new(BIN).join(program);
    let mut command = match run_as {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    };
    command.current_dir(dir).stdin(Stdio::null());
    command
}

/// Run `command`, turning a failure exit into an error that carries its output.
fn check(command: &mut Command, what: &str) -> io::Result<Output> {
    let output = command.output()?;
    if output.status.success() {
        return Ok(output);
    }
    Err(io::Error::other(format!(
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

/// Whether every user may traverse `dir` and each directory above it.
fn reachable_by_all(dir: &Path) -> bool {
    dir.ancestors()
        .all(|d| fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The effective user ID of this process (std has no `geteuid`).
fn effective_uid() -> io::Result<u32> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| io::Error::other("no Uid line in /proc/self/status"))
}

/// Make sure [`SERVICE_USER`] exists. `useradd` looks for the name before it locks
/// `/etc/passwd`, so test processes starting together could each create the user (with
/// different IDs, the last one winning): they take turns with [`USERADD_LOCK`].
fn ensure_service_user() -> io::Result<String> {
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(USERADD_LOCK)?;
    lock.lock()?; // released when `lock` is dropped, or when the process dies
    let exists = || {
        Command::new("id")
            .arg("-u")
            .arg(SERVICE_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if exists() {
        return Ok(SERVICE_USER.to_string());
    }
    // another program may hold /etc/passwd's own lock for a moment: try a few times
    let mut error = String::new();
    for _ in 0..20 {
        let output = Command::new("useradd")
            .args(["--system", "--no-create-home", "--user-group"])
            .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
            .arg(SERVICE_USER)
            .output()?;
        if output.status.success() || exists() {
            return Ok(SERVICE_USER.to_string());
        }
        error = String::from_utf8_lossy(&output.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(io::Error::other(format!(
        "cannot create the system user {SERVICE_USER} the test server runs as: {error}"
    )))
}

/// When process `pid` started (field 22 of `/proc/PID/stat`), to tell it from a later
/// process that reuses the pid.
fn start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) may contain spaces; fields after it are plain
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Stop and remove clusters left by test processes that no longer exist (whose watchdog
/// was killed too). Clusters of live processes are never touched.
fn reap_orphans(parent: &Path, run_as: Option<&str>) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.splitn(3, '-');
        let (Some(pid), Some(started)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if start_time(pid).is_some_and(|now| now == started) {
            continue; // the owner is alive
        }
        let dir = entry.path();
        let data = dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = server_command(run_as, "pg_ctl", Path::new("/"))
                .arg("-D")
                .arg(&data)
                .args(["stop", "-s", "-m", "immediate", "-t", "10"])
                .output();
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
