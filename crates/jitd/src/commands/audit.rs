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
        AuditCommand::Verify { file } => {
            let entries = match file {
                Some(path) => read_export(&path)?,
                None => {
                    let (_, store) = super::open(data_dir).await?;
                    let mut entries = Vec::new();
                    loop {
                        let page = store.log_entries(entries.len() as u64 + 1, PAGE).await?;
                        if page.is_empty() {
                            break;
                        }
                        entries.extend(page);
                    }
                    entries
                }
            };
            match jit_log::verify_chain(entries) {
                Ok(verified) => {
                    println!(
                        "log verified: {} records, head {}",
                        verified.entries,
                        hex::encode(verified.head)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("log verification FAILED: {error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
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
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time.duration_since(std::time::UNIX_EPOCH)?.as_secs());
    }
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(super::now().saturating_sub(age.as_secs()));
    }
    anyhow::bail!("--since {text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, or an age like 2h")
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
