//! The tamper-evident issuance log: what a record holds, how records are chained, and
//! how anyone holding an export verifies the chain offline.
//!
//! # Layout
//! - [`record`]: the records (issuances, denials, enrollments, user changes).
//! - [`chain`]: sealing a record onto the chain and verifying a sequence of entries.
//!
//! Each entry's hash is `SHA-256("jit-log-v1\0" || seq (u64 BE) || previous hash || body)`
//! where `body` is the record's canonical JSON, stored byte for byte. Editing, deleting or
//! reordering any entry changes a hash that a later entry (or the stored hash) depends on.
#![forbid(unsafe_code)]

pub mod chain;
pub mod record;

pub use chain::{seal, verify_chain, ChainError, Entry, Hash, VerifiedChain, GENESIS};
pub use record::{
    DecisionRecord, Denial, Enrollment, Event, Issuance, Record, RequestRecord, ReviewRecord,
    RevocationRecord, UserChange,
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
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
