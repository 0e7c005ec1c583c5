//! Known answers: the Certificate Transparency reference tree (RFC 6962 test data, as in
//! transparency-dev/merkle `proof/verify_test.go` and certificate-transparency-go), with
//! the same corrupted-proof probes those suites use.
#![allow(clippy::unwrap_used)]

use jit_log::merkle::{
    self, consistency_proof, inclusion_proof, leaf_hash, root_from_leaf_hashes, verify_consistency,
    verify_inclusion, ConsistencyProof, Hash, InclusionProof, Tree, EMPTY_ROOT,
};

/// The eight leaves of the CT reference tree.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Tree heads for sizes 0 to 8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, path). The Go suite numbers leaves from 1; these are 0-based.
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, path).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// An arbitrary hash that is not in the tree.
const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

fn h(hex: &str) -> Hash {
    hex::decode(hex).unwrap().try_into().unwrap()
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|x| h(x)).collect()
}

fn leaves() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|x| leaf_hash(&hex::decode(x).unwrap()))
        .collect()
}

#[test]
fn tree_heads_match_the_reference_for_every_size() {
    assert_eq!(EMPTY_ROOT, h(ROOTS[0]));
    let leaves = leaves();
    let tree: Tree = leaves.iter().copied().collect();
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            root_from_leaf_hashes(&leaves[..size]),
            h(root),
            "size {size}"
        );
        assert_eq!(
            tree.root_at(size as u64).unwrap(),
            h(root),
            "tree, size {size}"
        );
    }
    assert_eq!(tree.root(), h(ROOTS[8]));
    // The one-leaf head is the leaf hash of the empty string.
    assert_eq!(leaf_hash(b""), h(ROOTS[1]));
}

