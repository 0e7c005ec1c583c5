//! A real OpenSSH `sshd` on 127.0.0.1 that trusts the given user CA keys and nothing else:
//! no passwords, no authorized_keys, principals per account from files it owns.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::accounts::require_root;
use crate::net::{free_port, wait_for_port};
use crate::process::{ChildGuard, POLL};
use crate::scratch::{create_dir, keep_requested, scratch_dir, write_file};
use crate::{keygen, tools};

/// How long [`Sshd::start`] waits for sshd to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How many fresh ports [`Sshd::start`] tries when another process took the chosen one.
const PORT_ATTEMPTS: usize = 5;

/// What the test sshd trusts and allows.
#[derive(Debug, Clone, Default)]
pub struct SshdConfig {
    /// Content of the `TrustedUserCAKeys` file: one or more public key lines.
    pub trusted_user_ca_keys: String,
    /// For each account, the principals listed in its `AuthorizedPrincipalsFile`. Accounts
    /// not listed get no file, so no certificate is accepted for them.
    pub principals: Vec<(String, Vec<String>)>,
    /// `RevokedKeys` file, if any. It must exist (an empty KRL is fine, see
    /// [`keygen::krl_create`]): sshd refuses every key when it is missing.
    pub revoked_keys: Option<PathBuf>,
    /// Extra `sshd_config` lines. Lines before the first `Match` line go at the top of the
    /// file, so they override the harness defaults (sshd keeps the first value it reads);
    /// a `Match` line and everything after it go at the end.
    pub extra_config: Vec<String>,
    /// A host certificate to serve (`HostCertificate`), where `jit host enroll` writes it:
    /// `KEY-cert.pub`. Its key `KEY` (with `KEY.pub`) is then the host key, instead of one
    /// generated for this sshd.
    pub host_certificate: Option<PathBuf>,
}

/// A running sshd; dropping it stops sshd and removes its directory (kept when
/// `JIT_E2E_KEEP=1`). If dropped during a panic, its log is printed to stderr.
#[derive(Debug)]
pub struct Sshd {
    guard: Option<ChildGuard>,
    dir: Option<TempDir>,
    port: u16,
    host_public_key: String,
}

