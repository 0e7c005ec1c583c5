//! Policy files with approval, reasons, tickets, break-glass and business hours: the valid ones
//! read as written, and every problem is reported at its line.

use std::time::Duration;

use jit_policy::{ApprovalRule, Approver, Policy};

const EXAMPLE: &str = include_str!("../examples/policy.toml");

/// Every new key, valid.
const FULL: &str = r#"[business_hours]
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-18:00"
time_zone = "Europe/Berlin"

[roles.db-migrate]
groups = ["dba"]
principals = ["postgres"]
approval = { approvers = ["group:sre-leads", "user:carol"], count = 2, window = "1h" }
ticket_pattern = "^(INC|CHG)-[0-9]+$"

[roles.break-glass]
groups = ["sre"]
principals = ["root"]
break_glass = true

[roles.web]
groups = ["web"]
principals = ["web"]
require_reason = true

[roles.plain]
groups = ["web"]
principals = ["web"]

[roles.pair]
groups = ["sre"]
principals = ["root"]
require_reason = true

[roles.pair.approval]
approvers = ["user:carol", "user:dave"]
count = 2
window = "7days"
"#;

fn problems(text: &str) -> Vec<(usize, String)> {
    match Policy::parse(text) {
        Ok(_) => panic!("policy should have been refused:\n{text}"),
        Err(errors) => errors.iter().map(|e| (e.line, e.message.clone())).collect(),
    }
}

fn lines(problems: &[(usize, String)]) -> Vec<usize> {
    problems.iter().map(|(line, _)| *line).collect()
}

#[track_caller]
fn assert_problem(problems: &[(usize, String)], line: usize, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|(l, m)| *l == line && m.contains(needle)),
        "no problem on line {line} containing {needle:?} in {problems:#?}"
    );
}

/// A role `r` on lines 1-3, then `extra` from line 4.
fn role(extra: &str) -> String {
    format!("[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n{extra}\n")
}

#[test]
fn a_policy_with_every_gate_reads_as_written() {
    let policy = Policy::parse(FULL).unwrap_or_else(|e| panic!("{e}"));
    let hours = policy.business_hours().expect("business hours");
    assert_eq!(hours.describe(), "mon-fri 09:00-18:00 Europe/Berlin");
    assert_eq!(hours.time_zone(), "Europe/Berlin");

    let db = policy.role("db-migrate").expect("db-migrate");
    assert_eq!(
        db.approval,
        Some(ApprovalRule {
            approvers: vec![
                Approver::Group("sre-leads".into()),
                Approver::User("carol".into())
            ],
            count: 2,
            window: Duration::from_secs(3600),
        })
    );
    assert!(db.require_reason, "approval implies a reason");
    assert!(!db.break_glass);
    let pattern = db.ticket_pattern.as_ref().expect("ticket pattern");
    assert_eq!(pattern.as_str(), "^(INC|CHG)-[0-9]+$");
    assert!(pattern.is_match("CHG-42"));
    assert!(!pattern.is_match("chg-42"));

    let bg = policy.role("break-glass").expect("break-glass");
    assert!(bg.break_glass);
    assert!(bg.require_reason, "break-glass implies a reason");
    assert_eq!(bg.approval, None);

    assert!(policy.role("web").expect("web").require_reason);
    let plain = policy.role("plain").expect("plain");
    assert!(!plain.require_reason && !plain.break_glass);
    assert_eq!(plain.approval, None);
    assert_eq!(plain.ticket_pattern, None);

    let pair = policy.role("pair").expect("pair").approval.as_ref();
    assert_eq!(pair.map(|a| a.count), Some(2));
    assert_eq!(
        pair.map(|a| a.window),
        Some(Duration::from_secs(7 * 86_400))
    );
    assert_eq!(
        pair.map(|a| a.describe()).as_deref(),
        Some("2 approvals from user:carol or user:dave within 7days")
    );
}

#[test]
fn the_example_has_an_approval_role_and_a_break_glass_role() {
    let policy = Policy::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert!(policy.business_hours().is_none(), "commented out");
    let migrate = policy.role("db-migrate").expect("db-migrate");
    let rule = migrate.approval.as_ref().expect("approval");
    assert_eq!(rule.approvers, [Approver::Group("sre-leads".into())]);
    assert_eq!(rule.count, 1);
    assert!(migrate.require_reason);
    let bg = policy.role("break-glass").expect("break-glass");
    assert!(bg.break_glass && bg.require_reason && bg.approval.is_none());
    // The roles other crates' tests use keep their gates off.
    for name in ["web-oncall", "db-admin"] {
        let r = policy.role(name).expect(name);
        assert!(!r.require_reason && !r.break_glass, "{name}");
        assert!(r.approval.is_none() && r.ticket_pattern.is_none(), "{name}");
    }

    // The commented [business_hours] block is valid once uncommented.
    let uncommented = EXAMPLE
        .replace("\n# [business_hours]\n", "\n[business_hours]\n")
        .replace("# days = [", "days = [")
        .replace("# hours = \"", "hours = \"")
        .replace("# time_zone = \"", "time_zone = \"");
    assert_ne!(uncommented, EXAMPLE);
    let policy = Policy::parse(&uncommented).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        policy.business_hours().map(|h| h.describe()).as_deref(),
        Some("mon-fri 09:00-18:00 Europe/Berlin")
    );
}

