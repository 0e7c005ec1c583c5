//! Schema migrations for PostgreSQL, the counterpart of the SQLite runner: a
//! `schema_migrations` table names the versions applied, each applied once, in order.
//!
//! All pending migrations run in one transaction that first takes a transaction-scoped
//! advisory lock, so jitd replicas starting at the same moment take turns: the first
//! migrates, the others then find every version applied. PostgreSQL DDL is transactional,
//! so a failed migration leaves the schema as it was.

use sqlx::PgPool;

use crate::{Error, Result};

/// Schema migrations, applied in order, each once (gaps in the numbers are fine; a version
/// both backends have means the same change on both).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_approvals_alerts.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_revocations_hosts.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_checkpoints.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_totp_attempt_ids.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_check_totp.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_client_key_fingerprints.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_totp_replays_health_probe.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_ca_keys.sql"),
    ),
];

/// Advisory lock key that serialises migrations ("jit_migr" in ASCII).
const LOCK_KEY: i64 = 0x6a69_745f_6d69_6772;

/// Bring the schema up to date.
pub(super) async fn run(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    // quiet the "already exists, skipping" notice of every start after the first
    sqlx::query("SET LOCAL client_min_messages = warning")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| Error::Migration {
                version: *version,
                source: source.into(),
            })?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    tx.commit().await?;
    Ok(())
}