impl Sshd {
    /// Writes the configuration, host key, CA and principals files into a fresh directory
    /// under the cargo target directory and starts `sshd -D -e -f CONFIG -E LOG` on
    /// 127.0.0.1 with a free port. Waits (at most 10 s) until sshd answers with its SSH
    /// banner.
    ///
    /// # Panics
    /// If not root, if sshd is not installed, if the configuration is rejected, or if
    /// sshd does not come up; the message contains sshd's log.
    pub fn start(config: SshdConfig) -> Sshd {
        require_root("running sshd");
        let sshd_bin = tools::sshd();
        create_dir(Path::new("/run/sshd"));

        let dir = scratch_dir("sshd-");
        let root = dir.path().to_path_buf();
        let host_key = match &config.host_certificate {
            Some(certificate) => certified_key(certificate),
            None => keygen::generate_ed25519(&root, "host_ed25519"),
        };
        let host_public_key = public_key_without_comment(&host_key.public_key_line());
        write_file(
            &root.join("user_ca.pub"),
            &config.trusted_user_ca_keys,
            0o644,
        );
        create_dir(&root.join("principals"));
        let mut sshd = Sshd {
            guard: None,
            dir: Some(dir),
            port: 0,
            host_public_key,
        };
        for (account, principals) in &config.principals {
            sshd.set_principals(account, principals);
        }

        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            write_file(
                &sshd.config_path(),
                render_config(&root, &host_key.private, port, &config),
                0o644,
            );
            check_config(&sshd_bin, &sshd.config_path());
            let guard = ChildGuard::spawn(
                format!("sshd on port {port}"),
                Command::new(&sshd_bin)
                    .args(["-D", "-e", "-f"])
                    .arg(sshd.config_path())
                    .arg("-E")
                    .arg(sshd.log_path()),
            );
            sshd.guard = Some(guard);
            sshd.port = port;
            match sshd.wait_until_ready() {
                Ok(()) => {
                    write_file(
                        &sshd.known_hosts_file(),
                        sshd.known_hosts_line() + "\n",
                        0o644,
                    );
                    return sshd;
                }
                Err(Retry::PortTaken) => {
                    if let Some(mut guard) = sshd.guard.take() {
                        guard.terminate();
                    }
                }
                Err(Retry::Fatal(why)) => panic!(
                    "jit-e2e: sshd did not start: {why}\n--- sshd log ---\n{}\n--- config ---\n{}",
                    sshd.log(),
                    sshd.config_text()
                ),
            }
        }
        panic!("jit-e2e: sshd found no free port after {PORT_ATTEMPTS} attempts")
    }

    /// Waits until sshd sends its banner, or reports why not.
    fn wait_until_ready(&mut self) -> Result<(), Retry> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let guard = self
                .guard
                .as_mut()
                .ok_or(Retry::Fatal("no process".into()))?;
            if let Some(status) = guard.try_wait() {
                let stderr = guard.stderr_lines().join("\n");
                if self.log().contains("Address already in use") {
                    return Err(Retry::PortTaken);
                }
                return Err(Retry::Fatal(format!("sshd exited with {status}\n{stderr}")));
            }
            if let Some(mut stream) = wait_for_port(self.port, Duration::from_millis(100)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Retry::Fatal(format!(
                    "port {} did not answer with an SSH banner within {START_TIMEOUT:?}",
                    self.port
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The directory holding the configuration, keys, principals and log.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// The TCP port sshd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the listening sshd.
    pub fn pid(&self) -> u32 {
        self.guard.as_ref().map_or(0, ChildGuard::id)
    }

    /// The host public key as `ssh-ed25519 AAAA…` (no comment).
    pub fn host_public_key(&self) -> String {
        self.host_public_key.clone()
    }

    /// The known_hosts line for this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_public_key)
    }

    /// A file containing [`Sshd::known_hosts_line`], for `UserKnownHostsFile`.
    pub fn known_hosts_file(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// The `sshd_config` file.
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("sshd_config")
    }

    /// The current `sshd_config` text.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap_or_default()
    }

    /// The `TrustedUserCAKeys` file.
    pub fn trusted_user_ca_keys_path(&self) -> PathBuf {
        self.dir().join("user_ca.pub")
    }

    /// Replaces the trusted CA keys; sshd reads the file at every login.
    pub fn set_trusted_user_ca_keys(&self, content: &str) {
        write_file(&self.trusted_user_ca_keys_path(), content, 0o644);
    }

    /// The `AuthorizedPrincipalsFile` of `account`.
    pub fn principals_path(&self, account: &str) -> PathBuf {
        self.dir().join("principals").join(account)
    }

    /// Writes (atomically) the principals file of `account`, one principal per line;
    /// sshd reads it at every login.
    pub fn set_principals<S: AsRef<str>>(&self, account: &str, principals: &[S]) {
        assert!(
            !account.is_empty() && !account.contains('/'),
            "jit-e2e: bad account name {account:?}"
        );
        let mut text = String::new();
        for p in principals {
            text.push_str(p.as_ref());
            text.push('\n');
        }
        write_file(&self.principals_path(account), text, 0o644);
    }

    /// The `-E` log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("sshd.log")
    }

    /// Everything sshd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The current length of the log, to pass to [`Sshd::log_since`] or
    /// [`Sshd::wait_for_log_since`] so that only later lines count.
    pub fn log_mark(&self) -> usize {
        self.log().len()
    }

    /// The log written after `mark` (from [`Sshd::log_mark`]).
    pub fn log_since(&self, mark: usize) -> String {
        let log = self.log();
        log.get(mark..).unwrap_or_default().to_string()
    }

    /// Waits up to `timeout` for `needle` to appear anywhere in the log.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_log_since(0, needle, timeout)
    }

    /// Waits up to `timeout` for `needle` to appear in the log after `mark`.
    pub fn wait_for_log_since(&self, mark: usize, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_since(mark).contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            guard.terminate();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- sshd log ({}) ---\n{}--- end of sshd log ---",
                self.log_path().display(),
                self.log()
            );
        }
        if keep_requested() {
            if let Some(dir) = self.dir.take() {
                eprintln!("jit-e2e: keeping {}", dir.keep().display());
            }
        }
    }
}

