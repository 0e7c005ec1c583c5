//! `jit host sync`: refresh the user CA keys (`user_ca.pub`) and the KRL (`revoked.krl`)
//! that sshd reads, from the jit server.
//!
//! A file is replaced only by a complete download whose content is sane, and then in one
//! step ([`crate::atomic`]); anything else keeps the old file byte for byte. `sync.json`
//! remembers the ETags (for `If-None-Match`), the server, and when the KRL was last
//! refreshed: a failed sync with a KRL older than `--stale-after` exits 2 with an `ALERT:`
//! line, so monitoring can tell "one missed refresh" from "this host no longer learns about
//! revocations".

use std::fs;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use ssh_key::PublicKey;

use super::{prepare_dir, HostConfig};
use crate::atomic;
use crate::cli::HostSyncArgs;
use crate::clock::{self, rfc3339, short_duration};
use crate::error::{fail, failure_of, Failure};
use crate::http::{Client, Fetched};

/// The log public key (`GET /v1/log/key.pub`), for `jit host principals` receipt checks.
pub const LOG_KEY: &str = "log_key.pub";

/// sshd `TrustedUserCAKeys`, from `GET /v1/ca/user_ca.pub`.
pub const USER_CA: &str = "user_ca.pub";
/// sshd `RevokedKeys`, from `GET /v1/krl`.
pub const KRL: &str = "revoked.krl";
/// What the last syncs achieved ([`SyncState`]).
pub const SYNC_JSON: &str = "sync.json";
/// Exit status of a failed sync whose KRL is older than `--stale-after`.
pub const EXIT_STALE: u8 = 2;

/// `sync.json`: what `jit host sync` remembers between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// The server last synced from (used when neither flags nor `host.json` name one).
    pub server_url: Option<String>,
    /// Its TLS pin, hex.
    pub tls_sha256: Option<String>,
    /// Unix seconds of the last sync that refreshed both files.
    pub last_success: Option<u64>,
    /// Unix seconds when the KRL was last confirmed current (downloaded, or `304`).
    pub krl_refreshed_at: Option<u64>,
    /// ETag of the installed KRL.
    pub krl_etag: Option<String>,
    /// ETag of the installed user CA file.
    pub user_ca_etag: Option<String>,
}

impl SyncState {
    /// Read `DIR/sync.json`; a missing or damaged file is a fresh start (with a warning).
    pub fn load(dir: &Path) -> SyncState {
        let path = dir.join(SYNC_JSON);
        let Ok(bytes) = fs::read(&path) else {
            return SyncState::default();
        };
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "jit: warning: {} is damaged ({e}); starting afresh",
                path.display()
            );
            SyncState::default()
        })
    }

    /// Write `DIR/sync.json` (0644, atomically).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self).context("cannot encode sync.json")?;
        atomic::write(&dir.join(SYNC_JSON), &json, 0o644)
    }
}

