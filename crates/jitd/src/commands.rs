//! The `jitd` subcommands. Each works on the data directory; admin commands work while
//! the server runs (SQLite in WAL mode allows that).

mod audit;
pub(crate) mod ca;
mod host;
mod init;
mod join;
mod policy;
pub mod report;
mod revoke;
mod serve;
mod user;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::cli::{Cli, Command, PassphraseArgs};
use crate::config::Config;

/// Run one command; `log` is what the log output lost so far (served in `/metrics`).
pub async fn run(cli: Cli, log: &crate::logging::Counters) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir.as_path();
    match cli.command {
        Command::Init(args) => init::run(data_dir, args).await,
        Command::Serve(args) => serve::run(data_dir, args, log).await,
        Command::User(command) => user::run(data_dir, command).await,
        Command::Policy(command) => policy::run(data_dir, command).await,
        Command::Audit(command) => audit::run(data_dir, command).await,
        Command::Ca(command) => ca::run(data_dir, command).await,
        Command::Revoke(args) => revoke::run(data_dir, args).await,
        Command::Host(command) => host::run(data_dir, command).await,
    }
}

/// The CA passphrase from `--passphrase-file` or `JITD_CA_PASSPHRASE`, if any.
pub fn passphrase(args: &PassphraseArgs) -> anyhow::Result<Option<jit_ca::custody::Passphrase>> {
    if let Some(path) = &args.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default();
        anyhow::ensure!(
            !line.is_empty(),
            "the passphrase file {} is empty",
            path.display()
        );
        return Ok(Some(Zeroizing::new(line.to_string())));
    }
    match std::env::var("JITD_CA_PASSPHRASE") {
        Ok(value) if !value.is_empty() => Ok(Some(Zeroizing::new(value))),
        _ => Ok(None),
    }
}

/// Load the configuration and open the store.
pub async fn open(data_dir: &Path) -> anyhow::Result<(Config, Arc<dyn jit_store::Store>)> {
    let config = Config::load(data_dir)?;
    let store = jit_store::open(&config.database, data_dir)
        .await
        .with_context(|| format!("cannot open the database {}", config.database))?;
    Ok((config, store))
}

/// The policy file's text and its hash (the hash of the bytes, even when they do not parse).
pub fn policy_text(data_dir: &Path, config: &Config) -> anyhow::Result<(String, String)> {
    let path = config.path(data_dir, &config.policy);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    let hash = jit_policy::hash_text(&text);
    Ok((text, hash))
}

/// A time given on the command line: RFC 3339 or Unix seconds.
pub fn parse_time(text: &str) -> anyhow::Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|_| {
        anyhow::anyhow!(
            "{text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds"
        )
    })?;
    Ok(time.duration_since(std::time::UNIX_EPOCH)?.as_secs())
}

/// Who runs an admin command: `--by`, else $SUDO_USER, else $USER.
pub fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

/// Who runs an operator command, for its log record: the `--by` name (else as
/// [`operator`]) and the operating-system account the process really runs as (from the
/// kernel, not the environment), with `SUDO_USER` when run through sudo.
pub fn operator_record(by: Option<String>) -> jit_log::Operator {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let account = uid.map(|uid| {
        let name = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|passwd| {
                passwd.lines().find_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let listed = fields.nth(1)?.parse::<u32>().ok()?;
                    (listed == uid).then(|| name.to_string())
                })
            })
            .unwrap_or_else(|| "?".into());
        format!("{name} (uid {uid})")
    });
    let mut os_user = account.unwrap_or_else(|| "unknown".into());
    if let Ok(sudo_user) = std::env::var("SUDO_USER") {
        os_user = format!("{os_user} via sudo from {sudo_user}");
    }
    jit_log::Operator {
        name: operator(by),
        os_user,
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    use crate::clock::Clock as _;
    crate::clock::SystemClock.now()
}
