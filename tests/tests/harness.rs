//! Self-test of the jit-e2e harness against the real OpenSSH tools: a CA made with
//! ssh-keygen, a real sshd trusting it, real ssh logins, a real ssh-agent.

use std::time::Duration;

use jit_e2e::keygen::{self, KeyPair};
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{accounts, OutputExt, SshAgent, SshCommand, Sshd, SshdConfig};

const ACCOUNT_A: &str = "jit-e2e-a";
const ACCOUNT_B: &str = "jit-e2e-b";
const PRINCIPAL: &str = "jitdeploy";

/// A CA, a user key signed for [`PRINCIPAL`], and a sshd trusting the CA, with account A
/// allowed for that principal and account B only for another one.
struct World {
    _dir: tempfile::TempDir,
    ca: KeyPair,
    user: KeyPair,
    sshd: Sshd,
}

fn world(serial: u64, key_id: &str, principals: &[&str]) -> World {
    accounts::ensure(ACCOUNT_A);
    accounts::ensure(ACCOUNT_B);
    let dir = scratch_dir("harness-");
    let ca = keygen::generate_ed25519(dir.path(), "ca");
    let user = keygen::generate_ed25519(dir.path(), "user");
    keygen::ca_sign(
        &ca.private,
        &user.public,
        key_id,
        principals,
        "-1m:+5m",
        serial,
    );
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.public_key_line() + "\n",
        principals: vec![
            (ACCOUNT_A.into(), vec![PRINCIPAL.into()]),
            (ACCOUNT_B.into(), vec!["someone-else".into()]),
        ],
        ..SshdConfig::default()
    });
    World {
        _dir: dir,
        ca,
        user,
        sshd,
    }
}

#[test]
fn certificate_login_works_for_a_listed_principal_only() {
    let w = world(7, "harness-login", &[PRINCIPAL]);
    assert!(w.sshd.host_public_key().starts_with("ssh-ed25519 "));

    let out = SshCommand::to(&w.sshd, ACCOUNT_A)
        .identity(&w.user.private)
        .certificate(&w.user.certificate())
        .command("id -un")
        .run();
    assert!(
        out.status.success(),
        "login as {ACCOUNT_A} failed\n{}",
        out.describe()
    );
    assert_eq!(out.stdout_text().trim(), ACCOUNT_A);
    assert!(
        w.sshd.wait_for_log(
            "Accepted certificate ID \"harness-login\" (serial 7)",
            Duration::from_secs(5)
        ),
        "no acceptance line in the sshd log"
    );

    let mark = w.sshd.log_mark();
    let out = SshCommand::to(&w.sshd, ACCOUNT_B)
        .identity(&w.user.private)
        .certificate(&w.user.certificate())
        .command("id -un")
        .run();
    assert!(
        !out.status.success(),
        "login as {ACCOUNT_B} must fail\n{}",
        out.describe()
    );
    assert!(!out.stdout_text().contains(ACCOUNT_B));
    assert!(
        w.sshd.wait_for_log_since(
            mark,
            "Certificate does not contain an authorized principal",
            Duration::from_secs(5)
        ),
        "sshd did not log the principal mismatch:\n{}",
        w.sshd.log_since(mark)
    );
}

#[test]
fn certificate_from_an_untrusted_ca_is_refused() {
    let w = world(8, "harness-trusted", &[PRINCIPAL]);
    let other = scratch_dir("harness-forged-");
    let rogue = keygen::generate_ed25519(other.path(), "rogue-ca");
    let user = keygen::generate_ed25519(other.path(), "user");
    keygen::ca_sign(
        &rogue.private,
        &user.public,
        "forged",
        &[PRINCIPAL],
        "+5m",
        9,
    );
    let out = SshCommand::to(&w.sshd, ACCOUNT_A)
        .identity(&user.private)
        .certificate(&user.certificate())
        .command("id -un")
        .run();
    assert!(
        !out.status.success(),
        "forged certificate accepted\n{}",
        out.describe()
    );
    assert_ne!(
        keygen::inspect_certificate(&user.certificate()).signing_ca_fingerprint(),
        Some(keygen::fingerprint(&w.ca.public).as_str())
    );
}

#[test]
fn inspect_certificate_reports_what_was_signed() {
    let dir = scratch_dir("harness-inspect-");
    let ca = keygen::generate_ed25519(dir.path(), "ca");
    let user = keygen::generate_ed25519(dir.path(), "user");
    let cert = keygen::ca_sign(&ca.private, &user.public, "id", &["a", "b"], "+5m", 42);
    assert_eq!(cert, user.certificate());
    let info = keygen::inspect_certificate(&cert);
    assert_eq!(info.key_id, "id");
    assert_eq!(info.serial, 42);
    assert_eq!(info.principals, ["a", "b"]);
    assert!(info.is_user_certificate());
    assert!(info.critical_options.is_empty());
    assert!(
        info.extensions.iter().any(|e| e == "permit-pty"),
        "{info:?}"
    );
    assert!(info.valid_from < info.valid_to, "{info:?}");
    assert_eq!(
        info.signing_ca_fingerprint(),
        Some(keygen::fingerprint(&ca.public).as_str())
    );

    let restricted = keygen::ca_sign_with_options(
        &ca.private,
        &user.public,
        "restricted",
        &["a"],
        "+5m",
        43,
        &["clear", "force-command=true", "source-address=127.0.0.1/32"],
    );
    let info = keygen::inspect_certificate(&restricted);
    assert!(info.extensions.is_empty(), "{info:?}");
    assert_eq!(info.critical_option("force-command"), Some("true"));
    assert_eq!(info.critical_option("source-address"), Some("127.0.0.1/32"));
}

