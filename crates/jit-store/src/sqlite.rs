//! The embedded SQLite store: one file under the data directory, WAL mode,
//! `synchronous=FULL` so an acknowledged log record survives a power cut.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use jit_log::{Entry, Record};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::model::{
    AccessRequest, Alert, CertificateRow, Device, Host, IssuanceLinks, NewAccessRequest, NewDevice,
    Review, Revocation, User,
};
use crate::stored::{self, json_list, to_i64, to_u64};
use crate::{rules, Error, Result, Store};

mod commit;
mod log;
mod requests;

/// Schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_approvals_alerts.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_revocations_hosts.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_checkpoints.sql")),
];

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: commit::Writer,
}

/// Create the database file owner-only (0600) before SQLite does, so the TOTP secrets in
/// it are never readable by others whatever the umask; SQLite gives its -wal and -shm files
/// the same mode.
fn create_private(path: &Path) -> Result<()> {
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

impl SqliteStore {
    /// Open (creating if needed) the database file and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        create_private(path)?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let writer = commit::Writer::start(pool.clone());
        let store = Self { pool, writer };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(|source| Error::Migration {
                    version: *version,
                    source,
                })?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%s','now'))")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_user(&self, name: &str, groups: &[String], now: u64) -> Result<()> {
        sqlx::query("INSERT INTO users (name, groups_json, created_at) VALUES (?, ?, ?)")
            .bind(name)
            .bind(json_list(groups)?)
            .bind(to_i64(now))
            .execute(&self.pool)
            .await
            .map_err(|e| rules::on_unique(e, || Error::AlreadyExists(format!("user {name}"))))?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::user).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored::user).collect()
    }

    async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let done = sqlx::query("UPDATE users SET disabled = ? WHERE name = ?")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(&self.pool)
            .await?;
        match done.rows_affected() {
            0 => Err(Error::NotFound(format!("user {name}"))),
            _ => Ok(()),
        }
    }

    async fn add_enrollment_token(
        &self,
        token_hash: &str,
        user: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO enrollment_tokens (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user)
            .bind(to_i64(now))
            .bind(to_i64(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn redeem_enrollment_token(&self, token_hash: &str, now: u64) -> Result<Option<String>> {
        let user = sqlx::query_scalar(
            "UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_name",
        )
        .bind(to_i64(now))
        .bind(token_hash)
        .bind(to_i64(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(user)
    }

    async fn add_device(&self, device: &NewDevice) -> Result<()> {
        sqlx::query(
            "INSERT INTO devices (fingerprint, user_name, public_key, name, totp_secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&device.fingerprint)
        .bind(&device.user)
        .bind(&device.public_key)
        .bind(&device.name)
        .bind(&device.totp_secret)
        .bind(to_i64(device.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| rules::on_unique(e, || Error::AlreadyExists("device key".into())))?;
        Ok(())
    }

    async fn device(&self, fingerprint: &str) -> Result<Option<Device>> {
        let row = sqlx::query("SELECT * FROM devices WHERE fingerprint = ?")
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::device).transpose()
    }

    async fn confirm_device(&self, fingerprint: &str, now: u64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE devices SET confirmed_at = ? WHERE fingerprint = ? AND confirmed_at IS NULL",
        )
        .bind(to_i64(now))
        .bind(fingerprint)
        .execute(&self.pool)
        .await?;
        match done.rows_affected() {
            0 => Err(Error::NotFound("unconfirmed device".into())),
            _ => Ok(()),
        }
    }

    async fn check_totp(&self, check: crate::TotpCheck<'_>) -> Result<crate::TotpOutcome> {
        // BEGIN IMMEDIATE: attempts (from any process) are serialised by the write lock.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let times: Vec<i64> =
            sqlx::query_scalar("SELECT at FROM totp_failures WHERE user_name = ? AND at > ?")
                .bind(check.user)
                .bind(to_i64(check.since))
                .fetch_all(&mut *tx)
                .await?;
        if let Some(locked) = rules::locked_out(&times, check.max_failures) {
            return Ok(locked);
        }
        if let Some(step) = check.step {
            let done = sqlx::query(
                "UPDATE users SET totp_last_step = ? WHERE name = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
            )
            .bind(to_i64(step))
            .bind(check.user)
            .bind(to_i64(step))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                tx.commit().await?;
                return Ok(crate::TotpOutcome::Accepted);
            }
        }
        sqlx::query("INSERT INTO totp_failures (user_name, at) VALUES (?, ?)")
            .bind(check.user)
            .bind(to_i64(check.now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rules::refused(times.len(), check.step))
    }

    async fn remember_nonce(&self, nonce: &str, expires_at: u64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(nonce)
        .bind(to_i64(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: u64, failures_until: u64) -> Result<u64> {
        let nonces = sqlx::query("DELETE FROM request_nonces WHERE expires_at < ?")
            .bind(to_i64(now))
            .execute(&self.pool)
            .await?;
        let failures = sqlx::query("DELETE FROM totp_failures WHERE at <= ?")
            .bind(to_i64(failures_until))
            .execute(&self.pool)
            .await?;
        Ok(nonces.rows_affected() + failures.rows_affected())
    }

    async fn append_log(&self, record: &Record) -> Result<u64> {
        self.writer
            .write(commit::Write::Append(record.clone()))
            .await
    }

    async fn record_issuance_at(
        &self,
        build: crate::IssuanceBuilder,
        links: IssuanceLinks<'_>,
    ) -> Result<u64> {
        self.writer
            .write(commit::Write::Issue(build, links.into()))
            .await
    }

    async fn log_entries(&self, from: u64, limit: u64) -> Result<Vec<Entry>> {
        log::entries(&self.pool, from, limit).await
    }

    async fn log_len(&self) -> Result<u64> {
        log::len(&self.pool).await
    }

    async fn unexpired_certificates(&self, user: &str, now: u64) -> Result<Vec<CertificateRow>> {
        let rows =
            sqlx::query("SELECT * FROM certificates WHERE user_name = ? AND valid_before > ?")
                .bind(user)
                .bind(to_i64(now))
                .fetch_all(&self.pool)
                .await?;
        let mut certificates: Vec<CertificateRow> = rows
            .iter()
            .map(stored::certificate)
            .collect::<Result<_>>()?;
        // serials are stored bit-cast to i64, so order them as u64 here
        certificates.sort_by_key(|c| c.serial);
        Ok(certificates)
    }

    async fn create_request(&self, request: &NewAccessRequest) -> Result<()> {
        requests::create(&self.pool, request).await
    }

    async fn access_request(&self, id: &str, now: u64) -> Result<Option<AccessRequest>> {
        requests::read(&self.pool, id, now).await
    }

    async fn recent_requests(&self, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
        requests::recent(&self.pool, since, now).await
    }

    async fn decide_request(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        reason: Option<&str>,
        now: u64,
    ) -> Result<AccessRequest> {
        requests::decide(&self.pool, id, approver, approve, reason, now).await
    }

    async fn usable_request(
        &self,
        requester: &str,
        role: &str,
        now: u64,
    ) -> Result<Option<AccessRequest>> {
        requests::usable(&self.pool, requester, role, now).await
    }

    async fn pending_request_count(&self, now: u64) -> Result<u64> {
        requests::pending_count(&self.pool, now).await
    }

    async fn enqueue_alert(&self, kind: &str, payload: &str, now: u64) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alerts (kind, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(kind)
        .bind(payload)
        .bind(to_i64(now))
        .bind(to_i64(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn due_alerts(&self, now: u64, limit: u64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts, created_at FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(to_i64(now))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::alert).collect()
    }

    async fn alert_delivered(&self, id: i64, now: u64) -> Result<()> {
        sqlx::query("UPDATE alerts SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?")
            .bind(to_i64(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn alert_failed(&self, id: i64, error: &str, next_attempt_at: u64) -> Result<()> {
        sqlx::query("UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?")
            .bind(error)
            .bind(to_i64(next_attempt_at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn unexpired_certificates_by_ca(
        &self,
        ca_fingerprint: &str,
        now: u64,
    ) -> Result<Vec<CertificateRow>> {
        let rows =
            sqlx::query("SELECT * FROM certificates WHERE ca_fingerprint = ? AND valid_before > ?")
                .bind(ca_fingerprint)
                .bind(to_i64(now))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(stored::certificate).collect()
    }

    async fn certificate(&self, serial: u64) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE serial = ?")
            .bind(to_i64(serial))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::certificate).transpose()
    }

    async fn certificate_by_key_id(&self, key_id: &str) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE key_id = ?")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::certificate).transpose()
    }

    async fn revoke(&self, revocation: &Revocation) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO revocations (kind, value, ca_fingerprint, valid_before, reason, revoked_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(revocation.kind.as_str())
        .bind(&revocation.value)
        .bind(&revocation.ca_fingerprint)
        .bind(revocation.valid_before.map(to_i64))
        .bind(&revocation.reason)
        .bind(&revocation.revoked_by)
        .bind(to_i64(revocation.created_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revocations(&self, now: u64) -> Result<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT * FROM revocations WHERE valid_before IS NULL OR valid_before > ? ORDER BY id",
        )
        .bind(to_i64(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::revocation).collect()
    }

    async fn is_serial_revoked(&self, serial: u64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM revocations WHERE kind = 'serial' AND value = ?")
                .bind(serial.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn add_host(
        &self,
        name: &str,
        principals: &[String],
        token_hash: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO hosts (name, principals_json, created_at, token_hash, token_expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET principals_json = excluded.principals_json, token_hash = excluded.token_hash, token_expires_at = excluded.token_expires_at, token_used_at = NULL",
        )
        .bind(name)
        .bind(json_list(principals)?)
        .bind(to_i64(now))
        .bind(token_hash)
        .bind(to_i64(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn redeem_host_token(&self, token_hash: &str, now: u64) -> Result<Option<Host>> {
        let row = sqlx::query(
            "UPDATE hosts SET token_used_at = ? WHERE token_hash = ? AND token_used_at IS NULL AND token_expires_at > ? RETURNING *",
        )
        .bind(to_i64(now))
        .bind(token_hash)
        .bind(to_i64(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn set_host_key(&self, name: &str, public_key: &str) -> Result<()> {
        sqlx::query("UPDATE hosts SET public_key = ? WHERE name = ?")
            .bind(public_key)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn host(&self, name: &str) -> Result<Option<Host>> {
        let row = sqlx::query("SELECT * FROM hosts WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn host_by_key(&self, public_key: &str) -> Result<Option<Host>> {
        let row = sqlx::query("SELECT * FROM hosts WHERE public_key = ?")
            .bind(public_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn add_checkpoint(&self, tree_size: u64, signed_json: &str, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO checkpoints (tree_size, signed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(to_i64(tree_size))
        .bind(signed_json)
        .bind(to_i64(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn checkpoints(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT signed FROM checkpoints ORDER BY tree_size")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn latest_checkpoint(&self) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT signed FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn issuance_seq(&self, serial: u64) -> Result<Option<u64>> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT log_seq FROM certificates WHERE serial = ?")
                .bind(to_i64(serial))
                .fetch_optional(&self.pool)
                .await?;
        Ok(seq.map(to_u64))
    }

    async fn pending_reviews(&self) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT * FROM break_glass_reviews WHERE acked_at IS NULL ORDER BY issued_at, log_seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::review).collect()
    }

    async fn ack_review(&self, serial: u64, by: &str, note: &str, now: u64) -> Result<Review> {
        let row = sqlx::query(
            "UPDATE break_glass_reviews SET acked_at = ?, acked_by = ?, note = ? WHERE serial = ? AND acked_at IS NULL RETURNING *",
        )
        .bind(to_i64(now))
        .bind(by)
        .bind(note)
        .bind(to_i64(serial))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return stored::review(&row);
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT serial FROM break_glass_reviews WHERE serial = ?")
                .bind(to_i64(serial))
                .fetch_optional(&self.pool)
                .await?;
        Err(rules::review_not_open(serial, exists.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[tokio::test]
    async fn the_database_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jit.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.ping().await.unwrap();
        for file in ["jit.db", "jit.db-wal"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}
