//! CA rotation with real sshd: after `jitd ca rotate --user`, certificates from the old and
//! the new key both log in during the overlap; `jitd ca retire` refuses while the old key's
//! certificates are still valid, and after retirement only the new key's certificates work.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::keygen::{generate_ed25519, inspect_certificate};
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{accounts, OutputExt as _, SshCommand, Sshd, SshdConfig};

const ACCOUNT: &str = "jit-e2e-deploy";

#[test]
fn old_and_new_ca_keys_overlap_then_the_old_one_retires() {
    accounts::ensure(ACCOUNT);
    let mut ca = Ca::init(&format!(
        "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"{ACCOUNT}\"]\n"
    ));
    ca.start();
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![(ACCOUNT.into(), vec![ACCOUNT.into()])],
        ..SshdConfig::default()
    });
    let dir = scratch_dir("jit-rotation-");
    let login = |key: &jit_e2e::KeyPair| {
        SshCommand::to(&sshd, ACCOUNT)
            .identity(&key.private)
            .certificate(&key.certificate())
            .command("id -un")
            .run()
    };

    let alice = Engineer::enroll(&ca.add_user("alice", "sre"));
    let old_key = generate_ed25519(dir.path(), "old");
    alice.certify(&old_key, "web", None, 30);
    let old_ca = inspect_certificate(&old_key.certificate())
        .signing_ca_fingerprint()
        .expect("the signing CA fingerprint")
        .to_string();

    // Rotate (the server is restarted to load the new signing key).
    ca.stop();
    let out = ca.jitd(&[
        "ca",
        "rotate",
        "--user",
        "--passphrase-file",
        &ca.passphrase_path(),
    ]);
    assert!(out.status.success(), "{}", out.describe());
    ca.start();
    let published = ca.user_ca_public_key();
    assert_eq!(
        published.lines().count(),
        2,
        "old and new are both published: {published}"
    );
    sshd.set_trusted_user_ca_keys(&published);

    let bob = Engineer::enroll(&ca.add_user("bob", "sre"));
    let new_key = generate_ed25519(dir.path(), "new");
    bob.certify(&new_key, "web", None, 30);
    let new_ca = inspect_certificate(&new_key.certificate())
        .signing_ca_fingerprint()
        .expect("the signing CA fingerprint")
        .to_string();
    assert_ne!(old_ca, new_ca, "new certificates are signed by the new key");

    for key in [&old_key, &new_key] {
        let out = login(key);
        assert!(
            out.status.success(),
            "both log in during the overlap: {}",
            out.describe()
        );
    }

    // The old key's certificate is still valid: retiring it is refused without --force.
    let out = ca.jitd(&["ca", "retire", &old_ca]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("still valid"),
        "{}",
        out.describe()
    );
    let out = ca.jitd(&["ca", "retire", &old_ca, "--force"]);
    assert!(out.status.success(), "{}", out.describe());
    ca.stop();
    ca.start();
    let published = ca.user_ca_public_key();
    assert_eq!(published.lines().count(), 1, "{published}");
    sshd.set_trusted_user_ca_keys(&published);
    assert!(
        !login(&old_key).status.success(),
        "the retired key's certificate is refused"
    );
    let out = login(&new_key);
    assert!(out.status.success(), "{}", out.describe());
    ca.assert_log_verifies();
}
