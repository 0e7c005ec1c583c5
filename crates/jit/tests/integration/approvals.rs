//! Access requests end to end: `jit request [--wait]`, `jit requests`, `jit approve` and
//! `jit deny`, with alice asking and bob and carol (second and third enrolled devices)
//! deciding, against the real jitd.

use jitd::state::Settings;

use crate::authenticator::spaced;
use crate::bench::{stderr, stdout, text, Bench, FAKE_SSH_STATUS};
use crate::server::Jitd as _;

/// The request alice makes in these tests.
const ASK: [&str; 7] = [
    "request",
    "--role",
    "db-admin",
    "--reason",
    "INC-7: replica lag",
    "--ticket",
    "INC-7",
];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ASK.iter().chain(extra).copied().collect()
}

/// The first request ID (`r-...`, made by jitd) in `text`.
fn request_id(text: &str) -> String {
    let words = text.split(|c: char| c.is_whitespace() || c == '`');
    let found = words.into_iter().find(|w| w.starts_with("r-"));
    found
        .unwrap_or_else(|| panic!("no request ID in {text:?}"))
        .to_string()
}

fn requests_json(bench: &Bench, user: &str) -> serde_json::Value {
    let out = bench.run_as(user, &["requests", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn waiting_until_approved_then_connecting() {
    let bench = Bench::new();
    for user in ["alice", "bob", "carol"] {
        bench.enroll_as(user);
    }
    // The code for the certificate comes from stdin once the request is approved.
    let args = with(&["--wait", "--timeout", "60s", "-p", "2222", "db-1", "uptime"]);
    let waiting = bench.spawn(&args, &format!("{}\nleft for ssh\n", bench.code()));
    waiting.wait_for(" pending, approvals 0/2\n");
    let id = request_id(&waiting.stderr());
    assert!(
        waiting
            .stderr()
            .contains(&format!("jit: request {id} pending, approvals 0/2\n")),
        "{}",
        waiting.stderr()
    );
    assert!(
        waiting.stderr().contains(&format!("`jit approve {id}`")),
        "{}",
        waiting.stderr()
    );

    let out = bench.run_as("bob", &["approve", &id, "--otp", &bench.code_of("bob")], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "1 of 2 approvals; waiting for more\n");
    waiting.wait_for(&format!("jit: request {id} pending, approvals 1/2 (bob)\n"));

    // A second decision from the same approver does not count twice.
    let out = bench.run_as("bob", &["approve", &id, "--otp", &bench.code_of("bob")], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        requests_json(&bench, "alice")["mine"][0]["state"],
        "pending"
    );

    let typed = format!("{}\n", spaced(&bench.code_of("carol")));
    let out = bench.run_as("carol", &["approve", &id], &typed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("approved: alice may use db-admin until "),
        "{}",
        text(&out)
    );

    let (status, err) = waiting.finish();
    assert_eq!(status, Some(FAKE_SSH_STATUS), "{err}");
    assert!(
        err.contains(&format!(
            "jit: request {id} approved, approvals 2/2 (bob, carol)\n"
        )),
        "{err}"
    );
    let serial = bench.certificate("db-admin").serial();
    assert!(
        err.contains(&format!(
            "jit: certificate alice@db-admin#{serial} for dba-admin valid 15m (until "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(") (approved request {id})\n")),
        "{err}"
    );
    let ssh = std::fs::read_to_string(bench.ssh_log()).unwrap();
    assert!(
        ssh.contains("-p\n2222\n-l\ndba-admin\n--\ndb-1\nuptime\n"),
        "{ssh}"
    );
    let rest = std::fs::read_to_string(bench.dir().join("ssh.log.stdin")).unwrap();
    assert_eq!(rest, "left for ssh\n", "ssh gets the rest of stdin");
    assert!(bench.agent.list().contains("jit:db-admin (ED25519-CERT)"));

    let sent = bench.server.certificate_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].role.as_deref(), Some("db-admin"));
    assert_eq!(sent[0].host.as_deref(), Some("db-1"));
    assert_eq!(sent[0].reason.as_deref(), Some("INC-7: replica lag"));
    assert_eq!(sent[0].ticket.as_deref(), Some("INC-7"));
    assert_eq!(requests_json(&bench, "alice")["mine"][0]["state"], "used");
}

#[test]
fn requests_are_listed_and_decisions_are_checked() {
    let bench = Bench::new();
    bench.enroll();
    bench.enroll_as("bob");

    let out = bench.run(&ASK, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = stdout(&out);
    let id = request_id(&said);
    assert!(
        said.starts_with(&format!(
            "jit: request {id} for role db-admin is pending: approvals 0/2;"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "approvers decide with `jit approve {id}` (or `jit deny {id} --reason TEXT`)"
        )),
        "{said}"
    );

    let mine = requests_json(&bench, "alice");
    assert_eq!(mine["mine"][0]["id"], id.as_str());
    assert_eq!(mine["mine"][0]["ticket"], "INC-7");
    assert_eq!(mine["to_decide"], serde_json::json!([]));
    let theirs = requests_json(&bench, "bob");
    assert_eq!(theirs["mine"], serde_json::json!([]));
    assert_eq!(theirs["to_decide"][0]["requester"], "alice");

    let out = bench.run_as("bob", &["requests"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[..2], ["your requests:", "  (none)"], "{table}");
    let header: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "ROLE",
            "REQUESTER",
            "STATE",
            "AGE",
            "APPROVALS",
            "REASON",
            "TICKET"
        ]
    );
    let row: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(
        row[..4],
        [id.as_str(), "db-admin", "alice", "pending"],
        "{table}"
    );
    assert_eq!(
        row[5..],
        ["0/2", "INC-7:", "replica", "lag", "INC-7"],
        "{table}"
    );

    // The requester can never decide their own request.
    let out = bench.run(&["approve", &id, "--otp", &bench.code()], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: request {id} was not approved: the server refused: alice asked for role \
             db-admin and cannot approve their own request; it needs 2 approvals from \
             group:sre-leads within 10m other than the requester (self_approval)\n\
             hint: ask another approver of the role to decide it\n"
        )
    );

    let before = bench.server.paths().len();
    // Codes that never reach the server need not be real ones.
    let out = bench.run_as("bob", &["approve", "../whoami", "--otp", "123456"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("is not a request ID"),
        "{}",
        text(&out)
    );
    assert_eq!(bench.server.paths().len(), before, "nothing was sent");

    let out = bench.run_as(
        "bob",
        &[
            "deny",
            "r-0000000000",
            "--reason",
            "x",
            "--otp",
            &bench.code_of("bob"),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "there is no request r-0000000000 (request_not_found)\n\
             hint: `jit requests` lists the ones you can see"
        ),
        "{}",
        text(&out)
    );

    let out = bench.run_as("bob", &["deny", &id, "--otp", "123456"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses a denial without --reason"
    );

    let out = bench.run_as("bob", &["approve", &id], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("error: no TOTP code was given"));

    let deny = ["deny", &id, "--reason", "not during the freeze"];
    let out = bench.run_as("bob", &deny, &format!("{}\n", bench.code_of("bob")));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "denied: alice may not use db-admin\n");

    let out = bench.run_as("bob", &["approve", &id, "--otp", &bench.code_of("bob")], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "request {id} is denied, not pending (request_not_pending)\nhint: it was already"
        )),
        "{}",
        text(&out)
    );

    // No approved request: jit ssh says how to ask for one.
    let out = bench.run(
        &["ssh", "--role", "db-admin", "--otp", &bench.code(), "db-1"],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "(approval_required)\nhint: ask for approval and wait for it: \
             `jit request --role db-admin --reason TEXT --wait db-1`"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn waiting_on_a_denied_request_fails_with_who_and_why() {
    let bench = Bench::new();
    bench.enroll();
    bench.enroll_as("bob");
    let waiting = bench.spawn(&with(&["--wait", "--timeout", "60s", "db-1"]), "");
    waiting.wait_for(" pending, approvals 0/2\n");
    let id = request_id(&waiting.stderr());
    let deny = ["deny", &id, "--reason", "not during the freeze"];
    let out = bench.run_as("bob", &deny, &format!("{}\n", bench.code_of("bob")));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (status, err) = waiting.finish();
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: request {id} for role db-admin was denied by bob: not during the freeze\n\
             hint: talk to the approver"
        )),
        "{err}"
    );
    assert!(bench.server.certificate_requests().is_empty());
    assert!(!bench.ssh_log().exists(), "ssh must not run");
}

