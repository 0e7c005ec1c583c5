//! `jit audit`: flags and help texts.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `jit audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to check.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// `jit audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Fetch the log's newest signed checkpoint and check its signature.
    #[command(after_help = "Examples:\n  \
        jit audit checkpoint\n  \
        jit audit checkpoint --log-key log_key.pub --json >> checkpoints.jsonl\n\n\
        The JSON line is what `jitd audit verify --checkpoints FILE` reads.")]
    Checkpoint(CheckpointArgs),
    /// Download every log record, recompute the Merkle tree and check it against the newest
    /// signed checkpoint; with --keep, also check that it extends the checkpoint kept last time.
    #[command(
        long_about = "Download every log record, recompute the Merkle tree and check it against \
        the newest signed checkpoint; with --keep, also check that it extends the checkpoint kept \
        last time.\n\n\
        Checks: the checkpoint's signature (log key from --log-key, else from the server); the \
        hash chain of every record; that the Merkle tree head of the first TREE_SIZE records is \
        the signed one. With --keep FILE: the checkpoint in FILE (from an earlier run) verifies \
        with the same key, the server's consistency proof from it to the new checkpoint verifies, \
        and the records downloaded now have its tree head too; then the new checkpoint replaces \
        it. Keep FILE where the jitd host cannot write: it is what proves the log was not \
        rewritten or cut back since.",
        after_help = "Examples:\n  \
        jit audit verify\n  \
        jit audit verify --keep ~/audit/jit-checkpoint.json --log-key ~/audit/log_key.pub\n\n\
        Needs membership of the auditor group (jitd.toml `auditor_group`, default `auditors`).\n\
        Exit status: 0 verified, 1 not (or the server could not be asked)."
    )]
    Verify(VerifyArgs),
    /// Prove that a certificate's issuance record is in the log: an inclusion proof checked
    /// against the newest signed checkpoint.
    #[command(
        after_help = "Example:\n  jit audit prove --serial 15728163288550473838\n\n\
        A certificate issued after the newest checkpoint is provable after the next one \
        (jitd signs one every minute while the log grows)."
    )]
    Prove(ProveArgs),
}

/// Where the log public key comes from.
#[derive(Debug, Clone, Args)]
pub struct LogKeyArg {
    /// The log public key (`ssh-ed25519 ...`, from `jitd ca show --log` or `/v1/log/key`) to
    /// check signatures with; without it, the key the server serves is used.
    #[arg(long, value_name = "FILE")]
    pub log_key: Option<PathBuf>,
}

/// `jit audit checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The log key to check with.
    #[command(flatten)]
    pub key: LogKeyArg,
    /// Print the verified signed checkpoint as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// `jit audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log key to check with.
    #[command(flatten)]
    pub key: LogKeyArg,
    /// A file holding the checkpoint of the last run: the new one must extend it, and
    /// replaces it once everything verifies (created on the first run).
    #[arg(long, value_name = "FILE")]
    pub keep: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `jit audit prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The log key to check with.
    #[command(flatten)]
    pub key: LogKeyArg,
    /// Serial of the certificate (as `jit status` or sshd's log shows it).
    #[arg(long, value_name = "SERIAL")]
    pub serial: u64,
    /// Print the record, the proof and the checkpoint as one JSON object.
    #[arg(long)]
    pub json: bool,
}
