//! The system `ssh` client, run non-interactively against a test sshd.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::process::{run_with_timeout, TimedOut};
use crate::sshd::Sshd;
use crate::tools;

/// Default limit for one ssh run; ssh is killed after it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// One `ssh` invocation, built step by step:
///
/// ```text
/// ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes
///     -o UserKnownHostsFile=KH -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes
///     -o IdentityAgent=SOCK|none [-i KEY] [-o CertificateFile=CERT] [OPTIONS] -p PORT
///     USER@HOST [COMMAND]
/// ```
///
/// With an agent and `IdentitiesOnly=yes`, ssh only uses agent identities that match a
/// given `-i` (a public key file is enough) or `CertificateFile`; call
/// [`SshCommand::identities_only`] with `false` to offer everything in the agent.
#[derive(Debug, Clone)]
pub struct SshCommand {
    user: String,
    host: String,
    port: u16,
    known_hosts: Option<PathBuf>,
    identity: Option<PathBuf>,
    certificate: Option<PathBuf>,
    agent: Option<PathBuf>,
    identities_only: bool,
    verbose: bool,
    options: Vec<String>,
    command: Option<String>,
    timeout: Duration,
}

impl SshCommand {
    /// `ssh USER@127.0.0.1 -p PORT`, no agent, no keys yet; a known_hosts file must be set.
    pub fn new(user: &str, port: u16) -> SshCommand {
        SshCommand {
            user: user.to_string(),
            host: "127.0.0.1".to_string(),
            port,
            known_hosts: None,
            identity: None,
            certificate: None,
            agent: None,
            identities_only: true,
            verbose: false,
            options: Vec::new(),
            command: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `ssh USER@127.0.0.1` to `sshd`, with its port and known_hosts file.
    pub fn to(sshd: &Sshd, user: &str) -> SshCommand {
        SshCommand::new(user, sshd.port()).known_hosts(&sshd.known_hosts_file())
    }

    /// The host to connect to (default `127.0.0.1`).
    pub fn host(mut self, host: &str) -> SshCommand {
        self.host = host.to_string();
        self
    }

    /// `UserKnownHostsFile`.
    pub fn known_hosts(mut self, path: &Path) -> SshCommand {
        self.known_hosts = Some(path.to_path_buf());
        self
    }

    /// `-i KEY` (a private key, or a public key whose private half is in the agent).
    pub fn identity(mut self, key: &Path) -> SshCommand {
        self.identity = Some(key.to_path_buf());
        self
    }

    /// `-o CertificateFile=CERT`.
    pub fn certificate(mut self, cert: &Path) -> SshCommand {
        self.certificate = Some(cert.to_path_buf());
        self
    }

    /// `-o IdentityAgent=SOCKET` (default `none`).
    pub fn agent(mut self, socket: &Path) -> SshCommand {
        self.agent = Some(socket.to_path_buf());
        self
    }

    /// `-o IdentitiesOnly=yes|no` (default yes).
    pub fn identities_only(mut self, yes: bool) -> SshCommand {
        self.identities_only = yes;
        self
    }

    /// Adds `-v` so stderr shows what ssh offered and why it failed.
    pub fn verbose(mut self) -> SshCommand {
        self.verbose = true;
        self
    }

    /// Adds `-o OPTION`, e.g. `"ConnectTimeout=5"`.
    pub fn option(mut self, option: &str) -> SshCommand {
        self.options.push(option.to_string());
        self
    }

    /// The remote command (one string, run by the account's shell).
    pub fn command(mut self, command: &str) -> SshCommand {
        self.command = Some(command.to_string());
        self
    }

    /// How long ssh may run before it is killed (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> SshCommand {
        self.timeout = timeout;
        self
    }

    /// The argument list passed to `ssh`.
    ///
    /// # Panics
    /// If no known_hosts file was set.
    pub fn args(&self) -> Vec<OsString> {
        let known_hosts = self.known_hosts.as_ref().unwrap_or_else(|| {
            panic!("jit-e2e: SshCommand needs known_hosts() (see Sshd::known_hosts_file)")
        });
        let mut args: Vec<OsString> = Vec::new();
        let mut opt = |o: String| {
            args.push("-o".into());
            args.push(o.into());
        };
        opt("BatchMode=yes".into());
        opt("StrictHostKeyChecking=yes".into());
        opt(format!("UserKnownHostsFile={}", known_hosts.display()));
        opt("GlobalKnownHostsFile=/dev/null".into());
        opt("UpdateHostKeys=no".into());
        opt("ControlMaster=no".into());
        opt("ControlPath=none".into());
        opt("ConnectTimeout=10".into());
        opt(format!(
            "IdentitiesOnly={}",
            if self.identities_only { "yes" } else { "no" }
        ));
        opt(format!(
            "IdentityAgent={}",
            self.agent
                .as_ref()
                .map_or("none".to_string(), |a| a.display().to_string())
        ));
        if let Some(cert) = &self.certificate {
            opt(format!("CertificateFile={}", cert.display()));
        }
        for o in &self.options {
            opt(o.clone());
        }
        let mut head: Vec<OsString> = vec!["-F".into(), "/dev/null".into()];
        if self.verbose {
            head.push("-v".into());
        }
        if let Some(key) = &self.identity {
            head.push("-i".into());
            head.push(key.into());
        }
        head.extend(args);
        head.push("-p".into());
        head.push(self.port.to_string().into());
        head.push(format!("{}@{}", self.user, self.host).into());
        if let Some(command) = &self.command {
            // ssh stops option parsing at the destination: no `--` needed (it would be sent).
            head.push(command.into());
        }
        head
    }

    /// Runs ssh; `Err` if it did not finish within the timeout (it was killed).
    pub fn try_run(&self) -> Result<Output, TimedOut> {
        let mut cmd = Command::new(tools::ssh());
        cmd.args(self.args()).env_remove("SSH_AUTH_SOCK");
        run_with_timeout(&mut cmd, self.timeout)
    }

    /// Runs ssh and returns its output, whatever the exit status.
    ///
    /// # Panics
    /// If ssh did not finish within the timeout.
    pub fn run(&self) -> Output {
        self.try_run().unwrap_or_else(|e| panic!("jit-e2e: {e}"))
    }
}

/// Runs `opts` (see [`SshCommand::run`]).
pub fn run(opts: &SshCommand) -> Output {
    opts.run()
}
