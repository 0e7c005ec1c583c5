//! `kill -9` of jitd at random moments under a mixed load, on SQLite and on PostgreSQL
//! (DESIGN §5: every state change commits in the same transaction as its log record).
//!
//! A real `jitd serve` takes a bounded load from several engineers at once (certificates
//! with real TOTP codes, access requests, approvals and denials with another engineer's
//! device and code, certificates under approved requests, revoking their own certificates),
//! while an operator runs `jitd revoke --serial` and `jitd user disable`. jitd is killed
//! with SIGKILL a few times at moments drawn from a seeded RNG (the seed is printed;
//! `JIT_CRASH_SEED=N` replays the kill schedule) and started again; the load goes on.
//! At the end jitd is killed once more and the ledger checker (`jit_e2e::ledger_check`)
//! walks the whole state and the whole log: they must agree exactly, and everything a
//! client was told succeeded (a serial, a request ID, a decision, a revocation, a disabled
//! user) must be in both.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "../../crates/jit-store/tests/support/postgres.rs"]
mod postgres;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jit_e2e::jit::{api_client, http_status, unix_now, ApiEngineer, Ca};
use jit_e2e::ledger_check::{self, Ledger};
use jit_proto::api::{
    CertificateResponse, DecisionRequest, NewRequest, RequestInfo, RevokeOwn, RevokeOwnResponse,
};

const POLICY: &str = r#"
[roles.ops]
groups = ["sre"]
principals = ["deploy"]
default_ttl = "10m"
max_ttl = "1h"

[roles.db]
groups = ["sre"]
principals = ["deploy"]
default_ttl = "10m"
approval = { approvers = ["group:sre"], count = 1, window = "1h" }
"#;

/// Engineers (each gets about one TOTP code per 30 s step, which bounds issuances and
/// decisions).
const ENGINEERS: usize = 16;
/// Kills during the load (jitd starts again after each, at once: the CA keys are unencrypted
/// so no key derivation slows the restart).
const KILLS: usize = 3;
/// How long the load goes on after the last restart.
const TAIL: Duration = Duration::from_secs(10);
/// Engineers the operator disables during the load.
const DISABLED: usize = 2;
/// Requests of one engineer left pending at most (so approvers have work, not a flood).
const MAX_PENDING: usize = 4;

/// splitmix64: a small seeded generator, so a kill schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

