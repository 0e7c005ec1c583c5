//! `jitd audit search`: the records that match every given filter, as a table or as JSON
//! lines.

use jit_log::{Entry, Event, Issuance, Record};
use serde::Serialize;

use super::view::{self, Certificates, Parsed, Row};

/// What to look for; `None` (or no types) matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A person the record names: its user or requester, an approver, the reviewer, the
    /// revoker, or the user of a certificate it reviews or revokes.
    pub user: Option<String>,
    /// A principal of the certificate the record is about.
    pub principal: Option<String>,
    /// The role the record is about (or the role of the certificate it reviews or revokes).
    pub role: Option<String>,
    /// A certificate serial the record is about.
    pub serial: Option<u64>,
    /// Records at or after this time.
    pub since: Option<u64>,
    /// Records before this time.
    pub until: Option<u64>,
    /// Record types to keep (`issued`, `denied`, ...).
    pub types: Vec<&'static str>,
}

/// One match: the row people read, and the record scripts read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The record as a row.
    pub row: Row,
    /// The record itself.
    pub record: Record,
}

/// The entries that match `filter`, in log order.
pub fn search(entries: &[Entry], filter: &Filter) -> anyhow::Result<Vec<Found>> {
    let parsed = view::parse(entries)?;
    let certificates = Certificates::index(&parsed);
    Ok(parsed
        .iter()
        .filter(|p| filter.matches(p, &certificates))
        .map(|p| Found {
            row: view::row(p, &certificates),
            record: p.record.clone(),
        })
        .collect())
}

impl Filter {
    fn matches(&self, parsed: &Parsed, certificates: &Certificates<'_>) -> bool {
        let record = &parsed.record;
        let related = certificates.of(record);
        let time_ok = self.since.is_none_or(|since| record.time >= since)
            && self.until.is_none_or(|until| record.time < until);
        let type_ok = self.types.is_empty() || self.types.contains(&view::type_name(&record.event));
        let user_ok = self.user.as_deref().is_none_or(|user| {
            people(record).contains(&user) || related.iter().any(|i| i.user == user)
        });
        let principal_ok = self.principal.as_deref().is_none_or(|principal| {
            related
                .iter()
                .any(|i| i.principals.iter().any(|p| p == principal))
        });
        let role_ok = self.role.as_deref().is_none_or(|role| {
            own_role(record) == Some(role) || related.iter().any(|i| i.role == role)
        });
        let serial_ok = self
            .serial
            .is_none_or(|serial| serials(record, &related).contains(&serial));
        time_ok && type_ok && user_ok && principal_ok && role_ok && serial_ok
    }
}

/// The people a record names itself.
fn people(record: &Record) -> Vec<&str> {
    match &record.event {
        Event::Issued(i) => std::iter::once(i.user.as_str())
            .chain(i.approvers.iter().map(String::as_str))
            .collect(),
        Event::Decided(d) => vec![&d.requester, &d.approver],
        Event::Reviewed(r) => vec![&r.reviewer],
        Event::Revoked(r) => {
            let by = r
                .revoked_by
                .strip_suffix(" (self)")
                .unwrap_or(&r.revoked_by);
            let mut names = vec![by];
            if r.kind == "user" {
                names.push(&r.target);
            }
            names
        }
        _ => record.user().into_iter().collect(),
    }
}

fn own_role(record: &Record) -> Option<&str> {
    match &record.event {
        Event::Issued(i) => Some(&i.role),
        Event::Denied(d) => d.role.as_deref(),
        Event::Requested(r) => Some(&r.role),
        Event::Decided(d) => Some(&d.role),
        _ => None,
    }
}

fn serials(record: &Record, related: &[&Issuance]) -> Vec<u64> {
    let mut serials: Vec<u64> = related.iter().map(|i| i.serial).collect();
    match &record.event {
        Event::Reviewed(r) => serials.push(r.serial),
        Event::Revoked(r) => serials.extend(&r.serials),
        _ => {}
    }
    serials
}

/// The table: `SEQ TIME TYPE USER ROLE SERIAL DETAIL`, one line per record, times in UTC.
/// Control characters in log texts are shown as escapes, never sent to the terminal.
pub fn table(found: &[Found]) -> String {
    let mut out = format!(
        "{:<6} {:<20} {:<9} {:<12} {:<14} {:<20} DETAIL\n",
        "SEQ", "TIME", "TYPE", "USER", "ROLE", "SERIAL"
    );
    for Found { row, .. } in found {
        let line = format!(
            "{:<6} {:<20} {:<9} {:<12} {:<14} {:<20} {}",
            row.seq,
            super::rfc3339(row.time),
            row.kind,
            printable(row.user.as_deref().unwrap_or("-")),
            printable(row.role.as_deref().unwrap_or("-")),
            row.serial.map_or("-".to_string(), |s| s.to_string()),
            printable(&row.detail),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One JSON object per record: `seq` followed by the record's own fields.
pub fn json_lines(found: &[Found]) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Line<'a> {
        seq: u64,
        #[serde(flatten)]
        record: &'a Record,
    }
    let mut out = String::new();
    for Found { row, record } in found {
        out.push_str(&serde_json::to_string(&Line {
            seq: row.seq,
            record,
        })?);
        out.push('\n');
    }
    Ok(out)
}

/// `text` with control characters escaped (`\u{1b}`), so log texts cannot drive the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("ok\u{1b}[2J\n"), "ok\\u{1b}[2J\\n");
        assert_eq!(printable("Zoë"), "Zoë");
    }
}
