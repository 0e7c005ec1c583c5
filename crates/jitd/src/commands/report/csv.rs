//! The report as CSV: one table per output, chosen with `--what` (grants by default), with
//! a header row, RFC 4180 quoting, `\n` line ends and times in RFC 3339 UTC.
//!
//! Log texts are attacker-influenced, and spreadsheets run a cell that starts with `=`,
//! `+`, `-` or `@` as a formula: such a text cell gets a leading `'` (the OWASP advice).
//! List cells (principals, approvers, serials) are separated by spaces.

use super::model::{Approval, Report};
use super::rfc3339;
use crate::cli::ReportTable;

/// The CSV of one table of `report`.
pub fn render(report: &Report, what: ReportTable) -> String {
    let (header, rows): (&[&str], Vec<Vec<String>>) = match what {
        ReportTable::Grants => (
            &[
                "seq",
                "issued_at",
                "user",
                "role",
                "kind",
                "principals",
                "serial",
                "key_id",
                "valid_after",
                "valid_before",
                "request_id",
                "approvers",
                "reason",
                "ticket",
                "out_of_hours",
                "revoked_at",
                "reviewed_by",
                "source_ip",
            ],
            report
                .grants
                .iter()
                .map(|g| {
                    vec![
                        g.seq.to_string(),
                        rfc3339(g.issued_at),
                        text(&g.user),
                        text(&g.role),
                        g.kind.name().to_string(),
                        text(&g.principals.join(" ")),
                        g.serial.to_string(),
                        text(&g.key_id),
                        rfc3339(g.valid_after),
                        rfc3339(g.valid_before),
                        optional(g.request_id.as_deref()),
                        text(&g.approvers.join(" ")),
                        optional(g.reason.as_deref()),
                        optional(g.ticket.as_deref()),
                        g.out_of_hours.to_string(),
                        g.revoked_at.map(rfc3339).unwrap_or_default(),
                        optional(g.reviewed_by.as_deref()),
                        text(&g.source_ip),
                    ]
                })
                .collect(),
        ),
        ReportTable::Denials => (
            &["seq", "time", "user", "role", "code", "reason", "source_ip"],
            report
                .denials
                .iter()
                .map(|d| {
                    vec![
                        d.seq.to_string(),
                        rfc3339(d.time),
                        optional(d.user.as_deref()),
                        optional(d.role.as_deref()),
                        text(&d.code),
                        text(&d.reason),
                        text(&d.source_ip),
                    ]
                })
                .collect(),
        ),
        ReportTable::Approvals => (
            &[
                "request_id",
                "seq",
                "requested_at",
                "requester",
                "role",
                "reason",
                "ticket",
                "approvals_needed",
                "state",
                "decisions",
                "serials",
            ],
            report.approvals.iter().map(approval_row).collect(),
        ),
        ReportTable::Revocations => (
            &[
                "seq",
                "time",
                "kind",
                "target",
                "serials",
                "reason",
                "revoked_by",
            ],
            report
                .revocations
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        rfc3339(r.time),
                        text(&r.kind),
                        text(&r.target),
                        numbers(&r.serials),
                        text(&r.reason),
                        text(&r.revoked_by),
                    ]
                })
                .collect(),
        ),
        ReportTable::Reviews => (
            &["seq", "time", "serial", "user", "role", "reviewer", "note"],
            report
                .reviews
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        rfc3339(r.time),
                        r.serial.to_string(),
                        optional(r.user.as_deref()),
                        optional(r.role.as_deref()),
                        text(&r.reviewer),
                        text(&r.note),
                    ]
                })
                .collect(),
        ),
    };
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// One request: its decisions in one cell, `TIME APPROVER approved|denied[: note]; ...`.
fn approval_row(a: &Approval) -> Vec<String> {
    let decisions: Vec<String> = a
        .decisions
        .iter()
        .map(|d| {
            let verb = if d.approve { "approved" } else { "denied" };
            match &d.reason {
                Some(note) => format!("{} {} {verb}: {note}", rfc3339(d.time), d.approver),
                None => format!("{} {} {verb}", rfc3339(d.time), d.approver),
            }
        })
        .collect();
    vec![
        text(&a.request_id),
        a.seq.map(|s| s.to_string()).unwrap_or_default(),
        a.requested_at.map(rfc3339).unwrap_or_default(),
        text(&a.requester),
        text(&a.role),
        optional(a.reason.as_deref()),
        optional(a.ticket.as_deref()),
        a.approvals_needed
            .map(|n| n.to_string())
            .unwrap_or_default(),
        text(&a.state),
        text(&decisions.join("; ")),
        numbers(&a.serials),
    ]
}

fn numbers(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn optional(value: Option<&str>) -> String {
    value.map(text).unwrap_or_default()
}

/// A text cell: formula-defused, then quoted when it holds `"`, `,` or a line break.
pub fn text(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains(['"', ',', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("-1+2"), "'-1+2");
        assert_eq!(text("two\nlines"), "\"two\nlines\"");
    }
}
