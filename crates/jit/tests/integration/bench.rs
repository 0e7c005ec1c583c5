//! The test bench for the `jit` binary: the real jitd, a real ssh-agent, a stand-in for ssh
//! that records its arguments, one JIT_HOME and authenticator app per user, and bounded
//! waits on running `jit`s.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jitd::state::Settings;

use crate::authenticator::Authenticator;
use crate::server::{Jitd as _, TestServer};
use crate::ssh_agent::TestAgent;

/// Exit status of the stand-in ssh, to check that jit's exit status is ssh's.
pub const FAKE_SSH_STATUS: i32 = 7;
/// Longest wait for a running `jit` to show something or to exit.
const PATIENCE: Duration = Duration::from_secs(30);

/// The real jitd, an ssh-agent, a scratch directory and the users' authenticators.
pub struct Bench {
    /// The server.
    pub server: TestServer,
    /// The agent every `jit` run uses.
    pub agent: TestAgent,
    dir: tempfile::TempDir,
    authenticators: Mutex<HashMap<String, Authenticator>>,
    runs: AtomicUsize,
}

impl Bench {
    /// Start the server (default settings) and the agent, and write the stand-in ssh.
    pub fn new() -> Bench {
        Bench::with_settings(Settings::default())
    }

    /// Start the server with `settings` and the agent, and write the stand-in ssh.
    pub fn with_settings(settings: Settings) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-ssh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$JIT_TEST_SSH_LOG\"\n\
                 printf 'SSH_AUTH_SOCK=%s\\n' \"$SSH_AUTH_SOCK\" >> \"$JIT_TEST_SSH_LOG\"\n\
                 cat > \"$JIT_TEST_SSH_LOG.stdin\"\n\
                 exit {FAKE_SSH_STATUS}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Bench {
            server: crate::server::start_with(settings),
            agent: TestAgent::start(),
            dir,
            authenticators: Mutex::default(),
            runs: AtomicUsize::new(0),
        }
    }

    /// A fresh TOTP code from `user`'s authenticator (set up by an enrollment).
    pub fn code_of(&self, user: &str) -> String {
        let mut authenticators = self.authenticators.lock().unwrap();
        let found = authenticators.get_mut(user);
        found
            .unwrap_or_else(|| panic!("{user} has no authenticator yet"))
            .code()
    }

    /// A fresh TOTP code from alice's authenticator.
    pub fn code(&self) -> String {
        self.code_of("alice")
    }

    /// The secret in `user`'s authenticator, base32.
    pub fn secret_of(&self, user: &str) -> String {
        self.authenticators.lock().unwrap()[user].secret()
    }

    /// Put the secret `jit enroll` printed into `user`'s authenticator (a new device
    /// replaces the old secret; jitd keeps counting the user's steps).
    pub fn learn_secret(&self, user: &str, secret: &str) {
        let mut authenticators = self.authenticators.lock().unwrap();
        match authenticators.get_mut(user) {
            Some(found) => found.replace_secret(secret),
            None => {
                authenticators.insert(user.to_string(), Authenticator::new(secret));
            }
        }
    }

    /// The scratch directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// alice's JIT_HOME.
    pub fn home(&self) -> PathBuf {
        self.home_of("alice")
    }

    /// `user`'s JIT_HOME.
    pub fn home_of(&self, user: &str) -> PathBuf {
        match user {
            "alice" => self.dir.path().join("home"),
            other => self.dir.path().join(format!("home-{other}")),
        }
    }

    /// What the stand-in ssh was given (arguments, then `SSH_AUTH_SOCK=`).
    pub fn ssh_log(&self) -> PathBuf {
        self.dir.path().join("ssh.log")
    }

    /// `jit ARGS` as alice.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_as("alice", args)
    }

    /// `jit ARGS` as `user`.
    pub fn command_as(&self, user: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jit"));
        cmd.args(args)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("JIT_LOG")
            .env("JIT_HOME", self.home_of(user))
            .env("SSH_AUTH_SOCK", self.agent.socket())
            .env("JIT_SSH", self.dir.path().join("fake-ssh"))
            .env("JIT_TEST_SSH_LOG", self.ssh_log());
        cmd
    }

    /// Run `cmd` with `stdin` to completion.
    pub fn run_cmd(mut cmd: Command, stdin: &str) -> Output {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run `jit ARGS` as alice.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        Self::run_cmd(self.command(args), stdin)
    }

    /// Run `jit ARGS` as `user`.
    pub fn run_as(&self, user: &str, args: &[&str], stdin: &str) -> Output {
        Self::run_cmd(self.command_as(user, args), stdin)
    }

    /// Start `jit ARGS` as alice in the background, stdin holding `stdin` then closed.
    pub fn spawn(&self, args: &[&str], stdin: &str) -> Running {
        let mut running = self.spawn_as("alice", args);
        running.type_in(stdin);
        running.close_stdin();
        running
    }

    /// Start `jit ARGS` as `user` in the background, stdin open for [`Running::type_in`],
    /// stdout and stderr going to files the test can read while it runs.
    pub fn spawn_as(&self, user: &str, args: &[&str]) -> Running {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let stdout = self.dir.path().join(format!("running-{n}.stdout"));
        let stderr = self.dir.path().join(format!("running-{n}.stderr"));
        let mut child = self
            .command_as(user, args)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Running {
            stdin: child.stdin.take(),
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Run `jit enroll ARGS` as `user` like a person at a terminal: wait for the secret it
    /// shows, add it to the user's authenticator, and type the first code as `typed(code)`
    /// (e.g. with a space in it); the exit status, stdout and stderr.
    pub fn enroll_typing(
        &self,
        user: &str,
        args: &[&str],
        typed: impl FnOnce(&str) -> String,
    ) -> (Option<i32>, String, String) {
        let mut running = self.spawn_as(user, args);
        let secret = running.wait_for_secret();
        self.learn_secret(user, &secret);
        running.type_in(&typed(&self.code_of(user)));
        let stdout = running.stdout_path();
        let (status, stderr) = running.finish();
        (status, std::fs::read_to_string(stdout).unwrap(), stderr)
    }

    /// Enroll and confirm alice's device.
    pub fn enroll(&self) {
        self.enroll_as("alice");
    }

    /// Enroll and confirm a device of `user` in their own JIT_HOME.
    pub fn enroll_as(&self, user: &str) {
        let token = self.server.token_for(user);
        let (status, stdout, stderr) =
            self.enroll_typing(user, &["enroll", &token], |code| format!("{code}\n"));
        assert_eq!(status, Some(0), "{stdout}\n{stderr}");
    }

    /// alice's certificate for `role`, as `jit ssh` left it in `run/` for ssh.
    pub fn certificate(&self, role: &str) -> ssh_key::Certificate {
        let path = self.home().join("run").join(format!("{role}-cert.pub"));
        ssh_key::Certificate::read_file(&path).unwrap()
    }

    /// alice's saved config.
    pub fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.home().join("config.json")).unwrap()).unwrap()
    }
}

