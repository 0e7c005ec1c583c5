//! The log's Merkle tree (RFC 9162 §2.1): tree heads, inclusion and consistency proofs.
//!
//! Leaf `i` of the tree is [`entry_leaf_hash`] of the entry with `seq = i + 1`, so a
//! checkpoint of tree size `n` commits to exactly the first `n` records. Hashing follows
//! RFC 9162 (and RFC 6962): `leaf = SHA-256(0x00 || bytes)`, `node = SHA-256(0x01 || left
//! || right)`, and the head of the empty tree is `SHA-256("")`.
//!
//! The proof builders here work over a slice of leaf hashes and recompute subtree heads
//! (O(n) per proof); [`Tree`] answers the same questions from stored subtree heads in
//! O(log² n). Both run the same PATH / SUBPROOF recursion from the RFC.

mod tree;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::chain::Hash;
use crate::{Entry, Error, Result};
pub use tree::Tree;

/// The head of the empty tree: `SHA-256("")`.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of one leaf: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The leaf a log entry contributes: [`leaf_hash`] of its canonical body bytes. Leaf `i`
/// is the entry with `seq = i + 1`; the position is the leaf's place in the tree, so the
/// sequence number and chain hash are not hashed again.
pub fn entry_leaf_hash(entry: &Entry) -> Hash {
    leaf_hash(entry.body.as_bytes())
}

/// The tree head `MTH(D[0:n])` over already hashed leaves ([`EMPTY_ROOT`] for none).
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return EMPTY_ROOT;
    }
    // Pairing level by level, carrying an odd last node up unchanged, builds the same
    // tree as the RFC's "split at the largest power of two below n" recursion.
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let pairs = level.chunks_exact(2);
        let carry = pairs.remainder().first().copied();
        let mut next: Vec<Hash> = pairs.map(|pair| node_hash(&pair[0], &pair[1])).collect();
        next.extend(carry);
        level = next;
    }
    level.first().copied().unwrap_or(EMPTY_ROOT)
}

/// Proof that one leaf is in a tree of a given size: `PATH(index, D[0:tree_size])`,
/// sibling hashes from the leaf up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Position of the leaf (0-based; the entry with `seq = index + 1`).
    pub index: u64,
    /// Size of the tree the proof leads to.
    pub tree_size: u64,
    /// Sibling hashes, lowercase hex in JSON.
    #[serde(with = "hex_hashes")]
    pub path: Vec<Hash>,
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves:
/// `PROOF(old_size, D[0:new_size])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Proof hashes, lowercase hex in JSON.
    #[serde(with = "hex_hashes")]
    pub path: Vec<Hash>,
}

/// Inclusion proof for leaf `index` in the tree over all of `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<InclusionProof> {
    let tree_size = len_u64(leaves);
    check_index(index, tree_size)?;
    Ok(InclusionProof {
        index,
        tree_size,
        path: path(index, tree_size, &|start, end| {
            root_from_leaf_hashes(slice(leaves, start, end))
        }),
    })
}

/// Consistency proof from the tree of the first `old_size` leaves to the tree over all of
/// `leaves`. Empty when `old_size` is 0 or the whole tree.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<ConsistencyProof> {
    let new_size = len_u64(leaves);
    check_size(old_size, new_size)?;
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path: subproof(old_size, new_size, &|start, end| {
            root_from_leaf_hashes(slice(leaves, start, end))
        }),
    })
}

/// Check that `leaf` (a leaf hash) is at `proof.index` in the tree of `proof.tree_size`
/// leaves whose head is `root` (RFC 9162 §2.1.3.2).
///
/// The proof's own `tree_size` is taken as given: the caller must make sure it is the size
/// that `root` belongs to (see [`crate::Checkpoint::verify_inclusion`]).
pub fn verify_inclusion(leaf: &Hash, proof: &InclusionProof, root: &Hash) -> Result<()> {
    let bad = |reason: String| Err(Error::BadInclusionProof { reason });
    if proof.index >= proof.tree_size {
        return bad(format!(
            "leaf index {} is not inside a tree of {} leaves",
            proof.index, proof.tree_size
        ));
    }
    let mut f_n = proof.index;
    let mut s_n = proof.tree_size - 1;
    let mut r = *leaf;
    for p in &proof.path {
        if s_n == 0 {
            return bad("the proof has more hashes than the tree is deep".into());
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return bad("the proof has fewer hashes than the tree is deep".into());
    }
    if r != *root {
        return bad("the proof does not lead to the tree head".into());
    }
    Ok(())
}

/// Check that the tree of `proof.old_size` leaves with head `old_root` is a prefix of the
/// tree of `proof.new_size` leaves with head `new_root` (RFC 9162 §2.1.4.2).
///
/// Trivial cases take an empty proof: equal sizes need equal heads, and the empty tree
/// (head [`EMPTY_ROOT`]) is a prefix of every tree. As with inclusion, the sizes in the
/// proof must be checked against the checkpoints the heads come from.
pub fn verify_consistency(
    old_root: &Hash,
    new_root: &Hash,
    proof: &ConsistencyProof,
) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::BadConsistencyProof {
            reason: reason.into(),
        })
    };
    let (first, second) = (proof.old_size, proof.new_size);
    if first > second {
        return bad("the old tree is larger than the new tree");
    }
    if first == second || first == 0 {
        if !proof.path.is_empty() {
            return bad("a proof between these sizes must be empty");
        }
        let expected = if first == 0 { &EMPTY_ROOT } else { new_root };
        if old_root != expected {
            return bad("the old tree head does not match");
        }
        return Ok(());
    }
    let Some((head, rest)) = proof.path.split_first() else {
        return bad("the proof is empty");
    };
    // When `first` is a power of two the old head is itself a node of the new tree and
    // the proof leaves it out: start from it.
    let (start, rest) = if first.is_power_of_two() {
        (old_root, proof.path.as_slice())
    } else {
        (head, rest)
    };
    let mut f_n = first - 1;
    let mut s_n = second - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *start;
    let mut s_r = *start;
    for c in rest {
        if s_n == 0 {
            return bad("the proof has more hashes than the trees are deep");
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return bad("the proof has fewer hashes than the trees are deep");
    }
    if f_r != *old_root {
        return bad("the proof does not lead to the old tree head");
    }
    if s_r != *new_root {
        return bad("the proof does not lead to the new tree head");
    }
    Ok(())
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `PATH(index, D[0:size])` (RFC 9162 §2.1.3.1) given `mth(start, end) = MTH(D[start:end])`,
/// for `index < size`. Walks from the root down, then lists siblings leaf first.
fn path(index: u64, size: u64, mth: &dyn Fn(u64, u64) -> Hash) -> Vec<Hash> {
    let mut siblings = Vec::new();
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let mid = start + split(end - start);
        if index < mid {
            siblings.push(mth(mid, end));
            end = mid;
        } else {
            siblings.push(mth(start, mid));
            start = mid;
        }
    }
    siblings.reverse();
    siblings
}

