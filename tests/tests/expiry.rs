//! sshd itself ends the access: a certificate from jitd works until its `valid_before`,
//! then real sshd refuses it ("Certificate invalid: expired"). The test holds the client key
//! on disk (unlike `jit ssh`, whose key lives only in the agent and leaves with the
//! certificate), so the expired certificate can still be offered.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::keygen::generate_ed25519;
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{accounts, OutputExt as _, SshCommand, Sshd, SshdConfig};

const ACCOUNT: &str = "jit-e2e-deploy";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn sshd_refuses_the_certificate_after_it_expires() {
    accounts::ensure(ACCOUNT);
    let mut ca = Ca::init(&format!(
        "[roles.short]\ngroups = [\"sre\"]\nprincipals = [\"{ACCOUNT}\"]\nbackdate = \"0s\"\n"
    ));
    ca.start();
    let sshd = Sshd::start(SshdConfig {
        trusted_user_ca_keys: ca.user_ca_public_key(),
        principals: vec![(ACCOUNT.into(), vec![ACCOUNT.into()])],
        ..SshdConfig::default()
    });
    let alice = Engineer::enroll(&ca.add_user("alice", "sre"));

    // jitd certifies a key the test holds, for 4 seconds.
    let dir = scratch_dir("jit-expiry-");
    let key = generate_ed25519(dir.path(), "client");
    let response = alice.certify(&key, "short", Some(4), 30);
    assert_eq!(response.valid_before - response.valid_after, 4);

    let login = || {
        SshCommand::to(&sshd, ACCOUNT)
            .identity(&key.private)
            .certificate(&key.certificate())
            .command("id -un")
            .run()
    };
    let out = login();
    assert!(
        out.status.success(),
        "a fresh certificate logs in: {}",
        out.describe()
    );
    assert_eq!(out.stdout_text().trim(), ACCOUNT);

    let wait = response.valid_before.saturating_sub(now()) + 1;
    std::thread::sleep(Duration::from_secs(wait));
    let out = login();
    assert!(
        !out.status.success(),
        "an expired certificate must be refused: {}",
        out.describe()
    );
    assert!(
        sshd.wait_for_log("Certificate invalid: expired", Duration::from_secs(5)),
        "sshd log: {}",
        sshd.log()
    );
    ca.assert_log_verifies();
}
