//! Approvals: `jit request` creates a pending request for a role that needs approval;
//! approvers (never the requester) approve or deny with their own device and TOTP code; the
//! N-th distinct approval makes it usable for the role's window, once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use jit_log::{DecisionRecord, Event, Record, RequestRecord};
use jit_policy::{AccessRequest as PolicyRequest, Identity};
use jit_proto::api::{DecisionInfo, DecisionRequest, NewRequest, RequestInfo, RequestList, Signed};
use jit_proto::ErrorCode;
use jit_store::{AccessRequest, Change, NewAccessRequest, RequestState};
use serde_json::json;

use crate::alerts::{fields, AlertKind};
use crate::api::PeerIp;
use crate::auth::{authenticate, Confirmation};
use crate::clock::random_hex;
use crate::error::AppError;
use crate::issue::denial_error;
use crate::state::AppState;

/// How far back `jit requests` looks.
const LIST_WINDOW: u64 = 7 * 24 * 3600;

/// A stored request as the API shows it.
pub fn info(request: &AccessRequest) -> RequestInfo {
    RequestInfo {
        id: request.request.id.clone(),
        requester: request.request.requester.clone(),
        role: request.request.role.clone(),
        reason: request.request.reason.clone(),
        ticket: request.request.ticket.clone(),
        ttl_seconds: request.request.ttl_seconds.unwrap_or_default(),
        state: request.state.as_str().to_string(),
        approvals_needed: request.request.approvals_needed,
        decisions: request
            .decisions
            .iter()
            .map(|d| DecisionInfo {
                approver: d.approver.clone(),
                approve: d.approve,
                reason: d.reason.clone(),
                at: d.at,
            })
            .collect(),
        created_at: request.request.created_at,
        expires_at: request.request.expires_at,
        usable_until: request.usable_until,
    }
}

fn log_record(state: &AppState, event: Event) -> Record {
    Record {
        time: state.clock.now(),
        policy_hash: state.policy.hash().to_string(),
        event,
    }
}

/// `POST /v1/requests`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestInfo>, AppError> {
    let auth = authenticate::<NewRequest>(
        &state,
        "/v1/requests",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await?;
    let asked = &auth.body;
    let user = &auth.user;
    let now = state.clock.now();
    let identity = Identity {
        user: &user.name,
        groups: &user.groups,
    };
    let role = state.policy.role(&asked.role).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnknownRole,
            format!("there is no role {:?}", asked.role),
        )
    })?;
    // The certificate's key type is checked at issuance; here, any type the role allows.
    let key_type = role.key_types.first().cloned().unwrap_or_default();
    let grant = state
        .policy
        .evaluate(
            &identity,
            &PolicyRequest {
                role: &asked.role,
                ttl: asked.ttl_seconds.map(Duration::from_secs),
                key_type: &key_type,
                rsa_bits: Some(jit_policy::MIN_RSA_BITS),
                reason: Some(&asked.reason),
                ticket: asked.ticket.as_deref(),
                now,
            },
        )
        .map_err(denial_error)?;
    let rule = grant.approval.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::ApprovalNotRequired,
            format!("role {} does not need approval", grant.role),
        )
        .hint(format!(
            "use it directly: `jit ssh --role {} HOST`",
            grant.role
        ))
    })?;
    let request = NewAccessRequest {
        id: format!("r-{}", random_hex(state.randomness.as_ref(), 5)),
        requester: user.name.clone(),
        role: grant.role.clone(),
        reason: asked.reason.clone(),
        ticket: asked.ticket.clone(),
        ttl_seconds: Some(grant.ttl.as_secs()),
        approvals_needed: rule.count,
        window_seconds: rule.window.as_secs(),
        created_at: now,
        expires_at: now + state.settings.request_lifetime,
    };
    let record = log_record(
        &state,
        Event::Requested(RequestRecord {
            request_id: request.id.clone(),
            requester: user.name.clone(),
            role: grant.role.clone(),
            reason: request.reason.clone(),
            ticket: request.ticket.clone(),
            ttl_seconds: grant.ttl.as_secs(),
            approvals_needed: rule.count,
            source_ip,
        }),
    );
    state
        .store
        .commit(
            Change::CreateRequest(request.clone()),
            jit_store::ledger::record(record),
        )
        .await?;
    let text = format!(
        "{} asks for role {} ({}): {} — approve with `jit approve {}`",
        user.name,
        grant.role,
        rule.describe(),
        request.reason,
        request.id
    );
    let details = fields([
        ("request_id", json!(request.id)),
        ("requester", json!(user.name)),
        ("role", json!(grant.role)),
        ("reason", json!(request.reason)),
        ("ticket", json!(request.ticket)),
        ("approvers", json!(rule.approvers_text())),
        ("approvals_needed", json!(rule.count)),
    ]);
    state
        .alerter
        .raise(AlertKind::ApprovalRequested, text, details)
        .await;
    let stored = state
        .store
        .access_request(&request.id, now)
        .await?
        .ok_or_else(|| AppError::internal("request vanished", &request.id))?;
    Ok(Json(info(&stored)))
}

/// Whether `identity` may decide requests for `role` made by `requester`.
fn may_decide(
    state: &AppState,
    identity: &Identity<'_>,
    request: &AccessRequest,
) -> Result<(), AppError> {
    state
        .policy
        .may_approve(&request.request.role, identity, &request.request.requester)
        .map_err(denial_error)
}

