//! Revocation reaches real sshd: certificates revoked by serial, by key ID and by user are
//! refused through `RevokedKeys` (the KRL `jit host sync` fetched), the others are accepted,
//! and `ssh-keygen -Q` agrees with the store on every certificate.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::process::Command;

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::keygen::{generate_ed25519, inspect_certificate};
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{accounts, tools, OutputExt as _, SshCommand, Sshd, SshdConfig};

const ACCOUNT: &str = "jit-e2e-deploy";

#[test]
fn sshd_refuses_exactly_the_revoked_certificates() {
    accounts::ensure(ACCOUNT);
    let mut ca = Ca::init(&format!(
        "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"{ACCOUNT}\"]\n"
    ));
    ca.start();
    let dir = scratch_dir("jit-revocation-");
    let host_dir = dir.path().join("host");
    let krl = host_dir.join("revoked.krl");

    // One certificate for each of five users (a TOTP code is single use per user).
    let mut certs = Vec::new();
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        let engineer = Engineer::enroll(&ca.add_user(user, "sre"));
        let key = generate_ed25519(dir.path(), user);
        let issued = engineer.certify(&key, "web", None, 30);
        certs.push((user, engineer, key, issued));
    }
    let sync = |engineer: &Engineer| {
        let url = format!("https://127.0.0.1:{}", ca.port());
        let pin = jit::home::Home::at(engineer.home())
            .confirmed_config()
            .unwrap()
            .tls_sha256;
        let dir = host_dir.display().to_string();
        let out = engineer.run(
            &[
                "host",
                "sync",
                "--dir",
                &dir,
                "--server",
                &url,
                "--tls-sha256",
                &pin,
            ],
            None,
            None,
        );
        assert!(out.status.success(), "{}", out.describe());
    };
    // An empty KRL (nothing revoked yet) accepts everyone.
    sync(&certs[0].1);
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![(ACCOUNT.into(), vec![ACCOUNT.into()])],
        revoked_keys: Some(krl.clone()),
        ..SshdConfig::default()
    });
    let login = |key: &jit_e2e::KeyPair| {
        SshCommand::to(&sshd, ACCOUNT)
            .identity(&key.private)
            .certificate(&key.certificate())
            .command("true")
            .run()
            .status
            .success()
    };
    for (user, _, key, _) in &certs {
        assert!(login(key), "{user} logs in before any revocation");
    }

    let serial = certs[0].3.serial.to_string();
    let key_id = certs[1].3.key_id.clone();
    for args in [
        vec![
            "revoke",
            "--serial",
            serial.as_str(),
            "--reason",
            "lost laptop",
        ],
        vec!["revoke", "--key-id", key_id.as_str()],
        vec!["revoke", "--user", "carol"],
    ] {
        let out = ca.jitd(&args);
        assert!(out.status.success(), "{}", out.describe());
    }
    sync(&certs[3].1);
    for (user, _, key, _) in &certs {
        let revoked = matches!(*user, "alice" | "bob" | "carol");
        assert_eq!(
            login(key),
            !revoked,
            "{user}: sshd must refuse exactly the revoked certificates"
        );
        let out = Command::new(tools::ssh_keygen())
            .arg("-Q")
            .arg("-f")
            .arg(&krl)
            .arg(key.certificate())
            .output()
            .unwrap();
        let says_revoked = String::from_utf8_lossy(&out.stdout).contains("REVOKED");
        assert_eq!(
            says_revoked, revoked,
            "ssh-keygen -Q agrees with the store for {user}"
        );
        let info = inspect_certificate(&key.certificate());
        assert_ne!(info.serial, 0);
    }
    assert!(
        sshd.wait_for_log("revoked by file", std::time::Duration::from_secs(5)),
        "{}",
        sshd.log()
    );
    ca.assert_log_verifies();
}
