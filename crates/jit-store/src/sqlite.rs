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
use sqlx::Row as _;

use crate::model::{
    AccessRequest, Alert, CertificateRow, Decision, Device, Host, IssuanceLinks, NewAccessRequest,
    NewDevice, RequestState, Review, Revocation, RevocationKind, User,
};
use crate::{Error, Result, Store};

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
];

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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

fn to_i64(value: u64) -> i64 {
    value as i64
}

fn to_u64(value: i64) -> u64 {
    value as u64
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
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
        let store = Self { pool };
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

    async fn append_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        record: &Record,
    ) -> Result<u64> {
        // The UPDATE takes the write lock first, so two appenders can never read the same head.
        let row = sqlx::query("UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut **tx)
            .await?;
        let seq = to_u64(row.try_get::<i64, _>("seq")?);
        let previous_hex: String = row.try_get("hash")?;
        let previous: jit_log::Hash = hex_to_hash(&previous_hex)?;
        let (entry, _) = jit_log::seal(&previous, seq, record);
        sqlx::query("INSERT INTO log_entries (seq, time, body, hash) VALUES (?, ?, ?, ?)")
            .bind(to_i64(seq))
            .bind(to_i64(record.time))
            .bind(&entry.body)
            .bind(&entry.hash)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE log_head SET hash = ? WHERE id = 1")
            .bind(&entry.hash)
            .execute(&mut **tx)
            .await?;
        Ok(seq)
    }
}

fn hex_to_hash(text: &str) -> Result<jit_log::Hash> {
    let bytes = hex::decode(text).map_err(|_| Error::Corrupt("log head hash".into()))?;
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt("log head hash".into()))
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User> {
    let groups_json: String = row.try_get("groups_json")?;
    Ok(User {
        name: row.try_get("name")?,
        groups: serde_json::from_str(&groups_json).map_err(|e| Error::Corrupt(e.to_string()))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: to_u64(row.try_get("created_at")?),
    })
}

