//! `jitd.toml`: where everything lives and how the server behaves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

/// The configuration file's name inside the data directory.
pub const CONFIG_FILE: &str = "jitd.toml";

/// Server configuration. Relative paths are relative to the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL clients use (goes into enrollment tokens).
    pub public_url: String,
    /// `sqlite://FILE` (relative to the data directory).
    pub database: String,
    /// Policy file.
    pub policy: PathBuf,
    /// User CA private key file.
    pub user_ca_key: PathBuf,
    /// Host CA private key file.
    pub host_ca_key: PathBuf,
    /// Log signing key (signs checkpoints of the issuance log; not a CA key).
    pub log_key: PathBuf,
    /// Earlier user CA keys, still published and trusted during a rotation (`jitd ca rotate`).
    pub user_ca_previous: Vec<PathBuf>,
    /// Earlier host CA keys, still published during a rotation.
    pub host_ca_previous: Vec<PathBuf>,
    /// TLS certificate (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM).
    pub tls_key: PathBuf,
    /// How long an enrollment token stays usable.
    #[serde(with = "humantime_serde_compat")]
    pub enrollment_token_ttl: Duration,
    /// How far a signed request's timestamp may be from the server clock.
    #[serde(with = "humantime_serde_compat")]
    pub request_max_age: Duration,
    /// Name shown in authenticator apps.
    pub issuer: String,
    /// Members of this group may read log entries and proofs over the API (auditors).
    pub auditor_group: String,
    /// How often to sign a checkpoint of the log while there are new records.
    #[serde(with = "humantime_serde_compat")]
    pub checkpoint_interval: Duration,
    /// Most API requests handled at once; beyond it a request is answered 503 `overloaded`
    /// with `Retry-After` at once instead of queueing into a timeout (`/v1/healthz` and
    /// `/metrics` are never shed).
    pub max_in_flight: usize,
    /// Where alerts go besides the log.
    pub alerts: AlertsConfig,
}

/// Default for [`Config::max_in_flight`]: far above what one jitd serves well (throughput
/// peaks by about 32-128 concurrent requests), so only a flood is shed.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// `[alerts]` in jitd.toml.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Slack-compatible incoming webhook URL (JSON POST with a `text` field); empty: log only.
    pub webhook_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: "https://127.0.0.1:8443".into(),
            database: "sqlite://jit.db".into(),
            policy: "policy.toml".into(),
            user_ca_key: "user_ca".into(),
            host_ca_key: "host_ca".into(),
            log_key: "log_key".into(),
            user_ca_previous: Vec::new(),
            host_ca_previous: Vec::new(),
            tls_cert: "tls/cert.pem".into(),
            tls_key: "tls/key.pem".into(),
            enrollment_token_ttl: Duration::from_secs(24 * 3600),
            request_max_age: Duration::from_secs(60),
            issuer: "jit".into(),
            auditor_group: "auditors".into(),
            checkpoint_interval: Duration::from_secs(60),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            alerts: AlertsConfig::default(),
        }
    }
}

/// Serde helpers for durations written like `24h` or `90s`.
mod humantime_serde_compat {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

impl Config {
    /// Parse and validate configuration text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Config = toml::from_str(text).context("jitd.toml is not valid")?;
        config.validate()?;
        Ok(config)
    }

