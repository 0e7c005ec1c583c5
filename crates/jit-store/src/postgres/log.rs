//! The issuance log in PostgreSQL. An append first bumps the single `log_head` row with
//! `UPDATE ... RETURNING`, which row-locks it until the transaction ends: a concurrent
//! appender (in this process or another replica) waits, then reads the head this one
//! wrote, so the chain stays one linear sequence. An issuance writes its record, its
//! certificate row and its links in that same transaction.

use jit_log::{Entry, Record};
use sqlx::{PgConnection, PgPool, Row as _};

use crate::model::IssuanceLinks;
use crate::stored::{self, to_i64, to_u64};
use crate::IssuanceBuilder;
use crate::{rules, Error, Result};

/// Take the next sequence number (locking the chain head until the transaction ends);
/// returns it with the previous entry's hash.
async fn lock_head(tx: &mut PgConnection) -> Result<(u64, String)> {
    // The UPDATE row-locks the head until the transaction ends.
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
    tx: &mut PgConnection,
    seq: u64,
    previous: &str,
    record: &Record,
) -> Result<()> {
    let entry = rules::seal_after(previous, seq, record)?;
    sqlx::query("INSERT INTO log_entries (seq, time, body, hash) VALUES ($1, $2, $3, $4)")
        .bind(to_i64(seq))
        .bind(to_i64(record.time))
        .bind(&entry.body)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE log_head SET hash = $1 WHERE id = 1")
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Append `record` after the chain head, inside the caller's write transaction.
async fn append_in(tx: &mut PgConnection, record: &Record) -> Result<u64> {
    let (seq, previous) = lock_head(tx).await?;
    insert_entry(tx, seq, &previous, record).await?;
    Ok(seq)
}

/// See [`crate::Store::append_log`].
pub(super) async fn append(pool: &PgPool, record: &Record) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let seq = append_in(&mut tx, record).await?;
    tx.commit().await?;
    Ok(seq)
}

/// See [`crate::Store::record_issuance`].
pub(super) async fn record_issuance(
    pool: &PgPool,
    build: IssuanceBuilder,
    links: IssuanceLinks<'_>,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let (seq, previous) = lock_head(&mut tx).await?;
    let (record, certificate) = build(seq)?;
    let (record, certificate) = (&record, &certificate);
    insert_entry(&mut tx, seq, &previous, record).await?;
    sqlx::query(
        "INSERT INTO certificates (serial, user_name, role, key_id, valid_after, valid_before, log_seq, ca_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
    if let Some(id) = links.request_id {
        let used = sqlx::query(
            "UPDATE access_requests SET state = 'used', used_serial = $1 WHERE id = $2 AND requester = $3 AND role = $4 AND state = 'approved' AND usable_until > $5",
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
    if let Some(reason) = links.break_glass_reason {
        sqlx::query(
            "INSERT INTO break_glass_reviews (serial, log_seq, user_name, role, reason, issued_at) VALUES ($1, $2, $3, $4, $5, $6)",
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

/// See [`crate::Store::log_entries`].
pub(super) async fn entries(pool: &PgPool, from: u64, limit: u64) -> Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT seq, body, hash FROM log_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
    )
    .bind(to_i64(from))
    .bind(to_i64(limit.min(i64::MAX as u64)))
    .fetch_all(pool)
    .await?;
    rows.iter().map(stored::entry).collect()
}

/// See [`crate::Store::log_len`].
pub(super) async fn len(pool: &PgPool) -> Result<u64> {
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(to_u64(seq))
}
