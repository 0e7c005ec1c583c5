//! `policy explain`: the decision and every reason, as an operator reads them.

use jit_policy::{DenialCode, ExplainDecision, Identity, Policy};

const EXAMPLE: &str = include_str!("../examples/policy.toml");

/// Monday 2026-03-30 09:30 in Berlin.
const MON_0730_UTC: u64 = 1_774_855_800;
/// Saturday 2026-03-28 11:02 in Berlin.
const SAT_1002_UTC: u64 = 1_774_692_120;

/// The example with its `[business_hours]` block uncommented.
fn example_with_hours() -> Policy {
    let text = EXAMPLE
        .replace("\n# [business_hours]\n", "\n[business_hours]\n")
        .replace("# days = [", "days = [")
        .replace("# hours = \"", "hours = \"")
        .replace("# time_zone = \"", "time_zone = \"");
    Policy::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn explain(user: &str, user_groups: &[&str], role: &str, now: u64) -> jit_policy::Explanation {
    let g: Vec<String> = user_groups.iter().map(|s| (*s).to_owned()).collect();
    example_with_hours().explain(&Identity { user, groups: &g }, role, now)
}

#[test]
fn allowed() {
    let e = explain("alice", &["sre"], "web-oncall", MON_0730_UTC);
    assert_eq!(e.decision, ExplainDecision::Allowed);
    assert_eq!(
        e.to_string(),
        "\
allowed
  group sre matches role web-oncall (alice is in [sre]; the role needs one of [sre, web])
  principals: deploy, web
  hosts: web-*, *.web.prod
  ttl: 15m by default, at most 1h; valid from 30s before issue
  key types: ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512 (RSA keys need at least 3072 bits)
  extensions: permit-pty, permit-port-forwarding
  source addresses: 10.0.0.0/8, 127.0.0.1/32
  forced command: /usr/local/bin/audit-shell
  no reason required
  no ticket required
  no approval needed
  within business hours (mon-fri 09:00-18:00 Europe/Berlin): Monday 09:30"
    );
    assert_eq!(e.to_string().lines().count(), e.lines.len() + 1);
}

#[test]
fn denied() {
    let e = explain("alice", &["sre", "web"], "db-admin", MON_0730_UTC);
    assert_eq!(
        e.decision,
        ExplainDecision::Denied(DenialCode::GroupNotAllowed)
    );
    assert_eq!(
        e.to_string(),
        "\
denied (role_not_allowed)
  role db-admin needs one of the groups [dba]; alice is in [sre, web]
  principals: postgres
  hosts: db-*, *.db.prod
  ttl: 10m by default, at most 30m; valid from 30s before issue
  key types: ssh-ed25519
  extensions: permit-pty
  no reason required
  no ticket required
  no approval needed
  within business hours (mon-fri 09:00-18:00 Europe/Berlin): Monday 09:30"
    );

    let e = explain("bob", &[], "db-admn", SAT_1002_UTC);
    assert_eq!(e.decision, ExplainDecision::Denied(DenialCode::UnknownRole));
    assert_eq!(
        e.to_string(),
        "denied (unknown_role)\n  there is no role \"db-admn\" in the policy; bob may use no roles"
    );
}

#[test]
fn approval_needed() {
    let e = explain("dora", &["dba"], "db-migrate", SAT_1002_UTC);
    assert_eq!(e.decision, ExplainDecision::AllowedWithApproval);
    assert_eq!(
        e.to_string(),
        "\
allowed with approval
  group dba matches role db-migrate (dora is in [dba]; the role needs one of [dba])
  principals: postgres
  hosts: none; the role is used only when asked for by name
  ttl: 30m by default, at most 1h; valid from 30s before issue
  key types: ssh-ed25519
  extensions: permit-pty
  a reason is required (one line, at most 500 characters)
  a ticket matching ^(INC|CHG)-[0-9]+$ is required
  needs 1 approval from group:sre-leads, never the requester; an approved request is usable for 1h
  outside business hours (mon-fri 09:00-18:00 Europe/Berlin): Saturday 11:02"
    );
}

#[test]
fn break_glass() {
    let e = explain("alice", &["sre"], "break-glass", SAT_1002_UTC);
    assert_eq!(e.decision, ExplainDecision::BreakGlass);
    assert_eq!(
        e.lines[6..],
        [
            "a reason is required (one line, at most 500 characters)",
            "no ticket required",
            "no approval needed",
            "break-glass: issues at once, alerts everyone, flagged for review",
            "outside business hours (mon-fri 09:00-18:00 Europe/Berlin): Saturday 11:02",
        ]
    );
}

#[test]
fn without_business_hours() {
    let policy = Policy::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let groups = vec!["sre".to_owned()];
    let e = policy.explain(
        &Identity {
            user: "alice",
            groups: &groups,
        },
        "web-oncall",
        SAT_1002_UTC,
    );
    assert_eq!(e.decision, ExplainDecision::Allowed);
    assert_eq!(
        e.lines.last().map(String::as_str),
        Some("no business hours set")
    );
    assert_eq!(
        ExplainDecision::AllowedWithApproval.to_string(),
        "allowed with approval"
    );
}
