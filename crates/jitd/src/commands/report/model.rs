//! The access report: who had which access in a window and what was refused, requested,
//! decided, revoked and reviewed. Its serde form is the JSON report; CSV and HTML render it.
//!
//! A certificate is in the report when its validity overlaps the window, even if it was
//! issued before the window began; every other section holds the records made inside the
//! window (a request also when only one of its decisions falls inside).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jit_log::{Entry, Event};
use serde::Serialize;

use super::view::{self, Certificates, Parsed};
use super::Window;

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

impl Report {
    /// The report of `entries` over `window`. A log that starts at record 1 must verify:
    /// a report over a broken chain would mislead, so that is an error.
    pub fn build(entries: &[Entry], window: Window) -> anyhow::Result<Report> {
        let log = log_info(entries)?;
        let parsed = view::parse(entries)?;
        let certificates = Certificates::index(&parsed);
        let before_end = |p: &&Parsed| p.record.time < window.until;
        let in_window = |p: &&Parsed| window.contains(p.record.time);

        let mut revoked_at = HashMap::new();
        let mut reviewed_by = HashMap::new();
        for p in parsed.iter().filter(before_end) {
            match &p.record.event {
                Event::Revoked(r) => {
                    for serial in &r.serials {
                        revoked_at.entry(*serial).or_insert(p.record.time);
                    }
                }
                Event::Reviewed(r) => {
                    reviewed_by.insert(r.serial, r.reviewer.clone());
                }
                _ => {}
            }
        }

        let mut grants: Vec<Grant> = parsed
            .iter()
            .filter(before_end)
            .filter_map(|p| match &p.record.event {
                Event::Issued(i) if window.overlaps(i.valid_after, i.valid_before) => Some(Grant {
                    seq: p.seq,
                    issued_at: p.record.time,
                    user: i.user.clone(),
                    role: i.role.clone(),
                    principals: i.principals.clone(),
                    serial: i.serial,
                    key_id: i.key_id.clone(),
                    valid_after: i.valid_after,
                    valid_before: i.valid_before,
                    kind: if i.break_glass {
                        GrantKind::BreakGlass
                    } else if i.request_id.is_some() || !i.approvers.is_empty() {
                        GrantKind::Approved
                    } else {
                        GrantKind::Normal
                    },
                    request_id: i.request_id.clone(),
                    approvers: i.approvers.clone(),
                    reason: i.reason.clone(),
                    ticket: i.ticket.clone(),
                    out_of_hours: i.out_of_hours,
                    source_ip: i.source_ip.clone(),
                    revoked_at: revoked_at
                        .get(&i.serial)
                        .copied()
                        .filter(|t| *t < i.valid_before),
                    reviewed_by: reviewed_by.get(&i.serial).cloned(),
                }),
                _ => None,
            })
            .collect();
        grants.sort_by_key(|g| (g.valid_after, g.seq));

        let denials = parsed
            .iter()
            .filter(in_window)
            .filter_map(|p| match &p.record.event {
                Event::Denied(d) => Some(Denial {
                    seq: p.seq,
                    time: p.record.time,
                    user: d.user.clone(),
                    role: d.role.clone(),
                    code: d.code.clone(),
                    reason: d.reason.clone(),
                    source_ip: d.source_ip.clone(),
                }),
                _ => None,
            })
            .collect();

        let revocations = parsed
            .iter()
            .filter(in_window)
            .filter_map(|p| match &p.record.event {
                Event::Revoked(r) => Some(Revocation {
                    seq: p.seq,
                    time: p.record.time,
                    kind: r.kind.clone(),
                    target: r.target.clone(),
                    serials: r.serials.clone(),
                    reason: r.reason.clone(),
                    revoked_by: r.revoked_by.clone(),
                }),
                _ => None,
            })
            .collect();

        let reviews = parsed
            .iter()
            .filter(in_window)
            .filter_map(|p| match &p.record.event {
                Event::Reviewed(r) => {
                    let issued = certificates.get(r.serial);
                    Some(Review {
                        seq: p.seq,
                        time: p.record.time,
                        serial: r.serial,
                        user: issued.map(|i| i.user.clone()),
                        role: issued.map(|i| i.role.clone()),
                        reviewer: r.reviewer.clone(),
                        note: r.note.clone(),
                    })
                }
                _ => None,
            })
            .collect();

        let approvals = approvals(&parsed, window);
        let mut report = Report {
            window: WindowInfo {
                since: window.since,
                until: window.until,
                since_utc: super::rfc3339(window.since),
                until_utc: super::rfc3339(window.until),
            },
            log,
            summary: Summary::default(),
            grants,
            denials,
            approvals,
            revocations,
            reviews,
        };
        report.summary = summary(&report);
        Ok(report)
    }
}