#[test]
fn inclusion_proofs_match_the_reference() {
    let leaves = leaves();
    let tree: Tree = leaves.iter().copied().collect();
    for (index, size, path) in INCLUSION {
        let expected = InclusionProof {
            index,
            tree_size: size,
            path: hashes(path),
        };
        let prefix = &leaves[..size as usize];
        assert_eq!(inclusion_proof(prefix, index).unwrap(), expected);
        assert_eq!(tree.inclusion_proof_at(index, size).unwrap(), expected);
        let root = h(ROOTS[size as usize]);
        verify_inclusion(&leaves[index as usize], &expected, &root).unwrap();
        for (what, leaf, proof, root) in
            corrupt_inclusion(&leaves[index as usize], &expected, &root)
        {
            assert!(
                verify_inclusion(&leaf, &proof, &root).is_err(),
                "{index}/{size}: {what} verified"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_the_reference() {
    let leaves = leaves();
    let tree: Tree = leaves.iter().copied().collect();
    for (old_size, new_size, path) in CONSISTENCY {
        let expected = ConsistencyProof {
            old_size,
            new_size,
            path: hashes(path),
        };
        let prefix = &leaves[..new_size as usize];
        assert_eq!(consistency_proof(prefix, old_size).unwrap(), expected);
        assert_eq!(
            tree.consistency_proof_between(old_size, new_size).unwrap(),
            expected
        );
        let (old_root, new_root) = (h(ROOTS[old_size as usize]), h(ROOTS[new_size as usize]));
        verify_consistency(&old_root, &new_root, &expected).unwrap();
        if expected.path.is_empty() {
            continue;
        }
        for (what, old, new, proof) in corrupt_consistency(&old_root, &new_root, &expected) {
            assert!(
                verify_consistency(&old, &new, &proof).is_err(),
                "{old_size}->{new_size}: {what} verified"
            );
        }
    }
}

#[test]
fn trivial_consistency_cases() {
    let (a, b) = (h(ROOTS[3]), h(ROOTS[4]));
    let empty = |old_size, new_size| ConsistencyProof {
        old_size,
        new_size,
        path: vec![],
    };
    // The empty tree is a prefix of everything; a tree is consistent with itself.
    verify_consistency(&EMPTY_ROOT, &EMPTY_ROOT, &empty(0, 0)).unwrap();
    verify_consistency(&EMPTY_ROOT, &b, &empty(0, 4)).unwrap();
    verify_consistency(&b, &b, &empty(4, 4)).unwrap();
    // But not with a wrong head, a non-empty proof, an empty proof for real growth, or
    // time running backwards.
    assert!(verify_consistency(&a, &b, &empty(0, 4)).is_err());
    assert!(verify_consistency(&a, &b, &empty(4, 4)).is_err());
    assert!(verify_consistency(&a, &b, &empty(3, 4)).is_err());
    assert!(verify_consistency(&b, &a, &empty(4, 3)).is_err());
    let one = |old_size, new_size| ConsistencyProof {
        old_size,
        new_size,
        path: vec![EMPTY_ROOT],
    };
    assert!(verify_consistency(&EMPTY_ROOT, &EMPTY_ROOT, &one(0, 0)).is_err());
    assert!(verify_consistency(&EMPTY_ROOT, &b, &one(0, 4)).is_err());
    assert!(verify_consistency(&b, &b, &one(4, 4)).is_err());
}

#[test]
fn inclusion_edge_cases() {
    let some = h(SOME_HASH);
    // Leaf index outside the tree, including the empty tree, never verifies.
    for (index, tree_size) in [(0, 0), (1, 0), (1, 1), (2, 1)] {
        let proof = InclusionProof {
            index,
            tree_size,
            path: vec![],
        };
        assert!(verify_inclusion(&some, &proof, &some).is_err());
        assert!(verify_inclusion(&some, &proof, &EMPTY_ROOT).is_err());
    }
    // One leaf: the head is the leaf hash and the proof is empty.
    let leaf = merkle::leaf_hash(b"data");
    let proof = InclusionProof {
        index: 0,
        tree_size: 1,
        path: vec![],
    };
    verify_inclusion(&leaf, &proof, &leaf).unwrap();
    assert!(verify_inclusion(&leaf, &proof, &some).is_err());
    assert!(verify_inclusion(&some, &proof, &leaf).is_err());
}

type InclusionProbe = (String, Hash, InclusionProof, Hash);

/// The probes of the Go suite's `corruptInclusionProof`, for 32-byte hashes.
fn corrupt_inclusion(leaf: &Hash, proof: &InclusionProof, root: &Hash) -> Vec<InclusionProbe> {
    let with = |index: u64, tree_size: u64, path: Vec<Hash>| InclusionProof {
        index,
        tree_size,
        path,
    };
    let (i, n, p) = (proof.index, proof.tree_size, proof.path.clone());
    let mut probes: Vec<InclusionProbe> = vec![
        ("index + 1".into(), *leaf, with(i + 1, n, p.clone()), *root),
        ("index ^ 2".into(), *leaf, with(i ^ 2, n, p.clone()), *root),
        ("size * 2".into(), *leaf, with(i, n * 2, p.clone()), *root),
        ("size / 2".into(), *leaf, with(i, n / 2, p.clone()), *root),
        ("wrong leaf".into(), h(SOME_HASH), proof.clone(), *root),
        ("empty root".into(), *leaf, proof.clone(), EMPTY_ROOT),
        ("random root".into(), *leaf, proof.clone(), h(SOME_HASH)),
        (
            "trailing root".into(),
            *leaf,
            with(i, n, [p.clone(), vec![*root]].concat()),
            *root,
        ),
        (
            "preceding root".into(),
            *leaf,
            with(i, n, [vec![*root], p.clone()].concat()),
            *root,
        ),
    ];
    if i > 0 {
        probes.push(("index - 1".into(), *leaf, with(i - 1, n, p.clone()), *root));
    }
    for k in 0..p.len() {
        let mut flipped = p.clone();
        flipped[k][0] ^= 8;
        probes.push((
            format!("flipped path[{k}]"),
            *leaf,
            with(i, n, flipped),
            *root,
        ));
    }
    if let Some((_, shorter)) = p.split_last() {
        probes.push((
            "removed hash".into(),
            *leaf,
            with(i, n, shorter.to_vec()),
            *root,
        ));
    }
    if p.len() > 1 {
        let inserted = [vec![p[0], h(SOME_HASH)], p[1..].to_vec()].concat();
        probes.push(("inserted hash".into(), *leaf, with(i, n, inserted), *root));
    }
    probes
}

type ConsistencyProbe = (String, Hash, Hash, ConsistencyProof);

/// The probes of the Go suite's `corruptConsistencyProof`, for 32-byte hashes.
fn corrupt_consistency(old: &Hash, new: &Hash, proof: &ConsistencyProof) -> Vec<ConsistencyProbe> {
    let with = |old_size: u64, new_size: u64, path: Vec<Hash>| ConsistencyProof {
        old_size,
        new_size,
        path,
    };
    let (m, n, p) = (proof.old_size, proof.new_size, proof.path.clone());
    let some = h(SOME_HASH);
    let mut probes: Vec<ConsistencyProbe> = vec![
        ("old - 1".into(), *old, *new, with(m - 1, n, p.clone())),
        ("old + 1".into(), *old, *new, with(m + 1, n, p.clone())),
        ("old ^ 2".into(), *old, *new, with(m ^ 2, n, p.clone())),
        ("new * 2".into(), *old, *new, with(m, n * 2, p.clone())),
        ("new / 2".into(), *old, *new, with(m, n / 2, p.clone())),
        ("wrong old root".into(), some, *new, proof.clone()),
        ("wrong new root".into(), *old, some, proof.clone()),
        ("swapped roots".into(), *new, *old, proof.clone()),
        ("empty proof".into(), *old, *new, with(m, n, vec![])),
        (
            "trailing old".into(),
            *old,
            *new,
            with(m, n, [p.clone(), vec![*old]].concat()),
        ),
        (
            "trailing new".into(),
            *old,
            *new,
            with(m, n, [p.clone(), vec![*new]].concat()),
        ),
        (
            "preceding old".into(),
            *old,
            *new,
            with(m, n, [vec![*old], p.clone()].concat()),
        ),
        (
            "preceding new".into(),
            *old,
            *new,
            with(m, n, [vec![*new], p.clone()].concat()),
        ),
        (
            "preceding p[0]".into(),
            *old,
            *new,
            with(m, n, [vec![p[0]], p.clone()].concat()),
        ),
        (
            "truncated".into(),
            *old,
            *new,
            with(m, n, p[..p.len() - 1].to_vec()),
        ),
    ];
    for k in 0..p.len() {
        let mut flipped = p.clone();
        flipped[k][0] ^= 16;
        probes.push((
            format!("flipped path[{k}]"),
            *old,
            *new,
            with(m, n, flipped),
        ));
    }
    probes
}
