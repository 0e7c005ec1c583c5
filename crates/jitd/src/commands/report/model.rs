//! The access report: who had which access in a window and what was refused, requested,
//! decided, revoked and reviewed. Its serde form is the JSON report; CSV and HTML render it.
//!
//! A certificate is in the report when its validity overlaps the window, even if it was
//! issued before the window began; every other section holds the records made inside the
//! window (a request also when only one of its decisions falls inside). [`Report::build`]
//! (in `model/build.rs`) makes it from log entries.

mod build;

use serde::Serialize;

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The window, Unix seconds and RFC 3339.
    pub window: WindowInfo,
    /// Which records the report was made from.
    pub log: LogInfo,
    /// Counts.
    pub summary: Summary,
    /// Certificates valid at some time in the window, by `valid_after`.
    pub grants: Vec<Grant>,
    /// Refused certificate requests made in the window.
    pub denials: Vec<Denial>,
    /// Access requests made or decided in the window.
    pub approvals: Vec<Approval>,
    /// Revocations made in the window.
    pub revocations: Vec<Revocation>,
    /// Break-glass reviews closed in the window.
    pub reviews: Vec<Review>,
}

/// The report window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WindowInfo {
    /// Start (inclusive), Unix seconds.
    pub since: u64,
    /// End (exclusive), Unix seconds.
    pub until: u64,
    /// Start, RFC 3339 UTC.
    pub since_utc: String,
    /// End, RFC 3339 UTC.
    pub until_utc: String,
}

/// The records behind the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LogInfo {
    /// Number of records read.
    pub records: u64,
    /// First sequence number read (0 for an empty log).
    pub first_seq: u64,
    /// Last sequence number read (0 for an empty log).
    pub last_seq: u64,
    /// Chain hash of the last record read (empty for an empty log).
    pub head: String,
    /// Whether the hash chain was verified from record 1 (an export made with `--since`
    /// starts later and cannot be).
    pub chain_verified: bool,
}

/// Counts over the report's sections.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Certificates valid in the window.
    pub grants: usize,
    /// Distinct users who held them.
    pub users: usize,
    /// Distinct roles they were for.
    pub roles: usize,
    /// Grants through an approved request.
    pub approved: usize,
    /// Break-glass grants.
    pub break_glass: usize,
    /// Break-glass grants whose review is not closed (as of the end of the window).
    pub break_glass_unreviewed: usize,
    /// Grants issued outside business hours.
    pub out_of_hours: usize,
    /// Grants revoked before they expired.
    pub revoked_grants: usize,
    /// Refused certificate requests.
    pub denials: usize,
    /// Access requests.
    pub requests: usize,
    /// Revocations.
    pub revocations: usize,
    /// Closed break-glass reviews.
    pub reviews: usize,
}

/// How a certificate came to be (the timeline colours bars by it).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Issued under a break-glass role.
    BreakGlass,
    /// Issued through an approved request.
    Approved,
    /// Issued on the policy alone.
    Normal,
}

impl GrantKind {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            GrantKind::BreakGlass => "break-glass",
            GrantKind::Approved => "approved",
            GrantKind::Normal => "normal",
        }
    }
}

/// One issued certificate: an access grant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Grant {
    /// Sequence number of its `issued` record.
    pub seq: u64,
    /// When it was issued (Unix seconds).
    pub issued_at: u64,
    /// Who got it.
    pub user: String,
    /// Role.
    pub role: String,
    /// Principals (accounts) it opens.
    pub principals: Vec<String>,
    /// Serial.
    pub serial: u64,
    /// Key ID.
    pub key_id: String,
    /// Start of validity (Unix seconds).
    pub valid_after: u64,
    /// End of validity (Unix seconds).
    pub valid_before: u64,
    /// Break-glass, approved or normal.
    pub kind: GrantKind,
    /// The approved request it used.
    pub request_id: Option<String>,
    /// Who approved.
    pub approvers: Vec<String>,
    /// The reason given.
    pub reason: Option<String>,
    /// The ticket given.
    pub ticket: Option<String>,
    /// Issued outside business hours.
    pub out_of_hours: bool,
    /// Address the request came from.
    pub source_ip: String,
    /// When a revocation named it (before `until`), if one did.
    pub revoked_at: Option<u64>,
    /// Who closed its break-glass review (before `until`), if anyone did.
    pub reviewed_by: Option<String>,
}

/// One refused certificate request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Denial {
    /// Sequence number.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// User, when known.
    pub user: Option<String>,
    /// Role asked for, when named.
    pub role: Option<String>,
    /// Error code.
    pub code: String,
    /// The message sent.
    pub reason: String,
    /// Address the request came from.
    pub source_ip: String,
}

/// One access request and its decisions.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Approval {
    /// Request ID.
    pub request_id: String,
    /// Sequence number of its `requested` record (absent when the records start later).
    pub seq: Option<u64>,
    /// When it was made (absent likewise).
    pub requested_at: Option<u64>,
    /// Who asked.
    pub requester: String,
    /// Role.
    pub role: String,
    /// Why.
    pub reason: Option<String>,
    /// Ticket.
    pub ticket: Option<String>,
    /// Distinct approvals needed.
    pub approvals_needed: Option<u32>,
    /// Its decisions, in log order.
    pub decisions: Vec<Decision>,
    /// The state after the last decision (`pending` without any).
    pub state: String,
    /// Serials of the certificates issued with it.
    pub serials: Vec<u64>,
}

/// One approver's decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// Sequence number.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// Who decided.
    pub approver: String,
    /// Approved (true) or denied.
    pub approve: bool,
    /// The approver's note.
    pub reason: Option<String>,
    /// The request's state after it.
    pub state: String,
}

/// One revocation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Revocation {
    /// Sequence number.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// `serial`, `key_id`, `user` or `key`.
    pub kind: String,
    /// What was named.
    pub target: String,
    /// Serials revoked.
    pub serials: Vec<u64>,
    /// Why.
    pub reason: String,
    /// Who.
    pub revoked_by: String,
}

/// One closed break-glass review.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Review {
    /// Sequence number.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// Serial of the break-glass certificate.
    pub serial: u64,
    /// Its user (from its `issued` record, when the records hold it).
    pub user: Option<String>,
    /// Its role (likewise).
    pub role: Option<String>,
    /// Who reviewed.
    pub reviewer: String,
    /// What they found.
    pub note: String,
}
