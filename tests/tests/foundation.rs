//! The foundation end to end: `jitd` + `jit` + real sshd, ssh, ssh-agent and ssh-keygen on
//! 127.0.0.1. Enroll, `jit ssh` runs a remote command with a certificate sshd accepts, the
//! agent's certificate is reused, and every refusal leaves no certificate and a log that
//! still verifies.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::time::Duration;

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::keygen::inspect_certificate;
use jit_e2e::{accounts, OutputExt as _, SshAgent, Sshd, SshdConfig};

const DEPLOY: &str = "jit-e2e-deploy";
const OTHER: &str = "jit-e2e-other";

fn policy() -> String {
    format!(
        r#"
[roles.e2e]
groups = ["sre"]
principals = ["{DEPLOY}"]
hosts = ["127.0.0.1", "localhost"]
default_ttl = "10m"
max_ttl = "1h"

[roles.db]
groups = ["dba"]
principals = ["postgres"]
"#
    )
}

/// A started CA, an sshd trusting it (account DEPLOY accepts principal DEPLOY; account
/// OTHER accepts only a principal the role never grants), and an agent.
struct World {
    ca: Ca,
    sshd: Sshd,
    agent: SshAgent,
}

fn world() -> World {
    accounts::ensure(DEPLOY);
    accounts::ensure(OTHER);
    let mut ca = Ca::init(&policy());
    ca.start();
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![
            (DEPLOY.into(), vec![DEPLOY.into()]),
            (OTHER.into(), vec!["someone-else".into()]),
        ],
        ..SshdConfig::default()
    });
    World {
        ca,
        sshd,
        agent: SshAgent::start(),
    }
}

impl World {
    fn ssh_args(&self, target: &str) -> Vec<String> {
        vec![
            "-p".into(),
            self.sshd.port().to_string(),
            "-o".into(),
            format!(
                "UserKnownHostsFile={}",
                self.sshd.known_hosts_file().display()
            ),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            target.into(),
        ]
    }

    fn jit_ssh(
        &self,
        engineer: &Engineer,
        before: &[&str],
        target: &str,
        command: &[&str],
    ) -> std::process::Output {
        let mut args: Vec<String> = vec!["ssh".into()];
        args.extend(before.iter().map(|s| s.to_string()));
        args.extend(self.ssh_args(target));
        args.extend(command.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        engineer.run(&args, Some(&self.agent), None)
    }

    /// `jit ssh --otp CODE deploy@127.0.0.1 true` with the engineer's code of the moment.
    fn log_in_as_deploy(&self, engineer: &Engineer) -> std::process::Output {
        let code = engineer.code(30);
        let target = format!("{DEPLOY}@127.0.0.1");
        self.jit_ssh(engineer, &["--otp", &code], &target, &["true"])
    }
}

#[test]
fn enroll_then_jit_ssh_runs_a_command_and_reuses_the_agent_certificate() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let target = format!("{DEPLOY}@127.0.0.1");

    let code = alice.code(30);
    let out = w.jit_ssh(&alice, &["--otp", &code], &target, &["id", "-un"]);
    assert!(out.status.success(), "jit ssh failed: {}", out.describe());
    assert_eq!(out.stdout_text().trim(), DEPLOY);

