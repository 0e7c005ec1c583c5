//! Policy files: the example parses, and every kind of problem is reported at its line.

use std::time::Duration;

use jit_policy::{hash_text, Policy, PolicyErrors};

const EXAMPLE: &str = include_str!("../examples/policy.toml");

/// Parse text that must be invalid; the problems as (line, message).
fn problems(text: &str) -> Vec<(usize, String)> {
    match Policy::parse(text) {
        Ok(_) => panic!("policy should have been refused:\n{text}"),
        Err(errors) => errors.iter().map(|e| (e.line, e.message.clone())).collect(),
    }
}

fn lines(problems: &[(usize, String)]) -> Vec<usize> {
    problems.iter().map(|(line, _)| *line).collect()
}

/// The message reported on `line` that contains `needle`.
#[track_caller]
fn assert_problem(problems: &[(usize, String)], line: usize, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|(l, m)| *l == line && m.contains(needle)),
        "no problem on line {line} containing {needle:?} in {problems:#?}"
    );
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn example_policy_parses_with_roles_as_written() {
    assert_eq!(jit_policy::EXAMPLE_POLICY, EXAMPLE);
    let policy = Policy::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = policy.roles().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["break-glass", "db-admin", "db-migrate", "web-oncall"]
    );

    let web = policy.role("web-oncall").expect("web-oncall");
    assert_eq!(web.groups, ["sre", "web"]);
    assert_eq!(web.principals, ["deploy", "web"]);
    assert_eq!(web.hosts, ["web-*", "*.web.prod"]);
    assert_eq!(web.default_ttl, secs(15 * 60));
    assert_eq!(web.max_ttl, secs(60 * 60));
    assert_eq!(web.backdate, secs(30));
    assert_eq!(web.extensions, ["permit-pty", "permit-port-forwarding"]);
    assert_eq!(
        web.key_types,
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"]
    );
    assert_eq!(
        web.source_address.as_deref(),
        Some(&["10.0.0.0/8".to_owned(), "127.0.0.1/32".to_owned()][..])
    );
    assert_eq!(
        web.force_command.as_deref(),
        Some("/usr/local/bin/audit-shell")
    );

    // db-admin inherits what it does not set from [defaults].
    let db = policy.role("db-admin").expect("db-admin");
    assert_eq!(db.principals, ["postgres"]);
    assert_eq!(db.default_ttl, secs(10 * 60));
    assert_eq!(db.max_ttl, secs(30 * 60));
    assert_eq!(db.backdate, secs(30));
    assert_eq!(db.key_types, ["ssh-ed25519"]);
    assert_eq!(db.source_address, None);
    assert_eq!(db.force_command, None);
    assert!(policy.role("nope").is_none());
}

#[test]
fn built_in_defaults_fill_what_nothing_sets() {
    let policy =
        Policy::parse("[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n").expect("valid");
    let r = policy.role("r").expect("r");
    assert_eq!(r.default_ttl, jit_policy::BUILTIN_DEFAULT_TTL);
    assert_eq!(r.max_ttl, jit_policy::BUILTIN_MAX_TTL);
    assert_eq!(r.backdate, jit_policy::BUILTIN_BACKDATE);
    assert_eq!(r.extensions, jit_policy::BUILTIN_EXTENSIONS);
    assert_eq!(r.key_types, jit_policy::BUILTIN_KEY_TYPES);
    assert!(r.hosts.is_empty());
}

const MANY_PROBLEMS: &str = r#"[defaults]
max_ttl = "8days"
backdate = "10m"

[roles.web-oncall]
groups = []
principals = ["root,admin", "deploy", "deploy"]
hosts = ["web *", ""]
default_ttl = "0s"
extensions = ["permit-pty", "permit-everything"]
key_types = ["ssh-dss"]
source_address = ["10.0.0.0/33", "bogus", "10.1.2.3/8"]
force_command = "audit\nshell"

[roles.Bad_Name]
groups = ["sre"]
principals = ["x"]

[roles.slow]
groups = ["s re"]
principals = ["x"]
default_ttl = "3h"
max_ttl = "1h"
ttl = "5m"
backdate = "soon"
"#;