/// Why a start attempt failed.
enum Retry {
    /// sshd could not bind its port: try another one.
    PortTaken,
    /// Anything else: give up with this explanation.
    Fatal(String),
}

/// `ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…`.
fn public_key_without_comment(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `sshd -t` so a bad configuration fails with sshd's own explanation.
fn check_config(sshd: &Path, config: &Path) {
    let out = crate::process::run_with_timeout(
        Command::new(sshd).arg("-t").arg("-f").arg(config),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        panic!(
            "jit-e2e: sshd rejected its configuration {}\n{}\n--- config ---\n{}",
            config.display(),
            crate::process::describe(&out),
            std::fs::read_to_string(config).unwrap_or_default()
        );
    }
}

/// The key pair certified by `certificate` (`KEY-cert.pub` -> `KEY`, `KEY.pub`).
fn certified_key(certificate: &Path) -> keygen::KeyPair {
    let text = certificate.to_string_lossy();
    let stem = text
        .strip_suffix("-cert.pub")
        .unwrap_or_else(|| panic!("jit-e2e: host certificate {text} is not named KEY-cert.pub"));
    keygen::KeyPair {
        private: PathBuf::from(stem),
        public: PathBuf::from(format!("{stem}.pub")),
    }
}

/// The `sshd_config` text for a server in `root` with `host_key` on `port`.
fn render_config(root: &Path, host_key: &Path, port: u16, config: &SshdConfig) -> String {
    let split = config
        .extra_config
        .iter()
        .position(|l| l.trim_start().to_ascii_lowercase().starts_with("match "))
        .unwrap_or(config.extra_config.len());
    let (early, matches) = config.extra_config.split_at(split);
    let mut lines: Vec<String> = vec!["# written by jit-e2e".into()];
    lines.extend(early.iter().cloned());
    let r = root.display();
    lines.extend([
        format!("Port {port}"),
        "ListenAddress 127.0.0.1".into(),
        "AddressFamily inet".into(),
        format!("HostKey {}", host_key.display()),
        format!("PidFile {r}/sshd.pid"),
        "UsePAM no".into(),
        "PasswordAuthentication no".into(),
        "KbdInteractiveAuthentication no".into(),
        "PubkeyAuthentication yes".into(),
        "AuthorizedKeysFile none".into(),
        format!("TrustedUserCAKeys {r}/user_ca.pub"),
        format!("AuthorizedPrincipalsFile {r}/principals/%u"),
        "LogLevel VERBOSE".into(),
        "StrictModes yes".into(),
        "PermitRootLogin no".into(),
        "UseDNS no".into(),
        "PrintMotd no".into(),
        "PrintLastLog no".into(),
        "X11Forwarding no".into(),
        "LoginGraceTime 30".into(),
        "MaxStartups 100:30:200".into(),
    ]);
    if let Some(certificate) = &config.host_certificate {
        lines.push(format!("HostCertificate {}", certificate.display()));
    }
    if let Some(krl) = &config.revoked_keys {
        lines.push(format!("RevokedKeys {}", krl.display()));
    }
    lines.extend(matches.iter().cloned());
    let mut text = lines.join("\n");
    text.push('\n');
    text
}
