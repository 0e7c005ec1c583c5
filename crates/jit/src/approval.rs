//! Access requests (DESIGN §4): the `/v1/requests` calls, and how a request reads to people.
//!
//! Requests carry text other people typed (reasons, names); everything shown on a terminal
//! goes through [`printable`] so it cannot move the cursor or change colours.

use anyhow::Context as _;
use jit_proto::api::{DecisionInfo, DecisionRequest, NewRequest, RequestInfo, RequestList, Signed};
use zeroize::Zeroizing;

use crate::clock::clock_time;
use crate::error::fail;
use crate::session::Session;

/// Longest request ID jit sends to the server.
const MAX_ID_LEN: usize = 128;

/// What an approver decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `jit approve`.
    Approve,
    /// `jit deny`.
    Deny,
}

impl Verdict {
    /// The last path segment of the endpoint.
    fn action(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }

    /// The past tense, for messages.
    fn done(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Deny => "denied",
        }
    }
}

/// Refuse IDs that are not plain tokens, before they become part of a URL path.
pub fn check_id(id: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(plain) {
        return Err(fail(
            format!("{:?} is not a request ID", printable(id)),
            "copy the ID from `jit requests` (letters, digits, `-` and `_`)",
        ));
    }
    Ok(())
}

/// `POST /v1/requests`: ask for `role`.
pub async fn create(
    session: &Session,
    role: &str,
    reason: &str,
    ticket: Option<&str>,
    ttl_seconds: Option<u64>,
) -> anyhow::Result<RequestInfo> {
    let body = NewRequest {
        freshness: Session::freshness(),
        role: role.to_string(),
        reason: reason.to_string(),
        ticket: ticket.map(str::to_string),
        ttl_seconds,
    };
    session
        .call("/v1/requests", &body)
        .await
        .with_context(|| format!("no request for role {role} was made"))
}

/// `POST /v1/requests/list`: the caller's requests and those the caller may decide.
pub async fn list(session: &Session) -> anyhow::Result<RequestList> {
    let body = Signed {
        freshness: Session::freshness(),
    };
    session
        .call("/v1/requests/list", &body)
        .await
        .context("cannot list requests")
}

/// `POST /v1/requests/{id}/status`.
pub async fn status(session: &Session, id: &str) -> anyhow::Result<RequestInfo> {
    check_id(id)?;
    let body = Signed {
        freshness: Session::freshness(),
    };
    session
        .call(&format!("/v1/requests/{id}/status"), &body)
        .await
        .with_context(|| format!("cannot check request {id}"))
}

/// `POST /v1/requests/{id}/approve` or `/deny`, with the approver's own code.
pub async fn decide(
    session: &Session,
    id: &str,
    verdict: Verdict,
    code: Zeroizing<String>,
    reason: Option<&str>,
) -> anyhow::Result<RequestInfo> {
    check_id(id)?;
    let body = DecisionRequest {
        freshness: Session::freshness(),
        otp: code.to_string(),
        reason: reason.map(str::to_string),
    };
    drop(code);
    session
        .call(&format!("/v1/requests/{id}/{}", verdict.action()), &body)
        .await
        .with_context(|| format!("request {id} was not {}", verdict.done()))
}

/// Who approved so far, each once, in the order they did.
pub fn approvers(info: &RequestInfo) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for decision in info.decisions.iter().filter(|d| d.approve) {
        if !names.contains(&decision.approver.as_str()) {
            names.push(&decision.approver);
        }
    }
    names
}

/// `1/2 (bob)`: approvals so far out of those needed, with the approvers' names.
pub fn approvals(info: &RequestInfo) -> String {
    let names = approvers(info);
    let count = format!("{}/{}", names.len(), info.approvals_needed);
    if names.is_empty() {
        count
    } else {
        printable(&format!("{count} ({})", names.join(", ")))
    }
}

/// The denial, if the request was denied.
pub fn denial(info: &RequestInfo) -> Option<&DecisionInfo> {
    info.decisions.iter().find(|d| !d.approve)
}

/// `denied by bob: not during the freeze`.
pub fn denied_by(info: &RequestInfo) -> String {
    match denial(info) {
        Some(DecisionInfo {
            approver,
            reason: Some(reason),
            ..
        }) => printable(&format!("denied by {approver}: {reason}")),
        Some(decision) => printable(&format!("denied by {}", decision.approver)),
        None => "denied".to_string(),
    }
}

/// Where a request stands after a decision, in one line for the approver.
pub fn outcome(info: &RequestInfo, now: u64) -> String {
    let (who, role) = (printable(&info.requester), printable(&info.role));
    match info.state.as_str() {
        "pending" => format!(
            "{} of {} approvals; waiting for more",
            approvers(info).len(),
            info.approvals_needed
        ),
        "approved" => match info.usable_until {
            Some(until) => format!(
                "approved: {who} may use {role} until {}",
                clock_time(until, now)
            ),
            None => format!("approved: {who} may use {role}"),
        },
        "denied" => format!("denied: {who} may not use {role}"),
        "used" => format!("used: {who} already got a certificate for {role} with it"),
        "expired" => format!("expired: {who}'s request for {role} lapsed"),
        other => printable(other),
    }
}

/// `text` with control characters (escape sequences, newlines) replaced by `?`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn decision(approver: &str, approve: bool, reason: Option<&str>) -> DecisionInfo {
        DecisionInfo {
            approver: approver.into(),
            approve,
            reason: reason.map(str::to_string),
            at: 1_000,
        }
    }

    pub(crate) fn request(state: &str, decisions: Vec<DecisionInfo>) -> RequestInfo {
        RequestInfo {
            id: "r1".into(),
            requester: "alice".into(),
            role: "db-admin".into(),
            reason: "INC-1".into(),
            ticket: None,
            ttl_seconds: 900,
            state: state.into(),
            approvals_needed: 2,
            decisions,
            created_at: 1_000,
            expires_at: 4_600,
            usable_until: None,
        }
    }

    #[test]
    fn ids_are_plain_tokens() {
        for good in ["r1", "7f3a9c01-aa_b"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", "../whoami", "a/b", "a b", "a?x=1", &"a".repeat(129)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn approvals_count_distinct_approvers() {
        let info = request(
            "pending",
            vec![decision("bob", true, None), decision("bob", true, None)],
        );
        assert_eq!(approvals(&info), "1/2 (bob)");
        assert_eq!(approvals(&request("pending", vec![])), "0/2");
        assert_eq!(outcome(&info, 1_000), "1 of 2 approvals; waiting for more");
    }

    #[test]
    fn outcomes_read_as_sentences() {
        let mut info = request(
            "approved",
            vec![decision("bob", true, None), decision("carol", true, None)],
        );
        info.usable_until = Some(1_700_000_000);
        assert_eq!(
            outcome(&info, 1_700_000_000 - 600),
            "approved: alice may use db-admin until 22:13:20Z"
        );
        let denied = request(
            "denied",
            vec![decision("bob", false, Some("freeze\x1b[2J"))],
        );
        assert_eq!(outcome(&denied, 0), "denied: alice may not use db-admin");
        assert_eq!(denied_by(&denied), "denied by bob: freeze?[2J");
    }
}
