//! `jitd audit export`, `verify`, `checkpoints`, `review` and `ack`; `join` is in
//! [`super::join`], `search` and `report` in [`super::report`].

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use jit_log::Entry;

use super::report::{parse_when, source};
use crate::cli::AuditCommand;

/// Export or verify the log.
pub async fn run(data_dir: &Path, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Export { since } => {
            let since = match since {
                Some(text) => parse_when("--since", &text, super::now())?,
                None => 0,
            };
            let (_, store) = super::open(data_dir).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut pages = source::Pages::new(store.as_ref(), 1);
            while let Some(page) = pages.next().await? {
                for entry in &page {
                    if entry.record()?.time >= since {
                        serde_json::to_writer(&mut out, entry)?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Join { sshd_logs, json } => {
            super::join::run(data_dir, &sshd_logs, json).await
        }
        AuditCommand::Review { json } => review(data_dir, json).await,
        AuditCommand::Ack { serial, note, by } => ack(data_dir, serial, &note, by).await,
        AuditCommand::Search(args) => super::report::run_search(data_dir, args).await,
        AuditCommand::Report(args) => super::report::run_report(data_dir, args).await,
        AuditCommand::Checkpoints => {
            let (_, store) = super::open(data_dir).await?;
            for json in store.checkpoints().await? {
                println!("{json}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            file,
            checkpoints,
            log_key,
        } => {
            let (entries, signed, key) = match file {
                Some(path) => {
                    let signed = match &checkpoints {
                        Some(path) => read_lines(path)?,
                        None => Vec::new(),
                    };
                    let key = match &log_key {
                        Some(path) => Some(read_key(path)?),
                        None => None,
                    };
                    (source::read_export(&path)?, signed, key)
                }
                None => {
                    let (config, store) = super::open(data_dir).await?;
                    let entries = source::all(store.as_ref()).await?;
                    let key = jit_ca::custody::public_key_of_file(
                        &config.path(data_dir, &config.log_key),
                    )?;
                    (entries, store.checkpoints().await?, Some(key))
                }
            };
            verify(&entries, &signed, key.as_ref())
        }
    }
}

/// Verify the chain and, with a log key, every checkpoint's signature and Merkle root.
fn verify(
    entries: &[Entry],
    signed: &[String],
    key: Option<&jit_ca::PublicKey>,
) -> anyhow::Result<ExitCode> {
    let mut checkpoints = Vec::new();
    for (n, json) in signed.iter().enumerate() {
        let checkpoint: jit_log::SignedCheckpoint = serde_json::from_str(json)
            .with_context(|| format!("checkpoint {} is not a signed checkpoint", n + 1))?;
        if let Some(key) = key {
            if jit_ca::checkpoint::verify(
                key,
                &checkpoint.checkpoint.signed_text(),
                &checkpoint.signature,
            )
            .is_err()
            {
                eprintln!(
                    "log verification FAILED: the signature of checkpoint {} (tree size {}) does not verify with the log key",
                    n + 1,
                    checkpoint.checkpoint.tree_size
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        checkpoints.push(checkpoint.checkpoint);
    }
    match jit_log::audit(entries, &checkpoints) {
        Ok(summary) => {
            println!(
                "log verified: {} records, head {}; {} signed checkpoint(s) cover {} record(s){}",
                summary.entries,
                hex::encode(summary.head),
                summary.checkpoints,
                summary.covered,
                match summary.uncovered() {
                    0 => String::new(),
                    n => format!(" ({n} newer record(s) are protected by the chain only until the next checkpoint)"),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("log verification FAILED: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

fn read_key(path: &Path) -> anyhow::Result<jit_ca::PublicKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    jit_ca::device::parse_public_key(&text)
        .map_err(|_| anyhow::anyhow!("{} is not an OpenSSH public key", path.display()))
}

/// `jitd audit review`: break-glass issuances waiting for review.
async fn review(data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (_, store) = super::open(data_dir).await?;
    let pending = store.pending_reviews().await?;
    if json {
        let list: Vec<_> = pending
            .iter()
            .map(|r| serde_json::json!({"serial": r.serial, "log_seq": r.log_seq, "user": r.user, "role": r.role, "reason": r.reason, "issued_at": r.issued_at}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if pending.is_empty() {
        println!("no break-glass issuance is waiting for review");
    } else {
        println!(
            "{:<22} {:<8} {:<16} {:<16} {:<22} REASON",
            "SERIAL", "RECORD", "USER", "ROLE", "ISSUED"
        );
        for r in &pending {
            println!(
                "{:<22} {:<8} {:<16} {:<16} {:<22} {}",
                r.serial,
                r.log_seq,
                r.user,
                r.role,
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.issued_at)
                ),
                r.reason
            );
        }
        println!("close one with: jitd audit ack SERIAL --note \"what you found\"");
    }
    Ok(ExitCode::SUCCESS)
}

/// `jitd audit ack`: close a review, recorded in the log.
async fn ack(
    data_dir: &Path,
    serial: u64,
    note: &str,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let note = note.trim();
    anyhow::ensure!(!note.is_empty(), "--note must say what the review found");
    anyhow::ensure!(
        note.len() <= 1000 && !note.chars().any(char::is_control),
        "--note is at most 1000 characters, without control characters"
    );
    let operator = super::operator_record(by);
    let reviewer = operator.name.clone();
    let (config, store) = super::open(data_dir).await?;
    let (_, policy_hash) = super::policy_text(data_dir, &config)?;
    let now = super::now();
    let record = jit_log::Record {
        time: now,
        policy_hash,
        event: jit_log::Event::Reviewed(jit_log::ReviewRecord {
            serial,
            reviewer: reviewer.clone(),
            note: note.to_string(),
            operator: Some(operator),
        }),
    };
    let change = jit_store::Change::AckReview {
        serial,
        by: reviewer.clone(),
        note: note.to_string(),
        at: now,
    };
    let committed = store
        .commit(change, jit_store::ledger::record(record))
        .await
        .map_err(|e| match e {
            jit_store::Error::NotFound(_) => anyhow::anyhow!(
                "no break-glass issuance has serial {serial}; `jitd audit review` lists them"
            ),
            jit_store::Error::Conflict(message) => anyhow::anyhow!(message),
            other => other.into(),
        })?;
    let jit_store::Applied::Review(review) = committed.applied else {
        anyhow::bail!("closing the review came to {:?}", committed.applied);
    };
    println!(
        "review of serial {serial} ({} as {}) closed by {reviewer}",
        review.user, review.role
    );
    Ok(ExitCode::SUCCESS)
}
