//! The decisions every backend makes the same way around its own SQL: which constraint
//! violation means which [`Error`], who may decide a request and what a decision does, how
//! the next log entry is sealed onto the chain head, why a review cannot be closed.

use jit_log::{Entry, Record};

use crate::model::{NewAccessRequest, RequestState};
use crate::stored::to_u64;
use crate::{Error, Result};

/// The unique index on `certificates.client_key_fingerprint` (both backends' migration 7).
const CLIENT_KEY_INDEX: &str = "certificates_client_key";

/// A database driver's error that can say whether it is a unique-constraint violation.
pub(crate) trait DriverError: Into<Error> {
    /// Whether a unique (or primary key) constraint refused the write.
    fn is_unique_violation(&self) -> bool;
    /// Whether the unique index on certificates' client key fingerprints refused the write.
    fn is_client_key_violation(&self) -> bool;
}

impl DriverError for sqlx::Error {
    fn is_unique_violation(&self) -> bool {
        matches!(self, sqlx::Error::Database(db) if db.is_unique_violation())
    }
    fn is_client_key_violation(&self) -> bool {
        matches!(self, sqlx::Error::Database(db)
            if db.is_unique_violation() && db.constraint() == Some(CLIENT_KEY_INDEX))
    }
}

impl DriverError for rusqlite::Error {
    fn is_unique_violation(&self) -> bool {
        matches!(
            self.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation)
        ) && matches!(
            self,
            rusqlite::Error::SqliteFailure(failure, _)
                if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }
    fn is_client_key_violation(&self) -> bool {
        // SQLite names the columns, not the index: "UNIQUE constraint failed: table.column".
        self.is_unique_violation()
            && matches!(self, rusqlite::Error::SqliteFailure(_, Some(message))
                if message.ends_with("certificates.client_key_fingerprint"))
    }
}

/// `error`, or `instead()` when it is a unique-constraint violation (the thing exists).
pub(crate) fn on_unique<E: DriverError>(error: E, instead: impl FnOnce() -> Error) -> Error {
    match error.is_unique_violation() {
        true => instead(),
        false => error.into(),
    }
}

/// What a refused certificate insert means: [`Error::KeyReused`] when the key was certified
/// before, [`Error::SerialTaken`] when the serial was, else the driver's error.
pub(crate) fn on_certificate_insert<E: DriverError>(error: E) -> Error {
    match (error.is_client_key_violation(), error.is_unique_violation()) {
        (true, _) => Error::KeyReused,
        (false, true) => Error::SerialTaken,
        (false, false) => error.into(),
    }
}

/// Refuse a decision on a request that is not pending (as of the decision's time) or that
/// the approver made themselves.
pub(crate) fn check_decidable(
    request: &NewAccessRequest,
    state: RequestState,
    approver: &str,
) -> Result<()> {
    if state != RequestState::Pending {
        return Err(Error::Conflict(format!(
            "request {} is {}, not pending",
            request.id,
            state.as_str()
        )));
    }
    if request.requester == approver {
        return Err(Error::Conflict(
            "nobody can decide their own request".into(),
        ));
    }
    Ok(())
}

/// The error when an approver decides the same request twice.
pub(crate) fn decided_twice(approver: &str, id: &str) -> Error {
    Error::Conflict(format!("{approver} already decided request {id}"))
}

/// What a recorded approval does to its request: with `approvals` distinct approvals the
/// request becomes approved, usable until the returned time; `None` while more are needed.
pub(crate) fn approved_until(request: &NewAccessRequest, approvals: i64, now: u64) -> Option<u64> {
    (approvals >= i64::from(request.approvals_needed))
        .then(|| now.saturating_add(request.window_seconds))
}

/// The error when an issuance names a request that cannot be used (any more).
pub(crate) fn request_unusable(id: &str) -> Error {
    Error::Conflict(format!("request {id} is no longer usable"))
}

