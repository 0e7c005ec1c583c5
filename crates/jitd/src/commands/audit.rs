//! `jitd audit export` and `jitd audit verify`.

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use jit_log::Entry;

use crate::cli::AuditCommand;

/// Page size when reading the log from the store.
const PAGE: u64 = 1000;

/// Export or verify the log.
pub async fn run(data_dir: &Path, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Export { since } => {
            let since = since.as_deref().map(parse_since).transpose()?.unwrap_or(0);
            let (_, store) = super::open(data_dir).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut from = 1;
            loop {
                let page = store.log_entries(from, PAGE).await?;
                let Some(last) = page.last() else { break };
                from = last.seq + 1;
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
                    (read_export(&path)?, signed, key)
                }
                None => {
                    let (config, store) = super::open(data_dir).await?;
                    let mut entries = Vec::new();
                    loop {
                        let page = store.log_entries(entries.len() as u64 + 1, PAGE).await?;
                        if page.is_empty() {
                            break;
                        }
                        entries.extend(page);
                    }
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
    let reviewer = super::operator(by);
    let (config, store) = super::open(data_dir).await?;
    let (_, policy_hash) = super::policy_text(data_dir, &config)?;
    let now = super::now();
    let review = store
        .ack_review(serial, &reviewer, note, now)
        .await
        .map_err(|e| match e {
            jit_store::Error::NotFound(_) => anyhow::anyhow!(
                "no break-glass issuance has serial {serial}; `jitd audit review` lists them"
            ),
            jit_store::Error::Conflict(message) => anyhow::anyhow!(message),
            other => other.into(),
        })?;
    let record = jit_log::Record {
        time: now,
        policy_hash,
        event: jit_log::Event::Reviewed(jit_log::ReviewRecord {
            serial,
            reviewer: reviewer.clone(),
            note: note.to_string(),
        }),
    };
    store.append_log(&record).await?;
    println!(
        "review of serial {serial} ({} as {}) closed by {reviewer}",
        review.user, review.role
    );
    Ok(ExitCode::SUCCESS)
}

fn read_export(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty()))
        .map(|(n, line)| {
            let line = line?;
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}: not a log entry", path.display(), n + 1))
        })
        .collect()
}

/// `--since`: RFC 3339, Unix seconds, or an age like `2h`.
fn parse_since(text: &str) -> anyhow::Result<u64> {
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(super::now().saturating_sub(age.as_secs()));
    }
    super::parse_time(text)
        .map_err(|_| anyhow::anyhow!("--since {text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, or an age like 2h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_three_forms() {
        assert_eq!(parse_since("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_since("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert!(parse_since("2h").unwrap() > 1_700_000_000);
        assert!(parse_since("yesterday-ish").is_err());
    }
}
