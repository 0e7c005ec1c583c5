//! The project's own programs under test: a `jitd` CA in a scratch data directory, and
//! engineers running the `jit` CLI with their own `JIT_HOME`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::agent::SshAgent;
use crate::net::{free_port, wait_for_port};
use crate::process::{run_with_stdin, run_with_timeout, ChildGuard, OutputExt as _};
use crate::scratch::{scratch_dir, write_file};

/// Path of a workspace binary (`jitd`, `jit`, `totp-code`) next to the test executable.
/// Panics with what to run when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/<test binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "jit-e2e: {} is missing; build the workspace first (`cargo build --workspace`, which `just test` does)",
        path.display()
    );
    path
}

/// A jit CA: data directory, passphrase file, and (once started) a running `jitd serve`.
pub struct Ca {
    dir: TempDir,
    port: u16,
    server: Option<ChildGuard>,
}

impl Ca {
    /// `jitd init` on a free loopback port with an encrypted CA, then install `policy`.
    pub fn init(policy: &str) -> Ca {
        let dir = scratch_dir("jit-ca-");
        write_file(
            &dir.path().join("passphrase"),
            "correct horse battery staple\n",
            0o600,
        );
        let port = free_port();
        let ca = Ca {
            dir,
            port,
            server: None,
        };
        let out = ca.jitd(&[
            "init",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--passphrase-file",
            &ca.passphrase_file(),
        ]);
        assert!(out.status.success(), "jitd init failed: {}", out.describe());
        std::fs::write(ca.data_dir().join("policy.toml"), policy).expect("write policy");
        ca
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.data_dir().join("jit.db")
    }

    /// The passphrase file's path (for `jitd ca rotate --passphrase-file`).
    pub fn passphrase_path(&self) -> String {
        self.passphrase_file()
    }

    fn passphrase_file(&self) -> String {
        self.dir.path().join("passphrase").display().to_string()
    }

    /// Send alerts to `url` (takes effect at the next start).
    pub fn set_webhook(&self, url: &str) {
        let path = self.data_dir().join("jitd.toml");
        let mut text = std::fs::read_to_string(&path).expect("read jitd.toml");
        assert!(text.contains("[alerts]"), "jitd.toml has an [alerts] table");
        text.push_str(&format!("webhook_url = \"{url}\"\n"));
        std::fs::write(&path, text).expect("write jitd.toml");
    }

