//! Deciding requests: grants with reasons, denials with codes and sentences, role lookups.

use std::time::Duration;

use jit_policy::{AccessRequest, Denial, DenialCode, Grant, Identity, Policy};

const EXAMPLE: &str = include_str!("../examples/policy.toml");

fn policy() -> Policy {
    Policy::parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"))
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
        reason: None,
        ticket: None,
        now: MONDAY_MORNING,
    }
}

/// Monday 2026-03-30 09:30 in Berlin; the example policy has no business hours anyway.
const MONDAY_MORNING: u64 = 1_774_855_800;

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn eval(user: &str, user_groups: &[&str], req: AccessRequest<'_>) -> Result<Grant, Denial> {
    let g = groups(user_groups);
    policy().evaluate(&Identity { user, groups: &g }, &req)
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
fn default_request_gets_the_role_as_written() {
    let grant = eval("alice", &["sre"], request("web-oncall")).expect("allowed");
    assert_eq!(
        grant,
        Grant {
            role: "web-oncall".into(),
            principals: groups(&["deploy", "web"]),
            ttl: mins(15),
            backdate: Duration::from_secs(30),
            extensions: groups(&["permit-pty", "permit-port-forwarding"]),
            source_address: Some("10.0.0.0/8,127.0.0.1/32".into()),
            force_command: Some("/usr/local/bin/audit-shell".into()),
            reasons: vec![
                "group sre matches role web-oncall".into(),
                "ttl 15m (role default)".into(),
                "key type ssh-ed25519 allowed by role".into(),
            ],
            approval: None,
            break_glass: false,
            out_of_hours: false,
            log_receipt: false,
        }
    );
}

#[test]
fn requested_ttl_up_to_the_max() {
    let ok = |ttl| {
        eval(
            "alice",
            &["web"],
            AccessRequest {
                ttl: Some(ttl),
                ..request("web-oncall")
            },
        )
    };
    let grant = ok(mins(60)).expect("exactly max_ttl is allowed");
    assert_eq!(grant.ttl, mins(60));
    assert!(grant
        .reasons
        .contains(&"ttl 1h (requested; role max 1h)".to_owned()));
    assert_eq!(
        ok(Duration::from_secs(1)).expect("1s").ttl,
        Duration::from_secs(1)
    );

    let reason = denied(
        ok(mins(60) + Duration::from_secs(1)),
        DenialCode::TtlTooLong,
    );
    assert_eq!(
        reason,
        "a ttl of 1h 1s is longer than role web-oncall allows; ask for at most 1h (the role's max_ttl)"
    );
    denied(ok(mins(120)), DenialCode::TtlTooLong);
    denied(ok(Duration::ZERO), DenialCode::TtlInvalid);
    denied(ok(Duration::from_millis(1500)), DenialCode::TtlInvalid);
}

#[test]
fn unknown_role() {
    let reason = denied(
        eval("alice", &["sre"], request("db-admn")),
        DenialCode::UnknownRole,
    );
    assert_eq!(
        reason,
        "there is no role \"db-admn\" in the policy; roles alice may use: break-glass, web-oncall"
    );
    let reason = denied(eval("bob", &[], request("x\ny")), DenialCode::UnknownRole);
    assert_eq!(
        reason,
        "there is no role \"x\\ny\" in the policy; bob may use no roles"
    );
}

#[test]
fn groups_must_intersect() {
    let reason = denied(
        eval("alice", &["sre", "web"], request("db-admin")),
        DenialCode::GroupNotAllowed,
    );
    assert_eq!(
        reason,
        "role db-admin needs one of the groups [dba]; alice is in [sre, web]"
    );
    let reason = denied(
        eval("bob", &[], request("db-admin")),
        DenialCode::GroupNotAllowed,
    );
    assert_eq!(
        reason,
        "role db-admin needs one of the groups [dba]; bob is in no groups"
    );
    // Group names match exactly, not by case or prefix.
    denied(
        eval("carol", &["DBA", "dba2"], request("db-admin")),
        DenialCode::GroupNotAllowed,
    );
    // The group check comes before the request's own details.
    let bad_everything = AccessRequest {
        role: "db-admin",
        ttl: Some(Duration::ZERO),
        key_type: "ssh-dss",
        rsa_bits: None,
        ..request("db-admin")
    };
    denied(
        eval("alice", &["sre"], bad_everything),
        DenialCode::GroupNotAllowed,
    );
    let grant = eval("dora", &["dba"], request("db-admin")).expect("dba may use db-admin");
    assert_eq!(grant.reasons[0], "group dba matches role db-admin");
    assert_eq!(grant.ttl, mins(10));
    assert_eq!(grant.source_address, None);
    assert_eq!(grant.force_command, None);
}

#[test]
fn key_types_and_rsa_size() {
    let key = |role: &'static str, key_type: &'static str, rsa_bits| {
        eval(
            "alice",
            &["sre", "dba"],
            AccessRequest {
                key_type,
                rsa_bits,
                ..request(role)
            },
        )
    };
    assert!(key("web-oncall", "ecdsa-sha2-nistp256", None).is_ok());
    let reason = denied(
        key("web-oncall", "ecdsa-sha2-nistp384", None),
        DenialCode::KeyTypeNotAllowed,
    );
    assert_eq!(
        reason,
        "role web-oncall does not allow \"ecdsa-sha2-nistp384\" keys; use one of [ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512]"
    );
    denied(
        key("web-oncall", "ssh-dss", None),
        DenialCode::KeyTypeNotAllowed,
    );
    // db-admin inherits key_types = ["ssh-ed25519"] from [defaults].
    denied(
        key("db-admin", "ecdsa-sha2-nistp256", None),
        DenialCode::KeyTypeNotAllowed,
    );
    denied(
        key("db-admin", "ssh-rsa", Some(4096)),
        DenialCode::KeyTypeNotAllowed,
    );

    // web-oncall allows rsa-sha2-512, so RSA keys (type ssh-rsa) of 3072 bits or more.
    let grant = key("web-oncall", "ssh-rsa", Some(3072)).expect("3072-bit RSA");
    assert!(grant
        .reasons
        .contains(&"key type ssh-rsa (3072 bits) allowed by role (rsa-sha2-512)".to_owned()));
    assert!(key("web-oncall", "rsa-sha2-512", Some(4096)).is_ok());
    let reason = denied(
        key("web-oncall", "ssh-rsa", Some(2048)),
        DenialCode::RsaKeyTooSmall,
    );
    assert!(
        reason.contains("2048 bits") && reason.contains("3072"),
        "{reason}"
    );
    denied(
        key("web-oncall", "ssh-rsa", Some(3071)),
        DenialCode::RsaKeyTooSmall,
    );
    denied(
        key("web-oncall", "rsa-sha2-256", None),
        DenialCode::RsaKeyTooSmall,
    );
}

#[test]
fn denial_codes_are_stable() {
    let codes = [
        (DenialCode::UnknownRole, "unknown_role"),
        (DenialCode::GroupNotAllowed, "role_not_allowed"),
        (DenialCode::TtlTooLong, "ttl_too_long"),
        (DenialCode::TtlInvalid, "ttl_invalid"),
        (DenialCode::KeyTypeNotAllowed, "key_type_not_allowed"),
        (DenialCode::RsaKeyTooSmall, "rsa_key_too_small"),
        (DenialCode::ReasonRequired, "reason_required"),
        (DenialCode::ReasonInvalid, "reason_invalid"),
        (DenialCode::TicketInvalid, "ticket_invalid"),
        (DenialCode::SelfApproval, "self_approval"),
        (DenialCode::NotAnApprover, "not_an_approver"),
        (DenialCode::ApprovalNotRequired, "approval_not_required"),
    ];
    for (code, text) in codes {
        assert_eq!(code.as_str(), text);
        assert_eq!(code.to_string(), text);
    }
}

#[test]
fn roles_for_and_role_for_host() {
    let p = policy();
    let sre = groups(&["sre"]);
    let both = groups(&["web", "dba"]);
    let nobody = groups(&[]);
    let alice = Identity {
        user: "alice",
        groups: &sre,
    };
    let dora = Identity {
        user: "dora",
        groups: &both,
    };
    let eve = Identity {
        user: "eve",
        groups: &nobody,
    };

    let names =
        |roles: Vec<&jit_policy::Role>| roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(p.roles_for(&alice)), ["break-glass", "web-oncall"]);
    assert_eq!(
        names(p.roles_for(&dora)),
        ["db-admin", "db-migrate", "web-oncall"]
    );
    assert!(p.roles_for(&eve).is_empty());

    let host = |who: &Identity<'_>, h: &str| p.role_for_host(who, h).map(|r| r.name.clone());
    assert_eq!(host(&alice, "web-3").as_deref(), Some("web-oncall"));
    assert_eq!(host(&alice, "WEB-3").as_deref(), Some("web-oncall"));
    assert_eq!(host(&alice, "api.web.prod").as_deref(), Some("web-oncall"));
    assert_eq!(host(&alice, "db-1"), None, "alice may not use db-admin");
    assert_eq!(host(&dora, "db-1").as_deref(), Some("db-admin"));
    assert_eq!(host(&dora, "mail-1"), None);
    assert_eq!(host(&eve, "web-3"), None);
}

#[test]
fn role_for_host_picks_the_first_role_by_name() {
    let text = r#"
[roles.zeta]
groups = ["sre"]
principals = ["z"]
hosts = ["*"]

[roles.alpha]
groups = ["sre"]
principals = ["a"]
hosts = ["web-*"]

[roles.beta]
groups = ["other"]
principals = ["b"]
hosts = ["*"]
"#;
    let p = Policy::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let sre = groups(&["sre"]);
    let alice = Identity {
        user: "alice",
        groups: &sre,
    };
    assert_eq!(
        p.role_for_host(&alice, "web-1").map(|r| r.name.as_str()),
        Some("alpha")
    );
    assert_eq!(
        p.role_for_host(&alice, "db-1").map(|r| r.name.as_str()),
        Some("zeta")
    );
}
