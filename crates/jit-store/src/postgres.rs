//! PostgreSQL, so several jitd replicas behind a load balancer can share users, devices,
//! TOTP state, approvals, serials and the log.
//!
//! Every operation is correct with several jitd processes on one database: single-use
//! things (TOTP steps, enrollment and host tokens, nonces) are one conditional statement
//! (a TOTP attempt one function call under a per-user lock); log appends are group-committed
//! by one writer per process (`commit`), each batch locking the one `log_head` row, so the
//! chain stays one linear sequence; a decision locks its request row (`FOR UPDATE`). The
//! statements of every issuance request run on connections kept out of the pool
//! (`lanes`), one round trip each. The pool gives up acquiring a connection
//! after [`ACQUIRE_TIMEOUT`], so while the database is down requests fail fast with
//! [`Error::Database`], and it opens fresh connections by itself once it is back.

use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use jit_log::Entry;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row as _;

use crate::ledger::{Change, Committed, Failpoint, RecordFor};
use crate::model::{
    AccessRequest, Alert, CaKey, CertificateRow, Device, Host, IssuanceLinks, Review, Revocation,
    User,
};
use crate::stored::{self, to_i64, to_u64};
use crate::{rules, Error, Result, Store};

mod commit;
mod lanes;
mod ledger;
mod log;
mod migrate;
mod requests;

/// How long a request waits for a pooled connection before failing with [`Error::Database`].
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1200);

/// Connections one jitd process keeps open at most (plus the log writer's own).
const MAX_CONNECTIONS: u32 = 16;

/// A pooled connection idle for longer than this is tested (one round trip) before use.
/// Connections in steady use are not, which saves a round trip per query; one idle since
/// before a database restart has been idle at least as long as the restart took, so it is
/// noticed and replaced instead of failing a request after the database is back.
const TEST_WHEN_IDLE_FOR: Duration = Duration::from_millis(500);

/// What a pool error means. sqlx answers `PoolTimedOut` both when every connection is open
/// and busy (jitd is overloaded: [`Error::Busy`]) and when it kept failing to open one until
/// the deadline (the database is down: [`Error::Unavailable`]); fewer open connections than
/// the pool may hold tells the second case.
pub(super) fn pool_error(pool: &PgPool, error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::PoolTimedOut if pool.size() < MAX_CONNECTIONS => {
            Error::Unavailable("no database connection could be opened in time".into())
        }
        sqlx::Error::PoolTimedOut => Error::Busy("every database connection is in use".into()),
        other => other.into(),
    }
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    lanes: std::sync::Arc<lanes::Lanes>,
    writer: commit::Writer,
}

impl PostgresStore {
    /// Connect to the database a `postgres://` URL names and bring its schema up to date
    /// (replicas starting together take turns: the migration holds an advisory lock).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("jitd");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Instead of a round trip before every query: a connection whose query fails
            // is tested when it returns to the pool, and dropped if broken (sqlx does so).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > TEST_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        migrate::run(&pool).await?;
        let writer = commit::Writer::start(pool.clone());
        let lanes = std::sync::Arc::new(lanes::Lanes::new(pool.clone()));
        Ok(Self {
            pool,
            lanes,
            writer,
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| pool_error(&self.pool, e))?;
        Ok(())
    }