/// `POST /v1/requests/list`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestList>, AppError> {
    let auth = authenticate::<Signed>(
        &state,
        "/v1/requests/list",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await?;
    let now = state.clock.now();
    let identity = Identity {
        user: &auth.user.name,
        groups: &auth.user.groups,
    };
    let recent = state
        .store
        .recent_requests(now.saturating_sub(LIST_WINDOW), now)
        .await?;
    let mine = recent
        .iter()
        .filter(|r| r.request.requester == auth.user.name)
        .map(info)
        .collect();
    let to_decide = recent
        .iter()
        .filter(|r| r.state == RequestState::Pending)
        .filter(|r| !r.decisions.iter().any(|d| d.approver == auth.user.name))
        .filter(|r| may_decide(&state, &identity, r).is_ok())
        .map(info)
        .collect();
    Ok(Json(RequestList { mine, to_decide }))
}

async fn find(state: &AppState, id: &str, now: u64) -> Result<AccessRequest, AppError> {
    state.store.access_request(id, now).await?.ok_or_else(|| {
        AppError::new(
            ErrorCode::RequestNotFound,
            format!("there is no request {id}"),
        )
        .hint("`jit requests` lists the ones you can see")
    })
}

/// `POST /v1/requests/{id}/status`: for the requester and the role's approvers.
pub async fn status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestInfo>, AppError> {
    let path = format!("/v1/requests/{id}/status");
    let auth =
        authenticate::<Signed>(&state, &path, &headers, &body, Confirmation::Required).await?;
    let request = find(&state, &id, state.clock.now()).await?;
    let identity = Identity {
        user: &auth.user.name,
        groups: &auth.user.groups,
    };
    let is_approver = state
        .policy
        .role(&request.request.role)
        .and_then(|role| role.approval.as_ref())
        .is_some_and(|rule| rule.allows(&identity));
    if request.request.requester != auth.user.name && !is_approver {
        return Err(AppError::new(
            ErrorCode::RequestNotFound,
            format!("there is no request {id}"),
        ));
    }
    Ok(Json(info(&request)))
}

/// `POST /v1/requests/{id}/approve`.
pub async fn approve(
    state: State<Arc<AppState>>,
    peer: PeerIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestInfo>, AppError> {
    decide(state, peer, id, true, headers, body).await
}

/// `POST /v1/requests/{id}/deny`.
pub async fn deny(
    state: State<Arc<AppState>>,
    peer: PeerIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestInfo>, AppError> {
    decide(state, peer, id, false, headers, body).await
}

async fn decide(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
    id: String,
    approve: bool,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RequestInfo>, AppError> {
    let verb = if approve { "approve" } else { "deny" };
    let path = format!("/v1/requests/{id}/{verb}");
    let auth =
        authenticate::<DecisionRequest>(&state, &path, &headers, &body, Confirmation::Required)
            .await?;
    let approver = &auth.user;
    let identity = Identity {
        user: &approver.name,
        groups: &approver.groups,
    };
    let request = find(&state, &id, state.clock.now()).await?;
    may_decide(&state, &identity, &request)?;
    let reason = auth
        .body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if !approve && reason.is_none() {
        return Err(
            AppError::new(ErrorCode::ReasonRequired, "a denial needs a reason")
                .hint("give one with --reason"),
        );
    }
    if reason.is_some_and(|r| r.len() > 500 || r.chars().any(char::is_control)) {
        return Err(AppError::new(
            ErrorCode::ReasonInvalid,
            "a reason is at most 500 characters, without control characters",
        ));
    }
    crate::otp::check(&state, &approver.name, &auth.device, &auth.body.otp, None).await?;
    let now = state.clock.now();
    let (requester_ip, policy_hash) = (source_ip, state.policy.hash().to_string());
    let (approver_name, reason_text) = (approver.name.clone(), reason.map(str::to_string));
    let record: jit_store::RecordFor = Box::new(move |applied| {
        let jit_store::Applied::Request(decided) = applied else {
            return Err(jit_store::Error::Corrupt(format!(
                "a decision came to {applied:?}"
            )));
        };
        Ok(Record {
            time: now,
            policy_hash,
            event: Event::Decided(DecisionRecord {
                request_id: decided.request.id.clone(),
                requester: decided.request.requester.clone(),
                role: decided.request.role.clone(),
                approver: approver_name,
                approve,
                reason: reason_text,
                state: decided.state.as_str().to_string(),
                source_ip: requester_ip,
            }),
        })
    });
    let change = Change::DecideRequest {
        id: id.clone(),
        approver: approver.name.clone(),
        approve,
        reason: reason.map(str::to_string),
        at: now,
    };
    let committed = state
        .store
        .commit(change, record)
        .await
        .map_err(|e| match e {
            jit_store::Error::Conflict(message) => {
                AppError::new(ErrorCode::RequestNotPending, message)
            }
            other => AppError::from(other),
        })?;
    let jit_store::Applied::Request(decided) = committed.applied else {
        return Err(AppError::internal(
            "decision",
            "a decision came to something else",
        ));
    };
    let text = format!(
        "{} {} request {} of {} for role {} (now {}, {}/{} approvals)",
        approver.name,
        if approve { "approved" } else { "denied" },
        id,
        decided.request.requester,
        decided.request.role,
        decided.state.as_str(),
        decided.approvers().len(),
        decided.request.approvals_needed
    );
    let details = fields([
        ("request_id", json!(id)),
        ("requester", json!(decided.request.requester)),
        ("role", json!(decided.request.role)),
        ("approver", json!(approver.name)),
        ("approve", json!(approve)),
        ("reason", json!(reason)),
        ("state", json!(decided.state.as_str())),
    ]);
    state
        .alerter
        .raise(AlertKind::ApprovalDecided, text, details)
        .await;
    Ok(Json(info(&decided)))
}
