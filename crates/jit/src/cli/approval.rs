//! The flags of the approval commands: `jit request`, `jit requests`, `jit approve`, `jit deny`.

use clap::Args;

use super::{parse_seconds, parse_text, Connection};

/// `jit request`.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("connecting")
        .args(["port", "login", "ssh_options"])
        .multiple(true)
        .requires("destination")
))]
pub struct RequestArgs {
    /// The role to ask for (one that needs approval).
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// Why you need it: approvers read this, and it is kept in the issuance log.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: String,
    /// Ticket reference, e.g. `INC-123` (checked against the role's ticket pattern).
    #[arg(long, value_name = "TICKET", value_parser = parse_text)]
    pub ticket: Option<String>,
    /// Longest certificate lifetime wanted, e.g. `30m` (default: the role's default).
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub ttl: Option<u64>,
    /// Wait for the decision, then get the certificate (and connect when HOST is given).
    #[arg(long)]
    pub wait: bool,
    /// Stop waiting after this long, e.g. `15m` (the request itself stays pending).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        value_parser = parse_seconds,
        requires = "wait"
    )]
    pub timeout: u64,
    /// The 6-digit code from your authenticator app, used once the request is approved
    /// (otherwise asked for then, or read from stdin). Codes change every 30 seconds.
    #[arg(long, value_name = "CODE", requires = "wait")]
    pub otp: Option<String>,
    /// How ssh connects.
    #[command(flatten)]
    pub connection: Connection,
    /// Where to connect once approved: `host` or `user@host` (needs --wait).
    #[arg(value_name = "[USER@]HOST", requires = "wait")]
    pub destination: Option<String>,
    /// Command to run on the remote host (default: an interactive shell).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `jit requests`.
#[derive(Debug, Args)]
pub struct RequestsArgs {
    /// Print one JSON object: `{mine: [...], to_decide: [...]}`.
    #[arg(long)]
    pub json: bool,
}

/// `jit approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The request ID (from `jit requests` or the requester).
    #[arg(value_name = "ID")]
    pub id: String,
    /// A note kept with your approval.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: Option<String>,
    /// Your own 6-digit code (otherwise asked for, or read from stdin).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
}

/// `jit deny`.
#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The request ID (from `jit requests` or the requester).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why: the requester sees it, and it is kept in the log.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: String,
    /// Your own 6-digit code (otherwise asked for, or read from stdin).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let mut all = vec!["jit"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|cli| cli.command)
    }

    #[test]
    fn request_with_a_host_keeps_the_remote_command() {
        let Ok(Command::Request(args)) = parse(&[
            "request", "--role", "db-admin", "--reason", "INC-1", "--wait", "-p", "2222",
            "dba@db-1", "ls", "--otp", "x",
        ]) else {
            panic!("not a request")
        };
        assert_eq!(args.timeout, 3600);
        assert_eq!(args.connection.port, Some(2222));
        assert_eq!(args.destination.as_deref(), Some("dba@db-1"));
        assert_eq!(args.command, ["ls", "--otp", "x"]);
        assert_eq!(args.otp, None);
    }

    #[test]
    fn request_needs_role_and_reason_and_a_host_needs_wait() {
        assert!(parse(&["request", "--role", "r"]).is_err());
        assert!(parse(&["request", "--reason", "x"]).is_err());
        assert!(parse(&["request", "--role", "r", "--reason", " "]).is_err());
        assert!(parse(&["request", "--role", "r", "--reason", "x"]).is_ok());
        for needs_wait in [&["db-1"][..], &["--timeout", "5m"], &["--otp", "123456"]] {
            let mut args = vec!["request", "--role", "r", "--reason", "x"];
            args.extend_from_slice(needs_wait);
            assert!(parse(&args).is_err(), "{needs_wait:?}");
        }
        let no_host = [
            "request", "--role", "r", "--reason", "x", "--wait", "-p", "22",
        ];
        assert!(parse(&no_host).is_err(), "-p needs a host");
    }

    #[test]
    fn deny_needs_a_reason_and_approve_does_not() {
        assert!(parse(&["deny", "abc"]).is_err());
        assert!(parse(&["deny", "abc", "--reason", "no"]).is_ok());
        assert!(parse(&["approve", "abc"]).is_ok());
        assert!(parse(&["approve"]).is_err());
    }
}
