//! The production tree against a second, deliberately naive implementation written
//! straight from the recursive definitions in RFC 9162 §2.1 (MTH, PATH, PROOF/SUBPROOF)
//! over raw leaf bytes. It shares no code with `src/`: only `sha2` is common.
#![allow(clippy::unwrap_used)]

use jit_log::merkle::{self, ConsistencyProof, InclusionProof, Tree};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

mod naive {
    //! RFC 9162 §2.1, transcribed: slow, recursive, and obviously right.
    use super::*;

    pub type Hash = [u8; 32];

    pub fn sha(parts: &[&[u8]]) -> Hash {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    /// "k is the largest power of two smaller than n (i.e., k < n <= 2k)".
    fn k(n: usize) -> usize {
        let mut k = 1;
        while 2 * k < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]).
    pub fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => sha(&[]),
            1 => sha(&[&[0x00], &d[0]]),
            n => sha(&[&[0x01], &mth(&d[..k(n)]), &mth(&d[k(n)..])]),
        }
    }

    /// PATH(m, D[n]).
    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            [path(m, &d[..k]), vec![mth(&d[k..])]].concat()
        } else {
            [path(m - k, &d[k..]), vec![mth(&d[..k])]].concat()
        }
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true); empty for m = 0 (our convention, as
    /// Sigsum's: the empty tree is a prefix of every tree).
    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        if m == 0 {
            return vec![];
        }
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            [subproof(m, &d[..k], b), vec![mth(&d[k..])]].concat()
        } else {
            [subproof(m - k, &d[k..], false), vec![mth(&d[..k])]].concat()
        }
    }

    /// The head that `path` leads to from `leaf` at `m` in a tree of `n`, following the
    /// shape of PATH; `None` if the path has the wrong length.
    pub fn root_from_path(m: u64, n: u64, leaf: &Hash, path: &[Hash]) -> Option<Hash> {
        if m >= n {
            return None;
        }
        if n == 1 {
            return path.is_empty().then_some(*leaf);
        }
        let (sibling, rest) = path.split_last()?;
        let k = k(n as usize) as u64;
        Some(if m < k {
            sha(&[&[0x01], &root_from_path(m, k, leaf, rest)?, sibling])
        } else {
            sha(&[&[0x01], sibling, &root_from_path(m - k, n - k, leaf, rest)?])
        })
    }

    /// Does `path` prove that the tree (m, old) is a prefix of (n, new)? Follows the shape
    /// of SUBPROOF, recomputing both heads.
    pub fn consistent(m: u64, n: u64, old: &Hash, new: &Hash, path: &[Hash]) -> bool {
        if m == 0 {
            return path.is_empty() && *old == sha(&[]);
        }
        if m > n {
            return false;
        }
        heads(m, n, true, old, path) == Some((*old, *new))
    }

    fn heads(m: u64, n: u64, b: bool, old: &Hash, path: &[Hash]) -> Option<(Hash, Hash)> {
        if m == n {
            return match (b, path) {
                (true, []) => Some((*old, *old)),
                (false, [node]) => Some((*node, *node)),
                _ => None,
            };
        }
        let (last, rest) = path.split_last()?;
        let k = k(n as usize) as u64;
        if m <= k {
            let (o, s) = heads(m, k, b, old, rest)?;
            Some((o, sha(&[&[0x01], &s, last])))
        } else {
            let (o, s) = heads(m - k, n - k, false, old, rest)?;
            Some((sha(&[&[0x01], last, &o]), sha(&[&[0x01], last, &s])))
        }
    }
}

/// `n` distinct leaves (some empty, some long) derived from `seed`.
fn data(n: u64, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match (seed ^ i) % 5 {
            0 => vec![],
            1 => vec![i as u8],
            _ => format!("{seed}:{i}:{}", "x".repeat((i % 40) as usize)).into_bytes(),
        })
        .collect()
}

fn leaf_hashes(d: &[Vec<u8>]) -> Vec<merkle::Hash> {
    d.iter().map(|x| merkle::leaf_hash(x)).collect()
}

/// A corrupted copy of a proof path, and what was done.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, byte: usize, bit: u8 },
    Drop { at: usize },
    Append([u8; 32]),
    Insert { at: usize, hash: [u8; 32] },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0..32usize, 0..8u8).prop_map(|(at, byte, bit)| Damage::Flip {
            at,
            byte,
            bit
        }),
        any::<usize>().prop_map(|at| Damage::Drop { at }),
        any::<[u8; 32]>().prop_map(Damage::Append),
        (any::<usize>(), any::<[u8; 32]>()).prop_map(|(at, hash)| Damage::Insert { at, hash }),
    ]
}

