//! Building the [`Report`] from log entries: one pass to index revocations, reviews and
//! requests, then each section filtered to the window.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jit_log::{Entry, Event};

use super::super::view::{self, Certificates, Parsed};
use super::super::Window;
use super::{
    Approval, Decision, Denial, Grant, GrantKind, LogInfo, Report, Review, Revocation, Summary,
    WindowInfo,
};

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
                since_utc: super::super::rfc3339(window.since),
                until_utc: super::super::rfc3339(window.until),
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
