//! Deciding requests for gated roles: reasons, tickets, approvals, break-glass, business hours
//! (computed in Europe/Berlin across the 2026-03-29 change to summer time), and approvers.

use std::time::Duration;

use jit_policy::{
    AccessRequest, ApprovalRule, Approver, Denial, DenialCode, Grant, Identity, Policy,
};

const POLICY: &str = r#"[business_hours]
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

[roles.noted]
groups = ["web"]
principals = ["web"]
require_reason = true
"#;

// Fixed times around the start of summer time in Berlin: Sunday 2026-03-29, 02:00 CET became
// 03:00 CEST (01:00 UTC). The same UTC time of day is an hour later in local time after it.
/// Friday 2026-03-27 07:30 UTC = 08:30 CET: before opening.
const FRI_0730_UTC: u64 = 1_774_596_600;
/// Friday 2026-03-27 16:30 UTC = 17:30 CET: open.
const FRI_1630_UTC: u64 = 1_774_629_000;
/// Saturday 2026-03-28 10:02 UTC = 11:02 CET: a weekend.
const SAT_1002_UTC: u64 = 1_774_692_120;
/// Monday 2026-03-30 07:30 UTC = 09:30 CEST: open.
const MON_0730_UTC: u64 = 1_774_855_800;
/// Monday 2026-03-30 16:30 UTC = 18:30 CEST: closed.
const MON_1630_UTC: u64 = 1_774_888_200;

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap_or_else(|e| panic!("{e}"))
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn request(role: &str) -> AccessRequest<'_> {
    AccessRequest {
        role,
        ttl: None,
        key_type: "ssh-ed25519",
        rsa_bits: None,
        reason: Some("INC-7: replica lag"),
        ticket: Some("INC-7"),
        now: MON_0730_UTC,
    }
}

fn eval(user_groups: &[&str], req: AccessRequest<'_>) -> Result<Grant, Denial> {
    let g = groups(user_groups);
    policy().evaluate(
        &Identity {
            user: "alice",
            groups: &g,
        },
        &req,
    )
}

#[track_caller]
fn denied(result: Result<Grant, Denial>, code: DenialCode) -> String {
    match result {
        Ok(grant) => panic!("expected {code:?}, got {grant:#?}"),
        Err(d) => {
            assert_eq!(d.code, code, "{}", d.reason);
            d.reason
        }
    }
}

#[test]
fn approval_roles_return_their_rule() {
    let grant = eval(&["dba"], request("db-migrate")).expect("allowed, pending approval");
    assert_eq!(
        grant.approval,
        Some(ApprovalRule {
            approvers: vec![
                Approver::Group("sre-leads".into()),
                Approver::User("carol".into())
            ],
            count: 2,
            window: Duration::from_secs(3600),
        })
    );
    assert!(!grant.break_glass);
    assert!(!grant.out_of_hours);
    assert_eq!(
        grant.reasons,
        [
            "group dba matches role db-migrate",
            "ttl 30m (role default)",
            "key type ssh-ed25519 allowed by role",
            "reason given, as the role requires",
            "ticket INC-7 matches ^(INC|CHG)-[0-9]+$",
            "needs 2 approvals from group:sre-leads or user:carol within 1h",
            "within business hours (mon-fri 09:00-18:00 Europe/Berlin): Monday 09:30",
        ]
    );
    let plain = eval(&["web"], request("web")).expect("web");
    assert_eq!(plain.approval, None);
    assert!(!plain.break_glass);
}

#[test]
fn reasons_are_required_by_approval_break_glass_and_require_reason() {
    for (role, group) in [
        ("db-migrate", "dba"),
        ("break-glass", "sre"),
        ("noted", "web"),
    ] {
        for reason in [None, Some(""), Some("   ")] {
            let req = AccessRequest {
                reason,
                ..request(role)
            };
            let why = denied(eval(&[group], req), DenialCode::ReasonRequired);
            assert_eq!(
                why,
                format!("role {role} requires a reason; say why you need access, in one line of at most 500 characters")
            );
        }
    }
    // A role without require_reason takes a request without one.
    let req = AccessRequest {
        reason: None,
        ticket: None,
        ..request("web")
    };
    let grant = eval(&["web"], req).expect("no reason needed");
    assert!(!grant.reasons.iter().any(|r| r.contains("reason")));
}

