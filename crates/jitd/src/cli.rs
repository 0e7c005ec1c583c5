//! Command-line interface of `jitd`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// jitd: the jit SSH certificate authority.
///
/// Start with `jitd init --data-dir DIR`, then `jitd serve`, then `jitd user add NAME
/// --groups G` to hand an engineer an enrollment token.
#[derive(Debug, Parser)]
#[command(name = "jitd", version, about, long_about = None)]
pub struct Cli {
    /// Data directory (configuration, CA keys, TLS, database).
    #[arg(
        long,
        global = true,
        env = "JITD_DATA_DIR",
        default_value = "/var/lib/jitd"
    )]
    pub data_dir: PathBuf,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a CA: user and host CA keys, TLS certificate, jitd.toml, policy.toml, database.
    Init(InitArgs),
    /// Serve the HTTPS API until SIGTERM.
    Serve(ServeArgs),
    /// Manage users and enrollment tokens.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Read and verify the issuance log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Show the CA public keys.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Revoke certificates or a key: they go into the KRL hosts fetch from /v1/krl.
    Revoke(RevokeArgs),
    /// Manage hosts (host certificates).
    #[command(subcommand)]
    Host(HostCommand),
}

/// `jitd host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Add (or re-token) a host and print a one-time token for `jit host enroll` on it.
    Add {
        /// Host name in jitd.
        name: String,
        /// Comma-separated names clients use: host names and IP addresses.
        #[arg(long, value_delimiter = ',', required = true)]
        principals: Vec<String>,
        /// How long the token stays valid (default from jitd.toml, 24h).
        #[arg(long)]
        token_ttl: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Who makes the change, for the log (default: $SUDO_USER or $USER); the account
        /// the command runs as is recorded beside it.
        #[arg(long)]
        by: Option<String>,
    },
}

/// `jitd revoke`: exactly one of --serial, --key-id, --user, --key.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(false)))]
pub struct RevokeArgs {
    /// A certificate serial.
    #[arg(long, group = "target")]
    pub serial: Option<u64>,
    /// A certificate key ID (`user@role#serial`, as sshd logs it).
    #[arg(long, group = "target")]
    pub key_id: Option<String>,
    /// Every unexpired certificate of a user (does not disable the user).
    #[arg(long, group = "target")]
    pub user: Option<String>,
    /// A public key, OpenSSH format (revokes every certificate for it too).
    #[arg(long, group = "target")]
    pub key: Option<String>,
    /// Why (kept in the issuance log).
    #[arg(long, default_value = "revoked by an operator")]
    pub reason: String,
    /// Who revokes (default: $SUDO_USER or $USER).
    #[arg(long)]
    pub by: Option<String>,
}