const BAD_GATES: &str = r#"[roles.a]
groups = ["g"]
principals = ["p"]
approval = { approvers = ["group:sre leads", "carol", "user:bob", "user:bob"], count = 0, window = "30s" }
ticket_pattern = "^(INC"

[roles.b]
groups = ["g"]
principals = ["p"]
break_glass = true
approval = { approvers = ["group:leads"], window = "1h" }

[roles.c]
groups = ["g"]
principals = ["p"]
break_glass = true
require_reason = false
ticket_pattern = ""

[roles.d]
groups = ["g"]
principals = ["p"]
approval = { approvers = ["user:carol", "user:dave"], count = 3, window = "8days" }
require_reason = false
"#;

#[test]
fn every_gate_problem_is_reported_at_its_line() {
    let p = problems(BAD_GATES);
    assert_problem(
        &p,
        4,
        "role a: approver \"group:sre leads\": group name \"sre leads\" is not allowed",
    );
    assert_problem(
        &p,
        4,
        "role a: approver \"carol\" must be written \"group:NAME\" or \"user:NAME\"",
    );
    assert_problem(&p, 4, "role a: approver \"user:bob\" is listed twice");
    assert_problem(
        &p,
        4,
        "role a: approval count 0 must be a whole number from 1 up",
    );
    assert_problem(&p, 4, "role a: approval window 30s is outside 1m to 7days");
    assert_problem(
        &p,
        5,
        "role a: ticket_pattern \"^(INC\" is not a valid regular expression: unclosed group",
    );
    assert_problem(
        &p,
        10,
        "role b: a break-glass role issues at once, so it cannot also need approval (approval on line 11)",
    );
    assert_problem(
        &p,
        17,
        "role c: require_reason = false does not fit a role with break_glass",
    );
    assert_problem(&p, 18, "role c: ticket_pattern is empty");
    assert_problem(
        &p,
        23,
        "role d: approval count 3 can never be met: approvers lists only 2 user(s)",
    );
    assert_problem(
        &p,
        23,
        "role d: approval window 8days is outside 1m to 7days",
    );
    assert_problem(
        &p,
        24,
        "role d: require_reason = false does not fit a role with approval",
    );
    assert_eq!(
        lines(&p),
        [4, 4, 4, 4, 4, 5, 10, 17, 18, 23, 23, 24],
        "{p:#?}"
    );
}

#[test]
fn approval_tables_report_their_own_keys_and_types() {
    let text = r#"[roles.a]
groups = ["g"]
principals = ["p"]

[roles.a.approval]
approvers = ["group:leads"]
cout = 2
window = "1h"

[roles.b]
groups = ["g"]
principals = ["p"]
approval = "group:leads"

[roles.c]
groups = ["g"]
principals = ["p"]
approval = { approvers = [], count = "2" }

[roles.d]
groups = ["g"]
principals = ["p"]
approval = { count = 1 }
break_glass = "yes"
"#;
    let p = problems(text);
    assert_problem(
        &p,
        7,
        "unknown key \"cout\" in [roles.a.approval]; did you mean \"count\"?",
    );
    assert_problem(&p, 13, "[roles.b.approval] must be a table, not a string");
    assert_problem(
        &p,
        18,
        "[roles.c.approval]: invalid type: string \"2\", expected a whole number of approvals without quotes, such as 2",
    );
    assert_problem(
        &p,
        24,
        "[roles.d]: invalid type: string \"yes\", expected a boolean",
    );
    assert_eq!(lines(&p), [7, 13, 18, 24], "{p:#?}");

    // Missing parts are reported at the `approval` key.
    let p = problems(&role("approval = { count = 1 }"));
    assert_problem(&p, 4, "role r: approval has no `approvers`");
    assert_problem(&p, 4, "role r: approval has no `window`");
    assert_eq!(lines(&p), [4, 4], "{p:#?}");
    let p = problems(&role("approval = { approvers = [], window = \"1h\" }"));
    assert_problem(
        &p,
        4,
        "approval.approvers is empty, so nobody could approve",
    );
}

