//! Access requests and their decisions in PostgreSQL: a decision runs in one transaction
//! that locks the request row (`SELECT ... FOR UPDATE`), so decisions on one request, from
//! any replica, are applied one after the other and each sees the ones before it.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::model::{AccessRequest, NewAccessRequest};
use crate::stored::{self, to_i64, to_u64};
use crate::{rules, sql, Error, Result};

/// Store a new pending request (a [`crate::Change::CreateRequest`]).
pub(super) async fn create(conn: &mut PgConnection, request: &NewAccessRequest) -> Result<()> {
    sqlx::query(sql::INSERT_REQUEST)
        .bind(&request.id)
        .bind(&request.requester)
        .bind(&request.role)
        .bind(&request.reason)
        .bind(&request.ticket)
        .bind(request.ttl_seconds.map(to_i64))
        .bind(i64::from(request.approvals_needed))
        .bind(to_i64(request.window_seconds))
        .bind(to_i64(request.created_at))
        .bind(to_i64(request.expires_at))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            rules::on_unique(e, || {
                Error::AlreadyExists(format!("request {}", request.id))
            })
        })?;
    Ok(())
}

/// A request row with its decisions, as of `now`.
async fn with_decisions(
    executor: impl PgExecutor<'_>,
    row: &PgRow,
    now: u64,
) -> Result<AccessRequest> {
    let id: String = sqlx::Row::try_get(row, "id")?;
    let decisions =
        sqlx::query("SELECT * FROM request_decisions WHERE request_id = $1 ORDER BY at, approver")
            .bind(id)
            .fetch_all(executor)
            .await?
            .iter()
            .map(stored::decision)
            .collect::<Result<Vec<_>>>()?;
    stored::access_request(row, decisions, now)
}

/// See [`crate::Store::access_request`].
pub(super) async fn read(pool: &PgPool, id: &str, now: u64) -> Result<Option<AccessRequest>> {
    let row = sqlx::query("SELECT * FROM access_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => Ok(Some(with_decisions(pool, &row, now).await?)),
        None => Ok(None),
    }
}

/// See [`crate::Store::recent_requests`].
pub(super) async fn recent(pool: &PgPool, since: u64, now: u64) -> Result<Vec<AccessRequest>> {
    let rows = sqlx::query(
        "SELECT * FROM access_requests WHERE created_at > $1 ORDER BY created_at DESC, id",
    )
    .bind(to_i64(since))
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(with_decisions(pool, row, now).await?);
    }
    Ok(out)
}

/// One decision (a [`crate::Change::DecideRequest`]), inside the caller's transaction:
/// the request row is locked first.
pub(super) async fn decide(
    conn: &mut PgConnection,
    id: &str,
    approver: &str,
    approve: bool,
    reason: Option<&str>,
    now: u64,
) -> Result<AccessRequest> {
    let not_found = || Error::NotFound(format!("request {id}"));
    let row = sqlx::query("SELECT * FROM access_requests WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_found)?;
    let request = stored::new_request(&row)?;
    rules::check_decidable(&request, stored::request_state(&row, now)?, approver)?;
    sqlx::query(sql::INSERT_DECISION)
        .bind(id)
        .bind(approver)
        .bind(approve)
        .bind(reason)
        .bind(to_i64(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| rules::on_unique(e, || rules::decided_twice(approver, id)))?;
    if !approve {
        sqlx::query(sql::DENY_REQUEST)
            .bind(to_i64(now))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    } else {
        let approvals: i64 = sqlx::query_scalar(sql::COUNT_APPROVALS)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        if let Some(until) = rules::approved_until(&request, approvals, now) {
            sqlx::query(sql::APPROVE_REQUEST)
                .bind(to_i64(now))
                .bind(to_i64(until))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    let row = sqlx::query("SELECT * FROM access_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_found)?;
    with_decisions(&mut *conn, &row, now).await
}

/// See [`crate::Store::usable_request`].
pub(super) async fn usable(
    pool: &PgPool,
    requester: &str,
    role: &str,
    now: u64,
) -> Result<Option<AccessRequest>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM access_requests WHERE requester = $1 AND role = $2 AND state = 'approved' AND usable_until > $3 ORDER BY decided_at, id LIMIT 1",
    )
    .bind(requester)
    .bind(role)
    .bind(to_i64(now))
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => read(pool, &id, now).await,
        None => Ok(None),
    }
}

/// See [`crate::Store::pending_request_count`].
pub(super) async fn pending_count(pool: &PgPool, now: u64) -> Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_requests WHERE state = 'pending' AND expires_at > $1",
    )
    .bind(to_i64(now))
    .fetch_one(pool)
    .await?;
    Ok(to_u64(count))
}
