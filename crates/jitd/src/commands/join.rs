//! `jitd audit join`: sshd's own account of logins, matched to the issuance log.
//!
//! sshd logs every certificate login with its key ID and serial: at `LogLevel INFO`
//! `Accepted publickey for deploy from 10.0.0.7 port 51234 ssh2: ED25519-CERT SHA256:... ID
//! alice@web#123 (serial 123) CA ED25519 SHA256:...`, and at `VERBOSE` also `Accepted
//! certificate ID "alice@web#123" (serial 123) signed by ED25519 CA SHA256:... via FILE`.
//! A login whose serial the log never issued means a certificate was made outside jitd.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use jit_log::Event;

/// One login sshd accepted with a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// Certificate serial.
    pub serial: u64,
    /// Key ID as sshd printed it.
    pub key_id: String,
    /// Account logged into, when the line says (`for ACCOUNT`).
    pub account: Option<String>,
    /// Client address, when the line says (`from ADDR`).
    pub from: Option<String>,
    /// The line itself (trimmed).
    pub line: String,
}

/// Parse one sshd log line; `None` unless it is an accepted certificate login.
/// Only the `Accepted publickey ... ID ... (serial N)` form is taken, so a VERBOSE log
/// (which also has `Accepted certificate ID ...` for the same login) is not counted twice;
/// the `Accepted certificate` form is used when no `Accepted publickey` form is present.
pub fn parse_line(line: &str) -> Option<Login> {
    let accepted = line
        .find("Accepted publickey for ")
        .or_else(|| line.find("Accepted certificate ID "))?;
    let rest = &line[accepted..];
    let serial_at = rest.find("(serial ")?;
    let serial: u64 = rest[serial_at + 8..]
        .split(')')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let before = &rest[..serial_at];
    let key_id = match before.find(" ID ") {
        Some(at) => before[at + 4..].trim().trim_matches('"').to_string(),
        None => return None,
    };
    let word_after = |marker: &str| {
        rest.find(marker)
            .and_then(|at| rest[at + marker.len()..].split_whitespace().next())
            .map(str::to_string)
    };
    Some(Login {
        serial,
        key_id,
        account: word_after("Accepted publickey for "),
        from: word_after(" from "),
        line: line.trim().to_string(),
    })
}

/// Logins from every line, preferring `Accepted publickey` lines when a log has both forms.
pub fn logins(lines: impl Iterator<Item = String>) -> Vec<Login> {
    let all: Vec<Login> = lines.filter_map(|l| parse_line(&l)).collect();
    let has_publickey_form = all.iter().any(|l| l.account.is_some());
    all.into_iter()
        .filter(|l| !has_publickey_form || l.account.is_some())
        .collect()
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let reader: Box<dyn std::io::BufRead> = if path == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    // Logs may hold bytes that are not UTF-8; keep the lines that are readable.
    Ok(reader
        .split(b'\n')
        .filter_map(|l| l.ok())
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect())
}

/// Run the join.
pub async fn run(data_dir: &Path, sshd_logs: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut lines = Vec::new();
    for path in sshd_logs {
        lines.extend(read_lines(path)?);
    }
    let logins = logins(lines.into_iter());
    let (_, store) = super::open(data_dir).await?;
    let mut issued = HashMap::new();
    let mut pages = super::report::source::Pages::new(store.as_ref(), 1);
    while let Some(page) = pages.next().await? {
        for entry in &page {
            if let Event::Issued(issuance) = entry.record()?.event {
                issued.insert(issuance.serial, (entry.seq, issuance));
            }
        }
    }
    let mut unknown = 0;
    for login in &logins {
        let found = issued.get(&login.serial);
        if found.is_none() {
            unknown += 1;
        }
        if json {
            let value = match found {
                Some((seq, i)) => serde_json::json!({
                    "serial": login.serial, "key_id": login.key_id, "account": login.account, "from": login.from,
                    "in_log": true, "record": seq, "user": i.user, "role": i.role, "principals": i.principals,
                    "valid_after": i.valid_after, "valid_before": i.valid_before, "approvers": i.approvers,
                    "break_glass": i.break_glass, "key_id_matches": i.key_id == login.key_id,
                }),
                None => serde_json::json!({
                    "serial": login.serial, "key_id": login.key_id, "account": login.account, "from": login.from,
                    "in_log": false, "line": login.line,
                }),
            };
            println!("{value}");
        } else {
            match found {
                Some((seq, i)) => println!(
                    "ok       serial {} {} as {} from {}: record {seq}, {} via role {}{}",
                    login.serial,
                    login.key_id,
                    login.account.as_deref().unwrap_or("?"),
                    login.from.as_deref().unwrap_or("?"),
                    i.user,
                    i.role,
                    if i.key_id == login.key_id { "" } else { " (KEY ID DIFFERS FROM THE LOG)" }
                ),
                None => println!(
                    "UNKNOWN  serial {} {} as {} from {}: not in the issuance log (minted outside jitd?)",
                    login.serial,
                    login.key_id,
                    login.account.as_deref().unwrap_or("?"),
                    login.from.as_deref().unwrap_or("?")
                ),
            }
        }
    }
    if !json {
        println!("{} login(s), {} not in the log", logins.len(), unknown);
    }
    Ok(if unknown == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sshd_forms_parse_and_are_not_double_counted() {
        let info = "Nov 27 02:03:34 vm sshd[123]: Accepted publickey for deploy from 127.0.0.1 port 40676 ssh2: ED25519-CERT SHA256:abc ID alice@web#42 (serial 42) CA ED25519 SHA256:def";
        let verbose = "Accepted certificate ID \"alice@web#42\" (serial 42) signed by ED25519 CA SHA256:def via /etc/ssh/ca.pub";
        let login = parse_line(info).expect("parses");
        assert_eq!(login.serial, 42);
        assert_eq!(login.key_id, "alice@web#42");
        assert_eq!(login.account.as_deref(), Some("deploy"));
        assert_eq!(login.from.as_deref(), Some("127.0.0.1"));
        assert_eq!(parse_line(verbose).expect("parses").key_id, "alice@web#42");
        assert!(parse_line("Failed publickey for root from 1.2.3.4").is_none());
        let both = logins([verbose.to_string(), info.to_string()].into_iter());
        assert_eq!(both.len(), 1, "one login, two lines");
        let verbose_only = logins([verbose.to_string()].into_iter());
        assert_eq!(verbose_only.len(), 1);
        assert_eq!(parse_line("Accepted publickey for x from y port 1 ssh2: ED25519-CERT ID a (serial 18446744073709551614) CA").expect("max").serial, u64::MAX - 1);
    }
}
