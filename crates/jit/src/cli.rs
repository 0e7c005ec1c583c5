//! The command line: subcommands, flags and their help texts.

use clap::{Args, Parser, Subcommand};

mod approval;
mod audit;
mod host;

pub use approval::{ApproveArgs, DenyArgs, RequestArgs, RequestsArgs};
pub use audit::{AuditArgs, AuditCommand, CheckpointArgs, LogKeyArg, ProveArgs, VerifyArgs};
pub use host::{
    HostArgs, HostCommand, HostEnrollArgs, HostPrincipalsArgs, HostRenewArgs, HostSyncArgs,
    DEFAULT_DIR, DEFAULT_HOST_KEY,
};

/// Just-in-time SSH access: short-lived SSH certificates from your jit server.
#[derive(Debug, Parser)]
#[command(
    name = "jit",
    version,
    about = "Just-in-time SSH access: short-lived SSH certificates from your jit server",
    long_about = "Just-in-time SSH access: short-lived SSH certificates from your jit server.\n\n\
        Enroll this device once with the token your operator gave you (`jit enroll TOKEN`), \
        then connect with `jit ssh [user@]host`: jit makes a fresh key in memory, asks for a \
        code from your authenticator app, gets a certificate that expires on its own, loads \
        it into ssh-agent and runs ssh.\n\n\
        Roles that need approval: `jit request --role ROLE --reason TEXT --wait HOST`; \
        approvers see pending requests with `jit requests` and decide with `jit approve ID` or \
        `jit deny ID --reason TEXT`.\n\n\
        On an SSH server (as root): `jit host enroll TOKEN` certifies the host key, \
        `jit host renew` keeps that certificate fresh, and `jit host sync` refreshes the \
        trusted user CA keys and the KRL for sshd (deploy/host/setup.sh sets all of it up).",
    after_help = "Files live in $JIT_HOME (default: $XDG_CONFIG_HOME/jit or ~/.config/jit).\n\
        Set JIT_LOG=debug for diagnostic logs on stderr."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register this device with a jit server and set up your authenticator app.
    #[command(
        long_about = "Register this device with a jit server and set up your authenticator app.\n\n\
        Creates the device key ($JIT_HOME/device_ed25519), registers it with the server named \
        in TOKEN, shows the TOTP secret as a QR code for your authenticator app, then asks for \
        the first 6-digit code to confirm. The code is read from --otp, from the terminal, or \
        from the first line of standard input. If no code is available the enrollment stays \
        pending: finish it later with `jit enroll --confirm`.",
        after_help = "Examples:\n  \
        jit enroll jit1_eyJ1cmwiOi...\n  \
        jit enroll --confirm\n  \
        jit enroll --json --name laptop jit1_eyJ1cmwiOi... < /dev/null"
    )]
    Enroll(EnrollArgs),
    /// Get a short-lived certificate for a role and run ssh with it.
    #[command(
        long_about = "Get a short-lived certificate for a role and run ssh with it.\n\n\
        Picks the role (--role, or the first of your roles whose host patterns match HOST), \
        reuses a certificate for that role already in ssh-agent if it has more than 30 seconds \
        left, and otherwise makes a fresh key in memory, asks for a TOTP code and requests a \
        new certificate. Key and certificate go into ssh-agent with a lifetime that ends with \
        the certificate; the private key is never written to disk. Then jit replaces itself \
        with `ssh` (or $JIT_SSH), so the exit status is the remote command's.",
        after_help = "Examples:\n  \
        jit ssh web-1\n  \
        jit ssh --role web-oncall --ttl 30m deploy@web-1.example.com\n  \
        jit ssh -p 2222 -o StrictHostKeyChecking=accept-new web-1 uptime\n  \
        jit ssh --role prod-root --reason \"INC-123: database down\" db-1\n\n\
        A role that needs approval uses your approved request (see `jit request`). A \
        break-glass role issues at once, needs --reason, alerts everyone and is reviewed.\n\n\
        Needs a running ssh-agent (SSH_AUTH_SOCK). ssh runs as: ssh -o IdentitiesOnly=yes \
        -o IdentityFile=$JIT_HOME/run/ROLE-cert.pub \
        [-p PORT] [-l LOGIN] [-o OPTION]... -- HOST [COMMAND]..."
    )]
    Ssh(SshArgs),
    /// Ask approvers for a role that needs approval; optionally wait, then connect.
    #[command(
        long_about = "Ask approvers for a role that needs approval; optionally wait, then connect.\n\n\
        Creates a pending request (role, reason, ticket, TTL) and prints its ID; approvers \
        decide with `jit approve ID` or `jit deny ID --reason TEXT`. With --wait, jit polls \
        the request every 2 seconds and shows its state on one line until it is approved, \
        denied, expires or --timeout passes. Once approved it asks for a TOTP code, loads the \
        certificate into ssh-agent and, when HOST is given, runs ssh like \
        `jit ssh --role ROLE HOST [COMMAND]`. Without HOST, a later `jit ssh --role ROLE HOST` \
        reuses that certificate. An approved request can also be used later, within its \
        window, by `jit ssh --role ROLE HOST`.",
        after_help = "Examples:\n  \
        jit request --role db-admin --reason \"INC-123: replica lag\" --ticket INC-123\n  \
        jit request --role db-admin --reason \"INC-123\" --wait --timeout 30m dba@db-1\n\n\
        Exit status: 0 once the request is made (without --wait) or used; 1 if it is denied, \
        expires, or --timeout passes; with HOST, the remote command's status."
    )]
    Request(RequestArgs),
    /// List your requests and the pending ones you may approve or deny.
    Requests(RequestsArgs),
    /// Approve someone else's request (needs your own TOTP code).
    #[command(after_help = "Example:\n  jit approve 7f3a9c01\n\n\
        The code is read from --otp, from the terminal, or from the first line of standard \
        input. You can never approve your own request.")]
    Approve(ApproveArgs),
    /// Deny someone else's request, saying why (needs your own TOTP code).
    #[command(
        after_help = "Example:\n  jit deny 7f3a9c01 --reason \"not during the freeze\"\n\n\
        The code is read from --otp, from the terminal, or from the first line of standard \
        input. The requester sees your reason."
    )]
    Deny(DenyArgs),
    /// Show this device's enrollment and the jit certificates in ssh-agent.
    Status(StatusArgs),
    /// Remove jit certificates from ssh-agent (all, or one role's); optionally revoke them.
    #[command(
        long_about = "Remove jit certificates from ssh-agent (all, or one role's); optionally \
        revoke them.\n\n\
        With --revoke, jit first asks the server to revoke the unexpired certificates it is \
        about to remove (POST /v1/certificates/revoke, signed by this device), so hosts refuse \
        them once they refresh their KRL (`jit host sync`), even if a copy was left behind. \
        The certificates are removed from ssh-agent either way; if the server cannot be \
        reached, jit says so and exits with status 1.",
        after_help = "Examples:\n  jit logout\n  jit logout --role db-admin --revoke"
    )]
    Logout(LogoutArgs),
    /// On an SSH server: host certificate (`enroll`, `renew`) and sshd's CA keys and KRL (`sync`).
    Host(HostArgs),
    /// For auditors: check the issuance log's signed checkpoints, every record against them,
    /// and single certificates (`checkpoint`, `verify [--keep FILE]`, `prove --serial N`).
    Audit(AuditArgs),
}

