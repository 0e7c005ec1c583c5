//! The issuance log in SQLite: appends take the write lock (`BEGIN IMMEDIATE`) and then
//! bump the single `log_head` row, so the chain stays one linear sequence; an issuance
//! writes its record, its certificate row and its links in the same transaction.

use jit_log::{Entry, Record};
use sqlx::{Row as _, SqliteConnection, SqlitePool};

use crate::model::IssuanceLinks;
use crate::stored::{self, to_i64, to_u64};
use crate::IssuanceBuilder;
use crate::{rules, Error, Result};

/// Take the next sequence number (locking the chain head until the transaction ends);
/// returns it with the previous entry's hash.
async fn lock_head(tx: &mut SqliteConnection) -> Result<(u64, String)> {
    // The UPDATE takes the write lock first, so two appenders can never read the same head.
    let row = sqlx::query("UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *tx)
        .await?;
    Ok((
        to_u64(row.try_get::<i64, _>("seq")?),
        row.try_get::<String, _>("hash")?,
    ))
}

/// Write `record` as entry `seq` after the entry whose hash is `previous`.
async fn insert_entry(
    tx: &mut SqliteConnection,
    seq: u64,
    previous: &str,
    record: &Record,
) -> Result<()> {
    let entry = rules::seal_after(previous, seq, record)?;
    sqlx::query("INSERT INTO log_entries (seq, time, body, hash) VALUES (?, ?, ?, ?)")
        .bind(to_i64(seq))
        .bind(to_i64(record.time))
        .bind(&entry.body)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE log_head SET hash = ? WHERE id = 1")
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Append `record` after the chain head, inside the caller's write transaction.
pub(super) async fn append_in(tx: &mut SqliteConnection, record: &Record) -> Result<u64> {
    let (seq, previous) = lock_head(tx).await?;
    insert_entry(tx, seq, &previous, record).await?;
    Ok(seq)
}

/// The links of an issuance, owned (a grouped write outlives the caller's borrows).
#[derive(Debug, Clone, Default)]
pub(super) struct OwnedLinks {
    pub(super) request_id: Option<String>,
    pub(super) break_glass_reason: Option<String>,
}

impl From<IssuanceLinks<'_>> for OwnedLinks {
    fn from(links: IssuanceLinks<'_>) -> Self {
        OwnedLinks {
            request_id: links.request_id.map(str::to_string),
            break_glass_reason: links.break_glass_reason.map(str::to_string),
        }
    }
}

/// One issuance inside the caller's write transaction: lock the head, build the record for
/// its position, write record, certificate row and links.
pub(super) async fn issue_in(
    tx: &mut SqliteConnection,
    build: IssuanceBuilder,
    links: &OwnedLinks,
) -> Result<u64> {
    let (seq, previous) = lock_head(tx).await?;
    let (record, certificate) = build(seq)?;
    let (record, certificate) = (&record, &certificate);
    insert_entry(tx, seq, &previous, record).await?;
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
    .map_err(|e| rules::on_unique(e, || Error::SerialTaken))?;
    if let Some(id) = &links.request_id {
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
            return Err(rules::request_unusable(id));
        }
    }
    if let Some(reason) = &links.break_glass_reason {
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
    Ok(seq)
}

/// See [`crate::Store::log_entries`].
pub(super) async fn entries(pool: &SqlitePool, from: u64, limit: u64) -> Result<Vec<Entry>> {
    let rows =
        sqlx::query("SELECT seq, body, hash FROM log_entries WHERE seq >= ? ORDER BY seq LIMIT ?")
            .bind(to_i64(from))
            .bind(to_i64(limit.min(i64::MAX as u64)))
            .fetch_all(pool)
            .await?;
    rows.iter().map(stored::entry).collect()
}

/// See [`crate::Store::log_len`].
pub(super) async fn len(pool: &SqlitePool) -> Result<u64> {
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(to_u64(seq))
}