    // The certificate: CA-made key ID, the role's principals, a serial, ~10 minutes.
    let info = inspect_certificate(&alice.home().join("run/e2e-cert.pub"));
    assert_eq!(info.principals, vec![DEPLOY.to_string()]);
    assert_eq!(info.key_id, format!("alice@e2e#{}", info.serial));
    assert_ne!(info.serial, 0);
    assert!(info.is_user_certificate());
    let accepted = format!(
        "Accepted certificate ID \"{}\" (serial {})",
        info.key_id, info.serial
    );
    assert!(
        w.sshd.wait_for_log(&accepted, Duration::from_secs(5)),
        "sshd log: {}",
        w.sshd.log()
    );
    let issued: Vec<_> =
        w.ca.log_records()
            .into_iter()
            .filter(|r| r["type"] == "issued")
            .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["serial"], info.serial);
    let validity =
        issued[0]["valid_before"].as_u64().unwrap() - issued[0]["valid_after"].as_u64().unwrap();
    assert_eq!(validity, 10 * 60 + 30, "ttl 10m plus the 30 s backdate");
    assert_eq!(w.agent.list_certificates().len(), 1, "{}", w.agent.list());

    // The auditor joins sshd's own log to the issuance log.
    let sshd_log = w.sshd.log_path();
    let out = w.ca.jitd(&["audit", "join", sshd_log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout_text()
            .contains(&format!("ok       serial {}", info.serial)),
        "{}",
        out.describe()
    );
    let forged = w.sshd.dir().join("forged.log");
    std::fs::write(
        &forged,
        "Accepted certificate ID \"mallory@x#7\" (serial 7) signed by ED25519 CA SHA256:x via f\n",
    )
    .unwrap();
    let out = w.ca.jitd(&["audit", "join", forged.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "a login the log never issued is flagged"
    );
    assert!(
        out.stdout_text().contains("UNKNOWN  serial 7"),
        "{}",
        out.describe()
    );

    // Second run: no code given, stdin closed: the agent's certificate is reused.
    let out = w.jit_ssh(&alice, &[], &target, &["echo", "again"]);
    assert!(out.status.success(), "reuse failed: {}", out.describe());
    assert_eq!(out.stdout_text().trim(), "again");
    assert_eq!(w.ca.issued_count(), 1, "no second certificate was issued");

    // Status lists it; logout removes it.
    let status = alice.run(&["status", "--json"], Some(&w.agent), None);
    assert!(status.status.success(), "{}", status.describe());
    let status: serde_json::Value = serde_json::from_str(&status.stdout_text()).unwrap();
    assert_eq!(status["certificates"][0]["serial"], info.serial);
    assert!(status["certificates"][0]["seconds_left"].as_u64().unwrap() > 500);
    let out = alice.run(&["logout"], Some(&w.agent), None);
    assert!(out.status.success(), "{}", out.describe());
    assert!(w.agent.list_certificates().is_empty(), "{}", w.agent.list());
    w.ca.assert_log_verifies();
}

#[test]
fn sshd_refuses_an_account_outside_the_role_principals() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let code = alice.code(30);
    let out = w.jit_ssh(
        &alice,
        &["--otp", &code, "--role", "e2e"],
        &format!("{OTHER}@127.0.0.1"),
        &["id"],
    );
    assert!(
        !out.status.success(),
        "login as {OTHER} must be refused: {}",
        out.describe()
    );
    assert!(
        w.sshd.wait_for_log(
            "Certificate does not contain an authorized principal",
            Duration::from_secs(5)
        ),
        "sshd log: {}",
        w.sshd.log()
    );
}

#[test]
fn a_missing_agent_is_reported_with_how_to_start_one() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let code = alice.code(30);
    let out = alice.run(
        &["ssh", "--otp", &code, &format!("{DEPLOY}@127.0.0.1"), "id"],
        None,
        None,
    );
    assert!(!out.status.success());
    let err = out.stderr_text();
    assert!(err.contains("ssh-agent"), "{err}");
    assert!(
        err.contains("eval"),
        "the hint says how to start one: {err}"
    );
    assert_eq!(
        w.ca.issued_count(),
        0,
        "nothing was issued without an agent to hold it"
    );
}