/// A `jit` running in the background; dropping it kills it (by its own handle).
pub struct Running {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// The TOTP secret `jit enroll` shows: the `secret:` line, or `totp_secret` with `--json`.
pub fn shown_secret(stdout: &str) -> Option<String> {
    for line in stdout.lines() {
        if let Some(secret) = line.trim_start().strip_prefix("secret:") {
            return Some(secret.trim().to_string());
        }
        let object = serde_json::from_str::<serde_json::Value>(line).unwrap_or_default();
        if let Some(secret) = object["totp_secret"].as_str() {
            return Some(secret.to_string());
        }
    }
    None
}

impl Running {
    /// Type `text` on its stdin.
    pub fn type_in(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Close its stdin (end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Where its stdout goes.
    pub fn stdout_path(&self) -> PathBuf {
        self.stdout.clone()
    }

    /// Wait (bounded) until `jit enroll` has shown the TOTP secret; the secret.
    pub fn wait_for_secret(&self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if let Some(secret) = shown_secret(&stdout) {
                return secret;
            }
            assert!(
                Instant::now() < deadline,
                "jit never showed a TOTP secret; stdout:\n{stdout}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait (bounded) until its stderr contains `needle`.
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "jit never printed {needle:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (bounded) for it to exit: its exit code and stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        self.close_stdin();
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("jit did not exit in time; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.code(), self.stderr())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Everything about a finished run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A run's stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run's stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
