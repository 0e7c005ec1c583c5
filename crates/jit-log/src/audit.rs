//! Offline audit of an exported log against the log's checkpoints.
//!
//! The hash chain alone shows that an export is internally consistent, but anyone can
//! recompute it after rewriting history. Checkpoints are signed by the log key, so a
//! rewrite of any record a checkpoint covers changes a tree head the log key vouched for.
//! Signatures are checked by the caller (the log key lives elsewhere); [`audit`] takes
//! checkpoints whose signatures already verified.

use std::fmt;

use crate::chain::{verify_chain, ChainError};
use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Hash, Tree};
use crate::{Entry, Error, Result};

/// What an audit established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// Number of entries, all chain-verified.
    pub entries: u64,
    /// Chain hash of the last entry ([`crate::GENESIS`] for an empty log).
    pub head: Hash,
    /// Merkle tree head over all entries.
    pub root: Hash,
    /// Number of checkpoints matched against the entries.
    pub checkpoints: usize,
    /// Records covered by the newest checkpoint (0 without checkpoints).
    pub covered: u64,
}

impl AuditSummary {
    /// Records after the newest checkpoint: only the hash chain protects them, and a
    /// rewrite that recomputes the chain goes unnoticed until a checkpoint covers them.
    pub fn uncovered(&self) -> u64 {
        self.entries - self.covered
    }
}

/// Where an audit failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditPoint {
    /// At a log entry.
    Entry {
        /// Sequence number of the first entry that does not verify.
        seq: u64,
    },
    /// At a checkpoint.
    Checkpoint {
        /// Position of the checkpoint in the list given to [`audit`] (0-based).
        index: usize,
        /// The number of records it covers.
        tree_size: u64,
    },
}

impl fmt::Display for AuditPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditPoint::Entry { seq } => write!(f, "log record {seq}"),
            AuditPoint::Checkpoint { index, tree_size } => {
                write!(f, "checkpoint [{index}] (tree size {tree_size})")
            }
        }
    }
}

/// Audit an exported log against checkpoints whose signatures the caller has verified.
///
/// Checks, reporting the first failure in log order (entry 1, the checkpoints of size 1,
/// entry 2, ...; the checkpoint list itself first):
/// - the checkpoints all name the same log and are in non-decreasing size and time
///   order (a pair out of order names the earlier one);
/// - the hash chain ([`verify_chain`]): the first broken entry;
/// - each checkpoint's tree head equals the head recomputed from the entries it covers,
///   and the export is long enough to hold them: the first failing checkpoint;
/// - each checkpoint is consistent with the one before it (a consistency proof built from
///   the entries links their heads).
///
/// A record edited without fixing the chain is named by its own `seq`; a rewrite that
/// recomputes the chain (or a truncation or fork) is named by the first checkpoint
/// covering the first changed record.
pub fn audit(entries: &[Entry], checkpoints: &[Checkpoint]) -> Result<AuditSummary> {
    check_list(checkpoints)?;
    let chain = verify_chain(entries.iter().cloned());
    let chain_verified = match &chain {
        Ok(verified) => verified.entries,
        Err(error) => error.seq - 1,
    };
    let mut tree = Tree::new();
    let mut previous: Option<&Checkpoint> = None;
    for (index, checkpoint) in checkpoints.iter().enumerate() {
        let at = AuditPoint::Checkpoint {
            index,
            tree_size: checkpoint.tree_size,
        };
        if checkpoint.tree_size > chain_verified {
            if let Err(error) = &chain {
                return Err(entry_failure(error.clone()));
            }
            return Err(failure(
                at,
                format!(
                    "it covers {} records but the log holds only {chain_verified} (records were removed from the end?)",
                    checkpoint.tree_size
                ),
            ));
        }
        grow(&mut tree, entries, checkpoint.tree_size);
        if tree.root() != checkpoint.root_hash {
            return Err(failure(
                at,
                format!(
                    "records 1 to {} do not have this checkpoint's tree head (one of them was changed, removed, inserted or moved)",
                    checkpoint.tree_size
                ),
            ));
        }
        if let Some(previous) = previous {
            let proof = tree.consistency_proof(previous.tree_size)?;
            previous
                .verify_consistency(checkpoint, &proof)
                .map_err(|error| {
                    failure(
                        at,
                        format!("it does not extend the checkpoint before it: {error}"),
                    )
                })?;
        }
        previous = Some(checkpoint);
    }
    let verified = chain.map_err(entry_failure)?;
    grow(&mut tree, entries, verified.entries);
    Ok(AuditSummary {
        entries: verified.entries,
        head: verified.head,
        root: tree.root(),
        checkpoints: checkpoints.len(),
        covered: previous.map_or(0, |checkpoint| checkpoint.tree_size),
    })
}

/// Same log, non-decreasing size and time.
fn check_list(checkpoints: &[Checkpoint]) -> Result<()> {
    for (index, pair) in checkpoints.windows(2).enumerate() {
        let [earlier, later] = pair else { continue };
        if later.origin != earlier.origin {
            return Err(failure(
                point(index + 1, later),
                format!(
                    "it is for log {:?}, the checkpoints before it for {:?}",
                    later.origin, earlier.origin
                ),
            ));
        }
        if later.tree_size < earlier.tree_size || later.timestamp < earlier.timestamp {
            return Err(failure(
                point(index, earlier),
                format!(
                    "it (size {}, time {}) is listed before checkpoint [{}] (size {}, time {}): checkpoints must grow in size and time",
                    earlier.tree_size,
                    earlier.timestamp,
                    index + 1,
                    later.tree_size,
                    later.timestamp
                ),
            ));
        }
    }
    Ok(())
}

/// Append the leaves of `entries` to `tree` until it holds `size` (already chain-verified
/// entries, so within `entries`).
fn grow(tree: &mut Tree, entries: &[Entry], size: u64) {
    let from = usize::try_from(tree.size()).unwrap_or(usize::MAX);
    let to = usize::try_from(size).unwrap_or(usize::MAX);
    if let Some(new) = entries.get(from..to) {
        tree.extend(new.iter().map(merkle::entry_leaf_hash));
    }
}

fn point(index: usize, checkpoint: &Checkpoint) -> AuditPoint {
    AuditPoint::Checkpoint {
        index,
        tree_size: checkpoint.tree_size,
    }
}

fn failure(at: AuditPoint, reason: String) -> Error {
    Error::Audit { at, reason }
}

fn entry_failure(error: ChainError) -> Error {
    failure(AuditPoint::Entry { seq: error.seq }, error.reason)
}
