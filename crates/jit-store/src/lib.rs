//! Storage for jitd behind one trait, so callers never see which database holds the data.
//!
//! # Layout
//! - [`model`]: the rows callers read and write (users, devices, certificates).
//! - [`Store`]: the operations jitd needs, each atomic on its own.
//! - [`ledger`]: every state change commits with its log record ([`Store::commit`]).
//! - [`sqlite`]: the embedded default (WAL, `synchronous=FULL`), with its migrations: one
//!   writer thread group-commits every write, a few reader threads answer reads.
//! - [`postgres`]: PostgreSQL, for several jitd replicas sharing one database.
//! - `stored` and `rules` (private): what both backends share: how values are stored and
//!   read back, and the decisions made around the SQL (error mapping, who may decide).
//!
//! Every operation that must hold across several jitd processes (single-use TOTP steps,
//! single-use enrollment tokens and nonces, unique serials, one linear log) is a single
//! conditional write or one transaction, never a read followed by a separate write.
#![forbid(unsafe_code)]

pub mod ledger;
pub mod model;
pub mod postgres;
mod rules;
mod sql;
pub mod sqlite;
mod stored;

use async_trait::async_trait;
use jit_log::{Entry, Record};
pub use ledger::{Applied, Change, Committed, Failpoint, RecordFor};

pub use model::{
    AccessRequest, Alert, CaKey, CaKeyState, CaKind, CertificateRow, Decision, Device, Host,
    IssuanceLinks, NewAccessRequest, NewDevice, RequestState, Review, Revocation, Revoked, User,
};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite database answered with an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("database migration {version} failed: {source}")]
    Migration {
        /// Migration version.
        version: i64,
        /// Cause (the database driver's error).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The thing to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The thing to change does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The serial was issued before (retry with another).
    #[error("serial already issued")]
    SerialTaken,
    /// The key was certified before: a certificate names the same client key fingerprint
    /// (never retry; the client needs a fresh key).
    #[error("this key was certified before")]
    KeyReused,
    /// The user of an issuance was disabled (checked in the issuance's own transaction, so
    /// a certificate never slips past a concurrent `jitd user disable`).
    #[error("user {0} is disabled")]
    UserDisabled(String),
    /// The database could not complete a grouped write (the whole group was rolled back).
    #[error("database write failed: {0}")]
    Unavailable(String),
    /// No database connection became free in time (the pool's acquire timeout) for a
    /// grouped write: jitd is overloaded or the database is slow. Nothing was written.
    #[error("database busy: {0}")]
    Busy(String),
    /// The change conflicts with the current state (e.g. deciding a request twice).
    #[error("{0}")]
    Conflict(String),
    /// The TOTP attempt an issuance carried was not accepted (see [`IssuanceLinks::totp`]):
    /// the attempt was recorded, nothing else was written.
    #[error("the TOTP attempt was not accepted")]
    TotpRefused(TotpOutcome),
    /// A stored value cannot be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// What a store [`Error`] means for the caller, so callers decide by meaning and never
/// match driver internals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The thing to create exists already, or the change conflicts with the current state
    /// ([`Error::AlreadyExists`], [`Error::Conflict`], [`Error::SerialTaken`]).
    Conflict,
    /// The thing to change or read does not exist ([`Error::NotFound`]).
    NotFound,
    /// The database is unreachable or cannot take the write (down, disk full, read-only):
    /// nothing was done; the same call may work later.
    Unavailable,
    /// No database connection became free in time: the caller is overloaded or the
    /// database slow; nothing was done, and the same call may work a moment later.
    Overloaded,
    /// A stored value does not decode, a migration failed, or a store outcome was treated
    /// as an error: trying again will not help (details belong in the server log).
    Internal,
}

impl Error {
    /// What this error means for the caller.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::AlreadyExists(_)
            | Error::Conflict(_)
            | Error::SerialTaken
            | Error::KeyReused
            | Error::UserDisabled(_) => ErrorKind::Conflict,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Busy(_) | Error::Database(sqlx::Error::PoolTimedOut) => ErrorKind::Overloaded,
            Error::Database(
                sqlx::Error::Decode(_)
                | sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::ColumnIndexOutOfBounds { .. }
                | sqlx::Error::TypeNotFound { .. },
            )
            | Error::Sqlite(
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::InvalidColumnName(_),
            )
            | Error::Corrupt(_)
            | Error::Migration { .. }
            | Error::TotpRefused(_) => ErrorKind::Internal,
            Error::Database(_) | Error::Sqlite(_) | Error::Unavailable(_) => ErrorKind::Unavailable,
        }
    }

    /// Whether the same call may work later, unchanged (the database was unreachable,
    /// unwritable or busy).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable | ErrorKind::Overloaded)
    }

    /// The error to give each caller of a grouped write that failed with `self`: the same
    /// meaning (busy stays busy), the cause as text.
    pub(crate) fn for_each_caller(&self) -> Error {
        match self.kind() {
            ErrorKind::Overloaded => Error::Busy(self.to_string()),
            _ => Error::Unavailable(self.to_string()),
        }
    }
}