    async fn probe_write(&self, now: u64) -> Result<()> {
        sqlx::query(
            "INSERT INTO health_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at, probes = health_probe.probes + 1",
        )
        .bind(to_i64(now))
        .execute(&self.pool)
        .await
        .map_err(|e| pool_error(&self.pool, e))?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let mut conn = self.lanes.take().await?;
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await;
        self.lanes.give_back(conn, &row);
        row?.as_ref().map(stored::user).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored::user).collect()
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        let rows = sqlx::query("SELECT * FROM devices ORDER BY fingerprint")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored::device).collect()
    }

    async fn device(&self, fingerprint: &str) -> Result<Option<Device>> {
        let mut conn = self.lanes.take().await?;
        let row = sqlx::query("SELECT * FROM devices WHERE fingerprint = $1")
            .bind(fingerprint)
            .fetch_optional(&mut *conn)
            .await;
        self.lanes.give_back(conn, &row);
        row?.as_ref().map(stored::device).transpose()
    }

    async fn check_totp(&self, check: crate::TotpCheck<'_>) -> Result<crate::TotpOutcome> {
        // One statement: the function takes the user's lock, counts, and records.
        let mut conn = self.lanes.take().await?;
        let row = sqlx::query(
            "SELECT replayed, accepted, failures FROM jit_check_totp($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(check.user)
        .bind(to_i64(check.now))
        .bind(to_i64(check.since))
        .bind(i64::from(check.max_failures))
        .bind(check.step.map(to_i64))
        .bind(check.nonce.map(|n| n.value))
        .bind(check.nonce.map(|n| to_i64(n.expires_at)))
        .fetch_one(&mut *conn)
        .await;
        self.lanes.give_back(conn, &row);
        let row = row?;
        if row.try_get::<bool, _>("replayed")? {
            return Ok(crate::TotpOutcome::ReplayedRequest);
        }
        let accepted: Option<bool> = row.try_get("accepted")?;
        let times: Vec<i64> = row.try_get("failures")?;
        Ok(match accepted {
            Some(true) => crate::TotpOutcome::Accepted,
            Some(false) => rules::not_accepted(times.len(), check.step),
            None => crate::TotpOutcome::LockedOut(times.into_iter().map(to_u64).collect()),
        })
    }

    async fn remember_nonce(&self, nonce: &str, expires_at: u64) -> Result<bool> {
        let mut conn = self.lanes.take().await?;
        let done = sqlx::query(
            "INSERT INTO request_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(nonce)
        .bind(to_i64(expires_at))
        .execute(&mut *conn)
        .await;
        self.lanes.give_back(conn, &done);
        Ok(done?.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: u64, failures_until: u64) -> Result<u64> {
        let nonces = sqlx::query("DELETE FROM request_nonces WHERE expires_at < $1")
            .bind(to_i64(now))
            .execute(&self.pool)
            .await?;
        let failures = sqlx::query("DELETE FROM totp_failures WHERE at <= $1")
            .bind(to_i64(failures_until))
            .execute(&self.pool)
            .await?;
        Ok(nonces.rows_affected() + failures.rows_affected())
    }

    async fn commit(&self, change: Change, record: RecordFor) -> Result<Committed> {
        self.writer
            .write(commit::Write::Change(change, record))
            .await
    }

    fn failpoint(&self) -> &Failpoint {
        self.writer.failpoint()
    }

    async fn record_issuance_at(
        &self,
        build: crate::IssuanceBuilder,
        links: IssuanceLinks<'_>,
    ) -> Result<u64> {
        // The TOTP attempt is its own statement here (a separate commit before the grouped
        // issuance): a code is spent even if the issuance then fails.
        if let Some(check) = links.totp {
            match self.check_totp(check).await? {
                crate::TotpOutcome::Accepted => {}
                refused => return Err(Error::TotpRefused(refused)),
            }
        }
        let links = IssuanceLinks {
            totp: None,
            ..links
        };
        let committed = self
            .writer
            .write(commit::Write::Issue(build, links.into()))
            .await?;
        Ok(committed.seq)
    }

    async fn log_entries(&self, from: u64, limit: u64) -> Result<Vec<Entry>> {
        log::entries(&self.pool, from, limit).await
    }

    async fn log_len(&self) -> Result<u64> {
        log::len(&self.pool).await
    }

    async fn unexpired_certificates(&self, user: &str, now: u64) -> Result<Vec<CertificateRow>> {
        let rows =
            sqlx::query("SELECT * FROM certificates WHERE user_name = $1 AND valid_before > $2")
                .bind(user)
                .bind(to_i64(now))
                .fetch_all(&self.pool)
                .await?;
        let certificates = rows
            .iter()
            .map(stored::certificate)
            .collect::<Result<_>>()?;
        Ok(stored::by_serial(certificates))
    }

    async fn access_request(&self, id: &str, now: u64) -> Result<Option<AccessRequest>> {
        requests::read(&self.pool, id, now).await
    }

    async fn recent_requests(&self, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
        requests::recent(&self.pool, since, now).await
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
            "INSERT INTO alerts (kind, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(kind)
        .bind(payload)
        .bind(to_i64(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn due_alerts(&self, now: u64, limit: u64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts, created_at FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(to_i64(now))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::alert).collect()
    }

    async fn alert_delivered(&self, id: i64, now: u64) -> Result<()> {
        sqlx::query("UPDATE alerts SET delivered_at = $1, attempts = attempts + 1 WHERE id = $2")
            .bind(to_i64(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn alert_failed(&self, id: i64, error: &str, next_attempt_at: u64) -> Result<()> {
        sqlx::query("UPDATE alerts SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3")
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
        let rows = sqlx::query(
            "SELECT * FROM certificates WHERE ca_fingerprint = $1 AND valid_before > $2",
        )
        .bind(ca_fingerprint)
        .bind(to_i64(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::certificate).collect()
    }

    async fn certificates(&self) -> Result<Vec<CertificateRow>> {
        let rows = sqlx::query("SELECT * FROM certificates")
            .fetch_all(&self.pool)
            .await?;
        let certificates = rows
            .iter()
            .map(stored::certificate)
            .collect::<Result<_>>()?;
        Ok(stored::by_serial(certificates))
    }

    async fn certificate(&self, serial: u64) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE serial = $1")
            .bind(to_i64(serial))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::certificate).transpose()
    }

    async fn certificate_by_key_id(&self, key_id: &str) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::certificate).transpose()
    }

    async fn certificate_by_client_key(&self, fingerprint: &str) -> Result<Option<CertificateRow>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE client_key_fingerprint = $1")
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::certificate).transpose()
    }

    async fn revocations(&self, now: u64) -> Result<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT * FROM revocations WHERE valid_before IS NULL OR valid_before > $1 ORDER BY id",
        )
        .bind(to_i64(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::revocation).collect()
    }

    async fn is_serial_revoked(&self, serial: u64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM revocations WHERE kind = 'serial' AND value = $1")
                .bind(serial.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn host_by_token(&self, token_hash: &str, now: u64) -> Result<Option<Host>> {
        let row = sqlx::query(
            "SELECT * FROM hosts WHERE token_hash = $1 AND token_used_at IS NULL AND token_expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_i64(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn host(&self, name: &str) -> Result<Option<Host>> {
        let row = sqlx::query("SELECT * FROM hosts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn host_by_key(&self, public_key: &str) -> Result<Option<Host>> {
        let row = sqlx::query("SELECT * FROM hosts WHERE public_key = $1")
            .bind(public_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored::host).transpose()
    }

    async fn add_checkpoint(&self, tree_size: u64, signed_json: &str, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO checkpoints (tree_size, signed, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
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
            sqlx::query_scalar("SELECT log_seq FROM certificates WHERE serial = $1")
                .bind(to_i64(serial))
                .fetch_optional(&self.pool)
                .await?;
        Ok(seq.map(to_u64))
    }

    async fn ca_keys(&self) -> Result<Vec<CaKey>> {
        let rows = sqlx::query(crate::sql::CA_KEYS)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored::ca_key).collect()
    }

    async fn pending_reviews(&self) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT * FROM break_glass_reviews WHERE acked_at IS NULL ORDER BY issued_at, log_seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored::review).collect()
    }
}