#[test]
fn reasons_are_one_short_line() {
    let long = "x".repeat(501);
    let at_limit = "é".repeat(500);
    let with = |reason: &str| {
        eval(
            &["web"],
            AccessRequest {
                reason: Some(reason),
                ..request("noted")
            },
        )
    };
    assert!(with(&at_limit).is_ok(), "500 characters, not bytes");
    assert_eq!(
        denied(with(&long), DenialCode::ReasonInvalid),
        "the reason is 501 characters long; keep it to at most 500"
    );
    for bad in [
        "fix\nthings",
        "tab\there",
        "\u{1b}[31mred",
        "\u{202e}txet",
        "a\u{2028}b",
    ] {
        let why = denied(with(bad), DenialCode::ReasonInvalid);
        assert!(
            why.contains("control or layout character"),
            "{bad:?}: {why}"
        );
    }
    // Checked even where no reason is required: it still goes into the log.
    let req = AccessRequest {
        reason: Some("x\ny"),
        ..request("web")
    };
    denied(eval(&["web"], req), DenialCode::ReasonInvalid);
}

#[test]
fn tickets_must_match_the_whole_pattern() {
    let with = |ticket: Option<&'static str>| {
        eval(
            &["dba"],
            AccessRequest {
                ticket,
                ..request("db-migrate")
            },
        )
    };
    assert!(with(Some("CHG-12345")).is_ok());
    for missing in [None, Some(""), Some("  ")] {
        assert_eq!(
            denied(with(missing), DenialCode::TicketInvalid),
            "role db-migrate requires a ticket matching ^(INC|CHG)-[0-9]+$; none was given"
        );
    }
    assert_eq!(
        denied(with(Some("JIRA-1")), DenialCode::TicketInvalid),
        "ticket \"JIRA-1\" does not match ^(INC|CHG)-[0-9]+$, the ticket_pattern of role db-migrate"
    );
    for bad in ["INC-1 ", "inc-1", "INC-1\n", "INC-", "xINC-1"] {
        denied(with(Some(bad)), DenialCode::TicketInvalid);
    }
    // The reason is checked before the ticket.
    let req = AccessRequest {
        reason: None,
        ticket: Some("nope"),
        ..request("db-migrate")
    };
    denied(eval(&["dba"], req), DenialCode::ReasonRequired);
    // Without a pattern a ticket is optional, but must still be one short line.
    let req = AccessRequest {
        ticket: Some("a\u{0}b"),
        ..request("web")
    };
    denied(eval(&["web"], req), DenialCode::TicketInvalid);
    let long = "T".repeat(101);
    let req = AccessRequest {
        ticket: Some(&long),
        ..request("web")
    };
    denied(eval(&["web"], req), DenialCode::TicketInvalid);
    // Group and key checks still come first.
    denied(
        eval(
            &["web"],
            AccessRequest {
                ticket: None,
                ..request("db-migrate")
            },
        ),
        DenialCode::GroupNotAllowed,
    );
}

#[test]
fn break_glass_is_flagged_and_issues_without_approval() {
    let grant = eval(&["sre"], request("break-glass")).expect("break-glass");
    assert!(grant.break_glass);
    assert_eq!(grant.approval, None);
    assert!(grant
        .reasons
        .contains(&"break-glass: issues at once, alerts everyone, flagged for review".to_owned()));
}

#[test]
fn out_of_hours_follows_local_time_across_the_change_to_summer_time() {
    let at = |now: u64| {
        eval(
            &["web"],
            AccessRequest {
                now,
                ..request("web")
            },
        )
        .expect("allowed at any hour")
    };
    // 07:30 UTC: before opening on Friday (CET), open on Monday (CEST).
    assert!(at(FRI_0730_UTC).out_of_hours);
    assert!(!at(MON_0730_UTC).out_of_hours);
    // 16:30 UTC: open on Friday, closed on Monday.
    assert!(!at(FRI_1630_UTC).out_of_hours);
    assert!(at(MON_1630_UTC).out_of_hours);
    assert!(at(SAT_1002_UTC).out_of_hours);
    assert_eq!(
        at(SAT_1002_UTC).reasons.last().map(String::as_str),
        Some("outside business hours (mon-fri 09:00-18:00 Europe/Berlin): Saturday 11:02")
    );
    assert_eq!(
        at(MON_1630_UTC).reasons.last().map(String::as_str),
        Some("outside business hours (mon-fri 09:00-18:00 Europe/Berlin): Monday 18:30")
    );
    assert_eq!(
        at(FRI_0730_UTC).reasons.last().map(String::as_str),
        Some("outside business hours (mon-fri 09:00-18:00 Europe/Berlin): Friday 08:30")
    );

    let hours = policy();
    let hours = hours.business_hours().expect("set");
    assert!(hours.contains(MON_0730_UTC) && !hours.contains(FRI_0730_UTC));
    assert_eq!(hours.local_time(MON_0730_UTC), "Monday 09:30");

    // Without [business_hours] nothing is ever out of hours.
    let none = Policy::parse("[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n").expect("valid");
    assert!(none.business_hours().is_none());
    let g = groups(&["g"]);
    let grant = none
        .evaluate(
            &Identity {
                user: "u",
                groups: &g,
            },
            &AccessRequest {
                now: SAT_1002_UTC,
                ..request("r")
            },
        )
        .expect("allowed");
    assert!(!grant.out_of_hours);
}

