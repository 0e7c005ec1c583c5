//! Access requests and their decisions in SQLite: a decision runs on the writer thread in
//! its own savepoint of a `BEGIN IMMEDIATE` batch, so decisions on one request are applied
//! one after the other (also across processes).

use rusqlite::{params, Connection, Row};

use super::query::{all, column, execute, first, insert_new};
use crate::model::{AccessRequest, NewAccessRequest};
use crate::stored::{self, to_i64, to_u64};
use crate::{rules, sql, Error, Result};

/// Store a new pending request (a [`crate::Change::CreateRequest`]).
pub(super) fn create(connection: &Connection, request: &NewAccessRequest) -> Result<()> {
    insert_new(
        connection,
        sql::INSERT_REQUEST,
        params![
            request.id,
            request.requester,
            request.role,
            request.reason,
            request.ticket,
            request.ttl_seconds.map(to_i64),
            i64::from(request.approvals_needed),
            to_i64(request.window_seconds),
            to_i64(request.created_at),
            to_i64(request.expires_at),
        ],
        || Error::AlreadyExists(format!("request {}", request.id)),
    )?;
    Ok(())
}

/// A request row with its decisions, as of `now`.
fn with_decisions(connection: &Connection, row: &Row<'_>, now: u64) -> Result<AccessRequest> {
    let id: String = row.get("id")?;
    let decisions = all(
        connection,
        "SELECT * FROM request_decisions WHERE request_id = ? ORDER BY at, approver",
        [&id],
        |row| stored::decision(row),
    )?;
    stored::access_request(row, decisions, now)
}

/// See [`crate::Store::access_request`].
pub(super) fn read(connection: &Connection, id: &str, now: u64) -> Result<Option<AccessRequest>> {
    first(
        connection,
        "SELECT * FROM access_requests WHERE id = ?",
        [id],
        |row| with_decisions(connection, row, now),
    )
}

/// See [`crate::Store::recent_requests`].
pub(super) fn recent(connection: &Connection, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
    all(
        connection,
        "SELECT * FROM access_requests WHERE created_at > ? ORDER BY created_at DESC, id",
        [to_i64(since)],
        |row| with_decisions(connection, row, now),
    )
}

/// One decision (a [`crate::Change::DecideRequest`]); runs on the writer thread.
pub(super) fn decide(
    connection: &Connection,
    id: &str,
    approver: &str,
    approve: bool,
    reason: Option<&str>,
    now: u64,
) -> Result<AccessRequest> {
    let not_found = || Error::NotFound(format!("request {id}"));
    let (request, state) = first(
        connection,
        "SELECT * FROM access_requests WHERE id = ?",
        [id],
        |row| Ok((stored::new_request(row)?, stored::request_state(row, now)?)),
    )?
    .ok_or_else(not_found)?;
    rules::check_decidable(&request, state, approver)?;
    insert_new(
        connection,
        sql::INSERT_DECISION,
        params![id, approver, i64::from(approve), reason, to_i64(now)],
        || rules::decided_twice(approver, id),
    )?;
    if !approve {
        execute(connection, sql::DENY_REQUEST, params![to_i64(now), id])?;
    } else {
        let approvals: i64 = first(connection, sql::COUNT_APPROVALS, [id], column)?.unwrap_or(0);
        if let Some(until) = rules::approved_until(&request, approvals, now) {
            execute(
                connection,
                sql::APPROVE_REQUEST,
                params![to_i64(now), to_i64(until), id],
            )?;
        }
    }
    read(connection, id, now)?.ok_or_else(not_found)
}

/// See [`crate::Store::usable_request`].
pub(super) fn usable(
    connection: &Connection,
    requester: &str,
    role: &str,
    now: u64,
) -> Result<Option<AccessRequest>> {
    let id: Option<String> = first(
        connection,
        "SELECT id FROM access_requests WHERE requester = ? AND role = ? AND state = 'approved' AND usable_until > ? ORDER BY decided_at, id LIMIT 1",
        params![requester, role, to_i64(now)],
        column,
    )?;
    match id {
        Some(id) => read(connection, &id, now),
        None => Ok(None),
    }
}

/// See [`crate::Store::pending_request_count`].
pub(super) fn pending_count(connection: &Connection, now: u64) -> Result<u64> {
    let count: i64 = first(
        connection,
        "SELECT COUNT(*) FROM access_requests WHERE state = 'pending' AND expires_at > ?",
        [to_i64(now)],
        column,
    )?
    .unwrap_or(0);
    Ok(to_u64(count))
}