fn seed() -> u64 {
    std::env::var("JIT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// What a client was told succeeded.
#[derive(Debug, Clone)]
enum Ack {
    Issued {
        serial: u64,
        request_id: Option<String>,
    },
    Requested(String),
    Decided {
        id: String,
        approver: String,
        approve: bool,
    },
    Revoked(u64),
    Disabled(String),
}

/// What the engineers share: requests waiting for a decision, approved requests waiting to
/// be used, and every acknowledgement.
#[derive(Default)]
struct Board {
    pending: Vec<(String, String)>,
    approved: HashMap<String, Vec<String>>,
    serials: HashMap<String, Vec<u64>>,
    acks: Vec<Ack>,
    /// Calls refused, or unanswered because jitd was down.
    failures: usize,
    /// Calls in flight when jitd was killed, left without an answer.
    cut: usize,
}

struct Load {
    board: Mutex<Board>,
    stop: AtomicBool,
    /// Kills so far (a call that started before one and got no answer was cut by it).
    kills: AtomicUsize,
}

impl Load {
    fn ack(&self, ack: Ack) {
        self.board.lock().unwrap().acks.push(ack);
    }

    /// Await one API call; its answer on success, else counted as failed or cut.
    async fn call<T>(
        &self,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Option<T> {
        let kills = self.kills.load(Ordering::SeqCst);
        let result = call.await;
        let cut = http_status(&result).is_none() && self.kills.load(Ordering::SeqCst) != kills;
        let mut board = self.board.lock().unwrap();
        match result {
            Ok(answer) => return Some(answer),
            Err(_) if cut => board.cut += 1,
            Err(_) => board.failures += 1,
        }
        None
    }
}

fn fresh() -> jit_proto::api::Freshness {
    jit::signing::freshness(unix_now())
}

/// One engineer's loop until the load stops: one action at a time, chosen at random.
async fn engineer_loop(
    me: Arc<ApiEngineer>,
    client: jit::http::Client,
    load: Arc<Load>,
    mut rng: Rng,
) {
    let name = me.user().to_string();
    while !load.stop.load(Ordering::SeqCst) {
        tokio::time::sleep(rng.millis(30, 250)).await;
        let usable = load
            .board
            .lock()
            .unwrap()
            .approved
            .get_mut(&name)
            .and_then(Vec::pop);
        if let Some(id) = usable {
            if let Some(code) = me.try_next_code() {
                if let Some(response) = load.call(me.certify(&client, "db", &code)).await {
                    issued(&load, &name, response);
                }
                continue;
            }
            load.board
                .lock()
                .unwrap()
                .approved
                .entry(name.clone())
                .or_default()
                .push(id);
        }
        match rng.below(10) {
            0..=1 => {
                let Some(code) = me.try_next_code() else {
                    continue;
                };
                if let Some(response) = load.call(me.certify(&client, "ops", &code)).await {
                    issued(&load, &name, response);
                }
            }
            2..=5 => {
                let pick = {
                    let mut board = load.board.lock().unwrap();
                    let others: Vec<usize> = (0..board.pending.len())
                        .filter(|&i| board.pending[i].1 != name)
                        .collect();
                    match others.is_empty() {
                        true => None,
                        false => {
                            let i = others[rng.below(others.len() as u64) as usize];
                            Some(board.pending.swap_remove(i))
                        }
                    }
                };
                let Some((id, requester)) = pick else {
                    continue;
                };
                let Some(otp) = me.try_next_code() else {
                    load.board.lock().unwrap().pending.push((id, requester));
                    continue;
                };
                let approve = rng.below(5) != 0;
                let (verb, reason) = match approve {
                    true => ("approve", None),
                    false => ("deny", Some("not during the freeze".to_string())),
                };
                let body = DecisionRequest {
                    freshness: fresh(),
                    otp,
                    reason,
                };
                let path = format!("/v1/requests/{id}/{verb}");
                let decided = me.post_signed::<_, RequestInfo>(&client, &path, &body);
                if let Some(info) = load.call(decided).await {
                    let mut board = load.board.lock().unwrap();
                    if info.state == "approved" {
                        board
                            .approved
                            .entry(requester)
                            .or_default()
                            .push(id.clone());
                    }
                    board.acks.push(Ack::Decided {
                        id,
                        approver: name.clone(),
                        approve,
                    });
                }
            }
            6..=8 => {
                let mine = {
                    let board = load.board.lock().unwrap();
                    board.pending.iter().filter(|p| p.1 == name).count()
                };
                if mine >= MAX_PENDING {
                    continue;
                }
                let body = NewRequest {
                    freshness: fresh(),
                    role: "db".into(),
                    reason: "migrate the orders table".into(),
                    ticket: None,
                    ttl_seconds: None,
                };
                let created = me.post_signed::<_, RequestInfo>(&client, "/v1/requests", &body);
                if let Some(info) = load.call(created).await {
                    let mut board = load.board.lock().unwrap();
                    board.pending.push((info.id.clone(), name.clone()));
                    board.acks.push(Ack::Requested(info.id));
                }
            }
            _ => {
                let serial = {
                    let board = load.board.lock().unwrap();
                    let mine = board.serials.get(&name).cloned().unwrap_or_default();
                    match mine.is_empty() {
                        true => None,
                        false => Some(mine[rng.below(mine.len() as u64) as usize]),
                    }
                };
                let Some(serial) = serial else {
                    continue;
                };
                let body = RevokeOwn {
                    freshness: fresh(),
                    serials: vec![serial],
                };
                let revoked = me.post_signed::<_, RevokeOwnResponse>(
                    &client,
                    "/v1/certificates/revoke",
                    &body,
                );
                if let Some(response) = load.call(revoked).await {
                    for serial in response.revoked {
                        load.ack(Ack::Revoked(serial));
                    }
                }
            }
        }
    }
}

fn issued(load: &Load, user: &str, response: CertificateResponse) {
    let mut board = load.board.lock().unwrap();
    board
        .serials
        .entry(user.to_string())
        .or_default()
        .push(response.serial);
    board.acks.push(Ack::Issued {
        serial: response.serial,
        request_id: response.request_id,
    });
}

/// The operator's side, on this thread: the kills and restarts, `jitd revoke`, `jitd user
/// disable`, at moments drawn from `rng`; returns once every kill and disable is done and
/// the restarted jitd has had the load for a while.
fn operate(ca: &mut Ca, load: &Load, users: &[String], rng: &mut Rng) -> usize {
    let started = Instant::now();
    // A kill comes a random while after jitd (re)started serving, so each lands under load.
    let mut kill_after: Vec<Duration> = (0..KILLS).map(|_| rng.millis(2_000, 12_000)).collect();
    let mut disables: Vec<(Duration, String)> = users[users.len() - DISABLED..]
        .iter()
        .map(|u| (rng.millis(3_000, 30_000), u.clone()))
        .collect();
    eprintln!("kills {kill_after:?} after each (re)start; disables at {disables:?}");
    let mut serving_since = Instant::now();
    let mut killed = 0;
    while !kill_after.is_empty() || !disables.is_empty() || serving_since.elapsed() < TAIL {
        std::thread::sleep(rng.millis(100, 600));
        if kill_after
            .first()
            .is_some_and(|after| serving_since.elapsed() >= *after)
        {
            kill_after.remove(0);
            load.kills.fetch_add(1, Ordering::SeqCst);
            ca.kill();
            killed += 1;
            eprintln!("kill -9 of jitd at {:?}", started.elapsed());
            std::thread::sleep(rng.millis(0, 1_500));
            ca.start();
            serving_since = Instant::now();
            eprintln!("jitd serves again at {:?}", started.elapsed());
        }
        if let Some(i) = disables.iter().position(|(at, _)| started.elapsed() >= *at) {
            let (_, user) = disables.remove(i);
            let out = ca.jitd(&["user", "disable", &user, "--by", "crash-test"]);
            assert!(out.status.success(), "jitd user disable {user}: {out:?}");
            load.ack(Ack::Disabled(user));
        }
        if rng.below(3) == 0 {
            let serials: Vec<u64> = {
                let board = load.board.lock().unwrap();
                board.serials.values().flatten().copied().collect()
            };
            if !serials.is_empty() {
                let serial = serials[rng.below(serials.len() as u64) as usize].to_string();
                let out = ca.jitd(&[
                    "revoke",
                    "--serial",
                    &serial,
                    "--reason",
                    "crash test",
                    "--by",
                    "crash-test",
                ]);
                assert!(
                    out.status.success(),
                    "jitd revoke --serial {serial}: {out:?}"
                );
                load.ack(Ack::Revoked(serial.parse().unwrap()));
            }
        }
    }
    eprintln!("load stops at {:?}", started.elapsed());
    killed
}

/// Everything a client was told succeeded is in the log (`ledger`) and in the state.
async fn assert_acknowledged(store: &dyn jit_store::Store, ledger: &Ledger, acks: &[Ack]) {
    for ack in acks {
        let (in_log, in_state) = match ack {
            Ack::Issued { serial, request_id } => {
                let used = match request_id {
                    None => true,
                    Some(id) => store
                        .access_request(id, 0)
                        .await
                        .unwrap()
                        .is_some_and(|r| r.used_serial == Some(*serial)),
                };
                (
                    ledger.issued.contains_key(serial),
                    store.certificate(*serial).await.unwrap().is_some() && used,
                )
            }
            Ack::Requested(id) => (
                ledger.requests.contains_key(id),
                store.access_request(id, 0).await.unwrap().is_some(),
            ),
            Ack::Decided {
                id,
                approver,
                approve,
            } => (
                ledger
                    .requests
                    .get(id)
                    .is_some_and(|d| d.contains(&(approver.clone(), *approve))),
                store.access_request(id, 0).await.unwrap().is_some_and(|r| {
                    r.decisions
                        .iter()
                        .any(|d| d.approver == *approver && d.approve == *approve)
                }),
            ),
            Ack::Revoked(serial) => (
                ledger.revoked.contains(serial),
                store.is_serial_revoked(*serial).await.unwrap(),
            ),
            Ack::Disabled(user) => (
                ledger.users.get(user) == Some(&true),
                store.user(user).await.unwrap().is_some_and(|u| u.disabled),
            ),
        };
        assert!(
            in_log && in_state,
            "a client was told {ack:?} succeeded, but it is {} the log and {} the state",
            if in_log { "in" } else { "NOT in" },
            if in_state { "in" } else { "NOT in" },
        );
    }
}

/// The whole run on one backend: `database` is the `database = ...` setting (`None`: the
/// default SQLite file).
fn crash_run(database: Option<&str>) {
    let seed = seed();
    eprintln!("ledger_crash on {database:?}: seed {seed} (replay the kill schedule with JIT_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let mut ca = Ca::init_unencrypted(POLICY);
    if let Some(url) = database {
        ca.use_database(url);
    }
    ca.start();
    let users: Vec<String> = (0..ENGINEERS).map(|i| format!("eng{i}")).collect();
    let tokens: Vec<String> = users.iter().map(|u| ca.add_user(u, "sre")).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let pin = jit_proto::token::EnrollmentToken::decode(&tokens[0])
        .unwrap()
        .tls_sha256;
    let client = api_client(ca.port(), &pin);
    let engineers: Vec<Arc<ApiEngineer>> = runtime.block_on(async {
        let mut engineers = Vec::new();
        for token in &tokens {
            engineers.push(Arc::new(ApiEngineer::enroll(&client, token).await.unwrap()));
        }
        engineers
    });

    let load = Arc::new(Load {
        board: Mutex::default(),
        stop: AtomicBool::new(false),
        kills: AtomicUsize::new(0),
    });
    let tasks: Vec<_> = engineers
        .iter()
        .map(|engineer| {
            let task_rng = Rng(rng.next());
            runtime.spawn(engineer_loop(
                engineer.clone(),
                client.clone(),
                load.clone(),
                task_rng,
            ))
        })
        .collect();
    let killed = operate(&mut ca, &load, &users, &mut rng);
    load.stop.store(true, Ordering::SeqCst);
    runtime.block_on(async {
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("an engineer's loop ends soon after the load stops")
                .unwrap();
        }
    });
    // One more crash, then look at what is on disk.
    ca.kill();
    let acks = load.board.lock().unwrap().acks.clone();
    let (failures, cut) = {
        let board = load.board.lock().unwrap();
        (board.failures, board.cut)
    };
    let url = database.unwrap_or("sqlite://jit.db").to_string();
    let data_dir = ca.data_dir();
    runtime.block_on(async {
        let store = jit_store::open(&url, &data_dir).await.unwrap();
        let ledger = ledger_check::check(store.as_ref())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
        let count = |f: fn(&Ack) -> bool| acks.iter().filter(|a| f(a)).count();
        eprintln!(
            "{killed} kills + 1 at the end; clients were told: {} certificates, {} requests, {} decisions, {} revocations, {} disabled users ({cut} calls cut by a kill, {failures} refused or unanswered while jitd was down); the log has {} entries, {} certificates, {} requests, {} revoked serials; state and log agree",
            count(|a| matches!(a, Ack::Issued { .. })),
            count(|a| matches!(a, Ack::Requested(_))),
            count(|a| matches!(a, Ack::Decided { .. })),
            count(|a| matches!(a, Ack::Revoked(_))),
            count(|a| matches!(a, Ack::Disabled(_))),
            ledger.entries,
            ledger.issued.len(),
            ledger.requests.len(),
            ledger.revoked.len(),
        );
        assert_acknowledged(store.as_ref(), &ledger, &acks).await;
        assert!(
            count(|a| matches!(a, Ack::Issued { request_id: Some(_), .. })) > 0
                && count(|a| matches!(a, Ack::Decided { .. })) > 0,
            "the load covered approvals and certificates under them"
        );
    });
    assert_eq!(killed, KILLS);
    // jitd starts again on what the crashes left, and its own audit agrees.
    ca.start();
    ca.assert_log_verifies();
    let (clean, log) = ca.stop();
    assert!(clean, "jitd stops cleanly after the crashes: {log:?}");
}

#[test]
fn kill_9_under_mixed_load_leaves_state_and_log_in_agreement_on_sqlite() {
    crash_run(None);
}

#[test]
fn kill_9_under_mixed_load_leaves_state_and_log_in_agreement_on_postgres() {
    crash_run(Some(&postgres::fresh_database()));
}

/// The checker is no rubber stamp: each kind of disagreement a torn transaction would leave
/// is named (each on its own copy of a database where state and log agree).
#[test]
fn the_checker_names_each_disagreement() {
    let mut ca = Ca::init_unencrypted(POLICY);
    ca.start();
    let token = ca.add_user("alice", "sre");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let serial = runtime.block_on(async {
        let pin = jit_proto::token::EnrollmentToken::decode(&token)
            .unwrap()
            .tls_sha256;
        let client = api_client(ca.port(), &pin);
        let alice = ApiEngineer::enroll(&client, &token).await.unwrap();
        let code = alice.next_code().await;
        alice.certify(&client, "ops", &code).await.unwrap().serial
    });
    let (clean, log) = ca.stop();
    assert!(clean, "{log:?}");
    let copies = tempfile::tempdir().unwrap();
    let cases = [
        ("", "agree"),
        (
            "UPDATE users SET disabled = 1 WHERE name = 'alice'",
            "user alice: the state has (groups, disabled)",
        ),
        (
            "DELETE FROM certificates",
            &format!("issues serial {serial}, but the state has no such certificate"),
        ),
        (
            "INSERT INTO revocations (kind, value, ca_fingerprint, valid_before, reason, revoked_by, created_at) VALUES ('serial', '42', 'SHA256:x', 99, 'r', 'op', 1)",
            "the revocation of serial 42 is in the state but no record names it",
        ),
        (
            "UPDATE devices SET confirmed_at = NULL",
            "confirmed at None in the state, `enrolled` record for Some(\"alice\")",
        ),
        (
            "DELETE FROM log_entries WHERE seq = (SELECT MAX(seq) FROM log_entries)",
            "is in the state but no `issued` record names it",
        ),
    ];
    for (i, (sql, expected)) in cases.iter().enumerate() {
        let copy = copies.path().join(format!("case{i}.db"));
        jit_e2e::jit::sqlite_exec(&ca.database(), &format!("VACUUM INTO '{}'", copy.display()));
        if !sql.is_empty() {
            // as a torn write would: whatever the schema's own references say
            jit_e2e::jit::sqlite_exec(&copy, &format!("PRAGMA foreign_keys = OFF; {sql}"));
        }
        let outcome = runtime.block_on(async {
            let store = jit_store::open(copy.to_str().unwrap(), copies.path())
                .await
                .unwrap();
            ledger_check::check(store.as_ref()).await
        });
        match (sql.is_empty(), outcome) {
            (true, Ok(ledger)) => assert!(ledger.issued.contains_key(&serial)),
            (false, Err(e)) => assert!(
                format!("{e:#}").contains(expected),
                "after {sql:?} the checker should say {expected:?}, it says: {e:#}"
            ),
            (_, outcome) => panic!("after {sql:?}: {outcome:?}"),
        }
    }
}

/// Disabling a user while one of their certificate requests is on its way (PostgreSQL,
/// where a second session can hold the log head's row lock, as a busy moment would): the
/// issuance passed its checks (alice was enabled) and waits to append its record;
/// `jitd user disable alice` lists her valid certificates (none yet) and waits too. Then the
/// lock goes, both commit, and the certificate must still not stay valid for a disabled
/// user (DESIGN §4: disabling a user revokes their unexpired certificates).
#[test]
fn a_user_disabled_during_an_issuance_keeps_no_valid_certificate() {
    let url = postgres::fresh_database();
    let mut ca = Ca::init_unencrypted(POLICY);
    ca.use_database(&url);
    ca.start();
    let token = ca.add_user("alice", "sre");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pin = jit_proto::token::EnrollmentToken::decode(&token)
        .unwrap()
        .tls_sha256;
    let client = api_client(ca.port(), &pin);
    let alice = Arc::new(
        runtime
            .block_on(ApiEngineer::enroll(&client, &token))
            .unwrap(),
    );
    let code = alice.try_next_code().unwrap();

    let mut holder = std::process::Command::new(format!("{}/psql", postgres::BIN))
        .args([
            &url,
            "-c",
            "BEGIN; SELECT seq FROM log_head WHERE id = 1 FOR UPDATE; SELECT pg_sleep(4); COMMIT;",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let issuance = runtime.spawn({
        let (alice, client) = (alice.clone(), client.clone());
        async move { alice.certify(&client, "ops", &code).await }
    });
    std::thread::sleep(Duration::from_millis(500));
    let disable = ca.jitd(&["user", "disable", "alice", "--by", "op"]);
    assert!(disable.status.success(), "{disable:?}");
    assert!(holder.wait().unwrap().success());
    let certificate = runtime.block_on(issuance).unwrap().unwrap();
    ca.kill();
    runtime.block_on(async {
        let store = jit_store::open(&url, &ca.data_dir()).await.unwrap();
        let checked = ledger_check::check(store.as_ref()).await;
        assert!(
            store.is_serial_revoked(certificate.serial).await.unwrap(),
            "certificate {} was issued to alice around her disabling and is not revoked; the ledger checker: {:#}",
            certificate.serial,
            checked.as_ref().err().map_or("agrees".to_string(), |e| format!("{e:#}"))
        );
        checked.unwrap();
    });
}