#[test]
fn every_problem_in_a_file_is_reported_at_its_line() {
    let p = problems(MANY_PROBLEMS);
    assert_problem(&p, 2, "max_ttl 8days is over the limit of 7days");
    assert_problem(&p, 3, "backdate 10m is over the limit of 5m");
    assert_problem(&p, 6, "role web-oncall: the groups list is empty");
    assert_problem(
        &p,
        7,
        "principal \"root,admin\" is not allowed: it contains ','",
    );
    assert_problem(
        &p,
        7,
        "principal \"deploy\" is listed twice (also on line 7)",
    );
    assert_problem(&p, 8, "host pattern \"web *\" contains whitespace");
    assert_problem(&p, 8, "a host pattern is empty");
    assert_problem(&p, 9, "default_ttl must be longer than zero");
    assert_problem(&p, 10, "unknown extension \"permit-everything\"");
    assert_problem(&p, 11, "unknown key type \"ssh-dss\"");
    assert_problem(
        &p,
        12,
        "prefix length after '/' must be a number from 0 to 32",
    );
    assert_problem(&p, 12, "\"bogus\" is not an IPv4 or IPv6 address");
    assert_problem(&p, 12, "write 10.0.0.0/8");
    assert_problem(&p, 13, "force_command contains a control character");
    assert_problem(&p, 15, "role name \"Bad_Name\" is not allowed");
    assert_problem(
        &p,
        20,
        "group name \"s re\" is not allowed: it contains whitespace",
    );
    assert_problem(
        &p,
        22,
        "role slow: default_ttl 3h is longer than max_ttl 1h",
    );
    assert_problem(&p, 24, "unknown key \"ttl\" in [roles.slow]");
    assert_problem(
        &p,
        25,
        "role slow: backdate: duration \"soon\" is not valid",
    );
    assert_eq!(
        lines(&p),
        [2, 3, 6, 7, 7, 8, 8, 9, 10, 11, 12, 12, 12, 13, 15, 20, 22, 24, 25],
        "{p:#?}"
    );
}

#[test]
fn errors_display_one_line_each() {
    let errors: PolicyErrors = Policy::parse(MANY_PROBLEMS).expect_err("invalid");
    let shown = errors.to_string();
    assert_eq!(shown.lines().count(), errors.len());
    assert!(shown.lines().all(|l| l.starts_with("line ")), "{shown}");
    assert!(shown.starts_with("line 2: [defaults]: max_ttl"), "{shown}");
    // Control characters from the file are escaped, never echoed raw.
    assert!(!shown.contains("audit\nshell"));
    let as_error = jit_policy::Error::from(errors);
    assert!(as_error
        .to_string()
        .starts_with("the policy file has 19 problem(s):\nline 2:"));
}

#[test]
fn unknown_keys_are_reported_with_their_lines_and_a_suggestion() {
    let text = r#"[defaults]
max_tll = "1h"

[roles.web]
groups = ["sre"]
principal = ["deploy"]
hostz = ["web-*"]

[role.db]
groups = ["dba"]
"#;
    let p = problems(text);
    assert_problem(
        &p,
        2,
        "unknown key \"max_tll\" in [defaults]; did you mean \"max_ttl\"?",
    );
    assert_problem(
        &p,
        6,
        "unknown key \"principal\" in [roles.web]; did you mean \"principals\"?",
    );
    assert_problem(
        &p,
        7,
        "unknown key \"hostz\" in [roles.web]; did you mean \"hosts\"?",
    );
    assert_problem(
        &p,
        9,
        "unknown key \"role\" at the top level; did you mean \"roles\"?",
    );
    // The rest of [roles.web] is still checked: it has no principals.
    assert_problem(&p, 4, "role web has no `principals`");
    assert_eq!(lines(&p), [2, 4, 6, 7, 9], "{p:#?}");
}

#[test]
fn syntax_errors_have_lines() {
    let p = problems("[defaults]\nmax_ttl = \"1h\"\n\n[roles.web\ngroups = [\"sre\"]\n");
    assert_eq!(lines(&p), [4], "{p:#?}");
    assert!(p[0].1.starts_with("TOML syntax:"), "{p:#?}");

    let p = problems("[roles.web]\ngroups = [\"sre\"]\ngroups = [\"web\"]\nprincipals = [\"x\"]\n");
    assert_eq!(lines(&p), [3], "duplicate key: {p:#?}");
}

#[test]
fn wrong_types_name_the_line_and_what_to_write() {
    let text = r#"[roles.a]
groups = ["sre"]
principals = ["x"]
max_ttl = 15

[roles.b]
groups = "sre"
principals = ["x"]

[roles.c]
groups = ["sre"]
principals = ["x"]
"#;
    let p = problems(text);
    assert_problem(
        &p,
        4,
        "[roles.a]: invalid type: integer `15`, expected a duration in quotes with a unit",
    );
    assert_problem(
        &p,
        7,
        "[roles.b]: invalid type: string \"sre\", expected a sequence",
    );
    assert_eq!(lines(&p), [4, 7], "{p:#?}");

    let p = problems("defaults = 3\n[roles.a]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n");
    assert_problem(&p, 1, "[defaults] must be a table, not an integer");
    let p = problems("roles = [1]\n");
    assert_problem(&p, 1, "`roles` must be a table of roles, not an array");
    let p = problems("[roles]\nweb = \"x\"\n");
    assert_problem(&p, 2, "[roles.web] must be a table, not a string");
}