/// `jitd ca ...`.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the CA public keys (no passphrase needed): the user CA lines are what sshd's
    /// TrustedUserCAKeys file holds. During a rotation, the signing key comes first.
    Show {
        /// Only the user CA keys.
        #[arg(long, conflicts_with = "host")]
        user: bool,
        /// Only the host CA keys.
        #[arg(long, conflicts_with = "log")]
        host: bool,
        /// Only the log signing key (verifies checkpoints; not a CA key).
        #[arg(long, conflicts_with = "user")]
        log: bool,
    },
    /// Add a new CA key that signs from now on; the old one stays published and trusted
    /// until `jitd ca retire`. Restart `jitd serve` afterwards.
    Rotate {
        /// Rotate the user CA.
        #[arg(long, conflicts_with = "host", required_unless_present = "host")]
        user: bool,
        /// Rotate the host CA.
        #[arg(long)]
        host: bool,
        /// Passphrase source for encrypting the new key.
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Write the new key unencrypted.
        #[arg(long)]
        insecure_no_passphrase: bool,
        /// Who rotates, for the log (default: $SUDO_USER or $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Remove an earlier CA key (by its SHA256: fingerprint) once every certificate it
    /// signed has expired. Restart `jitd serve` afterwards.
    Retire {
        /// Fingerprint of the key, as `ssh-keygen -lf` prints it (`SHA256:...`).
        fingerprint: String,
        /// Retire it even though certificates it signed are still valid (they stop working).
        #[arg(long)]
        force: bool,
        /// Who retires, for the log (default: $SUDO_USER or $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Where the CA passphrase comes from (also `JITD_CA_PASSPHRASE`).
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// File whose first line is the CA key passphrase (or set JITD_CA_PASSPHRASE).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

/// `jitd init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Address the API will listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// URL clients use to reach the API (default: https://LISTEN).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Passphrase source for encrypting the CA keys.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Write the CA keys unencrypted (only when the disk itself is protected).
    #[arg(long)]
    pub insecure_no_passphrase: bool,
}

/// `jitd serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Override the configured listen address.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Passphrase source for decrypting the CA keys.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `jitd user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print a one-time enrollment token.
    Add {
        /// User name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// Comma-separated groups (policy roles allow groups).
        #[arg(long, value_delimiter = ',', required = true)]
        groups: Vec<String>,
        /// How long the token stays valid (default from jitd.toml, 24h).
        #[arg(long)]
        token_ttl: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Who makes the change, for the log (default: $SUDO_USER or $USER); the account
        /// the command runs as is recorded beside it.
        #[arg(long)]
        by: Option<String>,
    },
    /// Print a new enrollment token for an existing user (e.g. a new laptop).
    Token {
        /// User name.
        name: String,
        /// How long the token stays valid.
        #[arg(long)]
        token_ttl: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Who makes the change, for the log (default: $SUDO_USER or $USER); the account
        /// the command runs as is recorded beside it.
        #[arg(long)]
        by: Option<String>,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: every later request of theirs is refused.
    Disable {
        /// User name.
        name: String,
        /// Who makes the change, for the log (default: $SUDO_USER or $USER); the account
        /// the command runs as is recorded beside it.
        #[arg(long)]
        by: Option<String>,
    },
    /// Enable a disabled user again.
    Enable {
        /// User name.
        name: String,
        /// Who makes the change, for the log (default: $SUDO_USER or $USER); the account
        /// the command runs as is recorded beside it.
        #[arg(long)]
        by: Option<String>,
    },
}

/// `jitd policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy file; errors are reported with line numbers.
    Check {
        /// Policy file (default: the one jitd.toml names).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Show the decision for a user and a role, with every reason (groups, approval, TTL,
    /// business hours).
    Explain {
        /// User name (its groups come from the database).
        #[arg(long)]
        user: String,
        /// Role name.
        #[arg(long)]
        role: String,
        /// Decide as of this time (RFC 3339 or Unix seconds; default now).
        #[arg(long)]
        at: Option<String>,
    },
}

/// `jitd audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print log entries as JSON lines ({"seq","hash","body"}; body is the record's canonical JSON).
    Export {
        /// Only records at or after this time (RFC 3339, Unix seconds, or an age like `2h`).
        #[arg(long)]
        since: Option<String>,
    },
    /// Verify the hash chain; names the first broken record.
    Verify {
        /// Verify an export file (`jitd audit export`) instead of the database.
        #[arg(long)]
        file: Option<PathBuf>,
        /// With --file: signed checkpoints (`jitd audit checkpoints`) to check against it.
        #[arg(long, requires = "file")]
        checkpoints: Option<PathBuf>,
        /// With --checkpoints: the log public key (`ssh-ed25519 ...` line, from /v1/log/key).
        #[arg(long, requires = "checkpoints")]
        log_key: Option<PathBuf>,
    },
    /// Print the signed checkpoints as JSON lines (for offline verification).
    Checkpoints,
    /// Find records by user, principal, role, serial, time and type: a table, or JSON lines.
    Search(SearchArgs),
    /// The access report of a time window (who had which access; denials, approvals,
    /// revocations, break-glass reviews) as HTML with a timeline, CSV or JSON.
    Report(ReportArgs),
    /// Match sshd's "Accepted ... (serial N)" log lines to issuance records; flags logins with
    /// a serial the log does not have (a certificate minted outside jitd). Exit 1 if any.
    Join {
        /// sshd log file(s) (e.g. /var/log/auth.log, or `journalctl -u ssh` output); `-` for stdin.
        #[arg(required = true)]
        sshd_logs: Vec<PathBuf>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// List break-glass issuances not yet reviewed.
    Review {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Close the review of a break-glass issuance (by certificate serial).
    Ack {
        /// Serial of the break-glass certificate (from `jitd audit review`).
        serial: u64,
        /// What the reviewer found.
        #[arg(long)]
        note: String,
        /// Reviewer name (default: $SUDO_USER or $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `jitd audit search`: every filter given must match.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    jitd audit search --user alice --since 7days\n  \
    jitd audit search --serial 14683068457210863261\n  \
    jitd audit search --role break-glass --type issued,reviewed --json\n  \
    jitd audit search --file jit-log.jsonl --type denied")]
pub struct SearchArgs {
    /// Records naming this person: as user or requester, approver, reviewer or revoker, or
    /// as the user of a certificate the record reviews or revokes.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Records about a certificate with this principal (its issuance, review, revocation).
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Option<String>,
    /// Records about this role (for reviews and revocations: the certificate's role).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Records about this certificate serial (issued, reviewed, revoked).
    #[arg(long, value_name = "SERIAL")]
    pub serial: Option<u64>,
    /// Only records at or after this time (RFC 3339, Unix seconds, or an age like `2h`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339, Unix seconds, or an age like `2h`).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only these record types (repeat, or separate with commas).
    #[arg(long = "type", value_name = "TYPE", value_enum, value_delimiter = ',')]
    pub types: Vec<RecordType>,
    /// Search an export file (`jitd audit export`) instead of the database.
    #[arg(long, value_name = "EXPORT")]
    pub file: Option<PathBuf>,
    /// Print JSON lines: `seq` followed by the record's fields.
    #[arg(long)]
    pub json: bool,
}

/// A log record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordType {
    /// A certificate was issued.
    Issued,
    /// A certificate request was refused.
    Denied,
    /// A device finished enrollment.
    Enrolled,
    /// An operator changed a user.
    User,
    /// An access request was made.
    Requested,
    /// An approver decided a request.
    Decided,
    /// A break-glass review was closed.
    Reviewed,
    /// Certificates or a key were revoked.
    Revoked,
}

impl RecordType {
    /// The `type` field of such records.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Issued => "issued",
            RecordType::Denied => "denied",
            RecordType::Enrolled => "enrolled",
            RecordType::User => "user",
            RecordType::Requested => "requested",
            RecordType::Decided => "decided",
            RecordType::Reviewed => "reviewed",
            RecordType::Revoked => "revoked",
        }
    }
}

/// `jitd audit report`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    jitd audit report --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --out november.html\n  \
    jitd audit report --since 7days --format json > week.json\n  \
    jitd audit report --since 7days --format csv --what denials > denials.csv\n\n\
    Certificates are in the report when their validity overlaps the window; denials, \
    requests, decisions, revocations and reviews when they were made inside it.")]
pub struct ReportArgs {
    /// Start of the window, inclusive (RFC 3339, Unix seconds, or an age like `7days`).
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// End of the window, exclusive (default: now).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Output format: one HTML page with a timeline, CSV (one table), or one JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// With --format csv: which table to print (default: grants).
    #[arg(long, value_enum, value_name = "TABLE")]
    pub what: Option<ReportTable>,
    /// Report on an export file (`jitd audit export`) instead of the database.
    #[arg(long, value_name = "EXPORT")]
    pub file: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `jitd audit report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page (inline CSS and SVG, no script).
    Html,
    /// CSV of one table (see --what).
    Csv,
    /// One JSON document with every section.
    Json,
}

/// `jitd audit report --what`: the table a CSV report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportTable {
    /// One row per certificate valid in the window.
    Grants,
    /// One row per refused certificate request.
    Denials,
    /// One row per access request, with its decisions.
    Approvals,
    /// One row per revocation.
    Revocations,
    /// One row per closed break-glass review.
    Reviews,
}

impl UserCommand {
    /// The `--by` name, for commands that change a user.
    pub fn by(&self) -> Option<String> {
        match self {
            UserCommand::Add { by, .. }
            | UserCommand::Token { by, .. }
            | UserCommand::Disable { by, .. }
            | UserCommand::Enable { by, .. } => by.clone(),
            UserCommand::List { .. } => None,
        }
    }
}