/// `PROOF(old, D[0:size])` = `SUBPROOF(old, D[0:size], true)` (RFC 9162 §2.1.4.1), empty
/// for `old == 0` or `old == size`.
fn subproof(old: u64, size: u64, mth: &dyn Fn(u64, u64) -> Hash) -> Vec<Hash> {
    let mut nodes = Vec::new();
    if old == 0 || old == size {
        return nodes;
    }
    let (mut start, mut end) = (0, size);
    let mut whole_old_tree = true;
    loop {
        let (m, n) = (old - start, end - start);
        if m == n {
            if !whole_old_tree {
                nodes.push(mth(start, end));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            nodes.push(mth(start + k, end));
            end = start + k;
        } else {
            nodes.push(mth(start, start + k));
            start += k;
            whole_old_tree = false;
        }
    }
    nodes.reverse();
    nodes
}

fn len_u64(leaves: &[Hash]) -> u64 {
    // A slice never holds more than u64::MAX elements on supported targets.
    u64::try_from(leaves.len()).unwrap_or(u64::MAX)
}

/// `leaves[start..end]`, for bounds already checked against `leaves.len()`.
fn slice(leaves: &[Hash], start: u64, end: u64) -> &[Hash] {
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = usize::try_from(end).unwrap_or(usize::MAX);
    leaves.get(start..end).unwrap_or_default()
}

fn check_index(index: u64, tree_size: u64) -> Result<()> {
    if index >= tree_size {
        return Err(Error::LeafIndexOutOfRange { index, tree_size });
    }
    Ok(())
}

fn check_size(size: u64, tree_size: u64) -> Result<()> {
    if size > tree_size {
        return Err(Error::TreeSizeOutOfRange { size, tree_size });
    }
    Ok(())
}

/// Parse exactly 64 lowercase hex digits.
pub(crate) fn parse_hex_hash(text: &str) -> Option<Hash> {
    let lowercase = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if text.len() != 64 || !lowercase {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

/// Serde for one hash as lowercase hex.
pub(crate) mod hex_hash {
    use super::{parse_hex_hash, Hash};
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(hash))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Hash, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_hex_hash(&text).ok_or_else(|| D::Error::custom("expected 64 lowercase hex digits"))
    }
}

/// Serde for a list of hashes as lowercase hex strings.
mod hex_hashes {
    use super::{parse_hex_hash, Hash};
    use serde::{de::Error as _, ser::SerializeSeq as _, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        hashes: &[Hash],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(hashes.len()))?;
        for hash in hashes {
            seq.serialize_element(&hex::encode(hash))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| {
                parse_hex_hash(text)
                    .ok_or_else(|| D::Error::custom("expected 64 lowercase hex digits"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_root_is_the_hash_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(root_from_leaf_hashes(&[]), EMPTY_ROOT);
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ] {
            assert_eq!(split(n), k, "n = {n}");
        }
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn proofs_serialize_hashes_as_lowercase_hex() {
        let proof = InclusionProof {
            index: 1,
            tree_size: 2,
            path: vec![[0xab; 32]],
        };
        let json = serde_json::to_string(&proof).expect("json");
        assert_eq!(
            json,
            format!(
                r#"{{"index":1,"tree_size":2,"path":["{}"]}}"#,
                "ab".repeat(32)
            )
        );
        let back: InclusionProof = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, proof);
        for bad in ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)] {
            let json = format!(r#"{{"index":1,"tree_size":2,"path":["{bad}"]}}"#);
            assert!(
                serde_json::from_str::<InclusionProof>(&json).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let leaves = [leaf_hash(b"a"), leaf_hash(b"b")];
        assert!(matches!(
            inclusion_proof(&leaves, 2),
            Err(Error::LeafIndexOutOfRange {
                index: 2,
                tree_size: 2
            })
        ));
        assert!(matches!(
            consistency_proof(&leaves, 3),
            Err(Error::TreeSizeOutOfRange {
                size: 3,
                tree_size: 2
            })
        ));
        assert!(inclusion_proof(&[], 0).is_err());
        let trivial = consistency_proof(&leaves, 2).expect("same size");
        assert!(trivial.path.is_empty());
    }
}