#[test]
fn roles_need_groups_and_principals() {
    let p = problems("[defaults]\n\n[roles.web]\nhosts = [\"web-*\"]\n");
    assert_problem(&p, 3, "role web has no `groups`");
    assert_problem(&p, 3, "role web has no `principals`");
    let p = problems("[roles.web]\ngroups = [\"sre\"]\nprincipals = []\n");
    assert_problem(&p, 3, "the principals list is empty");
}

#[test]
fn a_policy_needs_a_role() {
    let p = problems("");
    assert_problem(&p, 1, "the policy has no roles");
    let p = problems("# nothing\n[defaults]\nmax_ttl = \"1h\"\n\n[roles]\n");
    assert_problem(&p, 5, "the policy has no roles");
}

#[test]
fn inherited_settings_are_checked_once_where_written() {
    // [defaults] alone is wrong: reported once, at its line, not again for each role.
    let text = r#"[defaults]
default_ttl = "3h"

[roles.a]
groups = ["g"]
principals = ["p"]

[roles.b]
groups = ["g"]
principals = ["p"]
"#;
    let p = problems(text);
    assert_eq!(lines(&p), [2], "{p:#?}");
    assert_problem(
        &p,
        2,
        "[defaults]: default_ttl 3h is longer than max_ttl 2h (built-in default)",
    );

    // A role's own value against an inherited one: reported at the role, naming the source.
    let text = r#"[defaults]
max_ttl = "1h"

[roles.a]
groups = ["g"]
principals = ["p"]
default_ttl = "90m"
"#;
    let p = problems(text);
    assert_eq!(lines(&p), [7], "{p:#?}");
    assert_problem(
        &p,
        7,
        "role a: default_ttl 1h 30m is longer than max_ttl 1h (from [defaults], line 2)",
    );

    // A broken [defaults] does not cause follow-on complaints in roles.
    let p = problems("[defaults]\nmax_ttl = 5\n[roles.a]\ngroups = [\"g\"]\nprincipals = [\"p\"]\ndefault_ttl = \"5h\"\n");
    assert_eq!(lines(&p), [2], "{p:#?}");
}

#[test]
fn limits_on_durations() {
    let role =
        |extra: &str| format!("[roles.a]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n{extra}\n");
    assert!(Policy::parse(&role("max_ttl = \"7days\"\ndefault_ttl = \"7days\"")).is_ok());
    assert_problem(
        &problems(&role("max_ttl = \"7days 1s\"")),
        4,
        "over the limit of 7days",
    );
    assert!(Policy::parse(&role("backdate = \"5m\"")).is_ok());
    assert!(Policy::parse(&role("backdate = \"0s\"")).is_ok());
    assert_problem(
        &problems(&role("backdate = \"5m 1s\"")),
        4,
        "over the limit of 5m",
    );
    assert_problem(
        &problems(&role("max_ttl = \"0s\"")),
        4,
        "max_ttl must be longer than zero",
    );
    assert_problem(&problems(&role("max_ttl = \"90\"")), 4, "time unit needed");
    assert_problem(&problems(&role("key_types = []")), 4, "key_types is empty");
    assert_problem(
        &problems(&role("source_address = []")),
        4,
        "source_address is empty",
    );
    assert_problem(
        &problems(&role("force_command = \"  \"")),
        4,
        "force_command is empty",
    );
    assert_problem(
        &problems(&role("extensions = [\"permit-x11-forwarding\"]")),
        4,
        "did you mean \"permit-X11-forwarding\"?",
    );
    assert!(
        Policy::parse(&role("extensions = []")).is_ok(),
        "no extensions is a valid choice"
    );
}

#[test]
fn hash_is_sha256_of_the_exact_bytes() {
    let policy = Policy::parse(EXAMPLE).expect("valid");
    assert_eq!(policy.hash(), hash_text(EXAMPLE));
    let hex = policy.hash().strip_prefix("sha256:").expect("prefix");
    assert_eq!(hex.len(), 64);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(
        hash_text(""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );

    // One byte more, or one byte different, even in a comment: a different hash.
    let appended = format!("{EXAMPLE} ");
    assert_ne!(
        Policy::parse(&appended).expect("valid").hash(),
        policy.hash()
    );
    let changed = EXAMPLE.replacen("# jit access policy", "# jit access Policy", 1);
    assert_ne!(changed, EXAMPLE);
    assert_ne!(
        Policy::parse(&changed).expect("valid").hash(),
        policy.hash()
    );
    assert_eq!(Policy::parse(EXAMPLE).expect("valid").hash(), policy.hash());
}
