//! The `jit` binary end to end against the real jitd, a real ssh-agent, and a stand-in
//! for ssh that records its arguments.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::authenticator::spaced;
use crate::bench::{stderr, text, Bench, FAKE_SSH_STATUS};
use crate::server::Jitd as _;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn enroll_ssh_reuse_status_and_logout() {
    let bench = Bench::new();
    let token = bench.server.token();
    let (status, stdout, errors) =
        bench.enroll_typing("alice", &["enroll", &token, "--name", "laptop"], |code| {
            format!("{}\n", spaced(code))
        });
    assert_eq!(status, Some(0), "{stdout}\n{errors}");
    assert!(
        stdout.contains('█') || stdout.contains('▀'),
        "a QR code: {stdout}"
    );
    assert!(stdout.contains("otpauth://totp/jit:alice"), "{stdout}");
    assert!(stdout.contains(&bench.secret_of("alice")), "{stdout}");
    assert!(stdout.contains("enrollment confirmed"), "{stdout}");
    assert!(
        stdout.contains("web: principals deploy,web; hosts web-*, *.web.example; ttl 15m (max 1h)")
    );
    assert_eq!(bench.config()["confirmed"], true);
    assert_eq!(mode(&bench.home()), 0o700);
    assert_eq!(mode(&bench.home().join("device_ed25519")), 0o600);

    // First connection: a code from stdin, a new certificate, ssh with the run/ files.
    let stdin = format!("{}\nleft for ssh\n", bench.code());
    let out = bench.run(&["ssh", "web-1", "uptime", "-a"], &stdin);
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let web = bench.certificate("web");
    let web_id = format!("alice@web#{}", web.serial());
    assert_eq!(web.key_id(), web_id, "the key ID jitd makes");
    assert!(
        stderr(&out).contains(&format!(
            "jit: certificate {web_id} for deploy,web valid 15m (until "
        )),
        "{}",
        text(&out)
    );
    let run = bench.home().join("run");
    let args = std::fs::read_to_string(bench.ssh_log()).unwrap();
    let expected = format!(
        "-o\nIdentitiesOnly=yes\n-o\nIdentityFile={0}/web-cert.pub\n\
         -o\nUserKnownHostsFile=\"{1}/known_hosts\" ~/.ssh/known_hosts\n\
         -l\ndeploy\n--\nweb-1\nuptime\n-a\nSSH_AUTH_SOCK={2}\n",
        run.display(),
        bench.home().display(),
        bench.agent.socket().display()
    );
    assert_eq!(args, expected);
    let rest = std::fs::read_to_string(bench.dir().join("ssh.log.stdin")).unwrap();
    assert_eq!(rest, "left for ssh\n", "ssh gets the rest of stdin");
    assert_eq!(
        mode(&run.join("web.pub")),
        0o600,
        "ssh refuses a readable IdentityFile"
    );
    assert_eq!(mode(&run.join("web-cert.pub")), 0o600);
    for entry in std::fs::read_dir(&run).unwrap() {
        let content = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!content.contains("PRIVATE KEY"));
    }
    let listing = bench.agent.list();
    assert!(listing.contains("jit:web (ED25519-CERT)"), "{listing}");
    let keygen = Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(run.join("web-cert.pub"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&keygen.stdout).contains(&web_id));

    // Second connection: the certificate is reused without a code or a server request.
    let requests = bench.server.paths().len();
    let out = bench.run(&["ssh", "-p", "2222", "root@web-2"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "jit: reusing certificate {web_id} for deploy,web (15m left)"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(bench.server.paths().len(), requests + 1, "only whoami");
    let args = std::fs::read_to_string(bench.ssh_log()).unwrap();
    assert!(args.contains("-p\n2222\n-l\nroot\n--\nweb-2\n"), "{args}");

    // Another role needs a code; none on stdin is an error that says what to do.
    let out = bench.run(&["ssh", "--role", "db", "db-1"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("error: no TOTP code was given"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("hint: pass `--otp CODE`"),
        "{}",
        text(&out)
    );

    let out = bench.run(&["ssh", "--otp", &bench.code(), "--ttl", "5m", "db-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let db_id = format!("alice@db#{}", bench.certificate("db").serial());
    assert!(
        stderr(&out).contains(&format!("{db_id} for dba valid 5m")),
        "{}",
        text(&out)
    );

    let out = bench.run(&["status", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["enrolled"]["user"], "alice");
    assert_eq!(status["enrolled"]["confirmed"], true);
    let certs = status["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["role"], "web");
    assert_eq!(certs[0]["key_id"], web_id);
    assert_eq!(certs[0]["principals"], serde_json::json!(["deploy", "web"]));
    assert!(certs[0]["seconds_left"].as_u64().unwrap() > 800);

    let out = bench.run(&["status"], "");
    let line = format!("web: {web_id} (serial {}) for deploy,web", web.serial());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&line),
        "{}",
        text(&out)
    );

    let out = bench.run(&["logout", "--role", "db"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1 certificate of role db"));
    assert!(!run.join("db.pub").exists());
    assert!(run.join("web.pub").exists());
    let out = bench.run(&["logout"], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 1 jit certificate"),
        "{}",
        text(&out)
    );
    assert!(!bench.agent.list().contains("CERT"));
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 0);
}

#[test]
fn enrollment_without_a_code_stays_pending_until_confirmed() {
    let bench = Bench::new();
    let out = bench.run(&["enroll", &bench.server.token()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains(
        "enrollment is registered but not confirmed; finish with `jit enroll --confirm`"
    ));
    let secret = crate::bench::shown_secret(&crate::bench::stdout(&out)).unwrap();
    bench.learn_secret("alice", &secret);
    assert_eq!(bench.config()["confirmed"], false);

    let out = bench.run(&["ssh", "web-1"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: finish it with `jit enroll --confirm`"),
        "{}",
        text(&out)
    );

    let out = bench.run(&["enroll", &bench.server.token()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is pending"), "{}", text(&out));

    let out = bench.run(&["enroll", "--confirm"], "000000\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wrong TOTP code (invalid_otp)"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("000000"), "codes are never echoed");

    let code = bench.code();
    let out = bench.run(
        &["enroll", "--confirm"],
        &format!("{}-{}\n", &code[..3], &code[3..]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(bench.config()["confirmed"], true);

    // --force replaces the device key.
    let before = bench.config()["device_fingerprint"].clone();
    let token = bench.server.token();
    let (status, stdout, errors) =
        bench.enroll_typing("alice", &["enroll", "--force", &token], |c| {
            format!("{c}\n")
        });
    assert_eq!(status, Some(0), "{stdout}\n{errors}");
    assert_ne!(bench.config()["device_fingerprint"], before);
}

#[test]
fn enroll_json_prints_one_object_and_no_qr_code() {
    let bench = Bench::new();
    let token = bench.server.token();
    let (status, stdout, errors) =
        bench.enroll_typing("alice", &["enroll", &token, "--json"], |c| format!("{c}\n"));
    assert_eq!(status, Some(0), "{stdout}\n{errors}");
    let object: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(object["user"], "alice");
    assert_eq!(object["totp_secret"], bench.secret_of("alice"));
    assert!(object["device"].as_str().unwrap().starts_with("SHA256:"));
    assert!(object["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://"));
}

#[test]
fn errors_say_what_to_do() {
    let bench = Bench::new();
    let out = bench.run(&["enroll", "garbage"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("jit1_"), "{}", text(&out));

    let out = bench.run(
        &["enroll", &bench.server.token_with_pin(&"11".repeat(32))],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not match the one in your enrollment"),
        "{}",
        text(&out)
    );
    assert!(!bench.home().join("config.json").exists());

    let out = bench.run(&["ssh", "web-1"], "");
    assert!(
        stderr(&out).contains("hint: run `jit enroll TOKEN`"),
        "{}",
        text(&out)
    );

    bench.enroll();
    let out = bench.run(&["ssh", "mail-1"], "");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("none of your roles matches host \"mail-1\""),
        "{err}"
    );
    assert!(err.contains("web (hosts: web-*, *.web.example)"), "{err}");
    assert!(
        err.contains("hint: pick a role with `--role ROLE`"),
        "{err}"
    );

    for args in [&["ssh", "web-1"][..], &["status"][..], &["logout"][..]] {
        let mut cmd = bench.command(args);
        cmd.env_remove("SSH_AUTH_SOCK");
        let out = Bench::run_cmd(cmd, "");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).starts_with("error: no ssh-agent is running")
                && stderr(&out)
                    .contains("hint: start one with `eval \"$(ssh-agent)\"` and try again"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn reason_and_ticket_reach_the_server_and_break_glass_is_announced() {
    let bench = Bench::new();
    bench.enroll();
    let out = bench.run(
        &[
            "ssh",
            "--role",
            "db",
            "--reason",
            "INC-9: slow query",
            "--ticket",
            "INC-9",
            "--otp",
            &bench.code(),
            "db-1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let sent = bench.server.certificate_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].reason.as_deref(), Some("INC-9: slow query"));
    assert_eq!(sent[0].ticket.as_deref(), Some("INC-9"));
    assert!(!stderr(&out).contains("BREAK-GLASS"), "{}", text(&out));

    // Break-glass without a reason: the server's refusal, and how to give one.
    let out = bench.run(
        &["ssh", "--role", "prod-root", "--otp", &bench.code(), "db-1"],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("role prod-root requires a reason; say why you need access, in one line of at most 500 characters (reason_required)"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("hint: give one with --reason \"INC-123: what and why\""),
        "{}",
        text(&out)
    );

    let out = bench.run(
        &[
            "ssh",
            "--role",
            "prod-root",
            "--reason",
            "outage",
            "--otp",
            &bench.code(),
            "db-1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let glass = bench.certificate("prod-root");
    assert!(
        stderr(&out).contains(&format!(
            "jit: BREAK-GLASS certificate alice@prod-root#{} for role prod-root: everyone was \
             alerted and this access will be reviewed\n",
            glass.serial()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        bench.server.certificate_requests()[2].reason.as_deref(),
        Some("outage")
    );
}
