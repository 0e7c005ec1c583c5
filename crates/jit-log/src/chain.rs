//! Sealing records onto the hash chain and verifying a chain offline.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::Record;

/// A SHA-256 chain hash.
pub type Hash = [u8; 32];

/// The "previous hash" of the first entry.
pub const GENESIS: Hash = [0; 32];

const DOMAIN: &[u8] = b"jit-log-v1\0";

/// One stored entry: its position, the record's canonical JSON, and the chain hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, starting at 1.
    pub seq: u64,
    /// Canonical JSON of the record, byte for byte as hashed.
    pub body: String,
    /// Chain hash, lowercase hex.
    pub hash: String,
}

impl Entry {
    /// Parse the record this entry holds.
    pub fn record(&self) -> crate::Result<Record> {
        serde_json::from_str(&self.body).map_err(|source| crate::Error::BadRecord {
            seq: self.seq,
            source,
        })
    }
}

/// The chain hash of entry `seq` holding `body`, given the previous entry's hash.
pub fn chain_hash(previous: &Hash, seq: u64, body: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(seq.to_be_bytes());
    hasher.update(previous);
    hasher.update(body);
    hasher.finalize().into()
}

/// Seal `record` as entry `seq` after an entry whose hash is `previous`.
pub fn seal(previous: &Hash, seq: u64, record: &Record) -> (Entry, Hash) {
    let body = record.canonical_json();
    let hash = chain_hash(previous, seq, body.as_bytes());
    (
        Entry {
            seq,
            body,
            hash: hex::encode(hash),
        },
        hash,
    )
}

/// Where and why a chain stopped verifying.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("log record {seq} is broken: {reason}")]
pub struct ChainError {
    /// Sequence number of the first entry that does not verify.
    pub seq: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A verified chain: how many entries, and the head hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Number of entries verified.
    pub entries: u64,
    /// Hash of the last entry (or [`GENESIS`] for an empty log).
    pub head: Hash,
}

/// Verify entries in order, starting at seq 1. Names the first entry that is missing,
/// out of order, unparsable, or whose hash does not match its content and predecessor.
pub fn verify_chain<I>(entries: I) -> Result<VerifiedChain, ChainError>
where
    I: IntoIterator<Item = Entry>,
{
    let mut previous = GENESIS;
    let mut expected_seq = 1u64;
    for entry in entries {
        if entry.seq != expected_seq {
            return Err(ChainError {
                seq: expected_seq,
                reason: format!("expected record {expected_seq} but found record {} (a record was deleted or moved)", entry.seq),
            });
        }
        if serde_json::from_str::<Record>(&entry.body).is_err() {
            return Err(ChainError {
                seq: entry.seq,
                reason: "the record is not valid record JSON (edited?)".into(),
            });
        }
        let computed = chain_hash(&previous, entry.seq, entry.body.as_bytes());
        if hex::encode(computed) != entry.hash {
            return Err(ChainError {
                seq: entry.seq,
                reason: "its hash does not match its content and the record before it (edited, or an earlier record was changed)".into(),
            });
        }
        previous = computed;
        expected_seq += 1;
    }
    Ok(VerifiedChain {
        entries: expected_seq - 1,
        head: previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Event, UserChange};

    fn record(n: u64) -> Record {
        Record {
            time: 1_700_000_000 + n,
            policy_hash: "sha256:00".into(),
            event: Event::User(UserChange {
                operator: None,
                revoked_serials: vec![],
                user: format!("user{n}"),
                action: "added".into(),
                groups: vec!["sre".into()],
            }),
        }
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|seq| {
                let (entry, hash) = seal(&previous, seq, &record(seq));
                previous = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let verified = verify_chain(chain(5)).expect("verifies");
        assert_eq!(verified.entries, 5);
        assert_eq!(verify_chain(Vec::new()).expect("empty").head, GENESIS);
    }

    #[test]
    fn an_edited_body_is_named() {
        let mut entries = chain(5);
        entries[2].body = entries[2].body.replace("user3", "mallory");
        assert_eq!(verify_chain(entries).expect_err("broken").seq, 3);
    }

    #[test]
    fn an_edited_body_with_recomputed_hash_breaks_the_next_record() {
        let mut entries = chain(5);
        entries[2].body = entries[2].body.replace("user3", "mallory");
        let prev = hex::decode(&entries[1].hash).expect("hex");
        let prev: Hash = prev.try_into().expect("32 bytes");
        entries[2].hash = hex::encode(chain_hash(&prev, 3, entries[2].body.as_bytes()));
        assert_eq!(verify_chain(entries).expect_err("broken").seq, 4);
    }

    #[test]
    fn deletion_and_reordering_are_named() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(verify_chain(entries).expect_err("broken").seq, 2);
        let mut entries = chain(5);
        entries.swap(3, 4);
        assert_eq!(verify_chain(entries).expect_err("broken").seq, 4);
    }

    #[test]
    fn records_round_trip_through_canonical_json() {
        let r = record(7);
        let back: Record = serde_json::from_str(&r.canonical_json()).expect("parse");
        assert_eq!(back, r);
        assert!(r.canonical_json().contains("\"type\":\"user\""));
    }
}