/// Apply `damage`; `None` when it cannot apply (flip or drop on an empty path).
fn apply(path: &[[u8; 32]], damage: &Damage) -> Option<Vec<[u8; 32]>> {
    let mut out = path.to_vec();
    match *damage {
        Damage::Flip { at, byte, bit } => {
            let len = out.len();
            out.get_mut(at % len.max(1))?[byte] ^= 1 << bit;
        }
        Damage::Drop { at } => {
            if out.is_empty() {
                return None;
            }
            out.remove(at % path.len());
        }
        Damage::Append(hash) => out.push(hash),
        Damage::Insert { at, hash } => out.insert(at % (path.len() + 1), hash),
    }
    Some(out)
}

#[test]
fn the_naive_implementation_agrees_with_the_reference_roots() {
    // Guard the oracle itself: the 8-leaf CT tree head.
    let ct: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|x| hex::decode(x).unwrap())
    .collect();
    assert_eq!(
        hex::encode(naive::mth(&ct)),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn heads_match(n in 0u64..=300, seed in any::<u64>()) {
        let d = data(n, seed);
        let leaves = leaf_hashes(&d);
        let tree: Tree = leaves.iter().copied().collect();
        prop_assert_eq!(merkle::root_from_leaf_hashes(&leaves), naive::mth(&d));
        prop_assert_eq!(tree.root(), naive::mth(&d));
    }

    #[test]
    fn inclusion_proofs_match_and_verify(n in 1u64..=300, pick in any::<u64>(), seed in any::<u64>()) {
        let d = data(n, seed);
        let leaves = leaf_hashes(&d);
        let m = pick % n;
        let root = naive::mth(&d);
        let expected = naive::path(m as usize, &d);
        let proof = merkle::inclusion_proof(&leaves, m).unwrap();
        prop_assert_eq!(&proof, &InclusionProof { index: m, tree_size: n, path: expected.clone() });
        let tree: Tree = leaves.iter().copied().collect();
        prop_assert_eq!(&tree.inclusion_proof(m).unwrap(), &proof);
        // Production proofs pass the naive verifier, naive proofs the production one.
        let leaf = naive::sha(&[&[0x00], &d[m as usize]]);
        prop_assert_eq!(naive::root_from_path(m, n, &leaf, &proof.path), Some(root));
        let naive_proof = InclusionProof { index: m, tree_size: n, path: expected };
        prop_assert!(merkle::verify_inclusion(&leaf, &naive_proof, &root).is_ok());
    }

    #[test]
    fn consistency_proofs_match_and_verify(n in 1u64..=300, pick in any::<u64>(), seed in any::<u64>()) {
        let d = data(n, seed);
        let leaves = leaf_hashes(&d);
        let m = pick % (n + 1);
        let (old, new) = (naive::mth(&d[..m as usize]), naive::mth(&d));
        let expected = naive::proof(m as usize, &d);
        let proof = merkle::consistency_proof(&leaves, m).unwrap();
        prop_assert_eq!(&proof, &ConsistencyProof { old_size: m, new_size: n, path: expected.clone() });
        let tree: Tree = leaves.iter().copied().collect();
        prop_assert_eq!(&tree.consistency_proof(m).unwrap(), &proof);
        prop_assert!(naive::consistent(m, n, &old, &new, &proof.path));
        let naive_proof = ConsistencyProof { old_size: m, new_size: n, path: expected };
        prop_assert!(merkle::verify_consistency(&old, &new, &naive_proof).is_ok());
    }

    #[test]
    fn damaged_inclusion_proofs_are_rejected(
        n in 1u64..=300, pick in any::<u64>(), seed in any::<u64>(), damage in damage(),
    ) {
        let d = data(n, seed);
        let m = pick % n;
        let root = naive::mth(&d);
        let leaf = naive::sha(&[&[0x00], &d[m as usize]]);
        let path = naive::path(m as usize, &d);
        if let Some(bad) = apply(&path, &damage) {
            let proof = InclusionProof { index: m, tree_size: n, path: bad };
            prop_assert!(merkle::verify_inclusion(&leaf, &proof, &root).is_err(), "{:?}", damage);
        }
        // The right proof with another leaf, index or head.
        let proof = InclusionProof { index: m, tree_size: n, path: path.clone() };
        let other = naive::sha(&[&[0x00], b"not in the tree"]);
        prop_assert!(merkle::verify_inclusion(&other, &proof, &root).is_err());
        prop_assert!(merkle::verify_inclusion(&leaf, &proof, &other).is_err());
        for index in [m + 1, m.wrapping_sub(1), m ^ 1, m ^ 2, n, u64::MAX] {
            if index == m {
                continue;
            }
            let moved = InclusionProof { index, ..proof.clone() };
            prop_assert!(merkle::verify_inclusion(&leaf, &moved, &root).is_err(), "index {}", index);
        }
    }

    #[test]
    fn inclusion_with_a_wrong_size_verifies_exactly_when_the_rfc_shape_does(
        n in 1u64..=300, pick in any::<u64>(), seed in any::<u64>(), other in 0u64..=600,
    ) {
        // A head only means something with its tree size: a proof for (m, n) can also fit
        // the shape of (m, n') (e.g. leaf 0 of 3 and of 4 hash the same way). The
        // production verifier must agree with the RFC definition on every such case.
        let d = data(n, seed);
        let m = pick % n;
        let root = naive::mth(&d);
        let leaf = naive::sha(&[&[0x00], &d[m as usize]]);
        let path = naive::path(m as usize, &d);
        let proof = InclusionProof { index: m, tree_size: other, path: path.clone() };
        let naive_ok = naive::root_from_path(m, other, &leaf, &path) == Some(root);
        prop_assert_eq!(merkle::verify_inclusion(&leaf, &proof, &root).is_ok(), naive_ok);
    }

    #[test]
    fn damaged_consistency_proofs_are_rejected(
        n in 2u64..=300, pick in any::<u64>(), seed in any::<u64>(), damage in damage(),
        sizes in (0u64..=600, 0u64..=600),
    ) {
        let d = data(n, seed);
        let m = 1 + pick % (n - 1); // 0 < m < n: a real proof
        let (old, new) = (naive::mth(&d[..m as usize]), naive::mth(&d));
        let path = naive::proof(m as usize, &d);
        if let Some(bad) = apply(&path, &damage) {
            let proof = ConsistencyProof { old_size: m, new_size: n, path: bad };
            prop_assert!(merkle::verify_consistency(&old, &new, &proof).is_err(), "{:?}", damage);
        }
        let proof = ConsistencyProof { old_size: m, new_size: n, path: path.clone() };
        let other = naive::sha(&[b"some other head"]);
        prop_assert!(merkle::verify_consistency(&other, &new, &proof).is_err());
        prop_assert!(merkle::verify_consistency(&old, &other, &proof).is_err());
        prop_assert!(merkle::verify_consistency(&new, &old, &proof).is_err());
        let empty = ConsistencyProof { path: vec![], ..proof.clone() };
        prop_assert!(merkle::verify_consistency(&old, &new, &empty).is_err());
        // Other sizes: accepted exactly when the RFC definition accepts.
        let (m2, n2) = sizes;
        let resized = ConsistencyProof { old_size: m2, new_size: n2, path: path.clone() };
        let naive_ok = m2 <= n2 && naive::consistent(m2, n2, &old, &new, &path);
        prop_assert_eq!(merkle::verify_consistency(&old, &new, &resized).is_ok(), naive_ok);
        for (m2, n2) in [(m + 1, n), (m - 1, n), (m, n + 1), (m, n - 1), (m ^ 2, n), (m, n * 2)] {
            if (m2, n2) == (m, n) {
                continue;
            }
            let resized = ConsistencyProof { old_size: m2, new_size: n2, path: path.clone() };
            let naive_ok = m2 <= n2 && naive::consistent(m2, n2, &old, &new, &path);
            prop_assert_eq!(
                merkle::verify_consistency(&old, &new, &resized).is_ok(), naive_ok,
                "{}->{} as {}->{}", m, n, m2, n2
            );
        }
    }
}

