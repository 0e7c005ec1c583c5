//! A throwaway `jitd` for the benchmark: `jitd init` in a fresh data directory, a policy
//! with the one role `bench`, `jitd serve` on a free 127.0.0.1 port, and a clean stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The `database` setting `jitd init` writes (SQLite, relative to the data directory).
pub const SQLITE_DATABASE: &str = "sqlite://jit.db";

/// The policy the benchmark serves: one role, no approval, no reason, Ed25519 keys.
const POLICY: &str = r#"# jit-bench: one role for load generation.
[roles.bench]
groups = ["bench"]
principals = ["bench"]
default_ttl = "5m"
"#;

/// Longest wait for `/v1/healthz` after `jitd serve` starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `jitd serve`, stopped (SIGTERM, then SIGKILL) by [`Jitd::stop`] or on drop.
pub struct Jitd {
    child: Child,
    sqlite: bool,
    data_dir: PathBuf,
    base_url: String,
    tls_pin: String,
}

impl Jitd {
    /// Initialise `data_dir` with `jitd init`, write the bench policy (and `database` when
    /// given), start `jitd serve` with `RUST_LOG=warn` and wait until it answers.
    pub async fn start(
        jitd: &Path,
        data_dir: &Path,
        database: Option<&str>,
    ) -> anyhow::Result<Jitd> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let init = Command::new(jitd)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["init", "--insecure-no-passphrase", "--listen", &listen])
            .env("RUST_LOG", "warn")
            .output()
            .with_context(|| format!("cannot run {} init", jitd.display()))?;
        if !init.status.success() {
            bail!(
                "jitd init failed: {}",
                String::from_utf8_lossy(&init.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&init.stdout);
        let tls_pin = stdout
            .lines()
            .find_map(|line| line.strip_prefix("TLS certificate SHA-256: "))
            .map(|pin| pin.trim().to_string())
            .context("jitd init did not print the TLS certificate fingerprint")?;
        std::fs::write(data_dir.join("policy.toml"), POLICY).context("cannot write the policy")?;
        if let Some(database) = database {
            set_database(data_dir, database)?;
        }
        let log = std::fs::File::create(data_dir.join("jitd.log"))
            .context("cannot create the jitd log file")?;
        let child = Command::new(jitd)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} serve", jitd.display()))?;
        let mut server = Jitd {
            child,
            sqlite: database.is_none(),
            data_dir: data_dir.to_path_buf(),
            base_url: format!("https://{listen}"),
            tls_pin,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = jit::http::Client::new(&self.base_url, &self.tls_pin)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "jitd serve exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            let probe = tokio::time::timeout(
                Duration::from_secs(2),
                client.get::<jit_proto::api::Health>("/v1/healthz"),
            )
            .await;
            if let Ok(Ok(health)) = probe {
                if health.status == "ok" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "jitd did not answer /v1/healthz within {}s:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// SHA-256 (hex) of the server's self-signed TLS certificate.
    pub fn tls_pin(&self) -> &str {
        &self.tls_pin
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Peak resident set size of the server so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM line in /proc/PID/status")
    }

    /// Bytes of the SQLite database and its WAL (0 when the data lives elsewhere).
    pub fn database_bytes(&self) -> u64 {
        if !self.sqlite {
            return 0;
        }
        ["jit.db", "jit.db-wal"]
            .iter()
            .filter_map(|name| std::fs::metadata(self.data_dir.join(name)).ok())
            .map(|meta| meta.len())
            .sum()
    }

    /// The last lines jitd wrote to its log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.data_dir.join("jitd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, wait up to 10 s for a clean exit, then SIGKILL.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("jitd did not stop on SIGTERM within 10s; killing it");
        // Drop kills it.
    }
}

impl Drop for Jitd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Point `jitd.toml` at another database.
fn set_database(data_dir: &Path, database: &str) -> anyhow::Result<()> {
    let path = data_dir.join("jitd.toml");
    let text = std::fs::read_to_string(&path).context("cannot read jitd.toml")?;
    let line = format!("database = \"{SQLITE_DATABASE}\"");
    if !text.contains(&line) {
        bail!("jitd.toml has no `{line}` line to replace");
    }
    let text = text.replace(&line, &format!("database = \"{database}\""));
    std::fs::write(&path, text).context("cannot write jitd.toml")
}
