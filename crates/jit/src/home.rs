//! JIT_HOME: the enrollment config, the device key, and the `run/` files handed to ssh.
//!
//! Layout (directory mode 0700):
//! - `device_ed25519` (OpenSSH private key, 0600, created with `create_new`) and
//!   `device_ed25519.pub`;
//! - `config.json`: [`Config`];
//! - `known_hosts`: `@cert-authority` lines for the server's host CA keys (0644), which
//!   `jit ssh` hands to ssh (see [`crate::known_hosts`]);
//! - `run/ROLE.pub` and `run/ROLE-cert.pub`: public key and certificate of the role's
//!   current certificate (public material only; the private key lives in ssh-agent).

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use ssh_key::{LineEnding, PrivateKey};

use crate::atomic;
use crate::error::fail;

const DEVICE_KEY: &str = "device_ed25519";
const DEVICE_PUB: &str = "device_ed25519.pub";
const CONFIG: &str = "config.json";
const RUN: &str = "run";
const KNOWN_HOSTS: &str = "known_hosts";

/// What `jit enroll` saved: which server to talk to and who this device is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Server base URL (`https://...`).
    pub server_url: String,
    /// SHA-256 of the server's TLS certificate (DER), lowercase hex.
    pub tls_sha256: String,
    /// The user the device is enrolled for.
    pub user: String,
    /// `SHA256:` fingerprint of the device key.
    pub device_fingerprint: String,
    /// Whether the first TOTP code was accepted.
    pub confirmed: bool,
}

/// The JIT_HOME directory.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// `$JIT_HOME`, else `$XDG_CONFIG_HOME/jit`, else `~/.config/jit`.
    pub fn locate() -> anyhow::Result<Home> {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = if let Some(dir) = non_empty("JIT_HOME") {
            PathBuf::from(dir)
        } else if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
            PathBuf::from(xdg).join("jit")
        } else if let Some(home) = non_empty("HOME") {
            PathBuf::from(home).join(".config").join("jit")
        } else {
            return Err(fail(
                "cannot find a place for jit's files (HOME is not set)",
                "set JIT_HOME to a directory only you can read",
            ));
        };
        Ok(Home { dir })
    }

    /// A home at an explicit directory (tests, and callers that know better).
    pub fn at(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the device private key.
    pub fn device_key_path(&self) -> PathBuf {
        self.dir.join(DEVICE_KEY)
    }

    /// Path of `known_hosts` (the jit host CA keys for ssh).
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.join(KNOWN_HOSTS)
    }

    /// Path of `run/`.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join(RUN)
    }

    /// Create the directory (0700) if needed, and tighten its mode if it exists.
    pub fn ensure(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set the mode of {}", self.dir.display()))
    }

    /// The saved config, or `None` when this device was never enrolled.
    pub fn load_config(&self) -> anyhow::Result<Option<Config>> {
        let path = self.dir.join(CONFIG);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            fail(
                format!("{} is damaged: {e}", path.display()),
                "enroll again with `jit enroll --force TOKEN`",
            )
        })
    }

    /// The config of a confirmed enrollment, or an error saying how to get one.
    pub fn confirmed_config(&self) -> anyhow::Result<Config> {
        match self.load_config()? {
            Some(config) if config.confirmed => Ok(config),
            Some(_) => Err(fail(
                "this device's enrollment is not confirmed yet",
                "finish it with `jit enroll --confirm` (needs a code from your authenticator app)",
            )),
            None => Err(fail(
                "this device is not enrolled",
                "run `jit enroll TOKEN` with the token your operator gave you",
            )),
        }
    }

    /// Save the config atomically (mode 0600).
    pub fn save_config(&self, config: &Config) -> anyhow::Result<()> {
        self.ensure()?;
        let json = serde_json::to_vec_pretty(config).context("cannot encode the config")?;
        atomic::write(&self.dir.join(CONFIG), &json, 0o600)
    }

    /// Whether any enrollment state (config or device key) exists.
    pub fn has_enrollment(&self) -> bool {
        self.dir.join(CONFIG).exists() || self.device_key_path().exists()
    }

    /// Delete the config and the device key files (for `jit enroll --force`).
    pub fn forget_enrollment(&self) -> anyhow::Result<()> {
        for name in [CONFIG, DEVICE_KEY, DEVICE_PUB] {
            remove_if_present(&self.dir.join(name))?;
        }
        Ok(())
    }

    /// Write a new device key pair; fails if a device key already exists.
    pub fn save_device_key(&self, key: &PrivateKey) -> anyhow::Result<()> {
        self.ensure()?;
        let path = self.device_key_path();
        let pem = key
            .to_openssh(LineEnding::LF)
            .context("cannot encode the device key")?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(pem.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let public = key
            .public_key()
            .to_openssh()
            .context("cannot encode the device public key")?;
        atomic::write(
            &self.dir.join(DEVICE_PUB),
            format!("{public}\n").as_bytes(),
            0o644,
        )
    }

    /// Read the device private key.
    pub fn load_device_key(&self) -> anyhow::Result<PrivateKey> {
        let path = self.device_key_path();
        PrivateKey::read_openssh_file(&path).map_err(|e| {
            fail(
                format!("cannot read the device key {}: {e}", path.display()),
                "enroll this device again with `jit enroll --force TOKEN`",
            )
        })
    }

    /// Paths of `run/ROLE.pub` and `run/ROLE-cert.pub`.
    pub fn run_files(&self, role: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
        check_role_file_name(role)?;
        let run = self.run_dir();
        Ok((
            run.join(format!("{role}.pub")),
            run.join(format!("{role}-cert.pub")),
        ))
    }

    /// Write a role's public key and certificate lines to `run/` and return their paths.
    /// Mode 0600: the files are public, but ssh refuses to use an `IdentityFile` that
    /// others can read ("UNPROTECTED PRIVATE KEY FILE") before it falls back to the agent.
    pub fn write_run_files(
        &self,
        role: &str,
        public_key: &str,
        certificate: &str,
    ) -> anyhow::Result<(PathBuf, PathBuf)> {
        self.ensure()?;
        let run = self.run_dir();
        fs::create_dir_all(&run).with_context(|| format!("cannot create {}", run.display()))?;
        let (key_path, cert_path) = self.run_files(role)?;
        atomic::write(&key_path, format!("{public_key}\n").as_bytes(), 0o600)?;
        atomic::write(&cert_path, format!("{certificate}\n").as_bytes(), 0o600)?;
        Ok((key_path, cert_path))
    }

    /// Delete every file in `run/` (missing directory is fine).
    pub fn clear_run_dir(&self) -> anyhow::Result<()> {
        let run = self.run_dir();
        let entries = match fs::read_dir(&run) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", run.display())),
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read {}", run.display()))?
                .path();
            remove_if_present(&path)?;
        }
        Ok(())
    }

    /// Delete a role's `run/` files (missing files are fine).
    pub fn remove_run_files(&self, role: &str) -> anyhow::Result<()> {
        let (key_path, cert_path) = self.run_files(role)?;
        remove_if_present(&key_path)?;
        remove_if_present(&cert_path)
    }
}

