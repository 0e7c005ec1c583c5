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
        Ca::init_with(policy, true)
    }

    /// Like [`Ca::init`], but the keys are written unencrypted (`--insecure-no-passphrase`):
    /// `jitd serve` then starts in a fraction of a second instead of deriving three key
    /// encryption keys (seconds in a debug build), for tests that restart it often.
    pub fn init_unencrypted(policy: &str) -> Ca {
        Ca::init_with(policy, false)
    }

    fn init_with(policy: &str, encrypted: bool) -> Ca {
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
        let listen = format!("127.0.0.1:{port}");
        let passphrase_file = ca.passphrase_file();
        let mut args = vec!["init", "--listen", listen.as_str()];
        match encrypted {
            true => args.extend(["--passphrase-file", passphrase_file.as_str()]),
            false => args.push("--insecure-no-passphrase"),
        }
        let out = ca.jitd(&args);
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
        self.server = Some(serve(
            &self.data_dir(),
            &self.passphrase_file(),
            None,
            self.port,
            ServerLog::default(),
        ));
    }

    /// Start `jitd serve` with `RUST_LOG=rust_log` and its stderr going to `stderr` (a pipe
    /// the test holds, a file) instead of the harness's reader ([`Ca::server_log`] is then
    /// empty), and wait until it accepts connections.
    pub fn start_logging_to(&mut self, stderr: Stdio, rust_log: &str) {
        self.server = Some(serve(
            &self.data_dir(),
            &self.passphrase_file(),
            None,
            self.port,
            ServerLog {
                stderr,
                rust_log: rust_log.into(),
            },
        ));
    }

    /// Point `database = ...` in jitd.toml at `url` (a `postgres://` URL, say). Admin
    /// commands use it at once, `jitd serve` at its next start, and replicas started
    /// afterwards copy it. `jitd init` made a SQLite database: switch before adding users.
    pub fn use_database(&self, url: &str) {
        let path = self.data_dir().join("jitd.toml");
        let text = std::fs::read_to_string(&path).expect("read jitd.toml");
        let mut replaced = false;
        let lines: Vec<String> = text
            .lines()
            .map(|line| {
                if line.split('=').next().map(str::trim) == Some("database") {
                    replaced = true;
                    format!("database = \"{url}\"")
                } else {
                    line.to_string()
                }
            })
            .collect();
        assert!(replaced, "jitd.toml has a `database = ...` line: {text}");
        std::fs::write(&path, lines.join("\n") + "\n").expect("write jitd.toml");
    }

    /// Start another `jitd serve` from a copy of this CA's data directory (same CA and log
    /// keys, TLS certificate and key, policy and jitd.toml, so the same database) on another
    /// port (`jitd serve --listen 127.0.0.1:PORT`), as an operator deploys a replica. The
    /// TLS certificate is for 127.0.0.1, so clients pinned to it trust every replica.
    pub fn start_replica(&self) -> Replica {
        let dir = scratch_dir("jit-replica-");
        let data = dir.path().join("data");
        copy_dir(&self.data_dir(), &data);
        let port = free_port();
        let server = serve(
            &data,
            &self.passphrase_file(),
            Some(port),
            port,
            ServerLog::default(),
        );
        Replica {
            dir,
            port,
            server: Some(server),
        }
    }

    /// `https://127.0.0.1:PORT` of this CA's own server.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// SIGKILL the CA's own server (`kill -9`) and reap it; [`Ca::start`] starts it again.
    pub fn kill(&mut self) {
        if let Some(mut guard) = self.server.take() {
            kill(&mut guard);
        }
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

/// Where a started `jitd serve` logs, and how much.
struct ServerLog {
    stderr: Stdio,
    rust_log: String,
}

impl Default for ServerLog {
    /// `info` lines, read by the guard.
    fn default() -> Self {
        ServerLog {
            stderr: Stdio::piped(),
            rust_log: "info".into(),
        }
    }
}

/// Run `jitd --data-dir DATA serve` (on `listen` when given) and wait until `port` accepts
/// connections.
fn serve(
    data: &Path,
    passphrase_file: &str,
    listen: Option<u16>,
    port: u16,
    log: ServerLog,
) -> ChildGuard {
    let mut cmd = Command::new(binary("jitd"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--passphrase-file", passphrase_file])
        .env("RUST_LOG", &log.rust_log);
    if let Some(listen) = listen {
        cmd.arg("--listen").arg(format!("127.0.0.1:{listen}"));
    }
    let guard = ChildGuard::spawn_with_stderr("jitd serve", &mut cmd, log.stderr);
    assert!(
        wait_for_port(port, Duration::from_secs(20)).is_some(),
        "jitd did not start listening on 127.0.0.1:{port}: {:?}",
        guard.stderr_lines()
    );
    guard
}

/// SIGKILL a guarded server and wait (at most 10 s) until it is gone.
fn kill(guard: &mut ChildGuard) {
    guard.signal("KILL");
    assert!(
        guard.wait_timeout(Duration::from_secs(10)).is_some(),
        "{} survived SIGKILL",
        guard.name()
    );
}

/// Copy a directory tree (files keep their permission bits, as `fs::copy` does).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a data file");
        }
    }
}

