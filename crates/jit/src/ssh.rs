//! `jit ssh`: pick a role, reuse or get a certificate, load it into ssh-agent, exec ssh.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::Path;

use anyhow::Context as _;
use ssh_key::{Certificate, PublicKey};

use crate::agent::{Agent, JitCertificate};
use crate::cli::{Connection, SshArgs};
use crate::clock::{self, short_duration};
use crate::error::fail;
use crate::home::Home;
use crate::issue::{self, Ask};
use crate::session::Session;
use crate::{known_hosts, roles};

/// A certificate in the agent with at most this many seconds left is not reused.
pub const REUSE_MARGIN_SECONDS: u64 = 30;

/// Where to connect: `host` or `user@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The part before the last `@`, if any.
    pub user: Option<String>,
    /// The host.
    pub host: String,
}

impl Destination {
    /// Parse `[user@]host` (split at the last `@`, as ssh does).
    pub fn parse(text: &str) -> anyhow::Result<Destination> {
        let (user, host) = match text.rsplit_once('@') {
            Some((user, host)) => (Some(user.to_string()).filter(|u| !u.is_empty()), host),
            None => (None, text),
        };
        if host.is_empty() || host.starts_with('-') || host.chars().any(char::is_whitespace) {
            return Err(fail(
                format!("{text:?} is not a host to connect to"),
                "give a destination like `web-1` or `deploy@web-1.example.com`",
            ));
        }
        Ok(Destination {
            user,
            host: host.to_string(),
        })
    }
}

/// The remote account: `-l`, else the destination's user, else the first principal.
pub fn login_for(
    flag: Option<&str>,
    destination: &Destination,
    principals: &[String],
) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| destination.user.clone())
        .or_else(|| principals.first().cloned())
}

/// Everything the ssh command line is made of.
#[derive(Debug, Clone)]
pub struct SshInvocation<'a> {
    /// `run/ROLE.pub`.
    pub public_key: &'a Path,
    /// `run/ROLE-cert.pub`.
    pub certificate: &'a Path,
    /// `-p PORT`.
    pub port: Option<u16>,
    /// `-l LOGIN`.
    pub login: Option<&'a str>,
    /// The user's `-o` options, in order.
    pub options: &'a [String],
    /// `$JIT_HOME/known_hosts` when it exists: added as `UserKnownHostsFile` (before the
    /// engineer's own file) unless `options` already set one.
    pub known_hosts: Option<&'a Path>,
    /// The host.
    pub host: &'a str,
    /// The remote command.
    pub command: &'a [String],
}

impl SshInvocation<'_> {
    /// The arguments after the program name. jit's own options come first (ssh keeps the
    /// first value of an option), and `--` ends the options so neither the host nor the
    /// remote command can be read as one.
    pub fn arguments(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut option = |value: OsString| {
            args.push("-o".into());
            args.push(value);
        };
        // The certificate file itself is the identity: ssh matches it to the agent's
        // key+certificate and offers exactly that, once. (A separate CertificateFile would
        // add a second identity whose private key ssh tries, and fails, to load from disk.)
        option("IdentitiesOnly=yes".into());
        option(prefixed("IdentityFile=", self.certificate));
        if let Some(path) = self.known_hosts {
            if !known_hosts::chosen_by_user(self.options) {
                match known_hosts::ssh_option(path) {
                    Some(value) => option(value),
                    None => {
                        tracing::debug!(path = %path.display(), "known_hosts path not usable in an ssh option")
                    }
                }
            }
        }
        if let Some(port) = self.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        if let Some(login) = self.login {
            args.push("-l".into());
            args.push(login.into());
        }
        for extra in self.options {
            args.push("-o".into());
            args.push(extra.into());
        }
        args.push("--".into());
        args.push(self.host.into());
        args.extend(self.command.iter().map(OsString::from));
        args
    }
}

fn prefixed(prefix: &str, path: &Path) -> OsString {
    let mut value = OsString::from(prefix);
    value.push(path.as_os_str());
    value
}

/// Run `jit ssh`. Returns only on failure: on success the process becomes ssh.
pub async fn run(args: SshArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let session = Session::open(&home)?;
    let destination = Destination::parse(&args.destination)?;
    let mut agent = Agent::from_env().await?;

    let role = match &args.role {
        Some(role) => role.clone(),
        None => {
            let whoami = session.whoami().await?;
            roles::select_for_host(&whoami.roles, &destination.host)?
                .name
                .clone()
        }
    };
    home.run_files(&role)?;

    let now = clock::now();
    let certificate = match reusable(agent.certificates_for(&role).await?, now) {
        Some(found) => {
            eprintln!(
                "jit: reusing certificate {} for {} ({} left)",
                found.certificate.key_id(),
                found.certificate.valid_principals().join(","),
                short_duration(found.seconds_left(now)),
            );
            found.certificate
        }
        None => {
            let ask = Ask {
                role: &role,
                host: Some(&destination.host),
                ttl: args.ttl,
                otp: args.otp.as_deref(),
                reason: args.reason.as_deref(),
                ticket: args.ticket.as_deref(),
            };
            issue::fetch(&session, &mut agent, &ask).await?
        }
    };
    connect(
        &home,
        &role,
        &certificate,
        &destination,
        &args.connection,
        &args.command,
    )
}

