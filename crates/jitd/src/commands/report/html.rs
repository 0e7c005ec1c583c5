//! The report as one self-contained HTML page: inline CSS, an inline SVG timeline, no
//! script and no external resource (a Content-Security-Policy forbids both, so even a bug
//! in escaping could not run code). Every text from the log goes through [`escape`].

use super::model::{Approval, Grant, GrantKind, Report};
use super::{rfc3339, timeline};

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 "Liberation Sans", "DejaVu Sans", system-ui, sans-serif; margin: 24px 32px; color: #1d2733; background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d8dee6; }
p.meta { color: #566373; margin: 2px 0; }
.warn { color: #a11d1e; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 16px; }
.card { border: 1px solid #d8dee6; border-radius: 6px; padding: 6px 14px; min-width: 96px; background: #f6f8fa; }
.card b { display: block; font-size: 22px; }
.card.alert { border-color: #d62728; background: #fdecec; }
.chart { overflow-x: auto; border: 1px solid #d8dee6; border-radius: 6px; }
.chart svg { display: block; width: 100%; min-width: 900px; height: auto; font-family: inherit; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6eaef; vertical-align: top; }
th { background: #eef2f6; }
tr.break-glass td { background: #fdf1f1; }
.nowrap { white-space: nowrap; }
.kind { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; color: #ffffff; white-space: nowrap; }
.mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 12px; }
.none { color: #566373; font-style: italic; }
footer { margin-top: 32px; color: #566373; font-size: 12px; }
"#;

/// Escape `text` for HTML (element content and quoted attributes alike).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub fn render(report: &Report) -> String {
    let window = &report.window;
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    out.push_str(&format!(
        "<title>jit access report {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        window.since_utc, window.until_utc
    ));
    out.push_str("<h1>jit access report</h1>\n");
    out.push_str(&format!(
        "<p class=\"meta\">Window: {} to {} (UTC; from the start, inclusive, to the end, exclusive)</p>\n",
        window.since_utc, window.until_utc
    ));
    out.push_str(&log_line(report));
    out.push_str(&cards(report));
    out.push_str("<h2>Access per role</h2>\n<div class=\"chart\">");
    out.push_str(&timeline::svg(report));
    out.push_str("</div>\n");
    out.push_str(&grants(&report.grants));
    out.push_str(&section(
        "Denied certificate requests",
        &["Time", "User", "Role", "Code", "Reason", "From"],
        report
            .denials
            .iter()
            .map(|d| {
                plain(vec![
                    time(d.time),
                    optional(d.user.as_deref()),
                    optional(d.role.as_deref()),
                    format!("<span class=\"mono\">{}</span>", escape(&d.code)),
                    escape(&d.reason),
                    escape(&d.source_ip),
                ])
            })
            .collect(),
    ));
    out.push_str(&section(
        "Access requests and approvals",
        &[
            "Request",
            "Requested",
            "Requester",
            "Role",
            "Reason",
            "Ticket",
            "Decisions",
            "State",
            "Certificates",
        ],
        report
            .approvals
            .iter()
            .map(|a| plain(approval(a)))
            .collect(),
    ));
    out.push_str(&section(
        "Revocations",
        &["Time", "Named", "Serials", "Reason", "By"],
        report
            .revocations
            .iter()
            .map(|r| {
                plain(vec![
                    time(r.time),
                    format!(
                        "{} <span class=\"mono\">{}</span>",
                        escape(&r.kind),
                        escape(&r.target)
                    ),
                    serials(&r.serials),
                    escape(&r.reason),
                    escape(&r.revoked_by),
                ])
            })
            .collect(),
    ));
    out.push_str(&section(
        "Break-glass reviews closed",
        &["Time", "Serial", "User", "Role", "Reviewer", "Note"],
        report
            .reviews
            .iter()
            .map(|r| {
                plain(vec![
                    time(r.time),
                    format!("<span class=\"mono\">{}</span>", r.serial),
                    optional(r.user.as_deref()),
                    optional(r.role.as_deref()),
                    escape(&r.reviewer),
                    escape(&r.note),
                ])
            })
            .collect(),
    ));
    out.push_str("<footer>Made by <code>jitd audit report</code>. Certificates are listed when their validity overlaps the window; \
        every other section lists records made in the window. Texts from the log are shown escaped, as typed.</footer>\n");
    out.push_str("</body>\n</html>\n");
    out
}

fn log_line(report: &Report) -> String {
    let log = &report.log;
    if log.records == 0 {
        return "<p class=\"meta\">Made from an empty log.</p>\n".into();
    }
    let chain = if log.chain_verified {
        "hash chain verified from record 1".to_string()
    } else {
        format!(
            "<span class=\"warn\">hash chain not verified: the records start at {} (an export made with --since)</span>",
            log.first_seq
        )
    };
    format!(
        "<p class=\"meta\">Made from log records {} to {} (head <span class=\"mono\">{}</span>); {chain}</p>\n",
        log.first_seq,
        log.last_seq,
        escape(&log.head)
    )
}

fn cards(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::from("<div class=\"cards\">");
    for (label, value, alert) in [
        ("certificates", s.grants, false),
        ("users", s.users, false),
        ("roles", s.roles, false),
        ("approved", s.approved, false),
        ("break-glass", s.break_glass, s.break_glass > 0),
        (
            "break-glass not reviewed",
            s.break_glass_unreviewed,
            s.break_glass_unreviewed > 0,
        ),
        ("out of hours", s.out_of_hours, false),
        ("revoked early", s.revoked_grants, false),
        ("denied requests", s.denials, false),
        ("access requests", s.requests, false),
        ("revocations", s.revocations, false),
        ("reviews closed", s.reviews, false),
    ] {
        let class = if alert { "card alert" } else { "card" };
        out.push_str(&format!(
            "<div class=\"{class}\"><b>{value}</b>{label}</div>"
        ));
    }
    out.push_str("</div>\n");
    out
}

fn grants(grants: &[Grant]) -> String {
    let rows = grants
        .iter()
        .map(|g| {
            let colour = timeline::colour(g.kind);
            let mut notes = Vec::new();
            if !g.approvers.is_empty() {
                notes.push(format!(
                    "approved by {} ({})",
                    escape(&g.approvers.join(", ")),
                    escape(g.request_id.as_deref().unwrap_or("?"))
                ));
            }
            if g.out_of_hours {
                notes.push("out of hours".into());
            }
            if let Some(at) = g.revoked_at {
                notes.push(format!("revoked {}", time(at)));
            }
            match (&g.reviewed_by, g.kind) {
                (Some(by), _) => notes.push(format!("reviewed by {}", escape(by))),
                (None, GrantKind::BreakGlass) => {
                    notes.push("<span class=\"warn\">not reviewed</span>".into())
                }
                _ => {}
            }
            let cells = vec![
                time(g.issued_at),
                name(&g.user),
                name(&g.role),
                format!(
                    "<span class=\"kind\" style=\"background:{colour}\">{}</span>",
                    g.kind.name()
                ),
                escape(&g.principals.join(", ")),
                format!("{}<br>{}", time(g.valid_after), time(g.valid_before)),
                format!("<span class=\"mono\">{}</span>", g.serial),
                optional(g.reason.as_deref()),
                optional(g.ticket.as_deref()),
                notes.join("<br>"),
            ];
            (g.kind == GrantKind::BreakGlass, cells)
        })
        .collect();
    section(
        "Access grants (certificates)",
        &[
            "Issued",
            "User",
            "Role",
            "Kind",
            "Principals",
            "Valid",
            "Serial",
            "Reason",
            "Ticket",
            "Notes",
        ],
        rows,
    )
}

fn approval(a: &Approval) -> Vec<String> {
    let decisions: Vec<String> = a
        .decisions
        .iter()
        .map(|d| {
            let verb = if d.approve { "approved" } else { "denied" };
            let note = d
                .reason
                .as_deref()
                .map(|n| format!(": {}", escape(n)))
                .unwrap_or_default();
            format!("{} {} {verb}{note}", time(d.time), escape(&d.approver))
        })
        .collect();
    let needed = a
        .approvals_needed
        .map(|n| format!(" (needs {n})"))
        .unwrap_or_default();
    vec![
        format!("<span class=\"mono\">{}</span>", escape(&a.request_id)),
        a.requested_at.map(time).unwrap_or_default(),
        escape(&a.requester),
        escape(&a.role),
        optional(a.reason.as_deref()),
        optional(a.ticket.as_deref()),
        decisions.join("<br>"),
        format!("{}{needed}", escape(&a.state)),
        serials(&a.serials),
    ]
}

/// An `<h2>` and a table (or a line saying there is nothing). Cells are HTML already; a
/// row marked `true` is a break-glass row and stands out as in the timeline.
fn section(title: &str, header: &[&str], rows: Vec<(bool, Vec<String>)>) -> String {
    let mut out = format!("<h2>{title} ({})</h2>\n", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"none\">none in this window</p>\n");
        return out;
    }
    out.push_str("<table>\n<tr>");
    for name in header {
        out.push_str(&format!("<th>{name}</th>"));
    }
    out.push_str("</tr>\n");
    for (break_glass, row) in rows {
        out.push_str(if break_glass {
            "<tr class=\"break-glass\">"
        } else {
            "<tr>"
        });
        for cell in &row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A row without highlight.
fn plain(cells: Vec<String>) -> (bool, Vec<String>) {
    (false, cells)
}

/// A time in a table cell: `2026-11-27 02:38:02` on one line (the page says all times
/// are UTC).
fn time(unix: u64) -> String {
    let text = rfc3339(unix).replace('T', " ");
    format!(
        "<span class=\"nowrap\">{}</span>",
        text.trim_end_matches('Z')
    )
}

/// A name (user, role) kept on one line.
fn name(text: &str) -> String {
    format!("<span class=\"nowrap\">{}</span>", escape(text))
}

fn optional(text: Option<&str>) -> String {
    text.map(escape).unwrap_or_default()
}

fn serials(serials: &[u64]) -> String {
    let list: Vec<String> = serials.iter().map(u64::to_string).collect();
    format!("<span class=\"mono\">{}</span>", list.join(" "))
}
