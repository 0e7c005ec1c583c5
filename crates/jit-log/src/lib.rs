//! The tamper-evident issuance log: what a record holds, how records are chained, how
//! the log commits to its history in a Merkle tree with checkpoints, and how anyone
//! holding an export verifies it offline.
//!
//! # Layout
//! - [`record`]: the records (issuances, denials, enrollments, user changes).
//! - [`chain`]: sealing a record onto the chain and verifying a sequence of entries.
//! - [`merkle`]: the RFC 9162 Merkle tree over the entries, inclusion and consistency
//!   proofs, and the incremental [`merkle::Tree`].
//! - [`checkpoint`]: the checkpoint text the log key signs (signing happens elsewhere).
//! - [`receipt`]: the log receipt a certificate can carry (statement and extension text).
//! - [`audit`](mod@audit): checking an export against verified checkpoints.
//!
//! Each entry's hash is `SHA-256("jit-log-v1\0" || seq (u64 BE) || previous hash || body)`
//! where `body` is the record's canonical JSON, stored byte for byte. Editing, deleting or
//! reordering any entry changes a hash that a later entry (or the stored hash) depends on.
//!
//! The chain is unkeyed, so whoever holds the database can recompute it after a rewrite.
//! Leaf `i` of the Merkle tree is `SHA-256(0x00 || body)` of the entry with `seq = i + 1`,
//! and signed checkpoints of the tree head pin history: a rewrite of a covered record, a
//! truncation or a fork changes a head the log key vouched for.
#![forbid(unsafe_code)]

pub mod audit;
pub mod chain;
pub mod checkpoint;
pub mod merkle;
pub mod receipt;
pub mod record;

pub use audit::{audit, AuditPoint, AuditSummary};
pub use chain::{seal, verify_chain, ChainError, Entry, Hash, VerifiedChain, GENESIS};
pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use record::{
    CaChange, DecisionRecord, Denial, Enrollment, Event, HostChange, Issuance, Operator,
    PolicyLoad, Record, RequestRecord, ReviewRecord, RevocationRecord, UserChange,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record body is not valid record JSON.
    #[error("log record {seq} is not a valid record: {source}")]
    BadRecord {
        /// Sequence number of the entry.
        seq: u64,
        /// Parse error.
        source: serde_json::Error,
    },
    /// The chain does not verify.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A proof asked for a leaf the tree does not have.
    #[error("leaf {index} is not in a tree of {tree_size} leaves")]
    LeafIndexOutOfRange {
        /// The leaf asked for (0-based).
        index: u64,
        /// The tree's size.
        tree_size: u64,
    },
    /// A head or proof asked for a tree larger than the one at hand.
    #[error("a tree of {size} leaves was asked for, but there are only {tree_size}")]
    TreeSizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// The largest size available.
        tree_size: u64,
    },
    /// An inclusion proof does not verify.
    #[error("the inclusion proof does not verify: {reason}")]
    BadInclusionProof {
        /// Why.
        reason: String,
    },
    /// A consistency proof does not verify.
    #[error("the consistency proof does not verify: {reason}")]
    BadConsistencyProof {
        /// Why.
        reason: String,
    },
    /// Checkpoint text is not in the one accepted form.
    #[error("not a valid checkpoint: {reason}")]
    BadCheckpoint {
        /// Why.
        reason: String,
    },
    /// A log receipt is malformed.
    #[error("the log receipt in the certificate is malformed")]
    BadReceipt,
    /// An offline audit found the log and its checkpoints do not agree.
    #[error("the log audit failed at {at}: {reason}")]
    Audit {
        /// The first entry or checkpoint that fails.
        at: AuditPoint,
        /// What is wrong there.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