/// `jit enroll`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["token", "confirm"])))]
pub struct EnrollArgs {
    /// The enrollment token from your operator (starts with `jit1_`).
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    /// Finish a pending enrollment with the code from your authenticator app.
    #[arg(long, conflicts_with_all = ["token", "name", "json", "force"])]
    pub confirm: bool,
    /// A label for this device on the server (default: this machine's host name).
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    /// The 6-digit code from your authenticator app (otherwise asked for, or read from stdin).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
    /// Print the enrollment (user, device, TOTP secret, otpauth URI) as one JSON object
    /// instead of a QR code.
    #[arg(long)]
    pub json: bool,
    /// Replace an existing enrollment: the old device key is deleted.
    #[arg(long)]
    pub force: bool,
}

/// `jit ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Role to use (default: the first of your roles whose host patterns match HOST).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Certificate lifetime, e.g. `15m`, `1h` (default: the role's default; at most its maximum).
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub ttl: Option<u64>,
    /// Why you need access: required by break-glass roles and by roles that ask for one;
    /// kept in the issuance log.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: Option<String>,
    /// Ticket reference, e.g. `INC-123` (checked against the role's ticket pattern).
    #[arg(long, value_name = "TICKET", value_parser = parse_text)]
    pub ticket: Option<String>,
    /// How ssh connects.
    #[command(flatten)]
    pub connection: Connection,
    /// The 6-digit code from your authenticator app (otherwise asked for, or read from stdin).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
    /// Where to connect: `host` or `user@host`.
    #[arg(value_name = "[USER@]HOST")]
    pub destination: String,
    /// Command to run on the remote host (default: an interactive shell).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// How ssh connects (`jit ssh`, and `jit request --wait` with a host).
