//! The ledger on SQLite: a change and its record in one savepoint of the writer's batch
//! transaction (see `engine`), so a failure anywhere undoes both.

use rusqlite::{params, Connection};

use super::query::{all, column, execute, first, insert_new};
use crate::ledger::{Applied, Change, Committed, Failpoint, RecordFor};
use crate::model::{CaKeyState, Revocation};
use crate::stored::{self, json_list, to_i64, to_u64};
use crate::{rules, sql, Error, Result};

/// Apply `change`, build its record, append it; the caller's savepoint makes it atomic.
pub(super) fn commit(
    c: &Connection,
    change: &Change,
    record: RecordFor,
    failpoint: &Failpoint,
) -> Result<Committed> {
    let applied = apply(c, change)?;
    failpoint.hit()?;
    let record = record(&applied)?;
    let seq = super::log::append(c, &record)?;
    Ok(Committed { applied, seq })
}

fn revoke_all(c: &Connection, revocations: &[Revocation]) -> Result<usize> {
    let mut added = 0;
    for revocation in revocations {
        let (kind, value, ca, valid_before) = revocation.target.columns();
        added += execute(
            c,
            sql::INSERT_REVOCATION,
            params![
                kind,
                value,
                ca,
                valid_before.map(to_i64),
                revocation.reason,
                revocation.revoked_by,
                to_i64(revocation.created_at),
            ],
        )?;
    }
    Ok(added)
}

fn apply(c: &Connection, change: &Change) -> Result<Applied> {
    match change {
        Change::Note => {}
        Change::AddUser { name, groups, at } => {
            insert_new(
                c,
                sql::INSERT_USER,
                params![name, json_list(groups)?, to_i64(*at)],
                || Error::AlreadyExists(format!("user {name}")),
            )?;
        }
        Change::SetUserDisabled {
            name,
            disabled,
            at,
            reason,
            revoked_by,
        } => {
            if execute(
                c,
                sql::SET_USER_DISABLED,
                params![i64::from(*disabled), name],
            )? == 0
            {
                return Err(Error::NotFound(format!("user {name}")));
            }
            if !*disabled {
                return Ok(Applied::RevokedSerials(Vec::new()));
            }
            let live = all(
                c,
                sql::UNEXPIRED_CERTIFICATES_OF,
                params![name, to_i64(*at)],
                |row| {
                    Ok((
                        to_u64(row.get(0)?),
                        row.get::<_, String>(1)?,
                        to_u64(row.get(2)?),
                    ))
                },
            )?;
            let revocations = rules::serial_revocations(live, reason, revoked_by, *at);
            revoke_all(c, &revocations)?;
            return Ok(Applied::RevokedSerials(rules::serials_of(&revocations)));
        }
        Change::AddEnrollmentToken {
            token_hash,
            user,
            at,
            expires_at,
        } => {
            user_enabled(c, user)?;
            execute(
                c,
                sql::INSERT_ENROLLMENT_TOKEN,
                params![token_hash, user, to_i64(*at), to_i64(*expires_at)],
            )?;
        }
        Change::RegisterDevice { token_hash, device } => {
            let user: String = first(
                c,
                sql::REDEEM_ENROLLMENT_TOKEN,
                params![to_i64(device.created_at), token_hash],
                column,
            )?
            .ok_or_else(rules::token_unusable)?;
            user_enabled(c, &user)?;
            insert_new(
                c,
                sql::INSERT_DEVICE,
                params![
                    device.fingerprint,
                    user,
                    device.public_key,
                    device.name,
                    device.totp_secret,
                    to_i64(device.created_at),
                ],
                || Error::AlreadyExists("device key".into()),
            )?;
            return Ok(Applied::Device { user });
        }
        Change::ConfirmDevice { fingerprint, at } => {
            if execute(c, sql::CONFIRM_DEVICE, params![to_i64(*at), fingerprint])? == 0 {
                return Err(Error::NotFound("unconfirmed device".into()));
            }
        }
        Change::CreateRequest(request) => super::requests::create(c, request)?,
        Change::DecideRequest {
            id,
            approver,
            approve,
            reason,
            at,
        } => {
            return super::requests::decide(c, id, approver, *approve, reason.as_deref(), *at)
                .map(Applied::Request)
        }
        Change::Revoke(revocations) => return Ok(Applied::Revoked(revoke_all(c, revocations)?)),
        Change::AddHost {
            name,
            principals,
            token_hash,
            expires_at,
            at,
        } => {
            execute(
                c,
                sql::UPSERT_HOST,
                params![
                    name,
                    json_list(principals)?,
                    to_i64(*at),
                    token_hash,
                    to_i64(*expires_at)
                ],
            )?;
        }
        Change::EnrollHost {
            token_hash,
            public_key,
            at,
        } => {
            return first(
                c,
                sql::ENROLL_HOST,
                params![to_i64(*at), public_key, token_hash],
                |row| stored::host(row),
            )?
            .map(Applied::Host)
            .ok_or_else(rules::token_unusable)
        }
        Change::SetHostKey { name, public_key } => {
            if execute(c, sql::SET_HOST_KEY, params![public_key, name])? == 0 {
                return Err(Error::NotFound(format!("host {name}")));
            }
        }
        Change::AckReview {
            serial,
            by,
            note,
            at,
        } => {
            let closed = first(
                c,
                sql::ACK_REVIEW,
                params![to_i64(*at), by, note, to_i64(*serial)],
                |row| stored::review(row),
            )?;
            if let Some(review) = closed {
                return Ok(Applied::Review(review));
            }
            let exists = first(c, sql::REVIEW_EXISTS, [to_i64(*serial)], column::<i64>)?;
            return Err(rules::review_not_open(*serial, exists.is_some()));
        }
        Change::AddCaKey { key } => {
            if key.state == CaKeyState::Active {
                execute(c, sql::DEMOTE_ACTIVE_CA_KEY, [key.kind.as_str()])?;
            }
            insert_new(
                c,
                sql::INSERT_CA_KEY,
                params![
                    key.fingerprint,
                    key.kind.as_str(),
                    key.file,
                    key.public_key,
                    key.state.as_str(),
                    to_i64(key.added_at),
                ],
                || Error::AlreadyExists(format!("CA key {}", key.fingerprint)),
            )?;
        }
        Change::RetireCaKey { fingerprint, at } => {
            if execute(c, sql::RETIRE_CA_KEY, params![to_i64(*at), fingerprint])? == 0 {
                let state: Option<String> = first(c, sql::CA_KEY_STATE, [fingerprint], column)?;
                return Err(rules::not_retirable(fingerprint, state.as_deref()));
            }
        }
    }
    Ok(Applied::Done)
}

/// [`Error::NotFound`] for an unknown user, [`Error::Conflict`] for a disabled one.
fn user_enabled(c: &Connection, user: &str) -> Result<()> {
    let disabled = first(c, sql::USER_DISABLED, [user], column::<i64>)?;
    rules::enabled_user(user, disabled.map(|d| d != 0))
}