/// Refuse role names that cannot safely be part of a file name.
fn check_role_file_name(role: &str) -> anyhow::Result<()> {
    if role.starts_with('.') || jit_proto::names::validate_group_name(role).is_err() {
        return Err(fail(
            format!("the role name {role:?} cannot be used as a file name"),
            "role names use letters, digits, `.`, `_` and `-`; ask your operator",
        ));
    }
    Ok(())
}

/// Delete a file; a missing one is fine.
fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot delete {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::{rand_core::OsRng, Algorithm, HashAlg};

    fn sample() -> Config {
        Config {
            server_url: "https://127.0.0.1:8443".into(),
            tls_sha256: "ab".repeat(32),
            user: "alice".into(),
            device_fingerprint: "SHA256:xyz".into(),
            confirmed: false,
        }
    }

    #[test]
    fn config_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("jit"));
        assert_eq!(home.load_config().unwrap(), None);
        home.save_config(&sample()).unwrap();
        assert_eq!(home.load_config().unwrap(), Some(sample()));
        let mode = fs::metadata(home.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let err = home.confirmed_config().unwrap_err();
        assert!(crate::error::report(&err).contains("jit enroll --confirm"));
    }

    #[test]
    fn device_key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        home.save_device_key(&key).unwrap();
        let mode = fs::metadata(home.device_key_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = home.load_device_key().unwrap();
        assert_eq!(
            loaded.fingerprint(HashAlg::Sha256),
            key.fingerprint(HashAlg::Sha256)
        );
        assert!(
            home.save_device_key(&key).is_err(),
            "create_new must refuse"
        );
        home.forget_enrollment().unwrap();
        assert!(!home.has_enrollment());
    }

    #[test]
    fn run_files_refuse_path_tricks() {
        let home = Home::at("/nonexistent");
        assert!(home.run_files("web-oncall").is_ok());
        assert!(home.clear_run_dir().is_ok());
        for bad in ["../x", "a/b", ".hidden", "", "-x"] {
            assert!(home.run_files(bad).is_err(), "{bad:?}");
        }
    }
}
