//! Hosts end to end with a real `jitd`, `sshd` and `ssh`: a host key certified by
//! `jit host enroll` is trusted through the `@cert-authority` line `jit enroll` wrote (no
//! prompt, strict checking), a certificate naming another host is refused, and
//! `jit host sync` feeds sshd's `RevokedKeys` and keeps the old KRL when jitd is down.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::path::{Path, PathBuf};
use std::time::Duration;

use jit_e2e::jit::{Ca, Engineer};
use jit_e2e::keygen::{generate_ed25519, inspect_certificate};
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{accounts, OutputExt as _, SshAgent, SshCommand, Sshd, SshdConfig};
use tempfile::TempDir;

const DEPLOY: &str = "jit-e2e-deploy";

fn started_ca() -> Ca {
    accounts::ensure(DEPLOY);
    let mut ca = Ca::init(&format!(
        "[roles.e2e]\ngroups = [\"sre\"]\nprincipals = [\"{DEPLOY}\"]\n\
         hosts = [\"127.0.0.1\"]\ndefault_ttl = \"10m\"\nmax_ttl = \"1h\"\n"
    ));
    ca.start();
    ca
}

/// A host's files: an Ed25519 host key made by ssh-keygen, and the jit host directory.
struct Host {
    dir: TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = scratch_dir("jit-host-");
        generate_ed25519(dir.path(), "ssh_host_ed25519_key");
        Host { dir }
    }

    fn jit_dir(&self) -> PathBuf {
        self.dir.path().join("jit")
    }

    fn certificate(&self) -> PathBuf {
        self.dir.path().join("ssh_host_ed25519_key-cert.pub")
    }

    /// `jit host ARGS... --dir JIT_DIR` (as root, like the timers run it).
    fn jit(&self, engineer: &Engineer, args: &[&str]) -> std::process::Output {
        let dir = self.jit_dir().display().to_string();
        let mut all = vec!["host"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--dir", &dir]);
        engineer.run(&all, None, None)
    }

    /// `jit host enroll TOKEN`: must succeed and print the sshd line.
    fn enroll(&self, engineer: &Engineer, token: &str) {
        let key = self.dir.path().join("ssh_host_ed25519_key.pub");
        let key = key.display().to_string();
        let out = self.jit(engineer, &["enroll", token, "--host-key", &key]);
        assert!(out.status.success(), "jit host enroll: {}", out.describe());
        let line = format!("HostCertificate {}", self.certificate().display());
        assert_eq!(out.stdout_text().trim(), line);
    }
}

fn sshd_serving(host: &Host, trusted_user_ca_keys: String, revoked_keys: Option<PathBuf>) -> Sshd {
    Sshd::start(SshdConfig {
        trusted_user_ca_keys,
        principals: vec![(DEPLOY.into(), vec![DEPLOY.into()])],
        host_certificate: Some(host.certificate()),
        revoked_keys,
        ..SshdConfig::default()
    })
}

/// `ssh` with strict host key checking and ONLY `known_hosts`, authenticating with the
/// agent's jit certificate for role e2e.
fn strict_ssh(sshd: &Sshd, known_hosts: &Path, agent: &SshAgent, alice: &Engineer) -> SshCommand {
    SshCommand::to(sshd, DEPLOY)
        .known_hosts(known_hosts)
        .agent(agent.socket())
        .identity(&alice.home().join("run/e2e-cert.pub"))
        .command("id -un")
}