/// Requests made or decided in the window, each with every decision and certificate the
/// records hold for it, in the order they were made.
fn approvals(parsed: &[Parsed], window: Window) -> Vec<Approval> {
    let mut requests: BTreeMap<String, Approval> = BTreeMap::new();
    let mut touched = BTreeSet::new();
    for p in parsed.iter().filter(|p| p.record.time < window.until) {
        let time = p.record.time;
        let id = match &p.record.event {
            Event::Requested(r) => {
                let approval = requests
                    .entry(r.request_id.clone())
                    .or_insert_with(|| empty_approval(&r.request_id, &r.requester, &r.role));
                approval.seq = Some(p.seq);
                approval.requested_at = Some(time);
                approval.reason = Some(r.reason.clone());
                approval.ticket = r.ticket.clone();
                approval.approvals_needed = Some(r.approvals_needed);
                &r.request_id
            }
            Event::Decided(d) => {
                let approval = requests
                    .entry(d.request_id.clone())
                    .or_insert_with(|| empty_approval(&d.request_id, &d.requester, &d.role));
                approval.decisions.push(Decision {
                    seq: p.seq,
                    time,
                    approver: d.approver.clone(),
                    approve: d.approve,
                    reason: d.reason.clone(),
                    state: d.state.clone(),
                });
                approval.state = d.state.clone();
                &d.request_id
            }
            Event::Issued(i) => {
                if let Some(approval) = i.request_id.as_ref().and_then(|id| requests.get_mut(id)) {
                    approval.serials.push(i.serial);
                }
                continue;
            }
            _ => continue,
        };
        if window.contains(time) {
            touched.insert(id.clone());
        }
    }
    let mut list: Vec<Approval> = requests
        .into_values()
        .filter(|a| touched.contains(&a.request_id))
        .collect();
    list.sort_by_key(|a| {
        (
            a.seq
                .or_else(|| a.decisions.first().map(|d| d.seq))
                .unwrap_or(0),
            a.request_id.clone(),
        )
    });
    list
}

fn empty_approval(request_id: &str, requester: &str, role: &str) -> Approval {
    Approval {
        request_id: request_id.to_string(),
        seq: None,
        requested_at: None,
        requester: requester.to_string(),
        role: role.to_string(),
        reason: None,
        ticket: None,
        approvals_needed: None,
        decisions: Vec::new(),
        state: "pending".into(),
        serials: Vec::new(),
    }
}

fn summary(report: &Report) -> Summary {
    let grants = &report.grants;
    let count = |f: fn(&Grant) -> bool| grants.iter().filter(|g| f(g)).count();
    Summary {
        grants: grants.len(),
        users: grants
            .iter()
            .map(|g| &g.user)
            .collect::<BTreeSet<_>>()
            .len(),
        roles: grants
            .iter()
            .map(|g| &g.role)
            .collect::<BTreeSet<_>>()
            .len(),
        approved: count(|g| g.kind == GrantKind::Approved),
        break_glass: count(|g| g.kind == GrantKind::BreakGlass),
        break_glass_unreviewed: count(|g| {
            g.kind == GrantKind::BreakGlass && g.reviewed_by.is_none()
        }),
        out_of_hours: count(|g| g.out_of_hours),
        revoked_grants: count(|g| g.revoked_at.is_some()),
        denials: report.denials.len(),
        requests: report.approvals.len(),
        revocations: report.revocations.len(),
        reviews: report.reviews.len(),
    }
}

/// What records the report reads; a log from record 1 must verify.
fn log_info(entries: &[Entry]) -> anyhow::Result<LogInfo> {
    let (first, last) = match (entries.first(), entries.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => {
            return Ok(LogInfo {
                records: 0,
                first_seq: 0,
                last_seq: 0,
                head: String::new(),
                chain_verified: true,
            })
        }
    };
    let chain_verified = first.seq == 1;
    if chain_verified {
        jit_log::verify_chain(entries.iter().cloned()).map_err(|error| {
            anyhow::anyhow!(
                "the issuance log does not verify ({error}); a report over it would mislead. \
                 `jitd audit verify` names the broken record, and `jitd audit search` still reads the log"
            )
        })?;
    }
    Ok(LogInfo {
        records: entries.len() as u64,
        first_seq: first.seq,
        last_seq: last.seq,
        head: last.hash.clone(),
        chain_verified,
    })
}
