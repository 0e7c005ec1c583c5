//! `jit host ...`: what an SSH server needs from jit, run as root (by hand, by
//! `deploy/host/setup.sh` and by the systemd timers in `deploy/host/`).
//!
//! # Layout
//! - [`enroll`] (`jit host enroll`): trade a one-time host token for a host certificate.
//! - [`renew`] (`jit host renew`): a new host certificate before the old one expires,
//!   asked for with a request signed by the host key itself.
//! - [`sync`] (`jit host sync`): the user CA keys and the KRL for sshd, replaced only by
//!   complete, sane downloads (a KRL must parse with `jit_krl::Krl::parse`, the reader
//!   the host daemon uses too).
//!
//! Files in the host directory (default `/etc/ssh/jit`, mode 0755): `host.json`
//! ([`HostConfig`]), `user_ca.pub` (sshd `TrustedUserCAKeys`), `revoked.krl` (sshd
//! `RevokedKeys`), `sync.json` (ETag and times of the last refreshes) and `principals/`
//! (written by setup.sh). The host certificate lives next to the host key.

pub mod enroll;
pub mod principals;
pub mod renew;
pub mod sync;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use ssh_key::Certificate;

use crate::atomic;
use crate::cli::{HostArgs, HostCommand};
use crate::error::fail;

/// The file `jit host enroll` writes in the host directory.
pub const HOST_JSON: &str = "host.json";

/// Run `jit host ...`.
pub async fn run(args: HostArgs) -> anyhow::Result<()> {
    match args.command {
        HostCommand::Enroll(args) => enroll::run(args).await,
        HostCommand::Renew(args) => renew::run(args).await,
        HostCommand::Principals(args) => principals::run(args),
        HostCommand::Sync(args) => sync::run(args).await,
    }
}

/// What `jit host enroll` saved in `host.json`: which server certifies this host, and where
/// its key and certificate are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// Server base URL (`https://...`).
    pub server_url: String,
    /// SHA-256 of the server's TLS certificate (DER), lowercase hex.
    pub tls_sha256: String,
    /// The host's name in jitd.
    pub host: String,
    /// The certified host public key (`.pub`); the private key is this path without `.pub`.
    pub host_key: PathBuf,
    /// The host certificate (sshd `HostCertificate`).
    pub certificate: PathBuf,
}

impl HostConfig {
    /// Read `DIR/host.json`; `None` when the host was never enrolled.
    pub fn load(dir: &Path) -> anyhow::Result<Option<HostConfig>> {
        let path = dir.join(HOST_JSON);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(fail(
                    format!("cannot read {}: {e}", path.display()),
                    "run jit host commands as root",
                ))
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            fail(
                format!("{} is damaged: {e}", path.display()),
                "enroll the host again with `jit host enroll TOKEN` (ask your operator for a token)",
            )
        })
    }

    /// Read `DIR/host.json`, or fail saying how to enroll.
    pub fn require(dir: &Path) -> anyhow::Result<HostConfig> {
        HostConfig::load(dir)?.ok_or_else(|| {
            fail(
                format!(
                    "this host is not enrolled ({} does not exist)",
                    dir.join(HOST_JSON).display()
                ),
                "enroll it with `jit host enroll TOKEN` (the operator makes the token with \
                 `jitd host add NAME`), or pass the --dir you enrolled with",
            )
        })
    }

    /// Write `DIR/host.json` (0644, atomically), creating DIR if needed.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        prepare_dir(dir)?;
        let json = serde_json::to_vec_pretty(self).context("cannot encode host.json")?;
        atomic::write(&dir.join(HOST_JSON), &json, 0o644)
    }

    /// The host private key: [`HostConfig::host_key`] without `.pub`.
    pub fn private_key_path(&self) -> anyhow::Result<PathBuf> {
        private_key_path(&self.host_key)
    }
}

/// Create the host directory with mode 0755 when it is missing (an existing one is left as
/// it is).
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o755)))
        .map_err(|e| {
            fail(
                format!("cannot create {}: {e}", dir.display()),
                "run jit host commands as root, or pass another --dir",
            )
        })
}

/// `KEY.pub` -> `KEY`, refusing a path that does not end in `.pub`.
pub fn private_key_path(public: &Path) -> anyhow::Result<PathBuf> {
    let text = public.to_string_lossy();
    match text.strip_suffix(".pub") {
        Some(stem) if !stem.is_empty() && !stem.ends_with('/') => Ok(PathBuf::from(stem)),
        _ => Err(fail(
            format!(
                "{} is not a public key file ending in .pub",
                public.display()
            ),
            "pass the host PUBLIC key, e.g. --host-key /etc/ssh/ssh_host_ed25519_key.pub",
        )),
    }
}

/// `KEY.pub` -> `KEY-cert.pub`, where sshd and ssh-keygen expect a key's certificate.
pub fn certificate_path(public: &Path) -> anyhow::Result<PathBuf> {
    let mut stem = private_key_path(public)?.into_os_string();
    stem.push("-cert.pub");
    Ok(PathBuf::from(stem))
}

/// Read a certificate file written by jit (or anyone): one OpenSSH certificate line.
pub fn read_certificate(path: &Path) -> anyhow::Result<Certificate> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the host certificate {}", path.display()))?;
    Certificate::from_openssh(text.trim())
        .with_context(|| format!("{} is not an OpenSSH certificate", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_next_to_the_key() {
        let public = Path::new("/etc/ssh/ssh_host_ed25519_key.pub");
        assert_eq!(
            private_key_path(public).unwrap(),
            Path::new("/etc/ssh/ssh_host_ed25519_key")
        );
        assert_eq!(
            certificate_path(public).unwrap(),
            Path::new("/etc/ssh/ssh_host_ed25519_key-cert.pub")
        );
        for bad in ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/.pub", ".pub"] {
            assert!(certificate_path(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_json_round_trips_and_the_directory_is_0755() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("etc/ssh/jit");
        assert_eq!(HostConfig::load(&dir).unwrap(), None);
        let err = HostConfig::require(&dir).unwrap_err();
        assert!(crate::error::report(&err).contains("jit host enroll TOKEN"));
        let config = HostConfig {
            server_url: "https://jit:8443".into(),
            tls_sha256: "ab".repeat(32),
            host: "web-1".into(),
            host_key: "/etc/ssh/ssh_host_ed25519_key.pub".into(),
            certificate: "/etc/ssh/ssh_host_ed25519_key-cert.pub".into(),
        };
        config.save(&dir).unwrap();
        assert_eq!(HostConfig::load(&dir).unwrap(), Some(config));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o755);
        assert_eq!(mode(&dir.join(HOST_JSON)), 0o644);
    }
}
