//! A private OpenSSH `ssh-agent` for one test, and `ssh-add` against it.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{run_with_timeout, ChildGuard, OutputExt, POLL};
use crate::tools;

/// How long [`SshAgent::start`] waits for the socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Limit for one `ssh-add` run.
const SSH_ADD_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `ssh-agent -D -a SOCKET`; dropping it stops the agent and removes the socket
/// directory.
#[derive(Debug)]
pub struct SshAgent {
    guard: ChildGuard,
    socket: PathBuf,
    _dir: TempDir,
}

impl SshAgent {
    /// Starts `ssh-agent -D -a SOCKET` with the socket in a fresh 0700 directory under the
    /// system temp directory (short, because Unix socket paths are limited to 108 bytes),
    /// and waits (at most 10 s) until the socket accepts connections.
    pub fn start() -> SshAgent {
        let agent = tools::ssh_agent();
        let dir = tempfile::Builder::new()
            .prefix("jit-e2e-agent-")
            .tempdir()
            .unwrap_or_else(|e| panic!("jit-e2e: cannot create the agent directory: {e}"));
        let socket = dir.path().join("agent.sock");
        let mut guard = ChildGuard::spawn(
            "ssh-agent",
            Command::new(agent).arg("-D").arg("-a").arg(&socket),
        );
        let deadline = Instant::now() + START_TIMEOUT;
        while UnixStream::connect(&socket).is_err() {
            if let Some(status) = guard.try_wait() {
                panic!(
                    "jit-e2e: ssh-agent exited with {status}\n{}",
                    guard.stderr_lines().join("\n")
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "jit-e2e: ssh-agent socket {} did not appear within {START_TIMEOUT:?}\n{}",
                    socket.display(),
                    guard.stderr_lines().join("\n")
                );
            }
            std::thread::sleep(POLL);
        }
        SshAgent {
            guard,
            socket,
            _dir: dir,
        }
    }

    /// The agent socket, for `SSH_AUTH_SOCK` or `IdentityAgent`.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// A command for `program` with `SSH_AUTH_SOCK` pointing at this agent.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SSH_AUTH_SOCK", &self.socket);
        cmd
    }

    /// Runs `ssh-add ARGS` against this agent and returns its output, whatever the status.
    pub fn ssh_add(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(tools::ssh_add());
        cmd.args(args);
        run_with_timeout(&mut cmd, SSH_ADD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ssh-add KEY`: loads a private key (and `KEY-cert.pub` beside it, if present).
    /// Panics if ssh-add fails.
    pub fn add(&self, key: &Path) -> Output {
        self.add_with_args(&[], key)
    }

    /// `ssh-add -t SECONDS KEY`: like [`SshAgent::add`] with a lifetime.
    pub fn add_with_lifetime(&self, key: &Path, seconds: u64) -> Output {
        self.add_with_args(&["-t", &seconds.to_string()], key)
    }

    /// `ssh-add ARGS KEY`, panicking on failure.
    fn add_with_args(&self, args: &[&str], key: &Path) -> Output {
        let key_arg = key.to_string_lossy();
        let mut all = args.to_vec();
        all.push(&key_arg);
        let out = self.ssh_add(&all);
        if !out.status.success() {
            panic!("jit-e2e: ssh-add {all:?} failed\n{}", out.describe());
        }
        out
    }

    /// `ssh-add -D`: removes every identity. Panics if ssh-add fails.
    pub fn remove_all(&self) {
        let out = self.ssh_add(&["-D"]);
        if !out.status.success() {
            panic!("jit-e2e: ssh-add -D failed\n{}", out.describe());
        }
    }

    /// The output of `ssh-add -l` (stdout and stderr): one line per identity, or
    /// `The agent has no identities.`. Panics if ssh-add cannot talk to the agent.
    pub fn list(&self) -> String {
        let out = self.ssh_add(&["-l"]);
        // Exit status 1 means "no identities"; 2 means the agent could not be reached.
        if !matches!(out.status.code(), Some(0 | 1)) {
            panic!("jit-e2e: ssh-add -l failed\n{}", out.describe());
        }
        format!("{}{}", out.stdout_text(), out.stderr_text())
    }

    /// The `ssh-add -l` lines for certificates (those containing `-CERT)`).
    pub fn list_certificates(&self) -> Vec<String> {
        self.list()
            .lines()
            .filter(|l| l.contains("-CERT)"))
            .map(str::to_string)
            .collect()
    }
}
