//! `jit host enroll` and `jit host renew` against the real jitd; certificates are read back
//! with ssh-keygen.

use std::process::Command;

use crate::bench::{stderr, stdout, text};
use crate::host_bench::{mode, HostBench};
use crate::server::Jitd as _;

/// How many host renewals jitd answered with a certificate.
fn renewals(host: &HostBench) -> usize {
    let seen = host.server.seen().into_iter();
    seen.filter(|s| s.path == "/v1/hosts/renew" && s.status == 200)
        .count()
}

fn serial(path: &std::path::Path) -> u64 {
    ssh_key::Certificate::read_file(path).unwrap().serial()
}

fn keygen_listing(path: &std::path::Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    stdout(&out)
}

#[test]
fn host_enroll_writes_the_certificate_next_to_the_key_and_host_json() {
    let host = HostBench::new();
    let token = host.server.host_token("web-1");
    let out = host.enroll_with(&token);
    assert_eq!(
        stdout(&out),
        format!("HostCertificate {}\n", host.certificate().display()),
        "stdout is the sshd_config line: {}",
        text(&out)
    );
    let first = serial(&host.certificate());
    assert!(
        stderr(&out).contains(&format!("jit: host certificate for web-1 (names web-1, web-1.example.com; serial {first}) valid until")),
        "{}",
        text(&out)
    );
    assert_eq!(mode(&host.certificate()), 0o644);
    let listing = keygen_listing(&host.certificate());
    assert!(listing.contains("host certificate"), "{listing}");
    assert!(listing.contains("web-1.example.com"), "{listing}");
    let host_ca = host.server.host_ca()[0].clone();
    let ca_fingerprint = ssh_key::PublicKey::from_openssh(&host_ca)
        .unwrap()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    assert!(
        listing.contains(&ca_fingerprint),
        "signed by the host CA: {listing}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(host.file("host.json")).unwrap()).unwrap();
    assert_eq!(json["host"], "web-1");
    assert_eq!(json["server_url"], host.server.url);
    assert_eq!(json["tls_sha256"], host.server.tls_sha256);
    assert_eq!(json["host_key"], host.host_key().display().to_string());
    assert_eq!(
        json["certificate"],
        host.certificate().display().to_string()
    );
    assert_eq!(mode(&host.file("host.json")), 0o644);
    assert_eq!(mode(&host.dir()), 0o755);

    // The token was used up; the hint is for a host, not an engineer.
    let key = host.host_key().display().to_string();
    let dir = host.dir().display().to_string();
    let out = host.run(&["host", "enroll", &token, "--host-key", &key, "--dir", &dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("the host token is unknown, already used or expired (invalid_token)"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out)
            .contains("hint: ask your operator for a new host token (`jitd host add NAME`)"),
        "{}",
        text(&out)
    );

    // A private key is not a host public key.
    let private = host.root().join("etc/ssh/ssh_host_ed25519_key");
    let token = host.server.host_token("web-2");
    let args = [
        "host",
        "enroll",
        &token,
        "--host-key",
        private.to_str().unwrap(),
        "--dir",
        &dir,
    ];
    let out = host.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("is not a public key file ending in .pub"),
        "{}",
        text(&out)
    );
}

#[test]
fn host_renew_only_when_due_signed_by_the_host_key() {
    let host = HostBench::new();
    host.enroll();
    let first = std::fs::read(host.certificate()).unwrap();
    let dir = host.dir().display().to_string();

    let out = host.run(&["host", "renew", "--dir", &dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("jit: the host certificate of web-1 is valid until")
            && stdout(&out).contains("not due for renewal (renews within 7d of expiry"),
        "{}",
        text(&out)
    );
    assert_eq!(renewals(&host), 0);
    assert_eq!(std::fs::read(host.certificate()).unwrap(), first);

    // Within the window (30 days left < 31 days): renewed, and jit says how to reload.
    let out = host.run(&["host", "renew", "--dir", &dir, "--before", "31d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(renewals(&host), 1);
    let renewed = serial(&host.certificate());
    assert!(stderr(&out).contains("jit: renewing the host certificate of web-1 (it expires in"));
    assert!(
        stdout(&out).contains(&format!(
            "(names web-1, web-1.example.com; serial {renewed})"
        )),
        "{}",
        text(&out)
    );
    assert!(stdout(&out)
        .contains("jit: reload sshd so it serves the new certificate: systemctl reload ssh"));
    assert_ne!(std::fs::read(host.certificate()).unwrap(), first);
    assert!(keygen_listing(&host.certificate()).contains(&format!("Serial: {renewed}")));
    assert_eq!(mode(&host.certificate()), 0o644);

    // --force with a reload command.
    let marker = host.root().join("reloaded");
    let reload = format!("touch {}", marker.display());
    let out = host.run(&[
        "host",
        "renew",
        "--dir",
        &dir,
        "--force",
        "--reload-command",
        &reload,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(marker.exists(), "the reload command ran");
    assert_eq!(renewals(&host), 2);

    // A server that no longer knows the host key (web-1 was given another one): the old
    // certificate stays.
    let other =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .to_openssh()
            .unwrap();
    let state = host.server.state.clone();
    host.server
        .block_on(async move {
            let change = jit_store::Change::SetHostKey {
                name: "web-1".into(),
                public_key: other,
            };
            jitd::test_support::commit_change(&state, change).await
        })
        .unwrap();
    let current = std::fs::read(host.certificate()).unwrap();
    let out = host.run(&["host", "renew", "--dir", &dir, "--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("the host certificate was not renewed (the old one is kept)"));
    assert!(stderr(&out).contains("hint: the server does not know this host key"));
    assert_eq!(std::fs::read(host.certificate()).unwrap(), current);
}

#[test]
fn renew_without_enrollment_says_how_to_enroll() {
    let host = HostBench::new();
    let dir = host.dir().display().to_string();
    let out = host.run(&["host", "renew", "--dir", &dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("this host is not enrolled"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("hint: enroll it with `jit host enroll TOKEN`"));
}