#[test]
fn refusals_through_the_cli_issue_nothing_and_keep_the_log_verifiable() {
    let w = world();
    let token = w.ca.add_user("alice", "sre");
    let alice = Engineer::enroll(&token);
    let target = format!("{DEPLOY}@127.0.0.1");

    // The enrollment token was used: a second enrollment with it is refused.
    let other_home = Engineer::try_enroll_output(&token);
    assert!(!other_home.status.success());
    assert!(
        other_home.stderr_text().contains("already used"),
        "{}",
        other_home.describe()
    );

    // Role not allowed: 403 with the reason.
    let code = alice.code(30);
    let out = w.jit_ssh(&alice, &["--otp", &code, "--role", "db"], &target, &["id"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("dba"),
        "the reason names the needed group: {}",
        out.describe()
    );

    // Same code again (it was consumed by the refused request above? no: policy is checked
    // after the code, so the code is spent) -> replayed.
    let out = w.jit_ssh(&alice, &["--otp", &code, "--role", "e2e"], &target, &["id"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("already used"),
        "{}",
        out.describe()
    );

    // Wrong codes: five are "wrong" (the replay above was not a guess and did not count),
    // the sixth attempt is "too many".
    let wrong = format!(
        "{:06}",
        (alice.code(0).parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    for _ in 0..5 {
        let out = w.jit_ssh(&alice, &["--otp", &wrong], &target, &["id"]);
        assert!(
            out.stderr_text().contains("wrong TOTP code"),
            "{}",
            out.describe()
        );
    }
    let out = w.jit_ssh(&alice, &["--otp", &alice.code(0)], &target, &["id"]);
    assert!(
        out.stderr_text().contains("too many wrong codes"),
        "five wrong codes, then locked: {}",
        out.describe()
    );

    assert!(w.agent.list_certificates().is_empty());
    assert_eq!(w.ca.issued_count(), 0);
    w.ca.assert_log_verifies();
}

#[test]
fn a_request_signed_by_an_unknown_device_key_is_refused() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    // Replace the device key with one the server never saw (keeping the enrollment config).
    let key = alice.home().join("device_ed25519");
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(alice.home().join("device_ed25519.pub")).unwrap();
    let out = std::process::Command::new(jit_e2e::tools::ssh_keygen())
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let code = alice.code(30);
    let out = w.jit_ssh(
        &alice,
        &["--otp", &code],
        &format!("{DEPLOY}@127.0.0.1"),
        &["id"],
    );
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("no enrolled device"),
        "{}",
        out.describe()
    );
    assert_eq!(w.ca.issued_count(), 0);
    w.ca.assert_log_verifies();
}

#[test]
fn editing_one_stored_record_makes_audit_verify_name_it() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let out = w.log_in_as_deploy(&alice);
    assert!(out.status.success(), "{}", out.describe());
    w.ca.assert_log_verifies();
    let records = w.ca.log_records();
    assert!(records.len() >= 3, "user added, enrolled, issued");
    let seq = records.iter().position(|r| r["type"] == "issued").unwrap() + 1;

    let sql = format!(
        "UPDATE log_entries SET body = replace(body, '\"alice\"', '\"mallory\"') WHERE seq = {seq}"
    );
    jit_e2e::jit::sqlite_exec(&w.ca.database(), &sql);
    let out = w.ca.jitd(&["audit", "verify"]);
    assert!(!out.status.success(), "an edited log must not verify");
    assert!(
        out.stderr_text().contains(&format!("record {seq}")),
        "{}",
        out.describe()
    );
}

#[test]
fn jitd_stops_cleanly_on_sigterm() {
    let mut ca = Ca::init(&policy());
    ca.start();
    let (clean, log) = ca.stop();
    assert!(clean, "jitd exited with an error on SIGTERM: {log:?}");
    assert!(log.iter().any(|l| l.contains("jitd stopped")), "{log:?}");
}

#[test]
fn policy_check_reports_errors_with_line_numbers_and_init_refuses_to_overwrite() {
    let ca = Ca::init(&policy());
    let bad = ca.data_dir().join("bad.toml");
    std::fs::write(
        &bad,
        "[roles.x]\ngroups = [\"sre\"]\nprincipals = [\"root,admin\"]\nmax_ttl = \"forever\"\n",
    )
    .unwrap();
    let out = ca.jitd(&["policy", "check", "--file", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = out.stderr_text();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    let out = ca.jitd(&["init", "--insecure-no-passphrase"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("refusing to overwrite"),
        "{}",
        out.describe()
    );
}

#[test]
fn ca_keys_are_encrypted_separate_and_private() {
    let ca = Ca::init(&policy());
    let user_ca = ca.data_dir().join("user_ca");
    let host_ca = ca.data_dir().join("host_ca");
    for key in [&user_ca, &host_ca] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
        // The real tool cannot read the key without the passphrase.
        let out = std::process::Command::new(jit_e2e::tools::ssh_keygen())
            .args(["-y", "-P", "", "-f"])
            .arg(key)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} must be encrypted", key.display());
    }
    let out = std::process::Command::new(jit_e2e::tools::ssh_keygen())
        .args(["-y", "-P", "correct horse battery staple", "-f"])
        .arg(&user_ca)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.describe());
    let user_line = ca.user_ca_public_key();
    let key_of = |line: &str| {
        line.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(key_of(&out.stdout_text()), key_of(&user_line));
    let host_line = ca.jitd_ok(&["ca", "show", "--host"]);
    assert_ne!(
        key_of(&user_line),
        key_of(&host_line),
        "user and host CA keys are separate"
    );

    // Without a passphrase, init refuses unless told to write the keys in the clear.
    let dir = jit_e2e::scratch::scratch_dir("jit-ca-plain-");
    let out = std::process::Command::new(jit_e2e::jit::binary("jitd"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("init")
        .env_remove("JITD_CA_PASSPHRASE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("--passphrase-file"),
        "{}",
        out.describe()
    );
    assert!(
        !dir.path().join("data/user_ca").exists(),
        "a refused init writes no key"
    );
}

#[test]
fn no_totp_code_or_token_reaches_the_server_log() {
    let w = world();
    let token = w.ca.add_user("alice", "sre");
    let alice = Engineer::enroll(&token);
    let code = alice.code(30);
    let out = w.jit_ssh(
        &alice,
        &["--otp", &code],
        &format!("{DEPLOY}@127.0.0.1"),
        &["true"],
    );
    assert!(out.status.success(), "{}", out.describe());
    let wrong = format!(
        "{:06}",
        (alice.code(0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let _ = w.jit_ssh(
        &alice,
        &["--otp", &wrong],
        &format!("{DEPLOY}@127.0.0.1"),
        &["true"],
    );
    let log = w.ca.server_log().join("\n");
    assert!(
        log.contains("certificate issued"),
        "the log is captured: {log}"
    );
    let token_secret = jit_proto::token::EnrollmentToken::decode(&token)
        .unwrap()
        .secret;
    let token_secret = token_secret.as_str();
    for secret in [code.as_str(), wrong.as_str(), token_secret] {
        assert!(!log.contains(secret), "a secret reached the server log");
    }
    let records = serde_json::to_string(&w.ca.log_records()).unwrap();
    for secret in [code.as_str(), wrong.as_str(), token_secret] {
        assert!(
            !records.contains(secret),
            "a secret reached the issuance log"
        );
    }
}

#[test]
fn a_disabled_user_gets_no_new_certificate() {
    let w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let out = w.ca.jitd(&["user", "disable", "alice"]);
    assert!(out.status.success(), "{}", out.describe());
    let out = w.log_in_as_deploy(&alice);
    assert!(!out.status.success());
    assert!(out.stderr_text().contains("disabled"), "{}", out.describe());
    assert_eq!(w.ca.issued_count(), 0);
    let list = w.ca.jitd_ok(&["user", "list", "--json"]);
    assert!(list.contains("\"disabled\": true"), "{list}");
    w.ca.assert_log_verifies();
}

#[test]
fn an_auditor_verifies_an_export_with_its_signed_checkpoints_offline() {
    let mut w = world();
    let alice = Engineer::enroll(&w.ca.add_user("alice", "sre"));
    let out = w.log_in_as_deploy(&alice);
    assert!(out.status.success(), "{}", out.describe());
    // Stopping the server signs a last checkpoint covering everything.
    let (clean, _) = w.ca.stop();
    assert!(clean);
    let dir = jit_e2e::scratch::scratch_dir("jit-audit-");
    let entries = dir.path().join("entries.jsonl");
    let checkpoints = dir.path().join("checkpoints.jsonl");
    let key = dir.path().join("log_key.pub");
    std::fs::write(&entries, w.ca.jitd_ok(&["audit", "export"])).unwrap();
    std::fs::write(&checkpoints, w.ca.jitd_ok(&["audit", "checkpoints"])).unwrap();
    std::fs::write(&key, w.ca.jitd_ok(&["ca", "show", "--log"])).unwrap();
    let verify = |entries: &std::path::Path| {
        w.ca.jitd(&[
            "audit",
            "verify",
            "--file",
            entries.to_str().unwrap(),
            "--checkpoints",
            checkpoints.to_str().unwrap(),
            "--log-key",
            key.to_str().unwrap(),
        ])
    };
    let out = verify(&entries);
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stdout_text().contains("signed checkpoint(s) cover"),
        "{}",
        out.describe()
    );
    // Drop the last record and recompute nothing: the checkpoint no longer matches.
    let text = std::fs::read_to_string(&entries).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = dir.path().join("truncated.jsonl");
    std::fs::write(&truncated, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let out = verify(&truncated);
    assert!(
        !out.status.success(),
        "a truncated export must fail against the checkpoint"
    );
    assert!(
        out.stderr_text().contains("checkpoint"),
        "{}",
        out.describe()
    );
}