/// A TOTP code, already checked against the user's secret in memory, for
/// [`Store::check_totp`] to count: the store decides whether the check may count at all (the
/// attempt limit) and whether its time step is still unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpCheck<'a> {
    /// The user whose code it is.
    pub user: &'a str,
    /// Time of the attempt (Unix seconds); a failure is recorded at this time.
    pub now: u64,
    /// Failures at or before this time no longer count.
    pub since: u64,
    /// With this many failures after `since`, the user is locked out.
    pub max_failures: u32,
    /// The time step the code matched, or `None` for a wrong or malformed code.
    pub step: Option<u64>,
    /// The signed request's nonce, when the caller has not remembered it yet: it is
    /// remembered first, in the same transaction, and a nonce seen before ends the check
    /// with [`TotpOutcome::ReplayedRequest`] (so a replayed request costs the user nothing).
    pub nonce: Option<RequestNonce<'a>>,
}

/// A signed request's nonce and how long it must be remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestNonce<'a> {
    /// The nonce as the request carried it.
    pub value: &'a str,
    /// Remember it until then (Unix seconds).
    pub expires_at: u64,
}

/// The outcome of [`Store::check_totp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpOutcome {
    /// The code was right and its step is now used up.
    Accepted,
    /// The code was wrong; recorded as a failure. `earlier_failures` counts the failures
    /// in the window before this one.
    Refused {
        /// Failures in the window before this attempt.
        earlier_failures: u32,
    },
    /// The code was right, but for a time step not later than the last one used: a replay
    /// of a code already accepted, not a guess, so nothing was recorded.
    Replayed,
    /// The request's nonce was seen before (a replayed request): nothing was checked or
    /// recorded.
    ReplayedRequest,
    /// Too many failures: nothing was checked or recorded. Their times (Unix seconds), for
    /// the retry-after computation.
    LockedOut(Vec<u64>),
}

