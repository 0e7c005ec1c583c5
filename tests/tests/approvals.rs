//! Approvals and break-glass through the real CLI and a real jitd: a request approved by a
//! second person becomes a certificate real sshd accepts; break-glass issues at once and a
//! real HTTP receiver gets the alert; `jitd policy explain` tells why.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::time::Duration;

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::webhook::Receiver;
use jit_e2e::{accounts, OutputExt as _, SshAgent, Sshd, SshdConfig};

const ACCOUNT: &str = "jit-e2e-deploy";

fn policy() -> String {
    format!(
        r#"
[roles.db]
groups = ["dev"]
principals = ["{ACCOUNT}"]
approval = {{ approvers = ["group:leads"], count = 1, window = "1h" }}

[roles.glass]
groups = ["dev"]
principals = ["{ACCOUNT}"]
break_glass = true

[roles.web]
groups = ["web"]
principals = ["{ACCOUNT}"]
"#
    )
}

fn ssh_args(sshd: &Sshd) -> Vec<String> {
    vec![
        "-p".into(),
        sshd.port().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", sshd.known_hosts_file().display()),
        "-o".into(),
        "BatchMode=yes".into(),
        format!("{ACCOUNT}@127.0.0.1"),
    ]
}

fn run(engineer: &Engineer, agent: Option<&SshAgent>, args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    engineer.run(&args, agent, None)
}

#[test]
fn a_request_approved_by_someone_else_becomes_a_login_and_break_glass_alerts() {
    accounts::ensure(ACCOUNT);
    let receiver = Receiver::start();
    let mut ca = Ca::init(&policy());
    ca.set_webhook(&receiver.url());
    ca.start();
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![(ACCOUNT.into(), vec![ACCOUNT.into()])],
        ..SshdConfig::default()
    });
    let agent = SshAgent::start();
    let alice = Engineer::enroll(&ca.add_user("alice", "dev,leads"));
    let bob = Engineer::enroll(&ca.add_user("bob", "leads"));
    assert!(receiver
        .wait_for_kind("enrolled", Duration::from_secs(10))
        .is_some());

    // (Without an approved request jit ssh is refused: covered in crates/jitd/tests.)
    let out = alice.run(
        &[
            "request",
            "--role",
            "db",
            "--reason",
            "rotate the orders table",
        ],
        None,
        None,
    );
    assert!(out.status.success(), "{}", out.describe());
    let id = out
        .stdout_text()
        .split_whitespace()
        .find(|w| w.starts_with("r-"))
        .map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .to_string()
        })
        .unwrap_or_else(|| panic!("no request ID in: {}", out.describe()));
    assert!(receiver
        .wait_for_kind("approval_requested", Duration::from_secs(10))
        .is_some());

    // Alice is an approver too, but not of her own request.
    let out = alice.run(&["approve", &id, "--otp", &alice.code(30)], None, None);
    assert!(!out.status.success());
    assert!(out.stderr_text().contains("own"), "{}", out.describe());
    let out = bob.run(&["approve", &id, "--otp", &bob.code(30)], None, None);
    assert!(out.status.success(), "{}", out.describe());
    assert!(receiver
        .wait_for_kind("approval_decided", Duration::from_secs(10))
        .is_some());

    // Now jit ssh uses the approved request, and real sshd accepts the certificate.
    let mut args = vec![
        "ssh".to_string(),
        "--role".into(),
        "db".into(),
        "--otp".into(),
        alice.code(30),
    ];
    args.extend(ssh_args(&sshd));
    args.extend(["id".into(), "-un".into()]);
    let out = run(&alice, Some(&agent), &args);
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(out.stdout_text().trim(), ACCOUNT);
    let issued: Vec<_> = ca
        .log_records()
        .into_iter()
        .filter(|r| r["type"] == "issued")
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["approvers"], serde_json::json!(["bob"]));

    // Break-glass: without a reason it is refused; with one it issues at once.
    let carol = Engineer::enroll(&ca.add_user("carol", "dev"));
    let dave = Engineer::enroll(&ca.add_user("dave", "dev"));
    let agent2 = SshAgent::start();
    let mut args = vec![
        "ssh".to_string(),
        "--role".into(),
        "glass".into(),
        "--otp".into(),
        carol.code(30),
    ];
    args.extend(ssh_args(&sshd));
    args.push("true".into());
    let out = run(&carol, Some(&agent2), &args);
    assert!(!out.status.success());
    assert!(out.stderr_text().contains("reason"), "{}", out.describe());
    let mut args = vec![
        "ssh".to_string(),
        "--role".into(),
        "glass".into(),
        "--reason".into(),
        "INC-77 primary down".into(),
        "--otp".into(),
        dave.code(30),
    ];
    args.extend(ssh_args(&sshd));
    args.extend(["id".into(), "-un".into()]);
    let out = run(&dave, Some(&agent2), &args);
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stderr_text().contains("BREAK-GLASS"),
        "{}",
        out.describe()
    );
    let alert = receiver
        .wait_for_kind("break_glass", Duration::from_secs(10))
        .expect("the receiver got the alert");
    assert!(
        alert["text"]
            .as_str()
            .unwrap()
            .contains("INC-77 primary down"),
        "{alert}"
    );
    let review = ca.jitd_ok(&["audit", "review", "--json"]);
    assert!(review.contains("INC-77 primary down"), "{review}");
    ca.assert_log_verifies();
}

#[test]
fn policy_explain_says_why() {
    let ca = Ca::init(&policy());
    ca.add_user("alice", "dev");
    ca.add_user("wendy", "web");
    let allowed = ca.jitd_ok(&["policy", "explain", "--user", "wendy", "--role", "web"]);
    assert!(allowed.starts_with("allowed"), "{allowed}");
    let denied = ca.jitd_ok(&["policy", "explain", "--user", "wendy", "--role", "db"]);
    assert!(denied.starts_with("denied"), "{denied}");
    assert!(denied.contains("dev"), "names the groups: {denied}");
    let gated = ca.jitd_ok(&["policy", "explain", "--user", "alice", "--role", "db"]);
    assert!(gated.starts_with("allowed with approval"), "{gated}");
    assert!(gated.contains("group:leads"), "{gated}");
    let glass = ca.jitd_ok(&[
        "policy",
        "explain",
        "--user",
        "alice",
        "--role",
        "glass",
        "--at",
        "2027-01-15T08:00:00Z",
    ]);
    assert!(glass.starts_with("break-glass"), "{glass}");
    let out = ca.jitd(&["policy", "explain", "--user", "nobody", "--role", "db"]);
    assert!(!out.status.success());
}
