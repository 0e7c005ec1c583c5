//! The embedded SQLite store: one file under the data directory, WAL mode,
//! `synchronous=FULL` so an acknowledged log record survives a power cut. Writes are
//! group-committed by one writer thread and reads answered by reader threads (see
//! `engine`), so the async runtime never waits on the disk.

use std::path::Path;

use async_trait::async_trait;
use jit_log::Entry;
use rusqlite::params;

use crate::ledger::{Change, Committed, Failpoint, RecordFor};
use crate::model::{
    AccessRequest, Alert, CaKey, CertificateRow, Device, Host, IssuanceLinks, Review, Revocation,
    User,
};
use crate::stored::{self, to_i64, to_u64};
use crate::{Error, Result, Store};
use query::{all, column, execute, first};

mod engine;
mod hosts;
mod ledger;
mod log;
mod query;
mod requests;
mod schema;
mod totp;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    engine: engine::Engine,
    failpoint: std::sync::Arc<Failpoint>,
}

/// One user by name.
fn user_in(c: &rusqlite::Connection, name: &str) -> Result<Option<User>> {
    first(c, "SELECT * FROM users WHERE name = ?", [name], |row| {
        stored::user(row)
    })
}

/// One device by key fingerprint.
fn device_in(c: &rusqlite::Connection, fingerprint: &str) -> Result<Option<Device>> {
    first(
        c,
        "SELECT * FROM devices WHERE fingerprint = ?",
        [fingerprint],
        |row| stored::device(row),
    )
}