#[test]
fn approval_limits() {
    let ok = |approval: &str| {
        Policy::parse(&role(&format!("approval = {approval}")))
            .unwrap_or_else(|e| panic!("{approval}: {e}"))
    };
    // count defaults to 1; a group can have any number of members.
    let p = ok(r#"{ approvers = ["group:leads"], window = "1m" }"#);
    assert_eq!(
        p.role("r")
            .and_then(|r| r.approval.as_ref())
            .map(|a| a.count),
        Some(1)
    );
    ok(r#"{ approvers = ["group:leads", "user:carol"], count = 5, window = "7days" }"#);
    ok(r#"{ approvers = ["user:carol", "user:dave"], count = 2, window = "1h" }"#);
    let p = problems(&role(
        r#"approval = { approvers = ["user:carol"], count = 2, window = "1h" }"#,
    ));
    assert_problem(&p, 4, "approval count 2 can never be met");
    let p = problems(&role(
        r#"approval = { approvers = ["user:a@b"], count = 99999999999, window = "59s" }"#,
    ));
    assert_problem(&p, 4, "user name \"a@b\" is not allowed");
    assert_problem(&p, 4, "approval count 99999999999 must be a whole number");
    assert_problem(&p, 4, "approval window 59s is outside 1m to 7days");
    let p = problems(&role(
        r#"approval = { approvers = ["group:x"], window = "soon" }"#,
    ));
    assert_problem(
        &p,
        4,
        "role r: approval window: duration \"soon\" is not valid",
    );
}

#[test]
fn ticket_patterns_and_reasons() {
    let p = problems(&role("ticket_pattern = \"[z-a]\""));
    assert_problem(
        &p,
        4,
        "ticket_pattern \"[z-a]\" is not a valid regular expression",
    );
    assert!(p[0].1.lines().count() == 1, "one line: {p:#?}");
    let p = problems(&role("ticket_pattern = \"a)|(b\""));
    assert_problem(&p, 4, "is not a valid regular expression");
    let p = problems(&role("ticket_pattern = 5"));
    assert_problem(&p, 4, "invalid type: integer `5`, expected a string");
    let p = problems(&role("require_reason = \"true\""));
    assert_problem(&p, 4, "expected a boolean");
    // require_reason = false is fine without approval or break-glass.
    let p = Policy::parse(&role("require_reason = false\nbreak_glass = false")).expect("valid");
    assert!(!p.role("r").expect("r").require_reason);
}

#[test]
fn business_hours_problems_have_lines() {
    let text = r#"[business_hours]
days = ["mon", "Tue", "funday", "mon"]
hours = "18:00-09:00"
time_zone = "Europe/Berln"
weekends = false

[roles.r]
groups = ["g"]
principals = ["p"]
"#;
    let p = problems(text);
    assert_problem(
        &p,
        2,
        "[business_hours]: unknown day \"Tue\"; did you mean \"tue\"?",
    );
    assert_problem(&p, 2, "[business_hours]: unknown day \"funday\"");
    assert_problem(&p, 2, "[business_hours]: day \"mon\" is listed twice");
    assert_problem(
        &p,
        3,
        "[business_hours]: hours \"18:00-09:00\": the start must be before the end",
    );
    assert_problem(
        &p,
        4,
        "[business_hours]: time_zone \"Europe/Berln\" is not a known IANA time zone; did you mean \"Europe/Berlin\"?",
    );
    assert_problem(&p, 5, "unknown key \"weekends\" in [business_hours]");
    assert_eq!(lines(&p), [2, 2, 2, 3, 4, 5], "{p:#?}");

    let p = problems(
        "\n[business_hours]\ndays = []\n[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n",
    );
    assert_problem(&p, 2, "[business_hours] has no `hours`");
    assert_problem(&p, 2, "[business_hours] has no `time_zone`");
    assert_problem(&p, 3, "[business_hours]: days is empty");
    assert_eq!(lines(&p), [2, 2, 3], "{p:#?}");

    let with = |hours: &str| {
        format!("[business_hours]\nhours = \"{hours}\"\ntime_zone = \"UTC\"\n[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n")
    };
    assert_problem(&problems(&with("9-17")), 2, "must be written HH:MM-HH:MM");
    assert_problem(
        &problems(&with("09:00-24:30")),
        2,
        "24:30 is not a time of day",
    );
    assert_problem(
        &problems(&with("09:00-09:00")),
        2,
        "start must be before the end",
    );
    // days left out: mon-fri. 24:00 ends the day. Zone names ignore ASCII case.
    let p = Policy::parse(&with("00:00-24:00")).expect("valid");
    assert_eq!(
        p.business_hours().map(|h| h.describe()).as_deref(),
        Some("mon-fri 00:00-24:00 UTC")
    );
    let p = Policy::parse(&with("08:00-17:00").replace("\"UTC\"", "\"america/new_york\""))
        .expect("valid");
    assert_eq!(
        p.business_hours()
            .map(|h| h.time_zone().to_owned())
            .as_deref(),
        Some("America/New_York")
    );
    assert_problem(
        &problems("business_hours = \"9-5\"\n[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n"),
        1,
        "[business_hours] must be a table, not a string",
    );
}

#[test]
fn log_receipt_is_an_opt_in_per_role() {
    let policy = jit_policy::Policy::parse(
        "[roles.a]\ngroups = [\"g\"]\nprincipals = [\"p\"]\nlog_receipt = true\n\n[roles.b]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n",
    )
    .unwrap();
    assert!(policy.role("a").unwrap().log_receipt);
    assert!(!policy.role("b").unwrap().log_receipt);
    let errors = jit_policy::Policy::parse(
        "[roles.a]\ngroups = [\"g\"]\nprincipals = [\"p\"]\nlog_receipt = \"yes\"\n",
    )
    .unwrap_err();
    assert_eq!(errors.iter().next().unwrap().line, 4, "{errors}");
}
