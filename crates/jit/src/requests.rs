//! `jit requests`: your own requests and the pending ones you may decide, as two tables.

use jit_proto::api::{RequestInfo, RequestList};

use crate::approval::{self, printable};
use crate::cli::RequestsArgs;
use crate::clock::{self, short_duration};
use crate::home::Home;
use crate::session::Session;

/// Column titles.
const HEADER: [&str; 8] = [
    "ID",
    "ROLE",
    "REQUESTER",
    "STATE",
    "AGE",
    "APPROVALS",
    "REASON",
    "TICKET",
];
/// Longest reason shown in a table (in characters, with the ellipsis).
const REASON_WIDTH: usize = 40;

/// Run `jit requests`.
pub async fn run(args: RequestsArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let session = Session::open(&home)?;
    let list = approval::list(&session).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", to_text(&list, clock::now()));
    }
    Ok(())
}

/// Both tables, titled, and how to decide when there is something to decide.
pub fn to_text(list: &RequestList, now: u64) -> String {
    let mut out = String::from("your requests:\n");
    out.push_str(&table(&list.mine, now));
    out.push_str("\nrequests you may decide:\n");
    out.push_str(&table(&list.to_decide, now));
    if !list.to_decide.is_empty() {
        out.push_str("\ndecide with `jit approve ID` or `jit deny ID --reason TEXT`\n");
    }
    out
}

/// One table: a header and a row per request, columns padded to fit, indented two spaces.
pub fn table(requests: &[RequestInfo], now: u64) -> String {
    if requests.is_empty() {
        return "  (none)\n".to_string();
    }
    let mut rows = vec![HEADER.map(str::to_string)];
    rows.extend(requests.iter().map(|info| row(info, now)));
    let mut widths = [0usize; HEADER.len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::from(" ");
        for (cell, width) in row.iter().zip(widths) {
            line.push(' ');
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count()) + 1;
            line.push_str(&" ".repeat(pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn row(info: &RequestInfo, now: u64) -> [String; HEADER.len()] {
    [
        printable(&info.id),
        printable(&info.role),
        printable(&info.requester),
        printable(&info.state),
        short_duration(now.saturating_sub(info.created_at)),
        approval::approvals(info),
        truncate(&printable(&info.reason), REASON_WIDTH),
        info.ticket.as_deref().map_or("-".to_string(), printable),
    ]
}

/// At most `width` characters, the last one `…` when something was cut.
fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::tests::{decision, request};

    #[test]
    fn tables_align_and_truncate() {
        let mut mine = request("pending", vec![decision("bob", true, None)]);
        mine.reason = "x".repeat(50);
        mine.ticket = Some("INC-7".into());
        let list = RequestList {
            mine: vec![mine],
            to_decide: vec![],
        };
        let text = to_text(&list, 1_000 + 185);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "your requests:");
        assert_eq!(
            lines[1],
            format!(
                "  ID  ROLE      REQUESTER  STATE    AGE  APPROVALS  {:40}  TICKET",
                "REASON"
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "  r1  db-admin  alice      pending  3m   1/2 (bob)  {}…  INC-7",
                "x".repeat(39)
            )
        );
        assert_eq!(lines[4], "requests you may decide:");
        assert_eq!(lines[5], "  (none)");
        assert!(!text.contains("jit approve"), "{text}");
    }

    #[test]
    fn decidable_requests_say_how_to_decide() {
        let list = RequestList {
            mine: vec![],
            to_decide: vec![request("pending", vec![])],
        };
        let text = to_text(&list, 1_000);
        assert!(
            text.contains("\n  r1  db-admin  alice      pending  0s   0/2        INC-1   -\n"),
            "{text}"
        );
        assert!(text.ends_with("decide with `jit approve ID` or `jit deny ID --reason TEXT`\n"));
    }
}
