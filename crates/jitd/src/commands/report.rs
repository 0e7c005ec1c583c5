//! `jitd audit search` and `jitd audit report`: finding records, and the access report an
//! auditor hands on (who had which access in a window, what was refused, approved, revoked
//! and reviewed) as HTML, CSV or JSON.
//!
//! # Layout
//! - [`source`]: where entries come from (the database page by page, or an export file);
//!   shared with `jitd audit export` and `verify`.
//! - [`view`]: one record as a row (type, user, role, serial, detail), with break-glass
//!   reviews joined to the certificate they review; [`search`] filters rows.
//! - [`model`]: the report itself, built from entries and a [`Window`]; JSON is its serde form.
//! - [`csv`], [`html`] (with the SVG [`timeline`]): the other renderings.
//!
//! Every string in a record is attacker-influenced (people type reasons, tickets and notes):
//! HTML output escapes all of it, CSV output defuses spreadsheet formulas, and the search
//! table shows control characters as escapes.

pub mod csv;
pub mod html;
pub mod model;
pub mod search;
pub mod source;
pub mod timeline;
pub mod view;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{ReportArgs, ReportFormat, ReportTable, SearchArgs};
pub use model::Report;

/// A report window: records at or after `since` and before `until` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, inclusive.
    pub since: u64,
    /// End, exclusive.
    pub until: u64,
}

impl Window {
    /// A window; `until` must be after `since`.
    pub fn new(since: u64, until: u64) -> anyhow::Result<Window> {
        anyhow::ensure!(
            until > since,
            "the window is empty: --until ({}) must be after --since ({})",
            rfc3339(until),
            rfc3339(since)
        );
        Ok(Window { since, until })
    }

    /// Whether `time` falls inside the window.
    pub fn contains(&self, time: u64) -> bool {
        (self.since..self.until).contains(&time)
    }

    /// Whether `[start, end)` overlaps the window.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.until && end > self.since
    }
}

/// A time given to `--since` or `--until`: RFC 3339, Unix seconds, or an age such as `2h`
/// (that long before `now`).
pub fn parse_when(flag: &str, text: &str, now: u64) -> anyhow::Result<u64> {
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(age.as_secs()));
    }
    super::parse_time(text).map_err(|_| {
        anyhow::anyhow!("{flag} {text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, or an age like 2h")
    })
}

/// Unix seconds as RFC 3339 UTC, e.g. `2026-11-27T02:38:02Z`.
pub fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
}

/// `jitd audit search`.
pub async fn run_search(data_dir: &Path, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let now = super::now();
    let filter = search::Filter {
        user: args.user,
        principal: args.principal,
        role: args.role,
        serial: args.serial,
        since: args
            .since
            .map(|t| parse_when("--since", &t, now))
            .transpose()?,
        until: args
            .until
            .map(|t| parse_when("--until", &t, now))
            .transpose()?,
        types: args.types.iter().map(|t| t.name()).collect(),
    };
    let entries = source::load(data_dir, args.file.as_deref()).await?;
    let found = search::search(&entries, &filter)?;
    if args.json {
        print!("{}", search::json_lines(&found)?);
    } else if found.is_empty() {
        eprintln!(
            "no record matches (searched {} records); loosen the filters",
            entries.len()
        );
    } else {
        print!("{}", search::table(&found));
    }
    Ok(ExitCode::SUCCESS)
}

/// `jitd audit report`.
pub async fn run_report(data_dir: &Path, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.what.is_some() && args.format != ReportFormat::Csv {
        anyhow::bail!(
            "--what picks the table of a CSV report; HTML and JSON reports hold every section (drop --what, or add --format csv)"
        );
    }
    let now = super::now();
    let since = parse_when("--since", &args.since, now)?;
    let until = match &args.until {
        Some(text) => parse_when("--until", text, now)?,
        None => now,
    };
    let window = Window::new(since, until)?;
    let entries = source::load(data_dir, args.file.as_deref()).await?;
    let report = Report::build(&entries, window)?;
    let text = render(
        &report,
        args.format,
        args.what.unwrap_or(ReportTable::Grants),
    )?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!(
                "report written to {}: {} grant(s), {} denial(s), {} request(s), {} revocation(s), {} review(s)",
                path.display(),
                report.summary.grants,
                report.summary.denials,
                report.summary.requests,
                report.summary.revocations,
                report.summary.reviews
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as `format`; for CSV, the one table `what` names.
pub fn render(report: &Report, format: ReportFormat, what: ReportTable) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Html => html::render(report),
        ReportFormat::Csv => csv::render(report, what),
        ReportFormat::Json => {
            let mut json = serde_json::to_string_pretty(report)?;
            json.push('\n');
            json
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_come_in_three_forms() {
        let now = 1_800_000_000;
        assert_eq!(
            parse_when("--since", "1700000000", now).unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_when("--since", "2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000
        );
        assert_eq!(parse_when("--since", "2h", now).unwrap(), now - 7200);
        let error = parse_when("--until", "yesterday-ish", now).unwrap_err();
        assert!(error.to_string().starts_with("--until \"yesterday-ish\""));
    }

    #[test]
    fn windows_are_half_open_and_not_empty() {
        let window = Window::new(100, 200).unwrap();
        assert!(window.contains(100) && !window.contains(200));
        assert!(window.overlaps(50, 101) && !window.overlaps(50, 100));
        assert!(window.overlaps(199, 300) && !window.overlaps(200, 300));
        assert!(Window::new(200, 200).is_err());
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
