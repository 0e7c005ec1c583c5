//! `jit audit` against a real `jitd serve`: an auditor checks the signed checkpoint, verifies
//! every record against it, keeps it, and on the next run checks that the newer checkpoint
//! extends the kept one; proves a certificate's issuance; and sees tampering (a rewritten
//! record, an edited kept checkpoint). Non-auditors are refused.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::path::Path;
use std::time::{Duration, Instant};

use jit_e2e::jit::{sqlite_exec, Ca, Engineer};
use jit_e2e::scratch::scratch_dir;
use jit_e2e::{keygen, OutputExt as _};

const POLICY: &str = "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"deploy\"]\n";

/// Sign checkpoints every second instead of every minute, so the test sees new ones soon.
fn checkpoint_every_second(ca: &Ca) {
    let path = ca.data_dir().join("jitd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|line| match line.starts_with("checkpoint_interval") {
            true => "checkpoint_interval = \"1s\"\n".to_string(),
            false => format!("{line}\n"),
        })
        .collect();
    assert!(text.contains("checkpoint_interval = \"1s\""), "{text}");
    std::fs::write(path, text).unwrap();
}

fn audit(engineer: &Engineer, args: &[&str]) -> std::process::Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    engineer.run(&all, None, None)
}

fn audit_ok(engineer: &Engineer, args: &[&str]) -> String {
    let out = audit(engineer, args);
    assert!(
        out.status.success(),
        "jit audit {args:?}: {}",
        out.describe()
    );
    out.stdout_text()
}

/// The newest checkpoint's tree size, once it covers at least `size` records.
fn wait_for_checkpoint(auditor: &Engineer, key: &str, size: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let json = audit_ok(auditor, &["checkpoint", "--log-key", key, "--json"]);
        let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let tree_size = value["checkpoint"]["tree_size"].as_u64().unwrap();
        if tree_size >= size {
            return tree_size;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of {size} records after 30 s (newest: {tree_size})"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn log_len(ca: &Ca) -> u64 {
    ca.log_records().len() as u64
}

#[test]
fn an_auditor_verifies_keeps_and_proves_and_sees_tampering() {
    let mut ca = Ca::init(POLICY);
    checkpoint_every_second(&ca);
    ca.start();
    let ada = Engineer::enroll(&ca.add_user("ada", "auditors"));
    let bob = Engineer::enroll(&ca.add_user("bob", "sre"));
    let dir = scratch_dir("jit-audit-");
    let key_file = dir.path().join("log_key.pub");
    std::fs::write(&key_file, ca.jitd_ok(&["ca", "show", "--log"])).unwrap();
    let key = key_file.to_str().unwrap();
    let keep = dir.path().join("kept-checkpoint.json");
    let keep_arg = keep.to_str().unwrap();

    // The checkpoint's signature verifies, with the served key and with the pinned one.
    let out = audit_ok(&ada, &["checkpoint"]);
    assert!(
        out.contains("as the server serves it; pin it with --log-key FILE"),
        "{out}"
    );
    let first = wait_for_checkpoint(&ada, key, log_len(&ca));

    // First run: every record checks out against the checkpoint, which is kept.
    let out = audit_ok(&ada, &["verify", "--log-key", key, "--keep", keep_arg]);
    assert!(out.contains("log verified:"), "{out}");
    assert!(out.contains("kept this checkpoint"), "{out}");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keep).unwrap()).unwrap();
    assert_eq!(kept["checkpoint"]["tree_size"].as_u64(), Some(first));

    // More records (a certificate among them), a newer checkpoint: it extends the kept one.
    let keys = scratch_dir("jit-audit-keys-");
    let pair = keygen::generate_ed25519(keys.path(), "id_audit");
    let serial = bob.certify(&pair, "web", None, 30).serial;
    let second = wait_for_checkpoint(&ada, key, log_len(&ca));
    assert!(second > first);
    let out = audit_ok(
        &ada,
        &["verify", "--log-key", key, "--keep", keep_arg, "--json"],
    );
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        result["kept"]["checkpoint"]["tree_size"].as_u64(),
        Some(first)
    );
    assert_eq!(
        result["checkpoint"]["checkpoint"]["tree_size"].as_u64(),
        Some(second)
    );
    let out = audit_ok(&ada, &["verify", "--keep", keep_arg]);
    assert!(
        out.contains("consistent with the checkpoint kept in"),
        "{out}"
    );

    // The certificate's issuance is provably in the log.
    let out = audit_ok(
        &ada,
        &["prove", "--serial", &serial.to_string(), "--log-key", key],
    );
    assert!(out.contains(&format!("serial {serial} is record")), "{out}");
    assert!(out.contains("inclusion proof verified"), "{out}");
    let out = audit(&ada, &["prove", "--serial", "42"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text()
            .contains("no issuance record for serial 42"),
        "{}",
        out.describe()
    );

    // Only auditors read entries and proofs.
    let out = audit(&bob, &["verify"]);
    assert!(!out.status.success());
    assert!(out.stderr_text().contains("auditors"), "{}", out.describe());

    // A kept checkpoint that was edited no longer verifies with the log key.
    let edited = dir.path().join("edited.json");
    let text = std::fs::read_to_string(&keep).unwrap();
    std::fs::write(
        &edited,
        text.replacen("\"tree_size\":", "\"tree_size\":1", 1),
    )
    .unwrap();
    let out = audit(&ada, &["verify", "--keep", edited.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text()
            .contains("does not verify with the log key"),
        "{}",
        out.describe()
    );

    // A record rewritten in the database (the one that added bob) fails verification,
    // naming it.
    let bob_added = seq_of(
        &ca.database(),
        r#"%"type":"user","user":"bob","action":"added"%"#,
    );
    rewrite_record(&ca.database(), bob_added);
    let out = audit(&ada, &["verify", "--log-key", key, "--keep", keep_arg]);
    assert!(!out.status.success());
    let stderr = out.stderr_text();
    assert!(
        stderr.contains("log verification FAILED"),
        "{}",
        out.describe()
    );
    assert!(
        stderr.contains(&format!("log record {bob_added}")),
        "{}",
        out.describe()
    );
    assert!(
        std::fs::read_to_string(&keep)
            .unwrap()
            .contains(&format!("\"tree_size\":{second}")),
        "a failed run leaves the kept checkpoint alone"
    );
}

/// The sequence number of the one record whose body is `LIKE` the pattern.
fn seq_of(database: &Path, pattern: &str) -> u64 {
    let connection = rusqlite::Connection::open(database).unwrap();
    connection
        .query_row(
            "SELECT seq FROM log_entries WHERE body LIKE ?1",
            [pattern],
            |row| row.get::<_, i64>(0),
        )
        .unwrap()
        .try_into()
        .unwrap()
}

/// Change record `seq`'s body in place (as someone with write access to the database would).
fn rewrite_record(database: &Path, seq: u64) {
    sqlite_exec(
        database,
        &format!(
            "UPDATE log_entries SET body = replace(body, '\"bob\"', '\"eve\"') WHERE seq = {seq}"
        ),
    );
}
