//! `--backend postgres`: a throwaway PostgreSQL 15 cluster on 127.0.0.1 for jitd, when the
//! store of this build speaks PostgreSQL at all.
//!
//! The cluster runs as an unprivileged user (`nobody` when the benchmark runs as root, since
//! PostgreSQL refuses to run as root), with trust authentication on 127.0.0.1 only, in a
//! temporary directory removed afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};

/// Where Debian puts the PostgreSQL 15 server binaries.
const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// A running throwaway cluster; stopped by [`Cluster::stop`] or on drop.
pub struct Cluster {
    url: String,
    data: PathBuf,
    run_as: Option<String>,
    _dir: tempfile::TempDir,
    running: bool,
}

impl Cluster {
    /// Check that this build's store accepts `postgres://` URLs, then `initdb`, start the
    /// cluster on a free port and create the database `jit`.
    pub async fn start(_work: &Path) -> anyhow::Result<Cluster> {
        if !store_speaks_postgres().await {
            bail!(
                "the PostgreSQL backend is not available in this build: jit-store refuses \
                 postgres:// URLs (it has no PostgreSQL store yet), so there is nothing to \
                 measure; run with --backend sqlite"
            );
        }
        if !Path::new(BIN_DIR).join("initdb").exists() {
            bail!("no PostgreSQL 15 server binaries in {BIN_DIR} (apt-get install postgresql-15)");
        }
        let dir = tempfile::Builder::new()
            .prefix("jit-bench-pg-")
            .tempdir()
            .context("cannot make a directory for the cluster")?;
        let run_as = running_as_root().then(|| "nobody".to_string());
        if run_as.is_some() {
            let uid = numeric_id("-u")?;
            let gid = numeric_id("-g")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("cannot hand the cluster directory to nobody")?;
        }
        let data = dir.path().join("data");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let mut cluster = Cluster {
            url: format!("postgres://jit@127.0.0.1:{port}/jit"),
            data: data.clone(),
            run_as,
            _dir: dir,
            running: false,
        };
        cluster.pg("initdb", |c| {
            c.arg("-D").arg(&data).args([
                "-U",
                "jit",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ]);
        })?;
        let socket_dir = data.clone();
        let log = data.join("postgres.log");
        cluster.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "30"]);
            c.arg("-o").arg(format!(
                "-h 127.0.0.1 -p {port} -k {} -c max_connections=200",
                socket_dir.display()
            ));
            c.arg("start");
        })?;
        cluster.running = true;
        cluster.pg("createdb", |c| {
            c.args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "jit",
                "jit",
            ]);
        })?;
        Ok(cluster)
    }

    /// `postgres://jit@127.0.0.1:PORT/jit`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Run one PostgreSQL program (as the unprivileged user when root), failing on error.
    fn pg(&self, program: &str, args: impl FnOnce(&mut Command)) -> anyhow::Result<()> {
        let binary = Path::new(BIN_DIR).join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        args(&mut command);
        let output = command
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Stop the cluster (fast shutdown).
    pub async fn stop(mut self) {
        self.shut_down();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    fn shut_down(&mut self) {
        if self.running {
            let data = self.data.clone();
            let _ = self.pg("pg_ctl", |c| {
                c.arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]);
            });
            self.running = false;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Whether `jit_store::open` takes a PostgreSQL URL: a store without PostgreSQL support
/// refuses the URL itself; one with it fails only to connect (nothing listens on port 1).
async fn store_speaks_postgres() -> bool {
    let Ok(scratch) = tempfile::tempdir() else {
        return false;
    };
    let probe = tokio::time::timeout(
        Duration::from_secs(10),
        jit_store::open("postgres://jit@127.0.0.1:1/jit", scratch.path()),
    )
    .await;
    match probe {
        Ok(Err(jit_store::Error::Corrupt(message))) => !message.contains("not supported"),
        _ => true,
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `id -u nobody` / `id -g nobody`.
fn numeric_id(flag: &str) -> anyhow::Result<u32> {
    let output = Command::new("id")
        .args([flag, "nobody"])
        .output()
        .context("cannot run id")?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("no user nobody to run PostgreSQL as")
}