/// A second `jitd serve` on a copy of a [`Ca`]'s data directory ([`Ca::start_replica`]);
/// stopped (SIGTERM) when dropped.
pub struct Replica {
    // declared first, so dropped (stopped) before its data directory is removed
    server: Option<ChildGuard>,
    dir: TempDir,
    port: u16,
}

impl Replica {
    /// The API port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The copied data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// SIGKILL the replica (`kill -9`) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut guard) = self.server.take() {
            kill(&mut guard);
        }
    }

    /// Whether the replica's process still runs.
    pub fn is_running(&mut self) -> bool {
        self.server.as_mut().is_some_and(ChildGuard::is_running)
    }

    /// Stop the replica with SIGTERM; returns whether it exited cleanly, and its log.
    pub fn stop(&mut self) -> (bool, Vec<String>) {
        let mut guard = self.server.take().expect("the replica is running");
        let status = guard.terminate();
        (status.success(), guard.stderr_lines())
    }

    /// The replica's log so far.
    pub fn server_log(&self) -> Vec<String> {
        self.server
            .as_ref()
            .map(ChildGuard::stderr_lines)
            .unwrap_or_default()
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
    let connection = rusqlite::Connection::open(database).expect("open the database");
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .expect("set a busy timeout");
    connection.execute_batch(sql).expect("the SQL runs");
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

/// An engineer enrolled over the API from inside the test process: the same requests
/// `jit enroll` and `jit ssh` send (`POST /v1/enroll`, then `/v1/enroll/confirm` and
/// `/v1/certificates` signed by the device key), with the device key and TOTP secret in
/// memory, so load tests need no process per engineer.
pub struct ApiEngineer {
    user: String,
    tls_sha256: String,
    device: ssh_key::PrivateKey,
    secret: jit_mfa::TotpSecret,
    /// The newest TOTP time step handed out by [`ApiEngineer::next_code`] (or used up).
    last_step: std::sync::Mutex<u64>,
}

/// Seconds before the end of a time step after which [`ApiEngineer::next_code`] no longer
/// hands out the code of the step before it (it might reach the server too late).
const STEP_MARGIN: u64 = 5;

impl ApiEngineer {
    /// Enroll with the enrollment token `token` through `client` (any replica), confirming
    /// the device with [`ApiEngineer::next_code`] (which uses up that time step).
    pub async fn enroll(client: &jit::http::Client, token: &str) -> anyhow::Result<ApiEngineer> {
        use ssh_key::rand_core::OsRng;
        let token = jit_proto::token::EnrollmentToken::decode(token)?;
        let device = ssh_key::PrivateKey::random(&mut OsRng, ssh_key::Algorithm::Ed25519)?;
        let request = jit_proto::api::EnrollRequest {
            token_secret: token.secret.clone(),
            device_public_key: device.public_key().to_openssh()?,
            device_name: "jit-e2e".into(),
        };
        let response: jit_proto::api::EnrollResponse = client.post("/v1/enroll", &request).await?;
        let engineer = ApiEngineer {
            user: response.user,
            tls_sha256: token.tls_sha256,
            device,
            secret: jit_mfa::TotpSecret::from_base32(&response.totp_secret)?,
            last_step: std::sync::Mutex::new(0),
        };
        let confirm = jit_proto::api::EnrollConfirmRequest {
            freshness: jit::signing::freshness(unix_now()),
            otp: engineer.next_code().await,
        };
        let _: jit_proto::api::Whoami = client
            .post_signed("/v1/enroll/confirm", &confirm, &engineer.device)
            .await?;
        Ok(engineer)
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The pinned TLS certificate's SHA-256 (hex), as the enrollment token carried it.
    pub fn tls_sha256(&self) -> &str {
        &self.tls_sha256
    }

    /// The TOTP code for unix time `unix_seconds`, as the authenticator app shows it then.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        jit_mfa::code_at(&self.secret, unix_seconds)
    }

    /// The code of the oldest time step the server accepts now (it accepts the steps before
    /// and after the current one) that is newer than every step handed out so far. Codes are
    /// single use, so an engineer gets about two certificates per 30 s step: this waits (at
    /// most one step) when the steps within reach are used up.
    pub async fn next_code(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(2 * jit_mfa::STEP_SECONDS);
        loop {
            if let Some(code) = self.try_next_code() {
                return code;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no TOTP step came within reach"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Like [`ApiEngineer::next_code`], without waiting: `None` while the steps within
    /// reach are used up.
    pub fn try_next_code(&self) -> Option<String> {
        let step = jit_mfa::STEP_SECONDS;
        let now = unix_now();
        let current = now / step;
        let oldest = match now % step < step - STEP_MARGIN {
            true => current.saturating_sub(1),
            false => current,
        };
        let mut last = self.last_step.lock().unwrap_or_else(|e| e.into_inner());
        let next = (*last + 1).max(oldest);
        (next <= current + 1).then(|| {
            *last = next;
            self.code_at(next * step)
        })
    }

    /// `POST path` with `body`, signed by this engineer's device (requests, decisions,
    /// revoking their own certificates).
    pub async fn post_signed<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        client: &jit::http::Client,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        client.post_signed(path, body, &self.device).await
    }

    /// A certificate request for `role` with `otp`: a fresh Ed25519 key to certify (never
    /// reused) and fresh freshness fields (timestamp and nonce), like `jit ssh` sends.
    fn certificate_request(
        &self,
        role: &str,
        otp: &str,
    ) -> anyhow::Result<jit_proto::api::CertificateRequest> {
        use ssh_key::rand_core::OsRng;
        let key = ssh_key::PrivateKey::random(&mut OsRng, ssh_key::Algorithm::Ed25519)?;
        Ok(jit_proto::api::CertificateRequest {
            freshness: jit::signing::freshness(unix_now()),
            role: Some(role.into()),
            host: None,
            ttl_seconds: None,
            public_key: key.public_key().to_openssh()?,
            otp: otp.into(),
            reason: None,
            ticket: None,
        })
    }

    /// Ask for a certificate for `role` with `otp` through the `jit` client, signed by the
    /// device key.
    pub async fn certify(
        &self,
        client: &jit::http::Client,
        role: &str,
        otp: &str,
    ) -> anyhow::Result<jit_proto::api::CertificateResponse> {
        let request = self.certificate_request(role, otp)?;
        client
            .post_signed("/v1/certificates", &request, &self.device)
            .await
    }

    /// A certificate request, built and device-signed now, to send later with
    /// [`send_raw`] (so many can reach the server at the same moment).
    pub fn prepare(&self, role: &str, otp: &str) -> anyhow::Result<SignedRequest> {
        let body = serde_json::to_vec(&self.certificate_request(role, otp)?)?;
        let headers = jit::signing::sign(&self.device, "POST", "/v1/certificates", &body)?;
        Ok(SignedRequest {
            body,
            device: headers.device,
            signature: headers.signature,
        })
    }

    /// A plain HTTPS client pinned to the server's TLS certificate, for [`send_raw`].
    pub fn raw_client(&self) -> anyhow::Result<reqwest::Client> {
        let pin = jit::tls::parse_pin(&self.tls_sha256)?;
        let tls = jit::tls::pinned_client_config(pin, jit::tls::MismatchRecord::default())?;
        Ok(reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30))
            .build()?)
    }

    /// Like [`ApiEngineer::certify`], but the raw HTTP status and body come back as the
    /// server sent them.
    pub async fn certify_raw(
        &self,
        base_url: &str,
        role: &str,
        otp: &str,
    ) -> anyhow::Result<(u16, String)> {
        send_raw(&self.raw_client()?, base_url, &self.prepare(role, otp)?).await
    }
}

/// A device-signed certificate request ([`ApiEngineer::prepare`]).
pub struct SignedRequest {
    body: Vec<u8>,
    device: String,
    signature: String,
}

/// `POST base_url/v1/certificates` with a prepared request; the HTTP status and body.
pub async fn send_raw(
    http: &reqwest::Client,
    base_url: &str,
    request: &SignedRequest,
) -> anyhow::Result<(u16, String)> {
    let response = http
        .post(format!("{base_url}/v1/certificates"))
        .header("content-type", "application/json")
        .header(jit_proto::signing::HEADER_DEVICE, &request.device)
        .header(jit_proto::signing::HEADER_SIGNATURE, &request.signature)
        .body(request.body.clone())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

impl Engineer {
    /// This engineer's enrolled device and TOTP secret, for in-process API requests.
    pub fn api(&self) -> ApiEngineer {
        let home = jit::home::Home::at(self.home());
        let config = home.confirmed_config().expect("a confirmed enrollment");
        ApiEngineer {
            user: config.user,
            tls_sha256: config.tls_sha256,
            device: home.load_device_key().expect("the device key"),
            secret: jit_mfa::TotpSecret::from_base32(&self.secret).expect("the TOTP secret"),
            // `jit enroll --confirm` used a code no newer than the current step
            last_step: std::sync::Mutex::new(unix_now() / jit_mfa::STEP_SECONDS),
        }
    }
}

/// A jit API client for `https://127.0.0.1:PORT`, pinned to `tls_sha256`.
pub fn api_client(port: u16, tls_sha256: &str) -> jit::http::Client {
    jit::http::Client::new(&format!("https://127.0.0.1:{port}"), tls_sha256).expect("an API client")
}

/// The HTTP status a jit API call got: 200 for success, the status of the server's error
/// code (jitd answers every error with `ErrorCode::http_status`), `None` when no HTTP
/// answer came (connection refused or cut).
pub fn http_status<T>(result: &anyhow::Result<T>) -> Option<u16> {
    match result {
        Ok(_) => Some(200),
        Err(error) => jit::error::server_code(error).map(jit_proto::ErrorCode::http_status),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time after 1970")
        .as_secs()
}

/// SHA-256 (hex) of an OpenSSH certificate's binary encoding, which the issuance record
/// binds (`certificate_sha256`).
pub fn certificate_sha256(openssh: &str) -> String {
    use sha2::Digest as _;
    let certificate = ssh_key::Certificate::from_openssh(openssh.trim()).expect("a certificate");
    hex::encode(sha2::Sha256::digest(
        certificate.to_bytes().expect("encode the certificate"),
    ))
}
