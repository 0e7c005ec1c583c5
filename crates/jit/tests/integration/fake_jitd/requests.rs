//! The fake jitd's access requests: an in-memory store that enforces what jitd does (no
//! self-approval, only approvers decide, N distinct approvals, a denial needs a reason).

use jit_proto::api::{DecisionInfo, DecisionRequest, NewRequest, RequestInfo, RequestList};
use jit_proto::ErrorCode;

use super::{check_code, error, ok, roles, Answer, APPROVAL_ROLE, APPROVERS};

/// How long a pending request waits for decisions.
const PENDING_SECONDS: u64 = 3600;
/// How long an approved request stays usable.
const WINDOW_SECONDS: u64 = 600;

/// Every request made, oldest first.
#[derive(Default)]
pub struct Store {
    /// The requests; tests may change a state by hand (e.g. to `expired`).
    pub requests: Vec<RequestInfo>,
}

impl Store {
    /// Mark `user`'s approved request for `role` used; its ID.
    pub fn use_approved(&mut self, user: &str, role: &str) -> Option<String> {
        let request = self
            .requests
            .iter_mut()
            .find(|r| r.requester == user && r.role == role && r.state == "approved")?;
        request.state = "used".to_string();
        Some(request.id.clone())
    }

    /// The request with this ID, if `user` may see it (requester or approver).
    fn visible(&mut self, id: &str, user: &str) -> Result<&mut RequestInfo, Answer> {
        self.requests
            .iter_mut()
            .find(|r| r.id == id && (r.requester == user || APPROVERS.contains(&user)))
            .ok_or_else(|| error(ErrorCode::RequestNotFound, &format!("no request {id}")))
    }
}

/// Handle `path` (already signed by a confirmed device of `user`), or `None` when it is not
/// a request route.
pub fn route(path: &str, user: &str, body: &[u8], store: &mut Store) -> Option<Answer> {
    if path == "/v1/requests" {
        return Some(create(user, body, store));
    }
    if path == "/v1/requests/list" {
        return Some(list(user, store));
    }
    let (id, action) = path.strip_prefix("/v1/requests/")?.split_once('/')?;
    let request = match store.visible(id, user) {
        Ok(request) => request,
        Err(refusal) => return Some(refusal),
    };
    Some(match action {
        "status" => ok(&*request),
        "approve" => decide(request, user, body, true),
        "deny" => decide(request, user, body, false),
        _ => return None,
    })
}

fn create(user: &str, body: &[u8], store: &mut Store) -> Answer {
    let body: NewRequest = serde_json::from_slice(body).unwrap();
    let Some(role) = roles().into_iter().find(|r| r.name == body.role) else {
        return error(ErrorCode::UnknownRole, "no such role");
    };
    if role.name != APPROVAL_ROLE.0 {
        return error(
            ErrorCode::ApprovalNotRequired,
            &format!("role {} needs no approval", role.name),
        );
    }
    if body.reason.trim().is_empty() {
        return error(ErrorCode::ReasonRequired, "a request needs a reason");
    }
    let now = jit::clock::now();
    let request = RequestInfo {
        id: format!("req-{}", store.requests.len() + 1),
        requester: user.to_string(),
        role: role.name,
        reason: body.reason,
        ticket: body.ticket,
        ttl_seconds: body.ttl_seconds.unwrap_or(role.default_ttl_seconds),
        state: "pending".to_string(),
        approvals_needed: APPROVAL_ROLE.1,
        decisions: Vec::new(),
        created_at: now,
        expires_at: now + PENDING_SECONDS,
        usable_until: None,
    };
    store.requests.push(request.clone());
    ok(request)
}

fn list(user: &str, store: &Store) -> Answer {
    let mine = store.requests.iter().filter(|r| r.requester == user);
    let to_decide = store
        .requests
        .iter()
        .filter(|r| r.state == "pending" && r.requester != user && APPROVERS.contains(&user));
    ok(RequestList {
        mine: mine.cloned().collect(),
        to_decide: to_decide.cloned().collect(),
    })
}

fn decide(request: &mut RequestInfo, user: &str, body: &[u8], approve: bool) -> Answer {
    if let Err(refusal) = check_code(body) {
        return refusal;
    }
    let body: DecisionRequest = serde_json::from_slice(body).unwrap();
    if request.requester == user {
        return error(
            ErrorCode::SelfApproval,
            "you cannot decide your own request",
        );
    }
    if !APPROVERS.contains(&user) {
        return error(
            ErrorCode::NotAnApprover,
            "you are not an approver of this role",
        );
    }
    if request.state != "pending" {
        let message = format!("request {} is {}", request.id, request.state);
        return error(ErrorCode::RequestNotPending, &message);
    }
    if request.decisions.iter().any(|d| d.approver == user) {
        return error(
            ErrorCode::RequestNotPending,
            "you already decided this request",
        );
    }
    if !approve && body.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return error(ErrorCode::ReasonRequired, "a denial needs a reason");
    }
    let now = jit::clock::now();
    request.decisions.push(DecisionInfo {
        approver: user.to_string(),
        approve,
        reason: body.reason,
        at: now,
    });
    let approvals = request.decisions.iter().filter(|d| d.approve).count();
    if !approve {
        request.state = "denied".to_string();
    } else if approvals >= request.approvals_needed as usize {
        request.state = "approved".to_string();
        request.usable_until = Some(now + WINDOW_SECONDS);
    }
    ok(&*request)
}
