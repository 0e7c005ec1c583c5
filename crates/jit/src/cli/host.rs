//! The flags of the host commands (run as root on an SSH server): `jit host enroll`,
//! `jit host renew`, `jit host sync`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::parse_seconds;

/// Where the host commands keep their files unless `--dir` says otherwise.
pub const DEFAULT_DIR: &str = "/etc/ssh/jit";
/// The host key certified unless `--host-key` says otherwise.
pub const DEFAULT_HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// `jit host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: HostCommand,
}

/// The host subcommands.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Get a host certificate for this server's SSH host key with a one-time host token.
    #[command(
        long_about = "Get a host certificate for this server's SSH host key with a one-time \
        host token.\n\n\
        Sends the host public key (--host-key) to the jit server named in TOKEN and writes the \
        certificate next to the key as KEY-cert.pub (e.g. \
        /etc/ssh/ssh_host_ed25519_key-cert.pub, mode 0644, replaced atomically). Saves the \
        server, its TLS pin and the paths in DIR/host.json for `jit host renew` and \
        `jit host sync`. Prints the sshd_config line to add (HostCertificate PATH) on \
        standard output; reload sshd after adding it. Engineers whose jit trusts the server's \
        host CA then connect without a host key prompt.",
        after_help = "Examples:\n  \
        jit host enroll jit1_eyJ1cmwiOi...\n  \
        jit host enroll --host-key /etc/ssh/ssh_host_ed25519_key.pub --dir /etc/ssh/jit TOKEN\n\n\
        The operator makes the token with `jitd host add NAME --principals NAME,FQDN`."
    )]
    Enroll(HostEnrollArgs),
    /// Renew the host certificate when it is close to expiry (signed with the host key).
    #[command(
        long_about = "Renew the host certificate when it is close to expiry.\n\n\
        Reads DIR/host.json and the current certificate. If it expires within --before (or \
        with --force), asks the server for a new one, signing the request with the host \
        PRIVATE key (the host key path without .pub: OpenSSH format, unencrypted; needs \
        root), and replaces the certificate atomically. Otherwise it says the renewal is not \
        due and exits 0. sshd only reads HostCertificate when it starts or reloads: jit runs \
        --reload-command after a renewal, or prints how to reload.",
        after_help = "Examples:\n  \
        jit host renew\n  \
        jit host renew --before 14d --reload-command 'systemctl reload ssh'\n  \
        jit host renew --force\n\n\
        deploy/host/jit-host-renew.timer runs it daily."
    )]
    Renew(HostRenewArgs),
    /// Refresh the trusted user CA keys and the KRL (revoked certificates) for sshd.
    #[command(
        long_about = "Refresh the trusted user CA keys and the KRL (revoked certificates) for \
        sshd.\n\n\
        Fetches GET /v1/ca/user_ca.pub into DIR/user_ca.pub (sshd: TrustedUserCAKeys) and \
        GET /v1/krl into DIR/revoked.krl (sshd: RevokedKeys). A file is replaced, atomically, \
        only when its download completed and the content is sane (at least one public key; a \
        KRL that starts with SSHKRL and parses); otherwise the old file is kept byte for \
        byte. The KRL is asked for with If-None-Match, using the ETag kept in DIR/sync.json \
        with the times of the last refreshes. The server and TLS pin come from --server and \
        --tls-sha256, else DIR/host.json (`jit host enroll`), else the last sync.\n\n\
        Exit status: 0 when both files are current; 1 when something failed (what failed is \
        printed); 2 when it failed and the KRL was last refreshed longer ago than \
        --stale-after (an `ALERT: KRL on this host is stale ...` line is printed).",
        after_help = "Examples:\n  \
        jit host sync\n  \
        jit host sync --server https://jit.example.com:8443 --tls-sha256 9f86d0...\n  \
        jit host sync --stale-after 30m\n\n\
        deploy/host/jit-host-sync.timer runs it every 5 minutes."
    )]
    Sync(HostSyncArgs),
    /// sshd AuthorizedPrincipalsCommand for hosts that require log receipts: prints the
    /// account's principals only for a certificate carrying a valid receipt signed by the log
    /// key, so a certificate minted outside the jit log (a stolen CA key) is refused.
    #[command(after_help = "sshd_config (instead of AuthorizedPrincipalsFile):\n  \
        AuthorizedPrincipalsCommand /usr/local/bin/jit host principals --user %u --type %t --key %k\n  \
        AuthorizedPrincipalsCommandUser nobody\n\n\
        Principals come from DIR/principals/ACCOUNT (one per line); the log key from \
        DIR/log_key.pub, which `jit host sync` keeps current.")]
    Principals(HostPrincipalsArgs),
}

/// `jit host principals`.
#[derive(Debug, Args)]
pub struct HostPrincipalsArgs {
    /// Directory with principals/ and log_key.pub.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// The account being logged into (sshd's %u).
    #[arg(long)]
    pub user: String,
    /// The key or certificate type (sshd's %t).
    #[arg(long = "type")]
    pub key_type: String,
    /// The base64 key or certificate blob (sshd's %k).
    #[arg(long)]
    pub key: String,
}

/// `jit host enroll`.
#[derive(Debug, Args)]
pub struct HostEnrollArgs {
    /// The one-time host token from your operator (starts with `jit1_`).
    #[arg(value_name = "TOKEN")]
    pub token: String,
    /// The host public key to certify (its private key must sit next to it, without .pub).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HOST_KEY)]
    pub host_key: PathBuf,
    /// Directory for host.json, user_ca.pub, revoked.krl and sync.json (created 0755).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
}

/// `jit host renew`.
#[derive(Debug, Args)]
pub struct HostRenewArgs {
    /// Directory holding host.json (see `jit host enroll`).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Renew when the certificate expires within this long, e.g. `7d`, `36h`.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_seconds)]
    pub before: u64,
    /// Renew now, however long the certificate is still valid.
    #[arg(long)]
    pub force: bool,
    /// Run this shell command after a renewal so sshd serves the new certificate, e.g.
    /// `systemctl reload ssh`.
    #[arg(long, value_name = "COMMAND")]
    pub reload_command: Option<String>,
}

/// `jit host sync`.
#[derive(Debug, Args)]
pub struct HostSyncArgs {
    /// Directory for user_ca.pub, revoked.krl and sync.json (created 0755 if missing).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// The jit server (`https://HOST:PORT`); default: from DIR/host.json or the last sync.
    #[arg(long, value_name = "URL", requires = "tls_sha256")]
    pub server: Option<String>,
    /// SHA-256 of the server's TLS certificate, hex (what `jitd init` printed).
    #[arg(long, value_name = "HEX", requires = "server")]
    pub tls_sha256: Option<String>,
    /// When a refresh fails and the KRL is older than this, alert and exit 2.
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_seconds)]
    pub stale_after: u64,
}
