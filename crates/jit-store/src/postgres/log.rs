//! The issuance log in PostgreSQL. Appends and issuances are written by the group-commit
//! writer ([`super::commit`]): a batch locks the single `log_head` row (`FOR UPDATE`) once,
//! so a concurrent batch (of this process or another replica) waits, then reads the head
//! this one wrote, and the chain stays one linear sequence. Inside the batch the head is
//! kept in memory ([`Head`]) and written back once before the commit. An issuance writes
//! its record, its certificate row and its links in the batch transaction, all or nothing.

use jit_log::{Entry, Record};
use sqlx::{PgConnection, PgPool, Row as _};

use crate::model::{CertificateRow, OwnedLinks};
use crate::stored::{self, to_i64, to_u64};
use crate::IssuanceBuilder;
use crate::{rules, Error, Result};

/// The chain head as the batch transaction sees it (locked for the whole batch).
#[derive(Debug)]
pub(super) struct Head {
    /// Sequence number of the last entry.
    pub(super) seq: u64,
    /// Hash (hex) of the last entry.
    pub(super) hash: String,
    /// Whether entries were added since the head was read.
    moved: bool,
}

impl Head {
    /// Lock the head row until the transaction ends and read it. The first statement of a
    /// batch: it opens the transaction in the same round trip.
    pub(super) async fn lock(conn: &mut PgConnection) -> Result<Head> {
        let row = sqlx::raw_sql("BEGIN; SELECT seq, hash FROM log_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Head {
            seq: to_u64(row.try_get::<i64, _>("seq")?),
            hash: row.try_get::<String, _>("hash")?,
            moved: false,
        })
    }

    /// Write the head back if it moved; the last statement before the commit.
    pub(super) async fn store(&self, conn: &mut PgConnection) -> Result<()> {
        if self.moved {
            sqlx::query("UPDATE log_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(to_i64(self.seq))
                .bind(&self.hash)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The next entry, `record` sealed after the head (not yet written).
    fn seal(&self, record: &Record) -> Result<(u64, Entry)> {
        let seq = self.seq + 1;
        Ok((seq, rules::seal_after(&self.hash, seq, record)?))
    }

    /// Move the head onto `entry`, once it is written.
    fn advance(&mut self, seq: u64, entry: Entry) {
        self.seq = seq;
        self.hash = entry.hash;
        self.moved = true;
    }
}

/// What a write in the batch transaction came to: `Err` when the transaction is spoiled
/// (the whole batch fails), otherwise the write's own outcome (on `Err` it wrote nothing and
/// the batch goes on).
pub(super) type Written = Result<Result<u64>>;

/// Append `record` after the head, inside the batch transaction.
pub(super) async fn append_in(
    conn: &mut PgConnection,
    head: &mut Head,
    record: &Record,
) -> Written {
    let (seq, entry) = match head.seal(record) {
        Ok(sealed) => sealed,
        Err(error) => return Ok(Err(error)),
    };
    sqlx::query("INSERT INTO log_entries (seq, time, body, hash) VALUES ($1, $2, $3, $4)")
        .bind(to_i64(seq))
        .bind(to_i64(record.time))
        .bind(&entry.body)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
    head.advance(seq, entry);
    Ok(Ok(seq))
}

/// One issuance inside the batch transaction: build the record for the next position,
/// then write record, certificate row and links, or (with [`Error::SerialTaken`],
/// [`Error::KeyReused`], [`Error::Conflict`] or the builder's error) nothing.
pub(super) async fn issue_in(
    conn: &mut PgConnection,
    head: &mut Head,
    build: IssuanceBuilder,
    links: &OwnedLinks,
) -> Written {
    let built = build(head.seq + 1).and_then(|(record, certificate)| {
        let (seq, entry) = head.seal(&record)?;
        Ok((seq, entry, record, certificate))
    });
    let (seq, entry, record, certificate) = match built {
        Ok(built) => built,
        Err(error) => return Ok(Err(error)),
    };
    if links.is_empty() {
        // The common case in one statement and without a savepoint: the certificate row
        // goes in unless its serial or its client key was certified before (any unique
        // conflict: an error would spoil the batch), and the entry only with it (the foreign
        // key from the row to the entry is checked at the end of the statement). An
        // unexpected error here spoils the batch.
        let written: i64 = sqlx::query_scalar(
            "WITH c AS (INSERT INTO certificates (serial, user_name, role, key_id, valid_after, valid_before, log_seq, ca_fingerprint, client_key_fingerprint) SELECT $1::BIGINT, $2::TEXT, $3::TEXT, $4::TEXT, $5::BIGINT, $6::BIGINT, $7::BIGINT, $8::TEXT, $12::TEXT WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = $2::TEXT AND disabled) ON CONFLICT DO NOTHING RETURNING log_seq), \
             e AS (INSERT INTO log_entries (seq, time, body, hash) SELECT log_seq, $9, $10, $11 FROM c RETURNING seq) \
             SELECT count(*) FROM e",
        )
        .bind(to_i64(certificate.serial))
        .bind(&certificate.user)
        .bind(&certificate.role)
        .bind(&certificate.key_id)
        .bind(to_i64(certificate.valid_after))
        .bind(to_i64(certificate.valid_before))
        .bind(to_i64(seq))
        .bind(&certificate.ca_fingerprint)
        .bind(to_i64(record.time))
        .bind(&entry.body)
        .bind(&entry.hash)
        .bind(&certificate.client_key_fingerprint)
        .fetch_one(&mut *conn)
        .await?;
        if written != 1 {
            // The user was disabled before this issuance's transaction (a disable after it
            // revokes the certificate instead).
            let disabled: Option<bool> = sqlx::query_scalar(crate::sql::USER_DISABLED)
                .bind(&certificate.user)
                .fetch_optional(&mut *conn)
                .await?;
            if let Err(error) = rules::issuable_for(&certificate.user, disabled) {
                return Ok(Err(error));
            }
            // Which conflict it was (rare: a 2^-64 serial collision or a reused key).
            let serial_taken: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = $1)")
                    .bind(to_i64(certificate.serial))
                    .fetch_one(&mut *conn)
                    .await?;
            return Ok(Err(match serial_taken {
                true => Error::SerialTaken,
                false => Error::KeyReused,
            }));
        }
    } else {
        // Rare (approved requests, break glass): in a savepoint, undone if anything fails.
        sqlx::raw_sql("SAVEPOINT issue").execute(&mut *conn).await?;
        let outcome = issue_linked(conn, seq, &entry, &record, &certificate, links).await;
        if outcome.is_err() {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT issue")
                .execute(&mut *conn)
                .await?;
        }
        sqlx::raw_sql("RELEASE SAVEPOINT issue")
            .execute(&mut *conn)
            .await?;
        if let Err(error) = outcome {
            return Ok(Err(error));
        }
    }
    head.advance(seq, entry);
    Ok(Ok(seq))
}

/// The statements of an issuance with links, one after the other (inside a savepoint).
async fn issue_linked(
    conn: &mut PgConnection,
    seq: u64,
    entry: &Entry,
    record: &Record,
    certificate: &CertificateRow,
    links: &OwnedLinks,
) -> Result<()> {
    let disabled: Option<bool> = sqlx::query_scalar(crate::sql::USER_DISABLED)
        .bind(&certificate.user)
        .fetch_optional(&mut *conn)
        .await?;
    rules::issuable_for(&certificate.user, disabled)?;
    sqlx::query("INSERT INTO log_entries (seq, time, body, hash) VALUES ($1, $2, $3, $4)")
        .bind(to_i64(seq))
        .bind(to_i64(record.time))
        .bind(&entry.body)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO certificates (serial, user_name, role, key_id, valid_after, valid_before, log_seq, ca_fingerprint, client_key_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(to_i64(certificate.serial))
    .bind(&certificate.user)
    .bind(&certificate.role)
    .bind(&certificate.key_id)
    .bind(to_i64(certificate.valid_after))
    .bind(to_i64(certificate.valid_before))
    .bind(to_i64(seq))
    .bind(&certificate.ca_fingerprint)
    .bind(&certificate.client_key_fingerprint)
    .execute(&mut *conn)
    .await
    .map_err(rules::on_certificate_insert)?;
    if let Some(id) = &links.request_id {
        let used = sqlx::query(
            "UPDATE access_requests SET state = 'used', used_serial = $1 WHERE id = $2 AND requester = $3 AND role = $4 AND state = 'approved' AND usable_until > $5",
        )
        .bind(to_i64(certificate.serial))
        .bind(id)
        .bind(&certificate.user)
        .bind(&certificate.role)
        .bind(to_i64(record.time))
        .execute(&mut *conn)
        .await?;
        if used.rows_affected() != 1 {
            return Err(rules::request_unusable(id));
        }
    }
    if let Some(reason) = &links.break_glass_reason {
        sqlx::query(
            "INSERT INTO break_glass_reviews (serial, log_seq, user_name, role, reason, issued_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(to_i64(certificate.serial))
        .bind(to_i64(seq))
        .bind(&certificate.user)
        .bind(&certificate.role)
        .bind(reason)
        .bind(to_i64(record.time))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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
