//! One log record as a row people read: its type, the user and role it concerns, the
//! certificate serial, and a one-line detail. Records that only name a serial (reviews,
//! revocations) are joined to the `issued` record of that serial.
//!
//! Texts here are raw (as typed into the log); each output format escapes them its own way.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use jit_log::{Entry, Event, Issuance, Record};

/// A parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The entry's sequence number.
    pub seq: u64,
    /// Its record.
    pub record: Record,
}

/// Parse every entry's record; a body that is not a record names its entry.
pub fn parse(entries: &[Entry]) -> anyhow::Result<Vec<Parsed>> {
    entries
        .iter()
        .map(|entry| {
            let record = entry.record().with_context(|| {
                format!(
                    "log record {} cannot be read; `jitd audit verify` checks the whole log",
                    entry.seq
                )
            })?;
            Ok(Parsed {
                seq: entry.seq,
                record,
            })
        })
        .collect()
}

/// The `issued` records by certificate serial.
#[derive(Debug, Default)]
pub struct Certificates<'a>(HashMap<u64, &'a Issuance>);

impl<'a> Certificates<'a> {
    /// Index the `issued` records among `records`.
    pub fn index(records: &'a [Parsed]) -> Certificates<'a> {
        Certificates(
            records
                .iter()
                .filter_map(|p| match &p.record.event {
                    Event::Issued(issued) => Some((issued.serial, issued.as_ref())),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The issuance of `serial`, if the records hold it.
    pub fn get(&self, serial: u64) -> Option<&'a Issuance> {
        self.0.get(&serial).copied()
    }

    /// The certificates `record` is about: its own issuance, the one a review closes, or
    /// the ones a revocation revoked (those found among the records).
    pub fn of(&self, record: &'a Record) -> Vec<&'a Issuance> {
        match &record.event {
            Event::Issued(issued) => vec![issued.as_ref()],
            Event::Reviewed(review) => self.get(review.serial).into_iter().collect(),
            Event::Revoked(revoked) => revoked
                .serials
                .iter()
                .filter_map(|s| self.get(*s))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// One record as a row of the search table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Sequence number.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// Record type (`issued`, `denied`, ...).
    pub kind: &'static str,
    /// The user the record concerns (for a review: the certificate's user).
    pub user: Option<String>,
    /// The role (for a review or revocation: the role of the certificate(s)).
    pub role: Option<String>,
    /// The certificate serial, when the record is about one certificate.
    pub serial: Option<u64>,
    /// What happened, in one line.
    pub detail: String,
}

/// The record type as the log names it.
pub fn type_name(event: &Event) -> &'static str {
    match event {
        Event::Issued(_) => "issued",
        Event::Denied(_) => "denied",
        Event::Enrolled(_) => "enrolled",
        Event::User(_) => "user",
        Event::Requested(_) => "requested",
        Event::Decided(_) => "decided",
        Event::Reviewed(_) => "reviewed",
        Event::Revoked(_) => "revoked",
        Event::Registered(_) => "registered",
        Event::Host(_) => "host",
        Event::Ca(_) => "ca",
        Event::Policy(_) => "policy",
        _ => "other",
    }
}

/// `parsed` as a row; `certificates` joins reviews and revocations to their issuances.
pub fn row(parsed: &Parsed, certificates: &Certificates<'_>) -> Row {
    let record = &parsed.record;
    let related = certificates.of(record);
    let one = |f: fn(&Issuance) -> &str| -> Option<String> {
        let first = f(related.first()?);
        related
            .iter()
            .all(|i| f(i) == first)
            .then(|| first.to_string())
    };
    let (user, role, serial) = match &record.event {
        Event::Issued(i) => (Some(i.user.clone()), Some(i.role.clone()), Some(i.serial)),
        Event::Denied(d) => (d.user.clone(), d.role.clone(), None),
        Event::Requested(r) => (Some(r.requester.clone()), Some(r.role.clone()), None),
        Event::Decided(d) => (Some(d.requester.clone()), Some(d.role.clone()), None),
        Event::Reviewed(r) => (one(|i| &i.user), one(|i| &i.role), Some(r.serial)),
        Event::Revoked(r) => {
            let user = (r.kind == "user")
                .then(|| r.target.clone())
                .or_else(|| one(|i| &i.user));
            let serial = match r.serials.as_slice() {
                [serial] => Some(*serial),
                _ => None,
            };
            (user, one(|i| &i.role), serial)
        }
        _ => (record.user().map(str::to_string), None, None),
    };
    Row {
        seq: parsed.seq,
        time: record.time,
        kind: type_name(&record.event),
        user,
        role,
        serial,
        detail: detail(&record.event),
    }
}

/// What happened, in one line.
pub fn detail(event: &Event) -> String {
    match event {
        Event::Issued(i) => {
            let mut parts = vec![
                format!("principals {}", i.principals.join(",")),
                duration(i.valid_before.saturating_sub(i.valid_after)),
            ];
            if !i.approvers.is_empty() {
                let request = i.request_id.as_deref().unwrap_or("?");
                parts.push(format!("approved by {} ({request})", i.approvers.join(",")));
            }
            if i.break_glass {
                parts.push("BREAK-GLASS".into());
            }
            if i.out_of_hours {
                parts.push("out of hours".into());
            }
            if let Some(reason) = &i.reason {
                parts.push(format!("reason {reason:?}"));
            }
            if let Some(ticket) = &i.ticket {
                parts.push(format!("ticket {ticket}"));
            }
            parts.join("; ")
        }
        Event::Denied(d) => format!("{}: {}", d.code, d.reason),
        Event::Enrolled(e) => format!("device {:?} {}", e.device_name, e.device),
        Event::Registered(e) => format!(
            "device {:?} {} registered, waiting for its first code",
            e.device_name, e.device
        ),
        Event::Ca(c) => format!("{} CA key {} {}", c.ca, c.fingerprint, c.action),
        Event::Policy(p) => format!("policy {}; roles {}", p.action, p.roles.join(",")),
        Event::Host(h) => {
            let mut text = format!(
                "{} {}; principals {}",
                h.host,
                h.action,
                h.principals.join(",")
            );
            if let (Some(serial), Some(key)) = (h.serial, &h.key_fingerprint) {
                text.push_str(&format!("; host certificate {serial} for {key}"));
            }
            text
        }
        Event::User(u) => format!("{}; groups {}", u.action, u.groups.join(",")),
        Event::Requested(r) => {
            let mut text = format!(
                "{}: needs {} approval(s), up to {}; reason {:?}",
                r.request_id,
                r.approvals_needed,
                duration(r.ttl_seconds),
                r.reason
            );
            if let Some(ticket) = &r.ticket {
                text.push_str(&format!("; ticket {ticket}"));
            }
            text
        }
        Event::Decided(d) => {
            let verb = if d.approve { "approved" } else { "denied" };
            let mut text = format!("{} {verb} by {}, now {}", d.request_id, d.approver, d.state);
            if let Some(reason) = &d.reason {
                text.push_str(&format!("; note {reason:?}"));
            }
            text
        }
        Event::Reviewed(r) => format!("reviewed by {}; note {:?}", r.reviewer, r.note),
        Event::Revoked(r) => format!(
            "{} {} ({} certificate(s)) by {}; reason {:?}",
            r.kind,
            r.target,
            r.serials.len(),
            r.revoked_by,
            r.reason
        ),
        _ => String::new(),
    }
}

/// A lifetime such as `15m` or `1h 30m`.
pub fn duration(seconds: u64) -> String {
    humantime::format_duration(Duration::from_secs(seconds)).to_string()
}