#[derive(Debug, Clone, Default, Args)]
pub struct Connection {
    /// Port to connect to on the remote host (passed to ssh as `-p`).
    #[arg(short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Remote account (passed to ssh as `-l`; default: the user@ part of the destination,
    /// else the certificate's first principal).
    #[arg(short = 'l', value_name = "LOGIN")]
    pub login: Option<String>,
    /// An ssh option, e.g. `-o StrictHostKeyChecking=accept-new` (repeatable; passed to ssh).
    #[arg(short = 'o', value_name = "SSH_OPTION")]
    pub ssh_options: Vec<String>,
}

/// `jit status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object: `{enrolled: {...}|null, certificates: [...]}`.
    #[arg(long)]
    pub json: bool,
}

/// `jit logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Only remove the certificates of this role.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Also revoke them on the server (hosts refuse them after their next KRL refresh).
    #[arg(long)]
    pub revoke: bool,
}

/// Parse a duration such as `15m` or `1h30m` (`--ttl`, `--timeout`) into whole seconds.
fn parse_seconds(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (write a duration such as 15m, 1h or 1h30m)"))?;
    match duration.as_secs() {
        0 => Err("the duration must be at least one second".to_string()),
        secs => Ok(secs),
    }
}

/// A free-text value (`--reason`, `--ticket`): not blank, and no control characters.
fn parse_text(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("write some text (it must not be blank)".to_string());
    }
    if text.chars().any(char::is_control) {
        return Err("write it on one line, without control characters".to_string());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ssh_keeps_the_remote_command_intact() {
        let cli = Cli::try_parse_from([
            "jit",
            "ssh",
            "--role",
            "web",
            "-p",
            "2222",
            "-o",
            "A=b",
            "-oC=d",
            "alice@web-1",
            "ls",
            "-la",
            "--otp",
            "x",
        ])
        .unwrap();
        let Command::Ssh(args) = cli.command else {
            panic!("not ssh")
        };
        assert_eq!(args.role.as_deref(), Some("web"));
        assert_eq!(args.connection.port, Some(2222));
        assert_eq!(args.connection.ssh_options, ["A=b", "C=d"]);
        assert_eq!(args.destination, "alice@web-1");
        assert_eq!(args.command, ["ls", "-la", "--otp", "x"]);
        assert_eq!(args.otp, None);
    }

    #[test]
    fn durations_are_parsed_by_humantime() {
        assert_eq!(parse_seconds("15m"), Ok(900));
        assert_eq!(parse_seconds("1h 30m"), Ok(5400));
        assert!(parse_seconds("0s").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn free_text_is_one_non_blank_line() {
        assert_eq!(parse_text("INC-1: disk").as_deref(), Ok("INC-1: disk"));
        for bad in ["", "  ", "a\nb", "a\u{1b}[2Jb"] {
            assert!(parse_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_commands_have_safe_defaults() {
        let cli = Cli::try_parse_from(["jit", "host", "renew"]).unwrap();
        let Command::Host(HostArgs {
            command: HostCommand::Renew(args),
        }) = cli.command
        else {
            panic!("not host renew")
        };
        assert_eq!(args.before, 7 * 86_400);
        assert_eq!(args.dir, std::path::Path::new(DEFAULT_DIR));
        assert!(!args.force);
        let sync = ["jit", "host", "sync", "--server", "https://x"];
        assert!(Cli::try_parse_from(sync).is_err(), "a server needs its pin");
        assert!(Cli::try_parse_from(["jit", "host", "sync", "--stale-after", "0s"]).is_err());
    }

    #[test]
    fn enroll_needs_a_token_or_confirm() {
        assert!(Cli::try_parse_from(["jit", "enroll"]).is_err());
        assert!(Cli::try_parse_from(["jit", "enroll", "--confirm", "--otp", "123456"]).is_ok());
        assert!(Cli::try_parse_from(["jit", "enroll", "jit1_x", "--confirm"]).is_err());
    }
}
