//! Checkpoints: the log's statement "my first `tree_size` records have Merkle head
//! `root_hash`", as text to sign and as JSON to serve.
//!
//! The signed text follows the C2SP checkpoint / signed-note body: origin, tree size,
//! base64 head, then one extension line carrying the Unix time, each ending in `\n`.
//! Signing and signature checks live with the log key, outside this crate; they work on
//! [`Checkpoint::signed_text`] bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::merkle::{self, ConsistencyProof, Hash, InclusionProof, Tree};
use crate::{Error, Result};

/// What the log commits to at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Which log this is (a schema-less URL-like name, e.g. `jit.example.com/log`).
    pub origin: String,
    /// Number of records covered: the entries with `seq` 1 to `tree_size`.
    pub tree_size: u64,
    /// Merkle tree head over those records; lowercase hex in JSON.
    #[serde(with = "merkle::hex_hash")]
    pub root_hash: Hash,
    /// Unix seconds when the checkpoint was made (the caller's clock).
    pub timestamp: u64,
}

/// A checkpoint with the log key's signature over [`Checkpoint::signed_text`]: the JSON
/// form served by the API and written into exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Fingerprint of the log key that signed.
    pub key_id: String,
    /// The signature, base64.
    pub signature: String,
}

impl Checkpoint {
    /// The checkpoint of `tree` as it is now, made at `timestamp`.
    pub fn of(origin: impl Into<String>, tree: &Tree, timestamp: u64) -> Self {
        Self {
            origin: origin.into(),
            tree_size: tree.size(),
            root_hash: tree.root(),
            timestamp,
        }
    }

    /// The exact text that gets signed:
    /// `"<origin>\n<tree_size>\n<base64 root hash>\n<timestamp>\n"`.
    ///
    /// Only a checkpoint whose origin passes [`Checkpoint::check_origin`] parses back.
    pub fn signed_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            STANDARD.encode(self.root_hash),
            self.timestamp
        )
    }

    /// Parse signed text strictly: exactly four `\n`-terminated lines, a valid origin,
    /// decimal numbers without sign or leading zeros, and a canonical padded base64 head of
    /// 32 bytes. Anything else is refused, so one checkpoint has exactly one text.
    pub fn parse(text: &str) -> Result<Self> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text must end with a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, tree_size, root_hash, timestamp] = lines.as_slice() else {
            return Err(bad(format!(
                "expected 4 lines (origin, tree size, root hash, timestamp), found {}",
                lines.len()
            )));
        };
        Self::check_origin(origin)?;
        Ok(Self {
            origin: (*origin).to_owned(),
            tree_size: decimal(tree_size, "tree size")?,
            root_hash: root(root_hash)?,
            timestamp: decimal(timestamp, "timestamp")?,
        })
    }

    /// An origin is non-empty and holds no whitespace, control characters or `+` (the
    /// C2SP rules for origin lines and note key names).
    pub fn check_origin(origin: &str) -> Result<()> {
        if origin.is_empty() {
            return Err(bad("the origin is empty"));
        }
        if origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
        {
            return Err(bad(
                "the origin must not contain spaces, control characters or '+'",
            ));
        }
        Ok(())
    }

    /// Check that leaf hash `leaf` is in the tree this checkpoint commits to. The proof
    /// must be for this checkpoint's tree size: a head only means something with its size.
    pub fn verify_inclusion(&self, leaf: &Hash, proof: &InclusionProof) -> Result<()> {
        if proof.tree_size != self.tree_size {
            return Err(Error::BadInclusionProof {
                reason: format!(
                    "the proof is for a tree of {} records, the checkpoint covers {}",
                    proof.tree_size, self.tree_size
                ),
            });
        }
        merkle::verify_inclusion(leaf, proof, &self.root_hash)
    }

    /// Check that `newer` extends this checkpoint: same log, sizes as in the proof, and the
    /// proof links the two heads.
    pub fn verify_consistency(&self, newer: &Checkpoint, proof: &ConsistencyProof) -> Result<()> {
        let bad = |reason: String| Err(Error::BadConsistencyProof { reason });
        if self.origin != newer.origin {
            return bad(format!(
                "the checkpoints are from different logs ({:?} and {:?})",
                self.origin, newer.origin
            ));
        }
        if proof.old_size != self.tree_size || proof.new_size != newer.tree_size {
            return bad(format!(
                "the proof is from {} to {} records, the checkpoints cover {} and {}",
                proof.old_size, proof.new_size, self.tree_size, newer.tree_size
            ));
        }
        merkle::verify_consistency(&self.root_hash, &newer.root_hash, proof)
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::BadCheckpoint {
        reason: reason.into(),
    }
}

/// A `u64` in plain decimal: digits only, no leading zero (except `0` itself).
fn decimal(text: &str, what: &str) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("the {what} is not a decimal number")));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(bad(format!("the {what} has a leading zero")));
    }
    text.parse()
        .map_err(|_| bad(format!("the {what} is too large")))
}

/// A 32-byte hash in padded standard base64. The `STANDARD` engine only decodes the
/// canonical form (padding required, unused bits zero), so each hash has one text.
fn root(text: &str) -> Result<Hash> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| bad("the root hash is not canonical padded base64"))?;
    bytes
        .try_into()
        .map_err(|_| bad("the root hash is not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_json_uses_hex_for_the_head() {
        let checkpoint = Checkpoint {
            origin: "jit.example/log".into(),
            tree_size: 3,
            root_hash: [0x0f; 32],
            timestamp: 1_800_000_000,
        };
        let signed = SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            key_id: "SHA256:abc".into(),
            signature: "c2ln".into(),
        };
        let json = serde_json::to_value(&signed).expect("json");
        assert_eq!(json["checkpoint"]["root_hash"], "0f".repeat(32));
        assert_eq!(json["checkpoint"]["tree_size"], 3);
        let back: SignedCheckpoint = serde_json::from_value(json).expect("parse");
        assert_eq!(back, signed);
    }
}