fn certificate_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CertificateRow> {
    Ok(CertificateRow {
        serial: to_u64(row.try_get("serial")?),
        user: row.try_get("user_name")?,
        role: row.try_get("role")?,
        key_id: row.try_get("key_id")?,
        valid_after: to_u64(row.try_get("valid_after")?),
        valid_before: to_u64(row.try_get("valid_before")?),
        ca_fingerprint: row.try_get("ca_fingerprint")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_user(&self, name: &str, groups: &[String], now: u64) -> Result<()> {
        let groups_json =
            serde_json::to_string(groups).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO users (name, groups_json, created_at) VALUES (?, ?, ?)")
            .bind(name)
            .bind(groups_json)
            .bind(to_i64(now))
            .execute(&self.pool)
            .await
            .map_err(|e| match is_unique_violation(&e) {
                true => Error::AlreadyExists(format!("user {name}")),
                false => Error::Database(e),
            })?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
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
        .map_err(|e| match is_unique_violation(&e) {
            true => Error::AlreadyExists("device key".into()),
            false => Error::Database(e),
        })?;
        Ok(())
    }

    async fn device(&self, fingerprint: &str) -> Result<Option<Device>> {
        let row = sqlx::query("SELECT * FROM devices WHERE fingerprint = ?")
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Device {
                fingerprint: row.try_get("fingerprint")?,
                user: row.try_get("user_name")?,
                public_key: row.try_get("public_key")?,
                name: row.try_get("name")?,
                totp_secret: row.try_get("totp_secret")?,
                created_at: to_u64(row.try_get("created_at")?),
                confirmed_at: row.try_get::<Option<i64>, _>("confirmed_at")?.map(to_u64),
            })
        })
        .transpose()
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

    async fn consume_totp_step(&self, user: &str, step: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = ? WHERE name = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        )
        .bind(to_i64(step))
        .bind(user)
        .bind(to_i64(step))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_totp_failure(&self, user: &str, at: u64) -> Result<()> {
        sqlx::query("INSERT INTO totp_failures (user_name, at) VALUES (?, ?)")
            .bind(user)
            .bind(to_i64(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn totp_failures_since(&self, user: &str, since: u64) -> Result<Vec<u64>> {
        sqlx::query("DELETE FROM totp_failures WHERE user_name = ? AND at <= ?")
            .bind(user)
            .bind(to_i64(since))
            .execute(&self.pool)
            .await?;
        let times: Vec<i64> =
            sqlx::query_scalar("SELECT at FROM totp_failures WHERE user_name = ? AND at > ?")
                .bind(user)
                .bind(to_i64(since))
                .fetch_all(&self.pool)
                .await?;
        Ok(times.into_iter().map(to_u64).collect())
    }

    async fn remember_nonce(&self, nonce: &str, expires_at: u64, now: u64) -> Result<bool> {
        sqlx::query("DELETE FROM request_nonces WHERE expires_at < ?")
            .bind(to_i64(now))
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(nonce)
        .bind(to_i64(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_log(&self, record: &Record) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seq = Self::append_in(&mut tx, record).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn record_issuance(
        &self,
        record: &Record,
        certificate: &CertificateRow,
        links: IssuanceLinks<'_>,
    ) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seq = Self::append_in(&mut tx, record).await?;
        sqlx::query(
            "INSERT INTO certificates (serial, user_name, role, key_id, valid_after, valid_before, log_seq, ca_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(certificate.serial))
        .bind(&certificate.user)
        .bind(&certificate.role)
        .bind(&certificate.key_id)
        .bind(to_i64(certificate.valid_after))
        .bind(to_i64(certificate.valid_before))
        .bind(to_i64(seq))
        .bind(&certificate.ca_fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(|e| match is_unique_violation(&e) {
            true => Error::SerialTaken,
            false => Error::Database(e),
        })?;
        if let Some(id) = links.request_id {
            let used = sqlx::query(
                "UPDATE access_requests SET state = 'used', used_serial = ? WHERE id = ? AND requester = ? AND role = ? AND state = 'approved' AND usable_until > ?",
            )
            .bind(to_i64(certificate.serial))
            .bind(id)
            .bind(&certificate.user)
            .bind(&certificate.role)
            .bind(to_i64(record.time))
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Err(Error::Conflict(format!("request {id} is no longer usable")));
            }
        }
        if let Some(reason) = links.break_glass_reason {
            sqlx::query(
                "INSERT INTO break_glass_reviews (serial, log_seq, user_name, role, reason, issued_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(to_i64(certificate.serial))
            .bind(to_i64(seq))
            .bind(&certificate.user)
            .bind(&certificate.role)
            .bind(reason)
            .bind(to_i64(record.time))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    async fn log_entries(&self, from: u64, limit: u64) -> Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT seq, body, hash FROM log_entries WHERE seq >= ? ORDER BY seq LIMIT ?",
        )
        .bind(to_i64(from))
        .bind(to_i64(limit.min(i64::MAX as u64)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Entry {
                    seq: to_u64(row.try_get("seq")?),
                    body: row.try_get("body")?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect()
    }

    async fn log_len(&self) -> Result<u64> {
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_u64(seq))
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
            .map(certificate_from_row)
            .collect::<Result<_>>()?;
        // serials are stored bit-cast to i64, so order them as u64 here
        certificates.sort_by_key(|c| c.serial);
        Ok(certificates)
    }

    async fn create_request(&self, request: &NewAccessRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_requests (id, requester, role, reason, ticket, ttl_seconds, approvals_needed, window_seconds, created_at, expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        )
        .bind(&request.id)
        .bind(&request.requester)
        .bind(&request.role)
        .bind(&request.reason)
        .bind(&request.ticket)
        .bind(request.ttl_seconds.map(to_i64))
        .bind(i64::from(request.approvals_needed))
        .bind(to_i64(request.window_seconds))
        .bind(to_i64(request.created_at))
        .bind(to_i64(request.expires_at))
        .execute(&self.pool)
        .await
        .map_err(|e| match is_unique_violation(&e) {
            true => Error::AlreadyExists(format!("request {}", request.id)),
            false => Error::Database(e),
        })?;
        Ok(())
    }

    async fn access_request(&self, id: &str, now: u64) -> Result<Option<AccessRequest>> {
        let row = sqlx::query("SELECT * FROM access_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.with_decisions(&row, now).await?)),
            None => Ok(None),
        }
    }

    async fn recent_requests(&self, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
        let rows = sqlx::query(
            "SELECT * FROM access_requests WHERE created_at > ? ORDER BY created_at DESC, id",
        )
        .bind(to_i64(since))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.with_decisions(row, now).await?);
        }
        Ok(out)
    }

    async fn decide_request(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        reason: Option<&str>,
        now: u64,
    ) -> Result<AccessRequest> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("SELECT * FROM access_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        let request = request_from_row(&row)?;
        let state = state_at(&row, now)?;
        if state != RequestState::Pending {
            return Err(Error::Conflict(format!(
                "request {id} is {}, not pending",
                state.as_str()
            )));
        }
        if request.requester == approver {
            return Err(Error::Conflict(
                "nobody can decide their own request".into(),
            ));
        }
        sqlx::query("INSERT INTO request_decisions (request_id, approver, approve, reason, at) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(approver)
            .bind(i64::from(approve))
            .bind(reason)
            .bind(to_i64(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| match is_unique_violation(&e) {
                true => Error::Conflict(format!("{approver} already decided request {id}")),
                false => Error::Database(e),
            })?;
        if !approve {
            sqlx::query("UPDATE access_requests SET state = 'denied', decided_at = ? WHERE id = ?")
                .bind(to_i64(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        } else {
            let approvals: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM request_decisions WHERE request_id = ? AND approve = 1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if approvals >= i64::from(request.approvals_needed) {
                sqlx::query("UPDATE access_requests SET state = 'approved', decided_at = ?, usable_until = ? WHERE id = ?")
                    .bind(to_i64(now))
                    .bind(to_i64(now.saturating_add(request.window_seconds)))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.access_request(id, now)
            .await?
            .ok_or_else(|| Error::NotFound(format!("request {id}")))
    }

    async fn usable_request(
        &self,
        requester: &str,
        role: &str,
        now: u64,
    ) -> Result<Option<AccessRequest>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM access_requests WHERE requester = ? AND role = ? AND state = 'approved' AND usable_until > ? ORDER BY decided_at, id LIMIT 1",
        )
        .bind(requester)
        .bind(role)
        .bind(to_i64(now))
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.access_request(&id, now).await,
            None => Ok(None),
        }
    }

    async fn pending_request_count(&self, now: u64) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_requests WHERE state = 'pending' AND expires_at > ?",
        )
        .bind(to_i64(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(count))
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
        rows.iter()
            .map(|row| {
                Ok(Alert {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    payload: row.try_get("payload")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                    created_at: to_u64(row.try_get("created_at")?),
                })
            })
            .collect()
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
        rows.iter().map(certificate_from_row).collect()
    }

    async fn certificate(&self, serial: u64) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE serial = ?")
            .bind(to_i64(serial))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn certificate_by_key_id(&self, key_id: &str) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE key_id = ?")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(certificate_from_row).transpose()
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
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(Revocation {
                    kind: match kind.as_str() {
                        "serial" => RevocationKind::Serial,
                        "key_id" => RevocationKind::KeyId,
                        "key" => RevocationKind::Key,
                        other => return Err(Error::Corrupt(format!("revocation kind {other}"))),
                    },
                    value: row.try_get("value")?,
                    ca_fingerprint: row.try_get("ca_fingerprint")?,
                    valid_before: row.try_get::<Option<i64>, _>("valid_before")?.map(to_u64),
                    reason: row.try_get("reason")?,
                    revoked_by: row.try_get("revoked_by")?,
                    created_at: to_u64(row.try_get("created_at")?),
                })
            })
            .collect()
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
        let principals_json =
            serde_json::to_string(principals).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO hosts (name, principals_json, created_at, token_hash, token_expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET principals_json = excluded.principals_json, token_hash = excluded.token_hash, token_expires_at = excluded.token_expires_at, token_used_at = NULL",
        )
        .bind(name)
        .bind(principals_json)
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
        row.as_ref().map(host_from_row).transpose()
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
        row.as_ref().map(host_from_row).transpose()
    }

    async fn host_by_key(&self, public_key: &str) -> Result<Option<Host>> {
        let row = sqlx::query("SELECT * FROM hosts WHERE public_key = ?")
            .bind(public_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(host_from_row).transpose()
    }

    async fn pending_reviews(&self) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT * FROM break_glass_reviews WHERE acked_at IS NULL ORDER BY issued_at, log_seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(review_from_row).collect()
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
        match row {
            Some(row) => review_from_row(&row),
            None => {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT serial FROM break_glass_reviews WHERE serial = ?")
                        .bind(to_i64(serial))
                        .fetch_optional(&self.pool)
                        .await?;
                Err(match exists {
                    Some(_) => {
                        Error::Conflict(format!("the review of serial {serial} is already closed"))
                    }
                    None => Error::NotFound(format!("break-glass issuance with serial {serial}")),
                })
            }
        }
    }
}

impl SqliteStore {
    async fn with_decisions(
        &self,
        row: &sqlx::sqlite::SqliteRow,
        now: u64,
    ) -> Result<AccessRequest> {
        let request = request_from_row(row)?;
        let decisions = sqlx::query(
            "SELECT * FROM request_decisions WHERE request_id = ? ORDER BY at, approver",
        )
        .bind(&request.id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|d| {
            Ok(Decision {
                approver: d.try_get("approver")?,
                approve: d.try_get::<i64, _>("approve")? != 0,
                reason: d.try_get("reason")?,
                at: to_u64(d.try_get("at")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(AccessRequest {
            state: state_at(row, now)?,
            decided_at: row.try_get::<Option<i64>, _>("decided_at")?.map(to_u64),
            usable_until: row.try_get::<Option<i64>, _>("usable_until")?.map(to_u64),
            used_serial: row.try_get::<Option<i64>, _>("used_serial")?.map(to_u64),
            request,
            decisions,
        })
    }
}

fn request_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<NewAccessRequest> {
    Ok(NewAccessRequest {
        id: row.try_get("id")?,
        requester: row.try_get("requester")?,
        role: row.try_get("role")?,
        reason: row.try_get("reason")?,
        ticket: row.try_get("ticket")?,
        ttl_seconds: row.try_get::<Option<i64>, _>("ttl_seconds")?.map(to_u64),
        approvals_needed: u32::try_from(row.try_get::<i64, _>("approvals_needed")?)
            .map_err(|_| Error::Corrupt("approvals_needed".into()))?,
        window_seconds: to_u64(row.try_get("window_seconds")?),
        created_at: to_u64(row.try_get("created_at")?),
        expires_at: to_u64(row.try_get("expires_at")?),
    })
}

/// The stored state, with lapsing applied for `now`.
fn state_at(row: &sqlx::sqlite::SqliteRow, now: u64) -> Result<RequestState> {
    let stored: String = row.try_get("state")?;
    let expires_at = to_u64(row.try_get("expires_at")?);
    let usable_until = row.try_get::<Option<i64>, _>("usable_until")?.map(to_u64);
    Ok(match stored.as_str() {
        "pending" if now >= expires_at => RequestState::Expired,
        "pending" => RequestState::Pending,
        "approved" if usable_until.is_none_or(|until| now >= until) => RequestState::Expired,
        "approved" => RequestState::Approved,
        "denied" => RequestState::Denied,
        "used" => RequestState::Used,
        other => return Err(Error::Corrupt(format!("request state {other}"))),
    })
}

fn host_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Host> {
    let principals: String = row.try_get("principals_json")?;
    Ok(Host {
        name: row.try_get("name")?,
        principals: serde_json::from_str(&principals).map_err(|e| Error::Corrupt(e.to_string()))?,
        public_key: row.try_get("public_key")?,
        created_at: to_u64(row.try_get("created_at")?),
    })
}

fn review_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Review> {
    Ok(Review {
        serial: to_u64(row.try_get("serial")?),
        log_seq: to_u64(row.try_get("log_seq")?),
        user: row.try_get("user_name")?,
        role: row.try_get("role")?,
        reason: row.try_get("reason")?,
        issued_at: to_u64(row.try_get("issued_at")?),
        acked_at: row.try_get::<Option<i64>, _>("acked_at")?.map(to_u64),
        acked_by: row.try_get("acked_by")?,
        note: row.try_get("note")?,
    })
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