#[test]
fn krl_revokes_by_serial() {
    let dir = scratch_dir("harness-krl-");
    let ca = keygen::generate_ed25519(dir.path(), "ca");
    let user = keygen::generate_ed25519(dir.path(), "user");
    let cert = keygen::ca_sign(&ca.private, &user.public, "k", &["a"], "+5m", 5);
    let krl = dir.path().join("revoked.krl");
    keygen::krl_create(&krl, None, &[]);
    assert!(!keygen::krl_is_revoked(&krl, &cert));
    keygen::krl_create(&krl, Some(&ca.public), &["serial: 5"]);
    assert!(keygen::krl_is_revoked(&krl, &cert));
}

#[test]
fn agent_holds_a_key_and_its_certificate() {
    let dir = scratch_dir("harness-agent-");
    let ca = keygen::generate_ed25519(dir.path(), "ca");
    let user = keygen::generate_ed25519(dir.path(), "user");
    let agent = SshAgent::start();
    assert!(agent.socket().exists());
    assert!(agent.list().contains("The agent has no identities."));
    assert!(agent.list_certificates().is_empty());

    agent.add(&user.private);
    let fp = keygen::fingerprint(&user.public);
    assert!(agent.list().contains(&fp), "{}", agent.list());
    assert!(agent.list_certificates().is_empty());

    keygen::ca_sign(&ca.private, &user.public, "agent", &[PRINCIPAL], "+5m", 11);
    agent.add_with_lifetime(&user.private, 300);
    let certs = agent.list_certificates();
    assert_eq!(certs.len(), 1, "{}", agent.list());
    assert!(certs[0].contains("(ED25519-CERT)"), "{certs:?}");

    agent.remove_all();
    assert!(agent.list_certificates().is_empty());
}

#[test]
fn login_through_the_agent() {
    let w = world(12, "harness-agent-login", &[PRINCIPAL]);
    let agent = SshAgent::start();
    agent.add(&w.user.private);
    // The public key alone tells ssh which agent identity to use.
    let out = SshCommand::to(&w.sshd, ACCOUNT_A)
        .agent(agent.socket())
        .identity(&w.user.public)
        .certificate(&w.user.certificate())
        .command("id -un")
        .run();
    assert!(
        out.status.success(),
        "agent login failed\n{}",
        out.describe()
    );
    assert_eq!(out.stdout_text().trim(), ACCOUNT_A);
}

#[test]
fn accounts_ensure_is_idempotent_and_concurrent() {
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| accounts::ensure(ACCOUNT_A)))
        .collect();
    for h in handles {
        h.join().expect("ensure panicked");
    }
    assert!(accounts::exists(ACCOUNT_A));
    assert!(accounts::home_dir(ACCOUNT_A).is_some_and(|h| h.is_dir()));
}

#[test]
fn free_ports_are_usable() {
    let port = jit_e2e::net::free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port is free");
}

#[test]
#[should_panic(expected = "required tool `no-such-ssh-tool` was not found")]
fn missing_tool_fails_loudly() {
    jit_e2e::tools::require("no-such-ssh-tool");
}

#[test]
fn sshd_honours_revoked_keys() {
    accounts::ensure(ACCOUNT_A);
    let dir = scratch_dir("harness-revoked-");
    let ca = keygen::generate_ed25519(dir.path(), "ca");
    let user = keygen::generate_ed25519(dir.path(), "user");
    keygen::ca_sign(
        &ca.private,
        &user.public,
        "to-revoke",
        &[PRINCIPAL],
        "-1m:+5m",
        31,
    );
    let krl = dir.path().join("revoked.krl");
    keygen::krl_create(&krl, None, &[]);
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.public_key_line() + "\n",
        principals: vec![(ACCOUNT_A.into(), vec![PRINCIPAL.into()])],
        revoked_keys: Some(krl.clone()),
        extra_config: vec!["MaxAuthTries 3".into()],
        ..SshdConfig::default()
    });
    assert!(sshd.config_text().contains("RevokedKeys "));
    let login = || {
        SshCommand::to(&sshd, ACCOUNT_A)
            .identity(&user.private)
            .certificate(&user.certificate())
            .command("id -un")
            .run()
    };
    let out = login();
    assert!(
        out.status.success(),
        "login before revocation failed\n{}",
        out.describe()
    );

    keygen::krl_create(&krl, Some(&ca.public), &["serial: 31"]);
    let mark = sshd.log_mark();
    let out = login();
    assert!(
        !out.status.success(),
        "revoked certificate accepted\n{}",
        out.describe()
    );
    assert!(
        sshd.wait_for_log_since(mark, "revoked", Duration::from_secs(5)),
        "{}",
        sshd.log_since(mark)
    );
}
