//! `--backend postgres`: a throwaway PostgreSQL 15 cluster on 127.0.0.1 for jitd, started
//! by the same harness the store's tests use (`crates/jit-store/tests/support/postgres.rs`:
//! server binaries of `/usr/lib/postgresql/15/bin`, never as root, trust on 127.0.0.1
//! only, stopped and removed when dropped or when this process dies).
//!
//! The harness turns durability off for speed (`fsync`, `synchronous_commit`,
//! `full_page_writes`); a benchmark compared with SQLite at `synchronous=FULL` must not, so
//! they are switched back on (`ALTER SYSTEM`, reload) and checked before jitd starts.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

use crate::pg_harness;

/// Durability settings the harness relaxes, with the values a production server has.
const DURABLE: &[(&str, &str)] = &[
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
];

/// A running throwaway cluster with one database for jitd; stopped by [`Cluster::stop`]
/// or on drop.
pub struct Cluster {
    inner: Option<pg_harness::Cluster>,
    url: String,
}

impl Cluster {
    /// Start a cluster, make it durable again and create jitd's database.
    pub async fn start() -> anyhow::Result<Cluster> {
        let inner = tokio::task::spawn_blocking(pg_harness::Cluster::start)
            .await
            .context("starting PostgreSQL panicked")?
            .context("cannot start a throwaway PostgreSQL 15 cluster")?;
        let port = inner.port();
        for (name, value) in DURABLE {
            psql(port, &format!("ALTER SYSTEM SET {name} = {value}"))?;
        }
        psql(port, "SELECT pg_reload_conf()")?;
        // The reload is asynchronous: wait until the server reports the new values.
        let mut waited = 0;
        loop {
            let mut durable = true;
            for (name, value) in DURABLE {
                durable &= psql(port, &format!("SHOW {name}"))? == *value;
            }
            if durable {
                break;
            }
            waited += 1;
            if waited > 50 {
                bail!("PostgreSQL did not turn fsync/synchronous_commit/full_page_writes back on");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let url = inner
            .create_database()
            .context("cannot create jitd's database")?;
        Ok(Cluster {
            inner: Some(inner),
            url,
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> Option<u16> {
        self.inner.as_ref().map(pg_harness::Cluster::port)
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stop the cluster and remove its directory.
    pub async fn stop(mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = tokio::task::spawn_blocking(move || drop(inner)).await;
        }
    }
}

/// Run one statement as the superuser over TCP; its single value, trimmed.
fn psql(port: u16, sql: &str) -> anyhow::Result<String> {
    let output = Command::new(Path::new(pg_harness::BIN).join("psql"))
        .args(["-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-U"])
        .arg(pg_harness::SUPERUSER)
        .arg("-p")
        .arg(port.to_string())
        .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