impl SqliteStore {
    /// Open (creating if needed) the database file and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        let engine = tokio::task::spawn_blocking(move || {
            schema::create_private(&path)?;
            let mut writer = engine::connect(&path, false)?;
            schema::migrate(&mut writer)?;
            engine::Engine::start(&path, writer)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("opening the SQLite store failed: {e}")))??;
        Ok(Self {
            engine,
            failpoint: Default::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.engine
            .read(|c| first(c, "SELECT 1", [], column::<i64>).map(drop))
            .await
    }

    async fn probe_write(&self, now: u64) -> Result<()> {
        self.engine
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at, probes = health_probe.probes + 1",
                    [to_i64(now)],
                )
                .map(drop)
            })
            .await
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let name = name.to_owned();
        self.engine.read(move |c| user_in(c, &name)).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.engine
            .read(|c| {
                all(c, "SELECT * FROM users ORDER BY name", [], |row| {
                    stored::user(row)
                })
            })
            .await
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        self.engine
            .read(|c| {
                all(c, "SELECT * FROM devices ORDER BY fingerprint", [], |row| {
                    stored::device(row)
                })
            })
            .await
    }

    async fn device(&self, fingerprint: &str) -> Result<Option<Device>> {
        let fingerprint = fingerprint.to_owned();
        self.engine.read(move |c| device_in(c, &fingerprint)).await
    }

    async fn device_with_owner(&self, fingerprint: &str) -> Result<Option<(Device, Option<User>)>> {
        let fingerprint = fingerprint.to_owned();
        self.engine
            .read(move |c| {
                let Some(device) = device_in(c, &fingerprint)? else {
                    return Ok(None);
                };
                let owner = user_in(c, &device.user)?;
                Ok(Some((device, owner)))
            })
            .await
    }

    async fn check_totp(&self, check: crate::TotpCheck<'_>) -> Result<crate::TotpOutcome> {
        let check = crate::model::OwnedTotpCheck::from(check);
        // On the writer thread, inside BEGIN IMMEDIATE: attempts (from any process) are
        // serialised by the write lock.
        self.engine
            .write(move |c| totp::check_in(c, check.as_check()))
            .await
    }

    async fn remember_nonce(&self, nonce: &str, expires_at: u64) -> Result<bool> {
        let nonce = nonce.to_owned();
        self.engine
            .write(move |c| totp::remember_nonce_in(c, &nonce, expires_at))
            .await
    }

    async fn purge_expired(&self, now: u64, failures_until: u64) -> Result<u64> {
        self.engine
            .write(move |c| {
                let nonces = execute(
                    c,
                    "DELETE FROM request_nonces WHERE expires_at < ?",
                    [to_i64(now)],
                )?;
                let failures = execute(
                    c,
                    "DELETE FROM totp_failures WHERE at <= ?",
                    [to_i64(failures_until)],
                )?;
                Ok((nonces + failures) as u64)
            })
            .await
    }

    async fn commit(&self, change: Change, record: RecordFor) -> Result<Committed> {
        let failpoint = self.failpoint.clone();
        self.engine
            .write(move |c| ledger::commit(c, &change, record, &failpoint))
            .await
    }

    fn failpoint(&self) -> &Failpoint {
        &self.failpoint
    }

    async fn record_issuance_at(
        &self,
        build: crate::IssuanceBuilder,
        links: IssuanceLinks<'_>,
    ) -> Result<u64> {
        let links = crate::model::OwnedLinks::from(links);
        self.engine
            .write(move |c| log::issue(c, build, &links))
            .await?
            .map_err(Error::TotpRefused)
    }

    async fn log_entries(&self, from: u64, limit: u64) -> Result<Vec<Entry>> {
        self.engine
            .read(move |c| log::entries(c, from, limit))
            .await
    }

    async fn log_len(&self) -> Result<u64> {
        self.engine.read(log::len).await
    }

    async fn unexpired_certificates(&self, user: &str, now: u64) -> Result<Vec<CertificateRow>> {
        let user = user.to_owned();
        let certificates = self
            .engine
            .read(move |c| {
                all(
                    c,
                    "SELECT * FROM certificates WHERE user_name = ? AND valid_before > ?",
                    params![user, to_i64(now)],
                    |row| stored::certificate(row),
                )
            })
            .await?;
        Ok(stored::by_serial(certificates))
    }

    async fn access_request(&self, id: &str, now: u64) -> Result<Option<AccessRequest>> {
        let id = id.to_owned();
        self.engine.read(move |c| requests::read(c, &id, now)).await
    }

    async fn recent_requests(&self, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
        self.engine
            .read(move |c| requests::recent(c, since, now))
            .await
    }

    async fn usable_request(
        &self,
        requester: &str,
        role: &str,
        now: u64,
    ) -> Result<Option<AccessRequest>> {
        let (requester, role) = (requester.to_owned(), role.to_owned());
        self.engine
            .read(move |c| requests::usable(c, &requester, &role, now))
            .await
    }

    async fn pending_request_count(&self, now: u64) -> Result<u64> {
        self.engine
            .read(move |c| requests::pending_count(c, now))
            .await
    }

    async fn enqueue_alert(&self, kind: &str, payload: &str, now: u64) -> Result<i64> {
        let (kind, payload) = (kind.to_owned(), payload.to_owned());
        self.engine
            .write(move |c| {
                first(
                    c,
                    "INSERT INTO alerts (kind, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?) RETURNING id",
                    params![kind, payload, to_i64(now), to_i64(now)],
                    column,
                )?
                .ok_or_else(|| Error::Corrupt("no alert ID was returned".into()))
            })
            .await
    }

    async fn due_alerts(&self, now: u64, limit: u64) -> Result<Vec<Alert>> {
        self.engine
            .read(move |c| {
                all(
                    c,
                    "SELECT id, kind, payload, attempts, created_at FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                    params![to_i64(now), to_i64(limit)],
                    |row| stored::alert(row),
                )
            })
            .await
    }

    async fn alert_delivered(&self, id: i64, now: u64) -> Result<()> {
        self.engine
            .write(move |c| {
                execute(
                    c,
                    "UPDATE alerts SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                    params![to_i64(now), id],
                )
                .map(drop)
            })
            .await
    }

    async fn alert_failed(&self, id: i64, error: &str, next_attempt_at: u64) -> Result<()> {
        let error = error.to_owned();
        self.engine
            .write(move |c| {
                execute(
                    c,
                    "UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                    params![error, to_i64(next_attempt_at), id],
                )
                .map(drop)
            })
            .await
    }

    async fn unexpired_certificates_by_ca(
        &self,
        ca_fingerprint: &str,
        now: u64,
    ) -> Result<Vec<CertificateRow>> {
        let ca_fingerprint = ca_fingerprint.to_owned();
        self.engine
            .read(move |c| {
                all(
                    c,
                    "SELECT * FROM certificates WHERE ca_fingerprint = ? AND valid_before > ?",
                    params![ca_fingerprint, to_i64(now)],
                    |row| stored::certificate(row),
                )
            })
            .await
    }

    async fn certificates(&self) -> Result<Vec<CertificateRow>> {
        let certificates = self
            .engine
            .read(|c| {
                all(c, "SELECT * FROM certificates", [], |row| {
                    stored::certificate(row)
                })
            })
            .await?;
        Ok(stored::by_serial(certificates))
    }

    async fn certificate(&self, serial: u64) -> Result<Option<CertificateRow>> {
        self.engine
            .read(move |c| {
                first(
                    c,
                    "SELECT * FROM certificates WHERE serial = ?",
                    [to_i64(serial)],
                    |row| stored::certificate(row),
                )
            })
            .await
    }

    async fn certificate_by_key_id(&self, key_id: &str) -> Result<Option<CertificateRow>> {
        let key_id = key_id.to_owned();
        self.engine
            .read(move |c| {
                first(
                    c,
                    "SELECT * FROM certificates WHERE key_id = ?",
                    [&key_id],
                    |row| stored::certificate(row),
                )
            })
            .await
    }

    async fn certificate_by_client_key(&self, fingerprint: &str) -> Result<Option<CertificateRow>> {
        let fingerprint = fingerprint.to_owned();
        self.engine
            .read(move |c| {
                first(
                    c,
                    "SELECT * FROM certificates WHERE client_key_fingerprint = ?",
                    [&fingerprint],
                    |row| stored::certificate(row),
                )
            })
            .await
    }

    async fn revocations(&self, now: u64) -> Result<Vec<Revocation>> {
        self.engine
            .read(move |c| {
                all(
                    c,
                    "SELECT * FROM revocations WHERE valid_before IS NULL OR valid_before > ? ORDER BY id",
                    [to_i64(now)],
                    |row| stored::revocation(row),
                )
            })
            .await
    }

    async fn is_serial_revoked(&self, serial: u64) -> Result<bool> {
        self.engine
            .read(move |c| {
                let found = first(
                    c,
                    "SELECT id FROM revocations WHERE kind = 'serial' AND value = ?",
                    [serial.to_string()],
                    column::<i64>,
                )?;
                Ok(found.is_some())
            })
            .await
    }

    async fn host_by_token(&self, token_hash: &str, now: u64) -> Result<Option<Host>> {
        let token_hash = token_hash.to_owned();
        self.engine
            .read(move |c| hosts::by_token(c, &token_hash, now))
            .await
    }

    async fn host(&self, name: &str) -> Result<Option<Host>> {
        let name = name.to_owned();
        self.engine.read(move |c| hosts::by_name(c, &name)).await
    }

    async fn host_by_key(&self, public_key: &str) -> Result<Option<Host>> {
        let public_key = public_key.to_owned();
        self.engine
            .read(move |c| hosts::by_key(c, &public_key))
            .await
    }

    async fn add_checkpoint(&self, tree_size: u64, signed_json: &str, now: u64) -> Result<bool> {
        let signed_json = signed_json.to_owned();
        self.engine
            .write(move |c| {
                let added = execute(
                    c,
                    "INSERT INTO checkpoints (tree_size, signed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    params![to_i64(tree_size), signed_json, to_i64(now)],
                )?;
                Ok(added == 1)
            })
            .await
    }

    async fn checkpoints(&self) -> Result<Vec<String>> {
        self.engine
            .read(|c| {
                all(
                    c,
                    "SELECT signed FROM checkpoints ORDER BY tree_size",
                    [],
                    column,
                )
            })
            .await
    }

    async fn latest_checkpoint(&self) -> Result<Option<String>> {
        self.engine
            .read(|c| {
                first(
                    c,
                    "SELECT signed FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                    [],
                    column,
                )
            })
            .await
    }

    async fn issuance_seq(&self, serial: u64) -> Result<Option<u64>> {
        self.engine
            .read(move |c| {
                first(
                    c,
                    "SELECT log_seq FROM certificates WHERE serial = ?",
                    [to_i64(serial)],
                    |row| Ok(to_u64(row.get(0)?)),
                )
            })
            .await
    }

    async fn ca_keys(&self) -> Result<Vec<CaKey>> {
        self.engine
            .read(|c| all(c, crate::sql::CA_KEYS, [], |row| stored::ca_key(row)))
            .await
    }

    async fn pending_reviews(&self) -> Result<Vec<Review>> {
        self.engine
            .read(|c| {
                all(
                    c,
                    "SELECT * FROM break_glass_reviews WHERE acked_at IS NULL ORDER BY issued_at, log_seq",
                    [],
                    |row| stored::review(row),
                )
            })
            .await
    }
}

/// A migrated connection to a fresh database, for unit tests of SQL.
#[cfg(test)]
pub(crate) fn test_connection(path: &Path) -> rusqlite::Connection {
    schema::create_private(path).unwrap();
    let mut connection = engine::connect(path, false).unwrap();
    schema::migrate(&mut connection).unwrap();
    connection
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