    /// Load `jitd.toml` from the data directory.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}; is {} a jitd data directory? (create one with `jitd init --data-dir {}`)",
                path.display(),
                data_dir.display(),
                data_dir.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.public_url.starts_with("https://") {
            bail!(
                "public_url must start with https:// (got {:?})",
                self.public_url
            );
        }
        if self.request_max_age < Duration::from_secs(5)
            || self.request_max_age > Duration::from_secs(600)
        {
            bail!("request_max_age must be between 5s and 10m");
        }
        if self.enrollment_token_ttl < Duration::from_secs(60)
            || self.enrollment_token_ttl > Duration::from_secs(30 * 86400)
        {
            bail!("enrollment_token_ttl must be between 1m and 30 days");
        }
        if self.checkpoint_interval < Duration::from_secs(1)
            || self.checkpoint_interval > Duration::from_secs(3600)
        {
            bail!("checkpoint_interval must be between 1s and 1h");
        }
        if !(1..=1_000_000).contains(&self.max_in_flight) {
            bail!(
                "max_in_flight must be between 1 and 1000000 (got {}; the default is {DEFAULT_MAX_IN_FLIGHT})",
                self.max_in_flight
            );
        }
        if self.issuer.trim().is_empty() {
            bail!("issuer must not be empty");
        }
        if let Some(url) = self.alerts.webhook_url.as_deref().filter(|u| !u.is_empty()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("[alerts] webhook_url must be an http:// or https:// URL (got {url:?})");
            }
        }
        Ok(())
    }

    /// A path from the configuration, resolved against the data directory.
    pub fn path(&self, data_dir: &Path, relative: &Path) -> PathBuf {
        data_dir.join(relative)
    }

    /// The commented file `jitd init` writes.
    pub fn render(&self) -> String {
        format!(
            r#"# jitd configuration. Relative paths are relative to this file's directory.

# Address the HTTPS API listens on.
listen = "{listen}"
# URL engineers' `jit` uses to reach this server (goes into enrollment tokens).
public_url = "{public_url}"
# Storage: the embedded SQLite file (WAL, synchronous=FULL).
database = "{database}"
# Access policy: roles, principals, TTLs. Check edits with `jitd policy check`.
policy = "{policy}"
# CA private keys (OpenSSH format, 0600, encrypted when a passphrase was given at init).
user_ca_key = "{user_ca}"
host_ca_key = "{host_ca}"
# Log signing key: signs checkpoints (tree size + root hash + time) of the issuance log.
log_key = "{log_key}"
# Keys being rotated out: still published at /v1/ca (so hosts keep trusting certificates
# they signed) until `jitd ca retire` removes them once those certificates have expired.
user_ca_previous = {user_previous}
host_ca_previous = {host_previous}
# TLS certificate and key for the API (self-signed at init; clients pin its SHA-256).
tls_cert = "{tls_cert}"
tls_key = "{tls_key}"
# How long a `jitd user add` enrollment token stays valid.
enrollment_token_ttl = "{token_ttl}"
# Signed requests older or newer than this (server clock) are refused.
request_max_age = "{max_age}"
# Issuer name shown in authenticator apps.
issuer = "{issuer}"
# Members of this group may read log entries and proofs over the API (`jit audit`).
auditor_group = "{auditor_group}"
# Sign a checkpoint of the issuance log this often while there are new records (and at
# every shutdown). At most 1m is recommended.
checkpoint_interval = "{checkpoint_interval}"
# Most API requests handled at once. Beyond it jitd answers 503 "overloaded" with
# Retry-After at once (load shedding) instead of letting requests queue into timeouts.
# /v1/healthz and /metrics are never shed.
max_in_flight = {max_in_flight}

[alerts]
# Slack-compatible incoming webhook (JSON POST with a "text" field plus structured fields).
# Alerts are queued in the database and retried with backoff; they always go to the log.
# webhook_url = "https://hooks.slack.com/services/..."
{webhook}"#,
            listen = self.listen,
            public_url = self.public_url,
            database = self.database,
            policy = self.policy.display(),
            user_ca = self.user_ca_key.display(),
            host_ca = self.host_ca_key.display(),
            log_key = self.log_key.display(),
            user_previous = toml_paths(&self.user_ca_previous),
            host_previous = toml_paths(&self.host_ca_previous),
            tls_cert = self.tls_cert.display(),
            tls_key = self.tls_key.display(),
            token_ttl = humantime::format_duration(self.enrollment_token_ttl),
            max_age = humantime::format_duration(self.request_max_age),
            issuer = self.issuer,
            auditor_group = self.auditor_group,
            checkpoint_interval = humantime::format_duration(self.checkpoint_interval),
            max_in_flight = self.max_in_flight,
            webhook = match &self.alerts.webhook_url {
                Some(url) => format!("webhook_url = \"{url}\"\n"),
                None => String::new(),
            },
        )
    }
}

/// A TOML array of path strings.
fn toml_paths(paths: &[PathBuf]) -> String {
    let quoted: Vec<String> = paths
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_config_parses_back() {
        let config = Config {
            listen: "127.0.0.1:9999".parse().unwrap(),
            public_url: "https://127.0.0.1:9999".into(),
            ..Config::default()
        };
        let config = Config {
            user_ca_previous: vec!["user_ca".into()],
            user_ca_key: "user_ca-2".into(),
            ..config
        };
        let back = Config::parse(&config.render()).unwrap();
        assert_eq!(back.listen, config.listen);
        assert_eq!(back.user_ca_previous, config.user_ca_previous);
        assert_eq!(back.user_ca_key, config.user_ca_key);
        assert_eq!(back.enrollment_token_ttl, Duration::from_secs(86400));
        assert_eq!(back.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::parse("public_url = \"http://x\"").is_err());
        assert!(Config::parse("request_max_age = \"1h\"").is_err());
        assert!(Config::parse("nonsense = 1").is_err());
        assert!(Config::parse("max_in_flight = 0").is_err());
        assert_eq!(
            Config::parse("max_in_flight = 64").unwrap().max_in_flight,
            64
        );
        assert!(Config::parse("").is_ok());
    }
}