/// Builds an issuance (record and certificate row) for the log position it is given.
pub type IssuanceBuilder =
    Box<dyn FnOnce(u64) -> Result<(Record, CertificateRow)> + Send + 'static>;

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything jitd stores. Implementations: [`sqlite::SqliteStore`] and
/// [`postgres::PostgresStore`].
///
/// Times are Unix seconds passed in by the caller (the store never reads a clock).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip, for health checks.
    async fn ping(&self) -> Result<()>;
    /// Write one tiny row (`health_probe`) durably, the way every write goes (SQLite: in
    /// the writer's next group commit; PostgreSQL: one upsert): proves the store can take
    /// writes, for health checks. Every probe changes the row (a counter), so none is a
    /// no-op; `now` is recorded as the time of the last probe.
    async fn probe_write(&self, now: u64) -> Result<()>;

    /// Look a user up.
    async fn user(&self, name: &str) -> Result<Option<User>>;
    /// All users, by name.
    async fn users(&self) -> Result<Vec<User>>;
    /// Every device (confirmed or not), by key fingerprint: for audits that walk the state.
    async fn devices(&self) -> Result<Vec<Device>>;
    /// Look a device up by key fingerprint.
    async fn device(&self, fingerprint: &str) -> Result<Option<Device>>;
    /// A device and its owner (`None` for a device whose user row is missing), looked up
    /// together: every signed request needs both.
    async fn device_with_owner(&self, fingerprint: &str) -> Result<Option<(Device, Option<User>)>> {
        let Some(device) = self.device(fingerprint).await? else {
            return Ok(None);
        };
        let owner = self.user(&device.user).await?;
        Ok(Some((device, owner)))
    }
    /// Count one TOTP attempt for `check.user`, atomically across every jitd sharing the
    /// store: with `max_failures` failures after `since` the user is locked out and nothing
    /// else happens; otherwise a right code (`step`) later than every step accepted before
    /// is accepted and its step used up, a right code for an earlier step is
    /// [`TotpOutcome::Replayed`] (not a guess: nothing recorded), and a wrong code (no
    /// `step`) is recorded as a failure. Since
    /// the attempt limit is checked in the same transaction that records the outcome, at
    /// most `max_failures` codes ever count per window, however many arrive at once.
    async fn check_totp(&self, check: TotpCheck<'_>) -> Result<TotpOutcome>;

    /// Remember a request nonce until `expires_at`; `false` if it was seen before (even if
    /// it has expired since but was not yet purged: the request's timestamp is stale by then).
    async fn remember_nonce(&self, nonce: &str, expires_at: u64) -> Result<bool>;
    /// Forget nonces that expired before `now` and TOTP failures at or before
    /// `failures_until`; returns how many rows went. Runs in the background, off the request
    /// path.
    async fn purge_expired(&self, now: u64, failures_until: u64) -> Result<u64>;

    /// Apply `change` and append the record `record` builds from its outcome, in ONE
    /// transaction, durably; returns what the change came to and the record's sequence
    /// number. If the change is refused (its error says why), the record cannot be built,
    /// or the append fails, nothing is written. The only way to change state besides
    /// [`Store::record_issuance_at`] (and the TOTP, nonce and alert bookkeeping, which
    /// are not state the log describes).
    async fn commit(&self, change: Change, record: RecordFor) -> Result<Committed>;
    /// Append a record that goes with no other state (a refused request): a
    /// [`Change::Note`] commit.
    async fn append_log(&self, record: &Record) -> Result<u64> {
        let committed = self
            .commit(Change::Note, ledger::record(record.clone()))
            .await?;
        Ok(committed.seq)
    }
    /// The test-only fault of [`Store::commit`] (see [`Failpoint`]).
    fn failpoint(&self) -> &Failpoint;
    /// Append an issuance record and the certificate's row in one transaction, using up the
    /// approved request and queueing the break-glass review that `links` name.
    /// [`Error::SerialTaken`] (and nothing written) if the serial was issued before;
    /// [`Error::KeyReused`] (and nothing written) if a certificate for the same client key
    /// fingerprint exists (checked by the insert itself, so concurrent issuances of one key
    /// cannot both succeed); [`Error::Conflict`] (and nothing written) if the request is no
    /// longer usable.
    async fn record_issuance(
        &self,
        record: &Record,
        certificate: &CertificateRow,
        links: IssuanceLinks<'_>,
    ) -> Result<u64> {
        let (record, certificate) = (record.clone(), certificate.clone());
        self.record_issuance_at(Box::new(move |_| Ok((record, certificate))), links)
            .await
    }
    /// Like [`Store::record_issuance`], but the record and certificate are built once the
    /// log position is known and the chain head is locked (so a certificate can carry a
    /// signed receipt naming its own log index). Nothing is written if `build` fails.
    async fn record_issuance_at(
        &self,
        build: IssuanceBuilder,
        links: IssuanceLinks<'_>,
    ) -> Result<u64>;
    /// Log entries with `seq >= from`, in order, at most `limit`.
    async fn log_entries(&self, from: u64, limit: u64) -> Result<Vec<Entry>>;
    /// Number of log entries.
    async fn log_len(&self) -> Result<u64>;
    /// Certificates of a user that are still valid at `now`.
    async fn unexpired_certificates(&self, user: &str, now: u64) -> Result<Vec<CertificateRow>>;

    /// One request, with its state as of `now`.
    async fn access_request(&self, id: &str, now: u64) -> Result<Option<AccessRequest>>;
    /// Requests created after `since`, newest first, with their state as of `now`.
    async fn recent_requests(&self, since: u64, now: u64) -> Result<Vec<AccessRequest>>;
    /// The oldest approved, unused, still usable request of `requester` for `role`.
    async fn usable_request(
        &self,
        requester: &str,
        role: &str,
        now: u64,
    ) -> Result<Option<AccessRequest>>;
    /// Number of requests pending at `now`.
    async fn pending_request_count(&self, now: u64) -> Result<u64>;

    /// Queue an alert for webhook delivery; returns its queue ID.
    async fn enqueue_alert(&self, kind: &str, payload: &str, now: u64) -> Result<i64>;
    /// Undelivered alerts due at `now`, oldest first.
    async fn due_alerts(&self, now: u64, limit: u64) -> Result<Vec<Alert>>;
    /// Mark an alert delivered.
    async fn alert_delivered(&self, id: i64, now: u64) -> Result<()>;
    /// Record a failed delivery and when to try again.
    async fn alert_failed(&self, id: i64, error: &str, next_attempt_at: u64) -> Result<()>;

    /// Certificates signed by the CA key `ca_fingerprint` that are still valid at `now`.
    async fn unexpired_certificates_by_ca(
        &self,
        ca_fingerprint: &str,
        now: u64,
    ) -> Result<Vec<CertificateRow>>;
    /// Every certificate ever issued (expired ones too), by serial: for audits that walk
    /// the state.
    async fn certificates(&self) -> Result<Vec<CertificateRow>>;
    /// One certificate by serial.
    async fn certificate(&self, serial: u64) -> Result<Option<CertificateRow>>;
    /// One certificate by key ID.
    async fn certificate_by_key_id(&self, key_id: &str) -> Result<Option<CertificateRow>>;
    /// The certificate that certified the key with this `SHA256:` fingerprint, if any.
    async fn certificate_by_client_key(&self, fingerprint: &str) -> Result<Option<CertificateRow>>;
    /// Record a revocation; `false` if the same thing was revoked before.
    /// Revocations still in force at `now` (certificate revocations leave once expired).
    async fn revocations(&self, now: u64) -> Result<Vec<Revocation>>;
    /// Whether a certificate serial is revoked.
    async fn is_serial_revoked(&self, serial: u64) -> Result<bool>;

    /// The host an unused, unexpired token (by the hash of its secret) belongs to.
    async fn host_by_token(&self, token_hash: &str, now: u64) -> Result<Option<Host>>;
    /// One host.
    async fn host(&self, name: &str) -> Result<Option<Host>>;
    /// The host whose certified key is `public_key`.
    async fn host_by_key(&self, public_key: &str) -> Result<Option<Host>>;

    /// Store a signed checkpoint (JSON) for `tree_size`; `false` if that size has one already.
    async fn add_checkpoint(&self, tree_size: u64, signed_json: &str, now: u64) -> Result<bool>;
    /// Every stored checkpoint (JSON), by tree size.
    async fn checkpoints(&self) -> Result<Vec<String>>;
    /// The checkpoint (JSON) with the largest tree size.
    async fn latest_checkpoint(&self) -> Result<Option<String>>;
    /// Sequence number of the issuance record of certificate `serial`.
    async fn issuance_seq(&self, serial: u64) -> Result<Option<u64>>;

    /// Every CA key jitd knows (active, previous and retired), newest first per kind.
    async fn ca_keys(&self) -> Result<Vec<CaKey>>;

    /// Break-glass issuances not yet reviewed, oldest first.
    async fn pending_reviews(&self) -> Result<Vec<Review>>;
}

