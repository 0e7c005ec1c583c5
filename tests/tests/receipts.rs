//! Log receipts with real sshd: on a host that requires them (`jit host principals` as sshd's
//! AuthorizedPrincipalsCommand), a certificate issued through the log logs in, and one made
//! with the CA key outside the server (a stolen key used offline) is refused.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::process::Command;

use jit_e2e::jit::{binary, Ca, Engineer};
use jit_e2e::keygen::{generate_ed25519, inspect_certificate};
use jit_e2e::scratch::{scratch_dir, write_file};
use jit_e2e::{accounts, tools, OutputExt as _, SshCommand, Sshd, SshdConfig};

const ACCOUNT: &str = "jit-e2e-deploy";

#[test]
fn hosts_that_require_receipts_refuse_certificates_minted_outside_the_log() {
    accounts::ensure(ACCOUNT);
    let mut ca = Ca::init(&format!(
        "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"{ACCOUNT}\"]\nlog_receipt = true\n"
    ));
    ca.start();

    // The host side: jit (copied where sshd's StrictModes accepts it), the log key, principals.
    let host = scratch_dir("jit-receipt-host-");
    let jit = host.path().join("jit");
    std::fs::copy(binary("jit"), &jit).unwrap();
    write_file(
        &host.path().join("log_key.pub"),
        ca.jitd_ok(&["ca", "show", "--log"]),
        0o644,
    );
    jit_e2e::scratch::create_dir(&host.path().join("principals"));
    write_file(
        &host.path().join("principals").join(ACCOUNT),
        format!("{ACCOUNT}\n"),
        0o644,
    );
    let command = format!(
        "AuthorizedPrincipalsCommand {} host principals --dir {} --user %u --type %t --key %k",
        jit.display(),
        host.path().display()
    );
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![],
        extra_config: vec![
            command,
            "AuthorizedPrincipalsCommandUser root".into(),
            "AuthorizedPrincipalsFile none".into(),
        ],
        ..SshdConfig::default()
    });
    let login = |key: &jit_e2e::KeyPair| {
        SshCommand::to(&sshd, ACCOUNT)
            .identity(&key.private)
            .certificate(&key.certificate())
            .command("id -un")
            .run()
    };

    // Issued through the log: carries a receipt, and logs in.
    let alice = Engineer::enroll(&ca.add_user("alice", "sre"));
    let dir = scratch_dir("jit-receipt-");
    let good = generate_ed25519(dir.path(), "good");
    alice.certify(&good, "web", None, 30);
    assert!(inspect_certificate(&good.certificate())
        .extensions
        .iter()
        .any(|e| e.contains("log-receipt@jit")));
    let out = login(&good);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        out.describe(),
        sshd.log()
    );
    assert_eq!(out.stdout_text().trim(), ACCOUNT);

    // Minted offline with a copy of the CA key (decrypted with the stolen passphrase).
    let stolen = dir.path().join("stolen_ca");
    std::fs::copy(ca.data_dir().join("user_ca"), &stolen).unwrap();
    let passphrase = std::fs::read_to_string(ca.passphrase_path()).unwrap();
    let out = Command::new(tools::ssh_keygen())
        .args(["-p", "-P", passphrase.trim(), "-N", "", "-f"])
        .arg(&stolen)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.describe());
    let forged = generate_ed25519(dir.path(), "forged");
    let cert = jit_e2e::keygen::ca_sign(
        &stolen,
        &forged.public,
        "alice@web#99",
        &[ACCOUNT],
        "+10m",
        99,
    );
    assert!(cert.exists());
    let out = login(&forged);
    assert!(
        !out.status.success(),
        "a certificate without a receipt must be refused: {}",
        out.describe()
    );
    assert!(
        sshd.wait_for_log("failed, status 1", std::time::Duration::from_secs(5)),
        "the principals command refused it: {}",
        sshd.log()
    );
    // What the command says (sshd does not log its stderr).
    let blob = std::fs::read_to_string(forged.certificate()).unwrap();
    let mut parts = blob.split_whitespace();
    let (kind, key) = (parts.next().unwrap(), parts.next().unwrap());
    let host_dir = host.path().to_str().unwrap();
    let out = Command::new(&jit)
        .args([
            "host",
            "principals",
            "--dir",
            host_dir,
            "--user",
            ACCOUNT,
            "--type",
            kind,
            "--key",
            key,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("no log receipt"),
        "{}",
        out.describe()
    );
}