/// Run `jit host sync`.
pub async fn run(args: HostSyncArgs) -> anyhow::Result<()> {
    prepare_dir(&args.dir)?;
    let mut state = SyncState::load(&args.dir);
    let (server_url, tls_sha256) = server(&args, &state)?;
    let client = Client::new(&server_url, &tls_sha256)?;

    let now = clock::now();
    let user_ca = refresh(
        &client,
        &args.dir,
        USER_CA,
        "/v1/ca/user_ca.pub",
        state.user_ca_etag.as_deref(),
        check_user_ca,
    )
    .await;
    let revoked = refresh(
        &client,
        &args.dir,
        KRL,
        "/v1/krl",
        state.krl_etag.as_deref(),
        check_krl,
    )
    .await;

    // Hosts that require log receipts need the log key; a failure here is only a warning.
    if let Err(e) = refresh(
        &client,
        &args.dir,
        LOG_KEY,
        "/v1/log/key.pub",
        None,
        check_user_ca,
    )
    .await
    {
        eprintln!("jit: warning: {LOG_KEY} was not refreshed: {e:#}");
    }

    let mut failures = Vec::new();
    match user_ca {
        Ok(etag) => state.user_ca_etag = etag,
        Err(e) => failures.push((USER_CA, e)),
    }
    match revoked {
        Ok(etag) => {
            state.krl_etag = etag;
            state.krl_refreshed_at = Some(now);
        }
        Err(e) => failures.push((KRL, e)),
    }
    if failures.is_empty() {
        state.last_success = Some(now);
    }
    state.server_url = Some(client.base_url().to_string());
    state.tls_sha256 = Some(hex::encode(crate::tls::parse_pin(&tls_sha256)?));
    let saved = state.save(&args.dir);
    let Some((_, first)) = failures.first() else {
        return saved;
    };

    for (name, e) in &failures {
        let kept = if args.dir.join(name).exists() {
            "the old file is kept"
        } else {
            "there is no file yet"
        };
        eprintln!("jit: {name} was NOT refreshed ({kept}): {e:#}");
    }
    if let Err(e) = saved {
        eprintln!("jit: warning: {e:#}");
    }
    let hint = failure_of(first)
        .and_then(Failure::hint)
        .unwrap_or("run again with JIT_LOG=debug for details")
        .to_string();
    let names: Vec<&str> = failures.iter().map(|(name, _)| *name).collect();
    let mut failure = Failure::new(
        format!(
            "host sync from {} failed: {} not refreshed",
            client.base_url(),
            names.join(" and ")
        ),
        hint,
    );
    if let Some(alert) = stale_alert(state.krl_refreshed_at, now, args.stale_after) {
        eprintln!("{alert}");
        failure = failure.with_exit_status(EXIT_STALE);
    }
    Err(anyhow::Error::new(failure))
}

/// The `ALERT:` line when the KRL was last refreshed more than `stale_after` seconds
/// before `now` (or never); `None` while it is fresh enough.
pub fn stale_alert(refreshed_at: Option<u64>, now: u64, stale_after: u64) -> Option<String> {
    let when = match refreshed_at {
        Some(at) if now.saturating_sub(at) <= stale_after => return None,
        Some(at) => format!(
            "{}, {} ago",
            rfc3339(at),
            short_duration(now.saturating_sub(at))
        ),
        None => "never".to_string(),
    };
    Some(format!(
        "ALERT: KRL on this host is stale (last refreshed {when}; --stale-after {}): sshd may \
         accept revoked certificates until `jit host sync` succeeds",
        short_duration(stale_after)
    ))
}

/// The server and pin: `--server`/`--tls-sha256`, else `host.json`, else the last sync.
fn server(args: &HostSyncArgs, state: &SyncState) -> anyhow::Result<(String, String)> {
    if let (Some(url), Some(pin)) = (&args.server, &args.tls_sha256) {
        return Ok((url.clone(), pin.clone()));
    }
    if let Some(config) = HostConfig::load(&args.dir)? {
        return Ok((config.server_url, config.tls_sha256));
    }
    match (&state.server_url, &state.tls_sha256) {
        (Some(url), Some(pin)) => Ok((url.clone(), pin.clone())),
        _ => Err(fail(
            format!(
                "no jit server to sync from (no {} and no earlier sync in {})",
                super::HOST_JSON,
                args.dir.display()
            ),
            "pass --server URL --tls-sha256 HEX once (they are remembered), or enroll the host \
             with `jit host enroll TOKEN`",
        )),
    }
}