#[test]
fn every_small_size_mixup_is_judged_like_the_rfc_definition() {
    // Exhaustively over small trees: a proof presented with other sizes verifies exactly
    // when the RFC shape for those sizes accepts it, and the known shape collision (leaf 0
    // of a 4-leaf tree also fits a 3-leaf tree) is among the accepted ones.
    let mut collisions = 0;
    for n in 1u64..=32 {
        let d = data(n, n);
        let root = naive::mth(&d);
        for m in 0..n {
            let leaf = naive::sha(&[&[0x00], &d[m as usize]]);
            let path = naive::path(m as usize, &d);
            for other in 0..=2 * n + 2 {
                let proof = InclusionProof {
                    index: m,
                    tree_size: other,
                    path: path.clone(),
                };
                let naive_ok = naive::root_from_path(m, other, &leaf, &path) == Some(root);
                assert_eq!(
                    merkle::verify_inclusion(&leaf, &proof, &root).is_ok(),
                    naive_ok,
                    "leaf {m} of {n} presented as of {other}"
                );
                collisions += usize::from(naive_ok && other != n);
            }
        }
        if n > 16 {
            continue;
        }
        for m in 1..n {
            let old = naive::mth(&d[..m as usize]);
            let path = naive::proof(m as usize, &d);
            for m2 in 0..=n + 1 {
                for n2 in m2..=2 * n + 1 {
                    let proof = ConsistencyProof {
                        old_size: m2,
                        new_size: n2,
                        path: path.clone(),
                    };
                    assert_eq!(
                        merkle::verify_consistency(&old, &root, &proof).is_ok(),
                        naive::consistent(m2, n2, &old, &root, &path),
                        "{m}->{n} presented as {m2}->{n2}"
                    );
                }
            }
        }
    }
    assert!(
        collisions > 0,
        "the size mix-ups never fit: the test is not probing anything"
    );
}