#[test]
fn waiting_ends_when_the_request_lapses_or_the_timeout_passes() {
    // Requests lapse after 5s on this server: long enough to outlast a 1s timeout.
    let bench = Bench::with_settings(Settings {
        request_lifetime: 5,
        ..Settings::default()
    });
    bench.enroll();
    let waiting = bench.spawn(&with(&["--wait"]), "");
    waiting.wait_for(" pending, approvals 0/2\n");
    let id = request_id(&waiting.stderr());
    let (status, err) = waiting.finish();
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: request {id} for role db-admin lapsed with approvals 0/2\n"
        )),
        "{err}"
    );

    let out = bench.run(&with(&["--wait", "--timeout", "1s"]), "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let second = request_id(&stderr(&out));
    assert_ne!(second, id);
    assert!(
        stderr(&out).contains(&format!(
            "error: stopped waiting for request {second} after 1s: it is still pending"
        )),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("`jit ssh --role db-admin HOST` uses it"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_approved_request_without_a_host_loads_the_certificate_for_jit_ssh() {
    let bench = Bench::new();
    for user in ["alice", "bob", "carol"] {
        bench.enroll_as(user);
    }
    let waiting = bench.spawn(&with(&["--wait", "--otp", &bench.code()]), "");
    waiting.wait_for("approvals 0/2\n");
    let id = request_id(&waiting.stderr());
    for approver in ["bob", "carol"] {
        let code = bench.code_of(approver);
        let out = bench.run_as(approver, &["approve", &id, "--otp", &code], "");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let (status, err) = waiting.finish();
    assert_eq!(status, Some(0), "{err}");
    assert!(
        err.ends_with("jit: `jit ssh --role db-admin HOST` will now reuse this certificate\n"),
        "{err}"
    );

    let out = bench.run(&["ssh", "--role", "db-admin", "db-1"], "");
    assert_eq!(out.status.code(), Some(FAKE_SSH_STATUS), "{}", text(&out));
    let serial = bench.certificate("db-admin").serial();
    assert!(
        stderr(&out).contains(&format!("jit: reusing certificate alice@db-admin#{serial}")),
        "{}",
        text(&out)
    );
    assert_eq!(bench.server.certificate_requests().len(), 1);
}