/// Download `path` into `DIR/name` if it changed and `check` accepts it; returns the ETag
/// to send next time. Sends `If-None-Match` only while the file is there to keep.
async fn refresh(
    client: &Client,
    dir: &Path,
    name: &str,
    path: &str,
    etag: Option<&str>,
    check: fn(&[u8]) -> Result<String, String>,
) -> anyhow::Result<Option<String>> {
    let target = dir.join(name);
    let current = fs::read(&target).ok();
    let etag = etag.filter(|_| current.is_some());
    let (bytes, new_etag) = match client.fetch(path, etag).await? {
        Fetched::NotModified if etag.is_none() => {
            return Err(fail(
                format!("the server answered {path} with 304 Not Modified to a plain GET"),
                "check that the URL points at jitd (not a caching proxy); tell your operator",
            ))
        }
        Fetched::NotModified => {
            println!("jit: {name}: unchanged (not modified since the last sync)");
            return Ok(etag.map(str::to_string));
        }
        Fetched::Body { bytes, etag } => (bytes, etag),
    };
    let summary = check(&bytes).map_err(|why| {
        fail(
            format!("the server's {path} was refused: {why}"),
            "check that the URL points at jitd (not a proxy or a login page); tell your operator",
        )
    })?;
    if current.as_deref() == Some(bytes.as_slice()) {
        println!("jit: {name}: unchanged ({summary})");
    } else {
        atomic::write(&target, &bytes, 0o644)?;
        println!("jit: {name}: updated ({summary})");
    }
    Ok(new_etag)
}

/// A user CA file: text, at least one public key, and nothing but keys and comments.
pub fn check_user_ca(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_string())?;
    let mut keys = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        PublicKey::from_openssh(line)
            .map_err(|e| format!("line {} is not an OpenSSH public key ({e})", number + 1))?;
        keys += 1;
    }
    match keys {
        0 => Err("it holds no public key".to_string()),
        1 => Ok("1 key".to_string()),
        n => Ok(format!("{n} keys")),
    }
}

/// A KRL that sshd will load: read whole and strictly by [`jit_krl::Krl::parse`] (sshd
/// refuses every key login when its `RevokedKeys` file cannot be read).
pub fn check_krl(bytes: &[u8]) -> Result<String, String> {
    let krl = jit_krl::Krl::parse(bytes).map_err(|e| e.to_string())?;
    let keys =
        krl.explicit_keys.len() + krl.sha1_fingerprints.len() + krl.sha256_fingerprints.len();
    Ok(format!(
        "KRL version {}, {} CA section(s), {} revoked key(s), {} bytes",
        krl.version,
        krl.certificates.len(),
        keys,
        bytes.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_fires_only_past_the_threshold() {
        let hour = 3_600;
        assert_eq!(stale_alert(Some(10 * hour), 11 * hour, 2 * hour), None);
        assert_eq!(stale_alert(Some(9 * hour), 11 * hour, 2 * hour), None);
        let alert = stale_alert(Some(8 * hour), 11 * hour, 2 * hour).unwrap();
        assert!(
            alert.starts_with("ALERT: KRL on this host is stale (last refreshed 1970-01-01T08:00:00Z, 3h ago; --stale-after 2h)"),
            "{alert}"
        );
        assert!(stale_alert(None, 0, hour)
            .unwrap()
            .contains("last refreshed never"));
    }

    #[test]
    fn user_ca_files_need_keys_and_only_keys() {
        let key = ssh_key::PrivateKey::random(
            &mut ssh_key::rand_core::OsRng,
            ssh_key::Algorithm::Ed25519,
        )
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
        assert_eq!(
            check_user_ca(format!("{key}\n").as_bytes()).unwrap(),
            "1 key"
        );
        let two = format!("# jit user CA\n{key} old\n\n{key} new\n");
        assert_eq!(check_user_ca(two.as_bytes()).unwrap(), "2 keys");
        assert!(check_user_ca(b"").is_err());
        assert!(check_user_ca(b"# nothing\n").is_err());
        assert!(check_user_ca(b"<html>login</html>\n").is_err());
        assert!(check_user_ca(format!("{key}\ngarbage\n").as_bytes()).is_err());
        assert!(check_user_ca(&[0xff, 0xfe]).is_err());
    }
}
