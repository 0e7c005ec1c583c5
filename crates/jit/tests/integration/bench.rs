//! The test bench for the `jit` binary: the fake jitd, a real ssh-agent, a stand-in for ssh
//! that records its arguments, one JIT_HOME per user, and bounded waits on running `jit`s.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::fake_jitd::{FakeJitd, GOOD_CODE};
use crate::ssh_agent::TestAgent;

/// Exit status of the stand-in ssh, to check that jit's exit status is ssh's.
pub const FAKE_SSH_STATUS: i32 = 7;
/// Longest wait for a running `jit` to show something or to exit.
const PATIENCE: Duration = Duration::from_secs(30);

/// A fake jitd, an ssh-agent and a scratch directory.
pub struct Bench {
    /// The server.
    pub server: FakeJitd,
    /// The agent every `jit` run uses.
    pub agent: TestAgent,
    dir: tempfile::TempDir,
}

impl Bench {
    /// Start the server and the agent, and write the stand-in ssh.
    pub fn new() -> Bench {
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
            server: FakeJitd::start(),
            agent: TestAgent::start(),
            dir,
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

    /// Start `jit ARGS` as alice in the background, stdin holding `stdin` then closed,
    /// stderr going to a file the test can read while it runs.
    pub fn spawn(&self, args: &[&str], stdin: &str) -> Running {
        let stderr = self.dir.path().join("running.stderr");
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        drop(input);
        Running {
            child: Some(child),
            stderr,
        }
    }

    /// Enroll and confirm alice's device.
    pub fn enroll(&self) {
        let out = self.run(&["enroll", &self.server.token(), "--otp", GOOD_CODE], "");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    /// Enroll and confirm a device of `user` in their own JIT_HOME.
    pub fn enroll_as(&self, user: &str) {
        let token = self.server.token_for(user);
        let out = self.run_as(user, &["enroll", &token, "--otp", GOOD_CODE], "");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    /// alice's saved config.
    pub fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.home().join("config.json")).unwrap()).unwrap()
    }
}

/// A `jit` running in the background; dropping it kills it (by its own handle).
pub struct Running {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Running {
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
