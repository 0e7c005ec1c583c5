//! Golden tests of `jitd audit search` and `jitd audit report` on a fixed log: records with
//! fixed times and serials, sealed with `jit_log::seal` into an export file
//! (`golden/log.jsonl`), rendered by the library and by the built `jitd --file`, and
//! compared byte for byte with the committed files in `tests/golden/`.
//!
//! After an intended change of output, regenerate the golden files and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test -p jitd --test report
//! git diff crates/jitd/tests/golden/
//! ```
//!
//! The log holds hostile texts (a `<script>` reason, an attribute-breaking ticket, a
//! spreadsheet formula) that must come out escaped.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixed_log.rs"]
mod fixed_log;

use std::path::{Path, PathBuf};
use std::process::Command;

use fixed_log::*;
use jitd::cli::{ReportFormat, ReportTable};
use jitd::commands::report::{self, search, Report, Window};

fn window() -> Window {
    Window::new(DAY, DAY + 86_400).unwrap()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compare `actual` with `golden/NAME`, or write it there with `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `UPDATE_GOLDEN=1 cargo test -p jitd --test report`",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             if the change is intended: `UPDATE_GOLDEN=1 cargo test -p jitd --test report`, then review `git diff`",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

/// The fixed log written to a temporary export file.
fn export_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    std::fs::write(&path, export_text(&entries())).unwrap();
    (dir, path)
}

/// Run the built `jitd` with a data directory that does not exist (`--file` needs none).
fn jitd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jitd"))
        .args(["--data-dir", "/nonexistent/jitd-report-test"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "jitd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn report() -> Report {
    Report::build(&entries(), window()).unwrap()
}

#[test]
fn the_fixed_log_is_stable_and_verifies() {
    let entries = entries();
    golden("log.jsonl", &export_text(&entries));
    assert_eq!(
        jit_log::verify_chain(entries).unwrap().entries,
        records().len() as u64
    );
}

#[test]
fn the_json_report_has_every_section() {
    let json = report::render(&report(), ReportFormat::Json, ReportTable::Grants).unwrap();
    golden("report.json", &json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let serials: Vec<u64> = value["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["serial"].as_u64().unwrap())
        .collect();
    // The evening-before and past-midnight certificates overlap the day; the next day's does not.
    assert_eq!(
        serials,
        [
            8_016_119_290_375_995_825,
            1_001,
            1_002,
            APPROVED_SERIAL,
            BREAK_GLASS_SERIAL,
            1_003
        ]
    );
    let glass = &value["grants"][4];
    assert_eq!(glass["kind"], "break_glass");
    assert_eq!(glass["reason"], SCRIPT);
    assert_eq!(glass["reviewed_by"], "carol");
    assert_eq!(value["grants"][3]["revoked_at"], at(9, 40));
    assert_eq!(value["summary"]["denials"], 3);
    assert_eq!(value["summary"]["break_glass_unreviewed"], 0);
    assert_eq!(value["approvals"][1]["state"], "denied");
    assert_eq!(value["approvals"][0]["serials"][0], APPROVED_SERIAL);
    assert_eq!(value["log"]["chain_verified"], true);
}

#[test]
fn the_csv_report_defuses_formulas() {
    let report = report();
    let grants = report::render(&report, ReportFormat::Csv, ReportTable::Grants).unwrap();
    golden("report.csv", &grants);
    assert_eq!(grants.lines().count(), 1 + report.grants.len());
    let approvals = report::render(&report, ReportFormat::Csv, ReportTable::Approvals).unwrap();
    assert!(
        approvals.contains("\"'=HYPERLINK(\"\"http://evil.invalid\"\",\"\"CHG-8\"\")\""),
        "{approvals}"
    );
    let denials = report::render(&report, ReportFormat::Csv, ReportTable::Denials).unwrap();
    assert_eq!(denials.lines().count(), 4);
    assert!(denials.starts_with("seq,time,user,role,code,reason,source_ip\n"));
}

#[test]
fn the_html_report_is_self_contained_and_escapes_the_log() {
    let html = report::render(&report(), ReportFormat::Html, ReportTable::Grants).unwrap();
    golden("report.html", &html);
    assert!(
        !html.to_lowercase().contains("<script"),
        "a script got through"
    );
    assert!(
        !html.contains("<img"),
        "an attribute-breaking ticket got through"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; INC-9"));
    assert!(html.contains("INC-9&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    for external in ["<link", "src=\"", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    assert!(html.contains("<svg"), "the timeline is inline SVG");
    assert!(
        html.contains("fill=\"#d62728\""),
        "break-glass bars are red"
    );
}

#[test]
fn search_filters_by_user_serial_role_type_and_time() {
    let entries = entries();
    let cases: Vec<(&str, search::Filter)> = vec![
        (
            "--user bob",
            search::Filter {
                user: Some("bob".into()),
                ..Default::default()
            },
        ),
        (
            "--serial 15728163288550473838",
            search::Filter {
                serial: Some(APPROVED_SERIAL),
                ..Default::default()
            },
        ),
        (
            "--role break-glass",
            search::Filter {
                role: Some("break-glass".into()),
                ..Default::default()
            },
        ),
        (
            "--principal deploy --since 2026-11-27T00:00:00Z --until 2026-11-27T12:00:00Z",
            search::Filter {
                principal: Some("deploy".into()),
                since: Some(DAY),
                until: Some(at(12, 0)),
                ..Default::default()
            },
        ),
        (
            "--type denied,decided",
            search::Filter {
                types: vec!["denied", "decided"],
                ..Default::default()
            },
        ),
    ];
    let mut text = String::new();
    for (args, filter) in &cases {
        text.push_str(&format!("$ jitd audit search {args}\n"));
        text.push_str(&search::table(&search::search(&entries, filter).unwrap()));
        text.push('\n');
    }
    golden("search.txt", &text);

    let serial = search::search(&entries, &cases[1].1).unwrap();
    let kinds: Vec<_> = serial.iter().map(|f| f.row.kind).collect();
    assert_eq!(kinds, ["issued", "revoked"]);
    let glass = search::search(&entries, &cases[2].1).unwrap();
    let kinds: Vec<_> = glass.iter().map(|f| f.row.kind).collect();
    assert_eq!(
        kinds,
        ["issued", "denied", "reviewed"],
        "a review joins its certificate's role"
    );
}

#[test]
fn the_binary_reads_an_export_file() {
    let (_dir, path) = export_file();
    let file = path.to_str().unwrap();
    let html = stdout_of(jitd(&[
        "audit",
        "report",
        "--file",
        file,
        "--since",
        "2026-11-27T00:00:00Z",
        "--until",
        "2026-11-28T00:00:00Z",
        "--format",
        "html",
    ]));
    assert_eq!(
        html,
        report::render(&report(), ReportFormat::Html, ReportTable::Grants).unwrap()
    );

    let table = stdout_of(jitd(&["audit", "search", "--file", file, "--user", "bob"]));
    let expected = search::table(
        &search::search(
            &entries(),
            &search::Filter {
                user: Some("bob".into()),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert_eq!(table, expected);

    let json = stdout_of(jitd(&[
        "audit",
        "search",
        "--file",
        file,
        "--serial",
        &BREAK_GLASS_SERIAL.to_string(),
        "--json",
    ]));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 16);
    assert_eq!(lines[0]["type"], "issued");
    assert_eq!(lines[0]["serial"].as_u64(), Some(BREAK_GLASS_SERIAL));
    assert_eq!(lines[1]["type"], "reviewed");

    let out_path = path.with_file_name("denials.csv");
    let out = jitd(&[
        "audit",
        "report",
        "--file",
        file,
        "--since",
        "2026-11-27T00:00:00Z",
        "--until",
        "2026-11-28T00:00:00Z",
        "--format",
        "csv",
        "--what",
        "denials",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let out = jitd(&[
        "audit",
        "report",
        "--file",
        file,
        "--since",
        "1795737600",
        "--what",
        "denials",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--what picks the table of a CSV report"));
}

#[test]
fn a_broken_chain_is_not_reported_on() {
    let mut entries = entries();
    entries[6].body = entries[6].body.replace("\"bob\"", "\"eve\"");
    let error = Report::build(&entries, window()).unwrap_err().to_string();
    assert!(error.contains("log record 7 is broken"), "{error}");
    assert!(error.contains("jitd audit verify"), "{error}");
    // Search still reads it (forensics on a broken log).
    let found = search::search(
        &entries,
        &search::Filter {
            user: Some("eve".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    // A `--since` export starts later: reported on, marked as not verified.
    let report = Report::build(&entries[10..], window()).unwrap();
    assert!(!report.log.chain_verified);
    assert_eq!(report.log.first_seq, 11);
}
