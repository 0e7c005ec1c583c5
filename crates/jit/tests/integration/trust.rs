//! The engineer's side of host trust and revocation: `jit enroll` writes the host CA keys
//! to `$JIT_HOME/known_hosts`, `jit ssh` hands that file to ssh (unless the engineer chose
//! one) and refreshes it with each certificate, and `jit logout --revoke` revokes on the
//! server what it removes from the agent.

use crate::bench::{stderr, stdout, text, Bench, FAKE_SSH_STATUS};
use crate::host_bench::mode;
use crate::server::Jitd as _;

#[test]
fn enroll_writes_known_hosts_and_ssh_uses_it_unless_told_otherwise() {
    let mut bench = Bench::new();
    bench.enroll();
    let known_hosts = bench.home().join("known_hosts");
    let host_ca = bench.server.host_ca()[0].clone();
    let text_of = || std::fs::read_to_string(&known_hosts).unwrap();
    let lines: Vec<String> = text_of()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(lines, [format!("@cert-authority * {host_ca}")]);
    assert_eq!(mode(&known_hosts), 0o644);

    let out = bench.run(&["ssh", "--otp", &bench.code(), "web-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let args = std::fs::read_to_string(bench.ssh_log()).unwrap();
    let option = format!(
        "-o\nUserKnownHostsFile=\"{}\" ~/.ssh/known_hosts\n",
        known_hosts.display()
    );
    assert!(args.contains(&option), "{args}");

    let out = bench.run(&["ssh", "-o", "UserKnownHostsFile=/dev/null", "web-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let args = std::fs::read_to_string(bench.ssh_log()).unwrap();
    assert_eq!(args.matches("KnownHostsFile").count(), 1, "{args}");
    assert!(
        args.contains("-o\nUserKnownHostsFile=/dev/null\n"),
        "{args}"
    );

    // A host CA rotation (jitd restarted with a new host CA key, the old one still
    // published) reaches the engineer with the next certificate.
    bench.server.rotate_host_ca().unwrap();
    let next = bench.server.host_ca()[0].clone();
    assert_ne!(next, host_ca);
    let out = bench.run(&["ssh", "--role", "db", "--otp", &bench.code(), "db-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    assert!(text_of().contains(&format!("@cert-authority * {host_ca}\n")));
    assert!(text_of().contains(&format!("@cert-authority * {next}\n")));

    // Without the file, ssh gets no such option.
    std::fs::remove_file(&known_hosts).unwrap();
    let out = bench.run(&["ssh", "web-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let args = std::fs::read_to_string(bench.ssh_log()).unwrap();
    assert!(!args.contains("KnownHostsFile"), "{args}");
}

#[test]
fn logout_revoke_sends_the_serials_it_removes() {
    let bench = Bench::new();
    bench.enroll();
    for role in ["web", "db"] {
        let out = bench.run(&["ssh", "--role", role, "--otp", &bench.code(), "h"], "");
        assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    }
    let (web, db) = (
        bench.certificate("web").serial(),
        bench.certificate("db").serial(),
    );
    let revoked = || bench.server.revoked_serials();

    let out = bench.run(&["logout", "--role", "db", "--revoke"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(revoked(), [db]);
    assert!(stdout(&out).contains("jit: removed 1 certificate of role db from ssh-agent"));
    assert!(
        stdout(&out).contains(&format!(
            "jit: revoked on the server: serial {db}; hosts refuse them"
        )),
        "{}",
        text(&out)
    );
    assert!(!bench.agent.list().contains("jit:db"));
    assert!(bench.agent.list().contains("jit:web"));

    // Plain logout revokes nothing.
    let out = bench.run(&["ssh", "--role", "db", "--otp", &bench.code(), "h"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let out = bench.run(&["logout", "--role", "db"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(revoked(), [db]);

    // The server is gone: removed anyway, and the command fails naming the serial.
    bench.server.stop().unwrap();
    let out = bench.run(&["logout", "--revoke"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("jit: removed 1 jit certificate from ssh-agent"));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("error: revocation failed: the certificates with serial {web} were removed from ssh-agent but NOT revoked")),
        "{err}"
    );
    assert!(err.contains("could not reach the server"), "{err}");
    assert!(err.contains("ask your operator to revoke them"), "{err}");
    assert!(!bench.agent.list().contains("CERT"));
    assert_eq!(revoked(), [db]);

    // Nothing left: nothing to revoke, and no server needed.
    let out = bench.run(&["logout", "--revoke"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("jit: nothing to revoke"));
}
