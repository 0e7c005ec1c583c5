//! The incremental tree: heads and proofs match the slice functions at every size.
#![allow(clippy::unwrap_used)]

use jit_log::merkle::{self, leaf_hash, root_from_leaf_hashes, Hash, Tree};
use jit_log::{Error, Record};
use proptest::prelude::*;

fn leaves(n: u32) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

#[test]
fn the_incremental_head_matches_the_recomputed_head_at_every_size() {
    let leaves = leaves(500);
    let mut tree = Tree::new();
    assert_eq!(tree.root(), root_from_leaf_hashes(&[]));
    for (i, leaf) in leaves.iter().enumerate() {
        tree.push(*leaf);
        assert_eq!(tree.size(), i as u64 + 1);
        assert_eq!(
            tree.root(),
            root_from_leaf_hashes(&leaves[..=i]),
            "size {}",
            i + 1
        );
        assert_eq!(tree.leaves(), &leaves[..=i]);
    }
    // And every earlier head is still available.
    for size in 0..=500u64 {
        assert_eq!(
            tree.root_at(size).unwrap(),
            root_from_leaf_hashes(&leaves[..size as usize]),
            "root_at({size})"
        );
    }
    assert!(matches!(
        tree.root_at(501),
        Err(Error::TreeSizeOutOfRange {
            size: 501,
            tree_size: 500
        })
    ));
}

#[test]
fn proofs_about_older_sizes_match_the_slice_functions() {
    let leaves = leaves(70);
    let tree: Tree = leaves.iter().copied().collect();
    for size in 0..=70u64 {
        let prefix = &leaves[..size as usize];
        for index in 0..size {
            assert_eq!(
                tree.inclusion_proof_at(index, size).unwrap(),
                merkle::inclusion_proof(prefix, index).unwrap()
            );
        }
        assert!(tree.inclusion_proof_at(size, size).is_err());
        for old in 0..=size {
            let proof = tree.consistency_proof_between(old, size).unwrap();
            assert_eq!(proof, merkle::consistency_proof(prefix, old).unwrap());
            merkle::verify_consistency(
                &tree.root_at(old).unwrap(),
                &tree.root_at(size).unwrap(),
                &proof,
            )
            .unwrap();
        }
        assert!(tree.consistency_proof_between(size + 1, size).is_err());
    }
    assert!(tree.inclusion_proof_at(0, 71).is_err());
    assert!(tree.consistency_proof(71).is_err());
}

#[test]
fn a_log_leaf_is_the_entry_body() {
    let record: Record = serde_json::from_str(
        r#"{"time":1,"policy_hash":"sha256:00","type":"user","user":"ana","action":"added","groups":[]}"#,
    )
    .unwrap();
    let (entry, _) = jit_log::seal(&jit_log::GENESIS, 1, &record);
    let leaf = merkle::entry_leaf_hash(&entry);
    assert_eq!(leaf, leaf_hash(entry.body.as_bytes()));
    assert_eq!(Tree::from_entries([&entry]).root(), leaf);
}

proptest! {
    #[test]
    fn any_tree_proves_every_leaf(n in 1u32..=300, picks in prop::collection::vec(any::<u64>(), 4)) {
        let leaves = leaves(n);
        let tree: Tree = leaves.iter().copied().collect();
        let root = tree.root();
        for pick in picks {
            let index = pick % u64::from(n);
            let proof = tree.inclusion_proof(index).unwrap();
            prop_assert!(merkle::verify_inclusion(&leaves[index as usize], &proof, &root).is_ok());
            let old = pick % (u64::from(n) + 1);
            let proof = tree.consistency_proof(old).unwrap();
            prop_assert!(merkle::verify_consistency(&tree.root_at(old).unwrap(), &root, &proof).is_ok());
        }
    }
}