/// Open the store a `database` setting names: a `postgres://` or `postgresql://` URL, or
/// `sqlite://PATH` (relative paths are under `data_dir`) or a bare path.
pub async fn open(database: &str, data_dir: &std::path::Path) -> Result<std::sync::Arc<dyn Store>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Ok(std::sync::Arc::new(
            postgres::PostgresStore::connect(database).await?,
        ));
    }
    let path = data_dir.join(database.strip_prefix("sqlite://").unwrap_or(database));
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open(&path).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_meaning() {
        let cases = [
            (Error::AlreadyExists("user a".into()), ErrorKind::Conflict),
            (Error::Conflict("decided".into()), ErrorKind::Conflict),
            (Error::NotFound("user a".into()), ErrorKind::NotFound),
            (
                Error::Database(sqlx::Error::PoolTimedOut),
                ErrorKind::Overloaded,
            ),
            (Error::Busy("no connection".into()), ErrorKind::Overloaded),
            (
                Error::Database(sqlx::Error::PoolClosed),
                ErrorKind::Unavailable,
            ),
            (
                Error::Unavailable("disk full".into()),
                ErrorKind::Unavailable,
            ),
            (
                Error::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    None,
                )),
                ErrorKind::Unavailable,
            ),
            (Error::Corrupt("bad row".into()), ErrorKind::Internal),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(
                error.is_transient(),
                matches!(kind, ErrorKind::Unavailable | ErrorKind::Overloaded)
            );
        }
    }

    #[test]
    fn a_grouped_write_tells_each_caller_what_the_failure_meant() {
        let busy = Error::Database(sqlx::Error::PoolTimedOut).for_each_caller();
        assert_eq!(busy.kind(), ErrorKind::Overloaded);
        let down = Error::Database(sqlx::Error::PoolClosed).for_each_caller();
        assert_eq!(down.kind(), ErrorKind::Unavailable);
    }
}
