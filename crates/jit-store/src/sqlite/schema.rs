//! The SQLite file and its schema: created owner-only, migrated in order, each migration
//! once and in its own write transaction.

use std::path::Path;

use super::query::{column, first};
use crate::{Error, Result};

/// Schema migrations, applied in order, each once (gaps in the numbers are fine: version 8
/// matches PostgreSQL's).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_approvals_alerts.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_revocations_hosts.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_checkpoints.sql"),
    ),
    // 5 and 6 are PostgreSQL-only (TOTP accounting in a server-side function).
    (
        7,
        include_str!("../../migrations/sqlite/0007_client_key_fingerprints.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_health_probe.sql"),
    ),
    (9, include_str!("../../migrations/sqlite/0009_ca_keys.sql")),
];

/// Create the database file owner-only (0600) before SQLite does, so the TOTP secrets in
/// it are never readable by others whatever the umask; SQLite gives its -wal and -shm files
/// the same mode.
pub(super) fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Corrupt(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Bring the schema up to date, each migration in its own write transaction.
pub(super) fn migrate(connection: &mut rusqlite::Connection) -> Result<()> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied = first(
            &tx,
            "SELECT version FROM schema_migrations WHERE version = ?",
            [version],
            column::<i64>,
        )?;
        if applied.is_some() {
            continue;
        }
        tx.execute_batch(sql).map_err(|source| Error::Migration {
            version: *version,
            source: source.into(),
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%s','now'))",
            [version],
        )?;
        tx.commit()?;
    }
    Ok(())
}
