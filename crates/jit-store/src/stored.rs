//! How model values are kept in a database and read back, the same for every backend:
//! `u64`s bit-cast to `i64` (so `u64::MAX - 1` round-trips), lists as JSON text, states
//! and kinds by name, and rows turned into model values through [`Columns`].

use jit_log::Entry;
use sqlx::Row as _;

use crate::model::{
    AccessRequest, Alert, CaKey, CaKeyState, CaKind, CertificateRow, Decision, Device, Host,
    NewAccessRequest, RequestState, Review, Revocation, Revoked, User,
};
use crate::{Error, Result};

/// A `u64` as stored: bit-cast, so the full range fits a signed 64-bit column.
pub(crate) fn to_i64(value: u64) -> i64 {
    value as i64
}

/// A stored `i64` back to the `u64` it was cast from.
pub(crate) fn to_u64(value: i64) -> u64 {
    value as u64
}

/// A list of names as stored (JSON text).
pub(crate) fn json_list(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::Corrupt(e.to_string()))
}

fn list_from_json(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(e.to_string()))
}

/// Typed access to the columns of one result row, whichever database it came from.
pub(crate) trait Columns {
    /// A non-null text column.
    fn text(&self, column: &str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    /// A non-null integer column.
    fn int(&self, column: &str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    /// A boolean column (SQLite keeps 0 or 1, PostgreSQL a `BOOLEAN`).
    fn flag(&self, column: &str) -> Result<bool>;

    /// A non-null integer column holding a bit-cast `u64`.
    fn uint(&self, column: &str) -> Result<u64> {
        self.int(column).map(to_u64)
    }
    /// A nullable integer column holding a bit-cast `u64`.
    fn opt_uint(&self, column: &str) -> Result<Option<u64>> {
        Ok(self.opt_int(column)?.map(to_u64))
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool> {
        Ok(self.get::<_, i64>(column)? != 0)
    }
}

/// A `users` row.
pub(crate) fn user(row: &impl Columns) -> Result<User> {
    Ok(User {
        name: row.text("name")?,
        groups: list_from_json(&row.text("groups_json")?)?,
        disabled: row.flag("disabled")?,
        created_at: row.uint("created_at")?,
    })
}

/// A `devices` row.
pub(crate) fn device(row: &impl Columns) -> Result<Device> {
    Ok(Device {
        fingerprint: row.text("fingerprint")?,
        user: row.text("user_name")?,
        public_key: row.text("public_key")?,
        name: row.text("name")?,
        totp_secret: row.text("totp_secret")?,
        created_at: row.uint("created_at")?,
        confirmed_at: row.opt_uint("confirmed_at")?,
    })
}

/// A `certificates` row.
pub(crate) fn certificate(row: &impl Columns) -> Result<CertificateRow> {
    Ok(CertificateRow {
        serial: row.uint("serial")?,
        user: row.text("user_name")?,
        role: row.text("role")?,
        key_id: row.text("key_id")?,
        valid_after: row.uint("valid_after")?,
        valid_before: row.uint("valid_before")?,
        ca_fingerprint: row.text("ca_fingerprint")?,
        client_key_fingerprint: row.opt_text("client_key_fingerprint")?,
    })
}

/// A `log_entries` row.
pub(crate) fn entry(row: &impl Columns) -> Result<Entry> {
    Ok(Entry {
        seq: row.uint("seq")?,
        body: row.text("body")?,
        hash: row.text("hash")?,
    })
}

/// What an `access_requests` row asked for.
pub(crate) fn new_request(row: &impl Columns) -> Result<NewAccessRequest> {
    Ok(NewAccessRequest {
        id: row.text("id")?,
        requester: row.text("requester")?,
        role: row.text("role")?,
        reason: row.text("reason")?,
        ticket: row.opt_text("ticket")?,
        ttl_seconds: row.opt_uint("ttl_seconds")?,
        approvals_needed: u32::try_from(row.int("approvals_needed")?)
            .map_err(|_| Error::Corrupt("approvals_needed".into()))?,
        window_seconds: row.uint("window_seconds")?,
        created_at: row.uint("created_at")?,
        expires_at: row.uint("expires_at")?,
    })
}

/// The state of an `access_requests` row, with lapsing applied for `now`.
pub(crate) fn request_state(row: &impl Columns, now: u64) -> Result<RequestState> {
    let stored = row.text("state")?;
    let expires_at = row.uint("expires_at")?;
    let usable_until = row.opt_uint("usable_until")?;
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

/// A `request_decisions` row.
pub(crate) fn decision(row: &impl Columns) -> Result<Decision> {
    Ok(Decision {
        approver: row.text("approver")?,
        approve: row.flag("approve")?,
        reason: row.opt_text("reason")?,
        at: row.uint("at")?,
    })
}

/// An `access_requests` row and its decisions (oldest first), as of `now`.
pub(crate) fn access_request(
    row: &impl Columns,
    decisions: Vec<Decision>,
    now: u64,
) -> Result<AccessRequest> {
    Ok(AccessRequest {
        request: new_request(row)?,
        state: request_state(row, now)?,
        decided_at: row.opt_uint("decided_at")?,
        usable_until: row.opt_uint("usable_until")?,
        used_serial: row.opt_uint("used_serial")?,
        decisions,
    })
}

/// An `alerts` row.
pub(crate) fn alert(row: &impl Columns) -> Result<Alert> {
    Ok(Alert {
        id: row.int("id")?,
        kind: row.text("kind")?,
        payload: row.text("payload")?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
        created_at: row.uint("created_at")?,
    })
}

/// Certificates ordered by serial as a u64 (serials are stored bit-cast to i64, so the
/// database's own order is not theirs).
pub(crate) fn by_serial(mut certificates: Vec<CertificateRow>) -> Vec<CertificateRow> {
    certificates.sort_by_key(|c| c.serial);
    certificates
}

/// A `revocations` row, read strictly: an unknown kind, a serial that is not a number, a
/// certificate revocation without its CA, or an empty key is [`Error::Corrupt`].
pub(crate) fn revocation(row: &impl Columns) -> Result<Revocation> {
    let id = row.int("id")?;
    let kind = row.text("kind")?;
    let value = row.text("value")?;
    let ca_fingerprint = row.text("ca_fingerprint")?;
    let valid_before = row.opt_uint("valid_before")?;
    let bad = |why: &str| Error::Corrupt(format!("revocation row {id} ({kind} {value:?}): {why}"));
    if kind != "key" && ca_fingerprint.is_empty() {
        return Err(bad("it names no CA"));
    }
    let target = match kind.as_str() {
        "serial" => Revoked::Serial {
            serial: value
                .parse()
                .ok()
                .filter(|serial| *serial != 0)
                .ok_or_else(|| bad("the serial is not a number from 1 to 2^64-1"))?,
            ca_fingerprint,
            valid_before: valid_before.ok_or_else(|| bad("it has no end of validity"))?,
        },
        "key_id" if !value.is_empty() => Revoked::KeyId {
            key_id: value,
            ca_fingerprint,
            valid_before,
        },
        "key" if !value.trim().is_empty() => Revoked::Key { public_key: value },
        _ => return Err(bad("not a known kind of revocation, or empty")),
    };
    Ok(Revocation {
        target,
        reason: row.text("reason")?,
        revoked_by: row.text("revoked_by")?,
        created_at: row.uint("created_at")?,
    })
}

/// A `hosts` row.
pub(crate) fn host(row: &impl Columns) -> Result<Host> {
    Ok(Host {
        name: row.text("name")?,
        principals: list_from_json(&row.text("principals_json")?)?,
        public_key: row.opt_text("public_key")?,
        created_at: row.uint("created_at")?,
    })
}

/// A `break_glass_reviews` row.
pub(crate) fn review(row: &impl Columns) -> Result<Review> {
    Ok(Review {
        serial: row.uint("serial")?,
        log_seq: row.uint("log_seq")?,
        user: row.text("user_name")?,
        role: row.text("role")?,
        reason: row.text("reason")?,
        issued_at: row.uint("issued_at")?,
        acked_at: row.opt_uint("acked_at")?,
        acked_by: row.opt_text("acked_by")?,
        note: row.opt_text("note")?,
    })
}

/// A `ca_keys` row.
pub(crate) fn ca_key(row: &impl Columns) -> Result<CaKey> {
    let fingerprint = row.text("fingerprint")?;
    let bad =
        |what: &str, value: &str| Error::Corrupt(format!("CA key {fingerprint}: {what} {value:?}"));
    let kind = row.text("kind")?;
    let state = row.text("state")?;
    Ok(CaKey {
        kind: match kind.as_str() {
            "user" => CaKind::User,
            "host" => CaKind::Host,
            other => return Err(bad("kind", other)),
        },
        state: match state.as_str() {
            "active" => CaKeyState::Active,
            "previous" => CaKeyState::Previous,
            "retired" => CaKeyState::Retired,
            other => return Err(bad("state", other)),
        },
        file: row.text("file")?,
        public_key: row.text("public_key")?,
        added_at: row.uint("added_at")?,
        retired_at: row.opt_uint("retired_at")?,
        fingerprint,
    })
}