/// Seal `record` as entry `seq` after the chain head whose hash is `previous_hex`.
pub(crate) fn seal_after(previous_hex: &str, seq: u64, record: &Record) -> Result<Entry> {
    let corrupt = || Error::Corrupt("log head hash".into());
    let previous: jit_log::Hash = hex::decode(previous_hex)
        .map_err(|_| corrupt())?
        .try_into()
        .map_err(|_| corrupt())?;
    Ok(jit_log::seal(&previous, seq, record).0)
}

/// Why the review of `serial` could not be closed: it was closed before (`exists`) or there
/// is no break-glass issuance with that serial.
pub(crate) fn review_not_open(serial: u64, exists: bool) -> Error {
    match exists {
        true => Error::Conflict(format!("the review of serial {serial} is already closed")),
        false => Error::NotFound(format!("break-glass issuance with serial {serial}")),
    }
}

/// The lockout outcome when the failures in the window (`times`, Unix seconds) reach `max`.
pub(crate) fn locked_out(times: &[i64], max: u32) -> Option<crate::TotpOutcome> {
    (times.len() >= max as usize)
        .then(|| crate::TotpOutcome::LockedOut(times.iter().copied().map(to_u64).collect()))
}

/// The outcome of a code that did not use up a step: a right code (it matched `step`) is a
/// replay of one used before, not recorded; a wrong one was recorded as a failure.
pub(crate) fn not_accepted(earlier_failures: usize, step: Option<u64>) -> crate::TotpOutcome {
    match step {
        Some(_) => crate::TotpOutcome::Replayed,
        None => crate::TotpOutcome::Refused {
            earlier_failures: u32::try_from(earlier_failures).unwrap_or(u32::MAX),
        },
    }
}

/// The error for an enrollment or host token that is unknown, used or expired.
pub(crate) fn token_unusable() -> Error {
    Error::NotFound("an unused, unexpired token with that secret".into())
}

/// `disabled` as read for `user` (`None`: no such user): [`Error::NotFound`] or
/// [`Error::Conflict`] unless the user exists and is enabled.
pub(crate) fn enabled_user(user: &str, disabled: Option<bool>) -> Result<()> {
    match disabled {
        None => Err(Error::NotFound(format!("user {user}"))),
        Some(true) => Err(Error::Conflict(format!("user {user} is disabled"))),
        Some(false) => Ok(()),
    }
}

/// Why an earlier CA key could not be retired, given where it stands (`None`: unknown).
pub(crate) fn not_retirable(fingerprint: &str, state: Option<&str>) -> Error {
    match state {
        None => Error::NotFound(format!("CA key {fingerprint}")),
        Some("active") => Error::Conflict(format!(
            "{fingerprint} is the signing key; rotate first, then retire it"
        )),
        Some(_) => Error::Conflict(format!("{fingerprint} is retired already")),
    }
}

/// Serial revocations of the certificates `live` (serial, CA fingerprint, valid_before),
/// in serial order.
pub(crate) fn serial_revocations(
    mut live: Vec<(u64, String, u64)>,
    reason: &str,
    revoked_by: &str,
    at: u64,
) -> Vec<crate::Revocation> {
    live.sort_unstable();
    live.into_iter()
        .map(|(serial, ca_fingerprint, valid_before)| crate::Revocation {
            target: crate::Revoked::Serial {
                serial,
                ca_fingerprint,
                valid_before,
            },
            reason: reason.to_string(),
            revoked_by: revoked_by.to_string(),
            created_at: at,
        })
        .collect()
}

/// The serials a list of revocations names.
pub(crate) fn serials_of(revocations: &[crate::Revocation]) -> Vec<u64> {
    revocations
        .iter()
        .filter_map(|r| match r.target {
            crate::Revoked::Serial { serial, .. } => Some(serial),
            _ => None,
        })
        .collect()
}

/// `disabled` as read for an issuance's user: [`Error::UserDisabled`] when set.
pub(crate) fn issuable_for(user: &str, disabled: Option<bool>) -> Result<()> {
    match disabled {
        Some(true) => Err(Error::UserDisabled(user.to_string())),
        _ => Ok(()),
    }
}