    /// The API port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Run `jitd --data-dir DATA ARGS...` to completion.
    pub fn jitd(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(binary("jitd"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("JITD_CA_PASSPHRASE");
        run_with_timeout(&mut cmd, Duration::from_secs(60)).expect("jitd finishes")
    }

    /// Run a jitd command that must succeed; returns its stdout.
    pub fn jitd_ok(&self, args: &[&str]) -> String {
        let out = self.jitd(args);
        assert!(
            out.status.success(),
            "jitd {args:?} failed: {}",
            out.describe()
        );
        out.stdout_text()
    }

    /// Start `jitd serve` and wait until it accepts connections.
    pub fn start(&mut self) {
        let mut cmd = Command::new(binary("jitd"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(["serve", "--passphrase-file", &self.passphrase_file()])
            .env("RUST_LOG", "info");
        let guard = ChildGuard::spawn("jitd serve", &mut cmd);
        assert!(
            wait_for_port(self.port, Duration::from_secs(20)).is_some(),
            "jitd did not start listening: {:?}",
            guard.stderr_lines()
        );
        self.server = Some(guard);
    }

    /// Stop the server with SIGTERM; returns whether it exited cleanly, and its log.
    pub fn stop(&mut self) -> (bool, Vec<String>) {
        let mut guard = self.server.take().expect("the server is running");
        let status = guard.terminate();
        (status.success(), guard.stderr_lines())
    }

    /// The server's log so far.
    pub fn server_log(&self) -> Vec<String> {
        self.server
            .as_ref()
            .map(ChildGuard::stderr_lines)
            .unwrap_or_default()
    }

    /// The user CA public key line (for sshd's TrustedUserCAKeys).
    pub fn user_ca_public_key(&self) -> String {
        self.jitd_ok(&["ca", "show", "--user"])
    }

    /// `jitd user add NAME --groups GROUPS`; returns the enrollment token.
    pub fn add_user(&self, name: &str, groups: &str) -> String {
        let out = self.jitd_ok(&["user", "add", name, "--groups", groups, "--json"]);
        let value: serde_json::Value = serde_json::from_str(&out).expect("user add --json");
        value["token"].as_str().expect("a token").to_string()
    }

    /// `jitd host add NAME --principals P,Q --json`; returns the one-time host token.
    pub fn add_host(&self, name: &str, principals: &[&str]) -> String {
        let out = self.jitd_ok(&[
            "host",
            "add",
            name,
            "--principals",
            &principals.join(","),
            "--json",
        ]);
        let value: serde_json::Value = serde_json::from_str(&out).expect("host add --json");
        value["token"].as_str().expect("a token").to_string()
    }

    /// `jitd audit verify` succeeds.
    pub fn assert_log_verifies(&self) {
        let out = self.jitd(&["audit", "verify"]);
        assert!(
            out.status.success(),
            "the log does not verify: {}",
            out.describe()
        );
    }

    /// The log records (parsed bodies) from `jitd audit export`.
    pub fn log_records(&self) -> Vec<serde_json::Value> {
        self.jitd_ok(&["audit", "export"])
            .lines()
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).expect("an export line");
                serde_json::from_str(entry["body"].as_str().expect("body")).expect("a record")
            })
            .collect()
    }

    /// How many certificates the log says were issued.
    pub fn issued_count(&self) -> usize {
        self.log_records()
            .iter()
            .filter(|r| r["type"] == "issued")
            .count()
    }
}

/// An engineer's machine: a `JIT_HOME` and the TOTP secret their authenticator app holds.
pub struct Engineer {
    home: TempDir,
    secret: String,
}

impl Engineer {
    /// `jit enroll TOKEN` (stdin closed, so it stops before confirming), read the TOTP
    /// secret from its output, then `jit enroll --confirm --otp CODE`.
    pub fn enroll(token: &str) -> Engineer {
        let home = scratch_dir("jit-home-");
        let mut engineer = Engineer {
            home,
            secret: String::new(),
        };
        let out = engineer.run(&["enroll", token], None, None);
        assert!(
            out.status.success(),
            "jit enroll failed: {}",
            out.describe()
        );
        let text = out.stdout_text();
        engineer.secret = text
            .split("secret=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
            .unwrap_or_else(|| panic!("no otpauth secret in the enroll output: {text}"))
            .to_string();
        let code = engineer.code(0);
        let out = engineer.run(&["enroll", "--confirm", "--otp", &code], None, None);
        assert!(
            out.status.success(),
            "jit enroll --confirm failed: {}",
            out.describe()
        );
        engineer
    }

    /// The JIT_HOME directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The TOTP code `offset` seconds from now (the server accepts ±1 step of 30 s).
    pub fn code(&self, offset: u64) -> String {
        let mut cmd = Command::new(binary("totp-code"));
        cmd.arg(&self.secret)
            .arg("--offset")
            .arg(offset.to_string());
        let out = run_with_timeout(&mut cmd, Duration::from_secs(10)).expect("totp-code");
        assert!(out.status.success(), "totp-code failed: {}", out.describe());
        out.stdout_text().trim().to_string()
    }

    /// Run `jit ARGS...` with this JIT_HOME, an optional agent and optional stdin text.
    pub fn run(&self, args: &[&str], agent: Option<&SshAgent>, stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(binary("jit"));
        cmd.args(args)
            .env("JIT_HOME", self.home.path())
            .env_remove("SSH_AUTH_SOCK");
        if let Some(agent) = agent {
            cmd.env("SSH_AUTH_SOCK", agent.socket());
        }
        let input = match stdin {
            None => Stdio::null(),
            Some(text) => {
                let stdin_file = self.home.path().join(".stdin");
                std::fs::write(&stdin_file, text).expect("write stdin");
                Stdio::from(std::fs::File::open(&stdin_file).expect("open stdin"))
            }
        };
        run_with_stdin(&mut cmd, input, Duration::from_secs(60)).expect("jit finishes")
    }
}

impl Engineer {
    /// Run `jit enroll TOKEN` in a fresh JIT_HOME and return its output (for refusals).
    pub fn try_enroll_output(token: &str) -> Output {
        let engineer = Engineer {
            home: scratch_dir("jit-home-"),
            secret: String::new(),
        };
        engineer.run(&["enroll", token], None, None)
    }
}

/// Run one SQL statement on a SQLite database (used to tamper with a stored log).
pub fn sqlite_exec(database: &Path, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", database.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open the database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .expect("the SQL runs");
        pool.close().await;
    });
}

impl Engineer {
    /// Ask jitd, over its real HTTPS API and signed by this engineer's enrolled device, to
    /// certify `key` (a key the test holds on disk, unlike `jit ssh`'s in-memory key) for
    /// `role`; the certificate is written next to the key. `code_offset` picks the TOTP step.
    pub fn certify(
        &self,
        key: &crate::keygen::KeyPair,
        role: &str,
        ttl_seconds: Option<u64>,
        code_offset: u64,
    ) -> jit_proto::api::CertificateResponse {
        let home = jit::home::Home::at(self.home());
        let config = home.confirmed_config().expect("a confirmed enrollment");
        let device = home.load_device_key().expect("the device key");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let request = jit_proto::api::CertificateRequest {
            freshness: jit::signing::freshness(now),
            role: Some(role.into()),
            host: None,
            ttl_seconds,
            public_key: key.public_key_line(),
            otp: self.code(code_offset),
            reason: None,
            ticket: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let response: jit_proto::api::CertificateResponse = runtime
            .block_on(async {
                let client = jit::http::Client::new(&config.server_url, &config.tls_sha256)?;
                client
                    .post_signed("/v1/certificates", &request, &device)
                    .await
            })
            .unwrap_or_else(|e| panic!("jitd refused to certify the key: {e:#}"));
        std::fs::write(key.certificate(), format!("{}\n", response.certificate))
            .expect("write the certificate");
        response
    }
}
