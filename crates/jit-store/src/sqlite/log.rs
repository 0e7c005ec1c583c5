//! The issuance log in SQLite: appends run on the writer thread inside its `BEGIN
//! IMMEDIATE` batch and bump the single `log_head` row, so the chain stays one linear
//! sequence (also with other processes on the same file); an issuance writes its record,
//! its certificate row and its links in the same savepoint.

use jit_log::{Entry, Record};
use rusqlite::{params, Connection};

use super::query::{all, execute, first};
use crate::model::OwnedLinks;
use crate::stored::{self, to_i64, to_u64};
use crate::{rules, Error, Result};
use crate::{IssuanceBuilder, TotpOutcome};

/// Take the next sequence number (the caller holds the write lock); returns it with the
/// previous entry's hash.
fn lock_head(connection: &Connection) -> Result<(u64, String)> {
    first(
        connection,
        "UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
        [],
        |row| Ok((to_u64(row.get(0)?), row.get(1)?)),
    )?
    .ok_or_else(|| Error::Corrupt("the log head row is missing".into()))
}

/// Write `record` as entry `seq` after the entry whose hash is `previous`.
fn insert_entry(connection: &Connection, seq: u64, previous: &str, record: &Record) -> Result<()> {
    let entry = rules::seal_after(previous, seq, record)?;
    execute(
        connection,
        "INSERT INTO log_entries (seq, time, body, hash) VALUES (?, ?, ?, ?)",
        params![to_i64(seq), to_i64(record.time), entry.body, entry.hash],
    )?;
    execute(
        connection,
        "UPDATE log_head SET hash = ? WHERE id = 1",
        [&entry.hash],
    )?;
    Ok(())
}

/// Append `record` after the chain head.
pub(super) fn append(connection: &Connection, record: &Record) -> Result<u64> {
    let (seq, previous) = lock_head(connection)?;
    insert_entry(connection, seq, &previous, record)?;
    Ok(seq)
}

/// One issuance: count its TOTP attempt (if it carries one; a refused attempt is kept and
/// the issuance is not written: `Ok(Err(outcome))`), lock the head, build the record for
/// its position, write record, certificate row and links.
pub(super) fn issue(
    connection: &Connection,
    build: IssuanceBuilder,
    links: &OwnedLinks,
) -> Result<std::result::Result<u64, TotpOutcome>> {
    if let Some(totp) = &links.totp {
        match super::totp::check_in(connection, totp.as_check())? {
            TotpOutcome::Accepted => {}
            refused => return Ok(Err(refused)),
        }
    }
    let (seq, previous) = lock_head(connection)?;
    let (record, certificate) = build(seq)?;
    // In this transaction, so a concurrent `jitd user disable` is either before (refused
    // here) or after (it revokes this certificate).
    let disabled = first(
        connection,
        crate::sql::USER_DISABLED,
        [&certificate.user],
        |row| Ok(row.get::<_, i64>(0)? != 0),
    )?;
    rules::issuable_for(&certificate.user, disabled)?;
    insert_entry(connection, seq, &previous, &record)?;
    // A serial or key certified before refuses the insert (`SerialTaken`, `KeyReused`), and
    // the engine rolls the whole job back: nothing of the issuance stays.
    connection
        .prepare_cached(
            "INSERT INTO certificates (serial, user_name, role, key_id, valid_after, valid_before, log_seq, ca_fingerprint, client_key_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            to_i64(certificate.serial),
            certificate.user,
            certificate.role,
            certificate.key_id,
            to_i64(certificate.valid_after),
            to_i64(certificate.valid_before),
            to_i64(seq),
            certificate.ca_fingerprint,
            certificate.client_key_fingerprint,
        ])
        .map_err(rules::on_certificate_insert)?;
    if let Some(id) = &links.request_id {
        let used = execute(
            connection,
            "UPDATE access_requests SET state = 'used', used_serial = ? WHERE id = ? AND requester = ? AND role = ? AND state = 'approved' AND usable_until > ?",
            params![
                to_i64(certificate.serial),
                id,
                certificate.user,
                certificate.role,
                to_i64(record.time),
            ],
        )?;
        if used != 1 {
            return Err(rules::request_unusable(id));
        }
    }
    if let Some(reason) = &links.break_glass_reason {
        execute(
            connection,
            "INSERT INTO break_glass_reviews (serial, log_seq, user_name, role, reason, issued_at) VALUES (?, ?, ?, ?, ?, ?)",
            params![
                to_i64(certificate.serial),
                to_i64(seq),
                certificate.user,
                certificate.role,
                reason,
                to_i64(record.time),
            ],
        )?;
    }
    Ok(Ok(seq))
}

/// See [`crate::Store::log_entries`].
pub(super) fn entries(connection: &Connection, from: u64, limit: u64) -> Result<Vec<Entry>> {
    all(
        connection,
        "SELECT seq, body, hash FROM log_entries WHERE seq >= ? ORDER BY seq LIMIT ?",
        params![to_i64(from), to_i64(limit.min(i64::MAX as u64))],
        |row| stored::entry(row),
    )
}

/// See [`crate::Store::log_len`].
pub(super) fn len(connection: &Connection) -> Result<u64> {
    first(
        connection,
        "SELECT seq FROM log_head WHERE id = 1",
        [],
        |row| Ok(to_u64(row.get(0)?)),
    )?
    .ok_or_else(|| Error::Corrupt("the log head row is missing".into()))
}
