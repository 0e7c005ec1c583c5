//! `deploy/host/setup.sh --root DIR --no-systemd` against the real jitd: the files it
//! writes under DIR, and what it leaves when the server cannot be reached.

use std::path::Path;
use std::process::{Command, Output};

use crate::bench::{stdout, text, Bench};
use crate::host_bench::{mode, HostBench};
use crate::server::Jitd as _;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/host/setup.sh");

/// `bash setup.sh --root ROOT --no-systemd --server URL --tls-sha256 PIN --jit JIT EXTRA...`.
fn setup(host: &HostBench, extra: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(SCRIPT)
        .arg("--root")
        .arg(host.root())
        .args(["--no-systemd", "--server", &host.server.url])
        .args(["--tls-sha256", &host.server.tls_sha256])
        .args(["--jit", env!("CARGO_BIN_EXE_jit")])
        .args(extra)
        .env_remove("JIT_LOG");
    Bench::run_cmd(cmd, "")
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap()
}

#[test]
fn setup_writes_the_jit_dir_principals_drop_in_and_units() {
    let host = HostBench::new();
    let root = host.root();
    std::fs::write(
        root.join("etc/ssh/sshd_config"),
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
    )
    .unwrap();
    let token = host.server.host_token("web-1");
    let map = "deploy:deploy,web root:root";
    let out = setup(&host, &["--principals-map", map, "--token", &token]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    assert_eq!(mode(&host.dir()), 0o755);
    let served = host.server.krl();
    assert_eq!(
        std::fs::read(host.file("revoked.krl")).unwrap(),
        served,
        "synced"
    );
    let user_ca = host.server.user_ca_file();
    assert_eq!(std::fs::read(host.file("user_ca.pub")).unwrap(), user_ca);
    assert_eq!(read(root, "etc/ssh/jit/principals/deploy"), "deploy\nweb\n");
    assert_eq!(read(root, "etc/ssh/jit/principals/root"), "root\n");
    assert_eq!(mode(&host.file("principals/deploy")), 0o644);
    assert!(host.certificate().exists() && host.file("host.json").exists());

    let drop_in = read(root, "etc/ssh/sshd_config.d/50-jit.conf");
    let settings: Vec<&str> = drop_in.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        settings,
        [
            "TrustedUserCAKeys /etc/ssh/jit/user_ca.pub",
            "AuthorizedPrincipalsFile /etc/ssh/jit/principals/%u",
            "RevokedKeys /etc/ssh/jit/revoked.krl",
            "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub",
        ]
    );
    assert_eq!(mode(&root.join("etc/ssh/sshd_config.d/50-jit.conf")), 0o644);
    assert!(
        stdout(&out).contains("sshd -t -f (drop-in with the paths under"),
        "the drop-in was checked by sshd: {}",
        text(&out)
    );

    let units = root.join("etc/systemd/system");
    let exec = format!(
        "ExecStart={} host sync --dir /etc/ssh/jit\n",
        env!("CARGO_BIN_EXE_jit")
    );
    assert!(read(&units, "jit-host-sync.service").contains(&exec));
    assert!(
        read(&units, "jit-host-sync.timer").contains("OnUnitActiveSec=5min\nRandomizedDelaySec=")
    );
    assert!(read(&units, "jit-host-renew.service").contains(
        "host renew --dir /etc/ssh/jit --before 7d --reload-command \"systemctl reload ssh\""
    ));
    assert!(read(&units, "jit-host-renew.timer").contains("OnCalendar=daily"));
    assert!(
        stdout(&out).contains("skipped enabling the timers"),
        "{}",
        text(&out)
    );

    // Again, without a token and with a smaller map: the certificate line stays, the KRL
    // is kept, and the principals file no longer in the map is pointed out.
    let out = setup(&host, &["--principals-map", "deploy:deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("kept the existing"), "{}", text(&out));
    assert!(read(root, "etc/ssh/sshd_config.d/50-jit.conf").contains("HostCertificate "));
    assert!(
        stdout(&out).contains("principals/root is not in --principals-map and still grants: root")
    );
}

#[test]
fn an_unreachable_server_leaves_an_empty_krl_and_no_drop_in() {
    let host = HostBench::new();
    host.server.stop().unwrap();
    let out = setup(&host, &["--principals-map", "deploy:deploy"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the first sync failed"),
        "{}",
        text(&out)
    );
    let krl = host.file("revoked.krl");
    let listing = Command::new("ssh-keygen")
        .args(["-Q", "-l", "-f"])
        .arg(&krl)
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "an empty KRL sshd can read: {}",
        text(&listing)
    );
    assert_eq!(std::fs::read(&krl).unwrap()[..8], *b"SSHKRL\n\0");
    assert_eq!(mode(&krl), 0o644);
    assert!(!host
        .root()
        .join("etc/ssh/sshd_config.d/50-jit.conf")
        .exists());
}

#[test]
fn a_bad_principals_map_is_refused_before_anything_is_written() {
    let host = HostBench::new();
    let out = setup(&host, &["--principals-map", "deploy:de*ploy"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad principals in 'deploy:de*ploy'"));
    assert!(!host.dir().exists());
}
