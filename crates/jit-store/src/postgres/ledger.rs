//! The ledger on PostgreSQL: a change and its record are written by the group-commit
//! writer (`commit`) inside its batch transaction, in a savepoint of their own, after the
//! chain head is locked. A refused change, a record that cannot be built or a failed
//! append rolls back to the savepoint: neither is written, and the batch goes on.

use sqlx::{PgConnection, Row as _};

use super::log::{append_in, Head};
use crate::ledger::{Applied, Change, Committed, Failpoint, RecordFor};
use crate::model::{CaKeyState, Revocation};
use crate::stored::{self, json_list, to_i64, to_u64};
use crate::{rules, sql, Error, Result};

/// What a write in the batch came to: `Err` spoils the batch, otherwise the write's own
/// outcome.
pub(super) type Written = Result<Result<Committed>>;

/// One change and its record inside the batch transaction.
pub(super) async fn commit_in(
    conn: &mut PgConnection,
    head: &mut Head,
    change: &Change,
    record: RecordFor,
    failpoint: &Failpoint,
) -> Written {
    sqlx::raw_sql("SAVEPOINT change")
        .execute(&mut *conn)
        .await?;
    let outcome = apply_and_append(conn, head, change, record, failpoint).await;
    if outcome.is_err() {
        sqlx::raw_sql("ROLLBACK TO SAVEPOINT change")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::raw_sql("RELEASE SAVEPOINT change")
        .execute(&mut *conn)
        .await?;
    Ok(outcome)
}

async fn apply_and_append(
    conn: &mut PgConnection,
    head: &mut Head,
    change: &Change,
    record: RecordFor,
    failpoint: &Failpoint,
) -> Result<Committed> {
    let applied = apply(conn, change).await?;
    failpoint.hit()?;
    let record = record(&applied)?;
    // The append's own failure and a spoiled transaction are alike here: the savepoint
    // is rolled back (and if that fails, the batch is spoiled after all).
    let seq = append_in(conn, head, &record).await??;
    Ok(Committed { applied, seq })
}

async fn revoke_all(conn: &mut PgConnection, revocations: &[Revocation]) -> Result<usize> {
    let mut added = 0;
    for revocation in revocations {
        let (kind, value, ca, valid_before) = revocation.target.columns();
        added += sqlx::query(sql::INSERT_REVOCATION)
            .bind(kind)
            .bind(value)
            .bind(ca)
            .bind(valid_before.map(to_i64))
            .bind(&revocation.reason)
            .bind(&revocation.revoked_by)
            .bind(to_i64(revocation.created_at))
            .execute(&mut *conn)
            .await?
            .rows_affected() as usize;
    }
    Ok(added)
}

/// [`Error::NotFound`] for an unknown user, [`Error::Conflict`] for a disabled one.
async fn user_enabled(conn: &mut PgConnection, user: &str) -> Result<()> {
    let disabled: Option<bool> = sqlx::query_scalar(sql::USER_DISABLED)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    rules::enabled_user(user, disabled)
}

async fn apply(conn: &mut PgConnection, change: &Change) -> Result<Applied> {
    match change {
        Change::Note => {}
        Change::AddUser { name, groups, at } => {
            sqlx::query(sql::INSERT_USER)
                .bind(name)
                .bind(json_list(groups)?)
                .bind(to_i64(*at))
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    rules::on_unique(e, || Error::AlreadyExists(format!("user {name}")))
                })?;
        }
        Change::SetUserDisabled {
            name,
            disabled,
            at,
            reason,
            revoked_by,
        } => {
            let done = sqlx::query(sql::SET_USER_DISABLED)
                .bind(disabled)
                .bind(name)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound(format!("user {name}")));
            }
            if !*disabled {
                return Ok(Applied::RevokedSerials(Vec::new()));
            }
            let live = sqlx::query(sql::UNEXPIRED_CERTIFICATES_OF)
                .bind(name)
                .bind(to_i64(*at))
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        to_u64(row.try_get::<i64, _>(0)?),
                        row.try_get::<String, _>(1)?,
                        to_u64(row.try_get::<i64, _>(2)?),
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            let revocations = rules::serial_revocations(live, reason, revoked_by, *at);
            revoke_all(conn, &revocations).await?;
            return Ok(Applied::RevokedSerials(rules::serials_of(&revocations)));
        }
        Change::AddEnrollmentToken {
            token_hash,
            user,
            at,
            expires_at,
        } => {
            user_enabled(conn, user).await?;
            sqlx::query(sql::INSERT_ENROLLMENT_TOKEN)
                .bind(token_hash)
                .bind(user)
                .bind(to_i64(*at))
                .bind(to_i64(*expires_at))
                .execute(&mut *conn)
                .await?;
        }
        Change::RegisterDevice { token_hash, device } => {
            let user: String = sqlx::query_scalar(sql::REDEEM_ENROLLMENT_TOKEN)
                .bind(to_i64(device.created_at))
                .bind(token_hash)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(rules::token_unusable)?;
            user_enabled(conn, &user).await?;
            sqlx::query(sql::INSERT_DEVICE)
                .bind(&device.fingerprint)
                .bind(&user)
                .bind(&device.public_key)
                .bind(&device.name)
                .bind(&device.totp_secret)
                .bind(to_i64(device.created_at))
                .execute(&mut *conn)
                .await
                .map_err(|e| rules::on_unique(e, || Error::AlreadyExists("device key".into())))?;
            return Ok(Applied::Device { user });
        }
        Change::ConfirmDevice { fingerprint, at } => {
            let done = sqlx::query(sql::CONFIRM_DEVICE)
                .bind(to_i64(*at))
                .bind(fingerprint)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound("unconfirmed device".into()));
            }
        }
        Change::CreateRequest(request) => super::requests::create(conn, request).await?,
        Change::DecideRequest {
            id,
            approver,
            approve,
            reason,
            at,
        } => {
            return super::requests::decide(conn, id, approver, *approve, reason.as_deref(), *at)
                .await
                .map(Applied::Request)
        }
        Change::Revoke(revocations) => {
            return Ok(Applied::Revoked(revoke_all(conn, revocations).await?))
        }
        Change::AddHost {
            name,
            principals,
            token_hash,
            expires_at,
            at,
        } => {
            sqlx::query(sql::UPSERT_HOST)
                .bind(name)
                .bind(json_list(principals)?)
                .bind(to_i64(*at))
                .bind(token_hash)
                .bind(to_i64(*expires_at))
                .execute(&mut *conn)
                .await?;
        }
        Change::EnrollHost {
            token_hash,
            public_key,
            at,
        } => {
            let row = sqlx::query(sql::ENROLL_HOST)
                .bind(to_i64(*at))
                .bind(public_key)
                .bind(token_hash)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(rules::token_unusable)?;
            return Ok(Applied::Host(stored::host(&row)?));
        }
        Change::SetHostKey { name, public_key } => {
            let done = sqlx::query(sql::SET_HOST_KEY)
                .bind(public_key)
                .bind(name)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound(format!("host {name}")));
            }
        }
        Change::AckReview {
            serial,
            by,
            note,
            at,
        } => {
            let closed = sqlx::query(sql::ACK_REVIEW)
                .bind(to_i64(*at))
                .bind(by)
                .bind(note)
                .bind(to_i64(*serial))
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = closed {
                return Ok(Applied::Review(stored::review(&row)?));
            }
            let exists = sqlx::query(sql::REVIEW_EXISTS)
                .bind(to_i64(*serial))
                .fetch_optional(&mut *conn)
                .await?
                .map(|row| row.try_get::<i64, _>(0))
                .transpose()?;
            return Err(rules::review_not_open(*serial, exists.is_some()));
        }
        Change::AddCaKey { key } => {
            if key.state == CaKeyState::Active {
                sqlx::query(sql::DEMOTE_ACTIVE_CA_KEY)
                    .bind(key.kind.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(sql::INSERT_CA_KEY)
                .bind(&key.fingerprint)
                .bind(key.kind.as_str())
                .bind(&key.file)
                .bind(&key.public_key)
                .bind(key.state.as_str())
                .bind(to_i64(key.added_at))
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    rules::on_unique(e, || {
                        Error::AlreadyExists(format!("CA key {}", key.fingerprint))
                    })
                })?;
        }
        Change::RetireCaKey { fingerprint, at } => {
            let done = sqlx::query(sql::RETIRE_CA_KEY)
                .bind(to_i64(*at))
                .bind(fingerprint)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                let state: Option<String> = sqlx::query_scalar(sql::CA_KEY_STATE)
                    .bind(fingerprint)
                    .fetch_optional(&mut *conn)
                    .await?;
                return Err(rules::not_retirable(fingerprint, state.as_deref()));
            }
        }
    }
    Ok(Applied::Done)
}