#[test]
fn a_host_certified_by_jit_is_trusted_strictly_and_another_hosts_certificate_is_not() {
    let ca = started_ca();
    let alice = Engineer::enroll(&ca.add_user("alice", "sre"));
    let known_hosts = alice.home().join("known_hosts");
    let host_ca = ca.jitd_ok(&["ca", "show", "--host"]);
    let lines = std::fs::read_to_string(&known_hosts).expect("jit enroll wrote known_hosts");
    let host_ca_key: Vec<&str> = host_ca.split_whitespace().take(2).collect();
    assert!(
        lines.contains(&format!("@cert-authority * {}", host_ca_key.join(" "))),
        "{lines}\nhost CA: {host_ca}"
    );

    let web = Host::new();
    web.enroll(
        &alice,
        &ca.add_host("web-1", &["127.0.0.1", "web-1.example.com"]),
    );
    let info = inspect_certificate(&web.certificate());
    assert!(!info.is_user_certificate());
    assert_eq!(info.principals, ["127.0.0.1", "web-1.example.com"]);
    let sshd = sshd_serving(&web, ca.user_ca_public_key(), None);

    // jit ssh adds its known_hosts file by itself: strict checking, no other trust.
    let agent = SshAgent::start();
    let port = sshd.port().to_string();
    let code = alice.code(30);
    let target = format!("{DEPLOY}@127.0.0.1");
    let args = [
        "ssh",
        "--otp",
        &code,
        "-p",
        &port,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        &target,
        "id",
        "-un",
    ];
    let out = alice.run(&args, Some(&agent), None);
    assert!(out.status.success(), "jit ssh: {}", out.describe());
    assert_eq!(out.stdout_text().trim(), DEPLOY);

    // Plain ssh with only the jit file: the certified host key is accepted.
    let out = strict_ssh(&sshd, &known_hosts, &agent, &alice).run();
    assert!(out.status.success(), "strict ssh: {}", out.describe());
    assert_eq!(out.stdout_text().trim(), DEPLOY);

    // A host whose certificate names another host is refused under strict checking.
    let other = Host::new();
    other.enroll(&alice, &ca.add_host("db-1", &["db-1.example.com"]));
    let other_sshd = sshd_serving(&other, ca.user_ca_public_key(), None);
    let out = strict_ssh(&other_sshd, &known_hosts, &agent, &alice).run();
    assert!(!out.status.success(), "must be refused: {}", out.describe());
    let err = out.stderr_text();
    assert!(err.contains("Host key verification failed"), "{err}");
    assert!(err.contains("name is not a listed principal"), "{err}");
    assert!(
        !other_sshd.log().contains("Accepted certificate"),
        "no login happened: {}",
        other_sshd.log()
    );
}

#[test]
fn host_sync_feeds_revoked_keys_and_keeps_the_old_krl_when_jitd_is_down() {
    let mut ca = started_ca();
    let alice = Engineer::enroll(&ca.add_user("alice", "sre"));
    let web = Host::new();
    web.enroll(&alice, &ca.add_host("web-1", &["127.0.0.1"]));
    let out = web.jit(&alice, &["sync"]);
    assert!(out.status.success(), "jit host sync: {}", out.describe());
    let krl = web.jit_dir().join("revoked.krl");
    // sshd trusts exactly what the sync wrote.
    let user_ca = std::fs::read_to_string(web.jit_dir().join("user_ca.pub")).unwrap();
    let key_of = |line: &str| {
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(key_of(&user_ca), key_of(&ca.user_ca_public_key()));
    let sshd = sshd_serving(&web, user_ca, Some(krl.clone()));

    let agent = SshAgent::start();
    let port = sshd.port().to_string();
    let code = alice.code(30);
    let target = format!("{DEPLOY}@127.0.0.1");
    let args = [
        "ssh",
        "--otp",
        &code,
        "-p",
        &port,
        "-o",
        "BatchMode=yes",
        &target,
        "true",
    ];
    let out = alice.run(&args, Some(&agent), None);
    assert!(out.status.success(), "jit ssh: {}", out.describe());
    let known_hosts = alice.home().join("known_hosts");
    assert!(strict_ssh(&sshd, &known_hosts, &agent, &alice)
        .run()
        .status
        .success());

    // Revoked on the server, synced to the host: sshd refuses the certificate.
    let serial = inspect_certificate(&alice.home().join("run/e2e-cert.pub")).serial;
    ca.jitd_ok(&["revoke", "--serial", &serial.to_string(), "--reason", "e2e"]);
    let out = web.jit(&alice, &["sync"]);
    assert!(out.status.success(), "jit host sync: {}", out.describe());
    let mark = sshd.log_mark();
    let out = strict_ssh(&sshd, &known_hosts, &agent, &alice).run();
    assert!(
        !out.status.success(),
        "a revoked certificate: {}",
        out.describe()
    );
    assert!(
        sshd.wait_for_log_since(mark, "revoked by file", Duration::from_secs(5)),
        "{}",
        sshd.log_since(mark)
    );

    // jitd down: the sync fails, and the KRL sshd reads is the same, byte for byte.
    let before = std::fs::read(&krl).unwrap();
    ca.stop();
    let out = web.jit(&alice, &["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr_text()
            .contains("revoked.krl was NOT refreshed (the old file is kept)"),
        "{}",
        out.describe()
    );
    assert_eq!(std::fs::read(&krl).unwrap(), before);
    let out = strict_ssh(&sshd, &known_hosts, &agent, &alice).run();
    assert!(!out.status.success(), "still revoked: {}", out.describe());
}