#[test]
fn the_skipped_hour_is_never_inside() {
    // 02:00-03:00 every day: on 2026-03-29 that hour does not exist in Berlin.
    let text = "[business_hours]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nhours = \"02:00-03:00\"\ntime_zone = \"Europe/Berlin\"\n[roles.r]\ngroups = [\"g\"]\nprincipals = [\"p\"]\n";
    let p = Policy::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let h = p.business_hours().expect("set");
    assert_eq!(h.describe(), "mon-sun 02:00-03:00 Europe/Berlin");
    // Saturday 01:30 UTC = 02:30 CET: inside.
    assert!(h.contains(1_774_661_400));
    // Sunday 00:59:59 UTC = 01:59:59 CET, then 01:00 UTC = 03:00 CEST: both outside.
    assert!(!h.contains(1_774_745_999));
    assert!(!h.contains(1_774_746_000));
    assert_eq!(h.local_time(1_774_746_000), "Sunday 03:00");
    // Monday 00:30 UTC = 02:30 CEST: inside again.
    assert!(h.contains(1_774_830_600));
}

#[test]
fn approvers_never_approve_their_own_request() {
    let p = policy();
    let leads = groups(&["sre-leads", "dba"]);
    let web = groups(&["web"]);
    let none = groups(&[]);
    let lead = |user| Identity {
        user,
        groups: &leads,
    };

    assert_eq!(p.may_approve("db-migrate", &lead("bob"), "alice"), Ok(()));
    // A listed user needs no group.
    let carol = Identity {
        user: "carol",
        groups: &none,
    };
    assert_eq!(p.may_approve("db-migrate", &carol, "alice"), Ok(()));

    // Self-approval is refused even from inside the approver group.
    let d = p
        .may_approve("db-migrate", &lead("alice"), "alice")
        .expect_err("self");
    assert_eq!(d.code, DenialCode::SelfApproval);
    assert_eq!(
        d.reason,
        "alice asked for role db-migrate and cannot approve their own request; it needs 2 approvals from group:sre-leads or user:carol within 1h other than the requester"
    );
    let d = p
        .may_approve("db-migrate", &carol, "carol")
        .expect_err("self");
    assert_eq!(d.code, DenialCode::SelfApproval);

    let dave = Identity {
        user: "dave",
        groups: &web,
    };
    let d = p
        .may_approve("db-migrate", &dave, "alice")
        .expect_err("not listed");
    assert_eq!(d.code, DenialCode::NotAnApprover);
    assert_eq!(
        d.reason,
        "dave may not approve requests for role db-migrate; its approvers are group:sre-leads or user:carol, and dave is in [web]"
    );
    // Names match exactly.
    let carol2 = Identity {
        user: "Carol",
        groups: &none,
    };
    assert_eq!(
        p.may_approve("db-migrate", &carol2, "alice")
            .map_err(|d| d.code),
        Err(DenialCode::NotAnApprover)
    );

    let d = p
        .may_approve("web", &lead("bob"), "alice")
        .expect_err("no approval");
    assert_eq!(d.code, DenialCode::ApprovalNotRequired);
    assert_eq!(
        d.reason,
        "role web does not need approval, so there is nothing to approve"
    );
    let d = p
        .may_approve("db-migrat", &lead("bob"), "alice")
        .expect_err("unknown");
    assert_eq!(d.code, DenialCode::UnknownRole);
}