/// Write the role's `run/` files for `certificate` (already in the agent) and replace this
/// process with ssh to `destination`. Returns only on failure.
pub fn connect(
    home: &Home,
    role: &str,
    certificate: &Certificate,
    destination: &Destination,
    connection: &Connection,
    command: &[String],
) -> anyhow::Result<()> {
    let public_key = PublicKey::new(
        certificate.public_key().clone(),
        crate::agent::comment_for(role),
    )
    .to_openssh()
    .context("cannot encode the certificate's public key")?;
    let certificate_line = certificate
        .to_openssh()
        .context("cannot encode the certificate")?;
    let (key_path, cert_path) = home.write_run_files(role, &public_key, &certificate_line)?;
    let jit_known_hosts = home.known_hosts_path();
    let login = login_for(
        connection.login.as_deref(),
        destination,
        certificate.valid_principals(),
    );
    let invocation = SshInvocation {
        public_key: &key_path,
        certificate: &cert_path,
        port: connection.port,
        login: login.as_deref(),
        options: &connection.ssh_options,
        known_hosts: Some(jit_known_hosts.as_path()).filter(|p| p.exists()),
        host: &destination.host,
        command,
    };
    exec_ssh(&invocation.arguments())
}

/// The role's certificate to reuse: the one that expires last, if it has more than
/// [`REUSE_MARGIN_SECONDS`] left.
pub fn reusable(mut certificates: Vec<JitCertificate>, now: u64) -> Option<JitCertificate> {
    certificates.sort_by_key(|c| std::cmp::Reverse(c.certificate.valid_before()));
    certificates
        .into_iter()
        .next()
        .filter(|c| c.seconds_left(now) > REUSE_MARGIN_SECONDS)
}

/// Replace this process with ssh (`$JIT_SSH` or `ssh`).
fn exec_ssh(arguments: &[OsString]) -> anyhow::Result<()> {
    let program = std::env::var_os("JIT_SSH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("ssh"));
    tracing::debug!(program = ?program, args = ?arguments, "exec ssh");
    let err = std::process::Command::new(&program).args(arguments).exec();
    Err(fail(
        format!("cannot run {}: {err}", program.to_string_lossy()),
        "install the OpenSSH client (`apt-get install -y openssh-client`) or set JIT_SSH to its path",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_at_the_last_at() {
        let d = Destination::parse("deploy@web-1").unwrap();
        assert_eq!(d.user.as_deref(), Some("deploy"));
        assert_eq!(d.host, "web-1");
        let d = Destination::parse("a@b@web-1").unwrap();
        assert_eq!(d.user.as_deref(), Some("a@b"));
        assert_eq!(Destination::parse("web-1").unwrap().user, None);
        for bad in ["", "user@", "-oProxyCommand=x", "a b"] {
            assert!(Destination::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_prefers_flag_then_destination_then_principal() {
        let principals = vec!["deploy".to_string(), "web".to_string()];
        let with_user = Destination::parse("root@h").unwrap();
        let bare = Destination::parse("h").unwrap();
        assert_eq!(
            login_for(Some("x"), &with_user, &principals).as_deref(),
            Some("x")
        );
        assert_eq!(
            login_for(None, &with_user, &principals).as_deref(),
            Some("root")
        );
        assert_eq!(
            login_for(None, &bare, &principals).as_deref(),
            Some("deploy")
        );
        assert_eq!(login_for(None, &bare, &[]), None);
    }

    #[test]
    fn ssh_arguments_put_jit_options_first_and_end_options() {
        let options = vec!["StrictHostKeyChecking=no".to_string()];
        let command = vec!["ls".to_string(), "-la".to_string()];
        let invocation = SshInvocation {
            public_key: Path::new("/h/run/web.pub"),
            certificate: Path::new("/h/run/web-cert.pub"),
            port: Some(2222),
            login: Some("deploy"),
            options: &options,
            known_hosts: None,
            host: "web-1",
            command: &command,
        };
        let args: Vec<String> = invocation
            .arguments()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityFile=/h/run/web-cert.pub",
                "-p",
                "2222",
                "-l",
                "deploy",
                "-o",
                "StrictHostKeyChecking=no",
                "--",
                "web-1",
                "ls",
                "-la",
            ]
        );
    }

    #[test]
    fn the_jit_known_hosts_file_comes_first_unless_the_user_chose_one() {
        let mut invocation = SshInvocation {
            public_key: Path::new("/h/run/web.pub"),
            certificate: Path::new("/h/run/web-cert.pub"),
            port: None,
            login: None,
            options: &[],
            known_hosts: Some(Path::new("/h/known_hosts")),
            host: "web-1",
            command: &[],
        };
        let args = invocation.arguments();
        assert_eq!(
            args[4..6],
            [
                "-o",
                "UserKnownHostsFile=\"/h/known_hosts\" ~/.ssh/known_hosts"
            ]
        );
        let own = vec!["UserKnownHostsFile=/dev/null".to_string()];
        invocation.options = &own;
        let args = invocation.arguments();
        assert_eq!(
            args.iter()
                .filter(|a| a.to_string_lossy().contains("KnownHostsFile"))
                .count(),
            1
        );
    }
}
