//! Checkpoint text: exact form, round trips, and strict refusal of every other form.
#![allow(clippy::unwrap_used)]

use jit_log::merkle::{self, leaf_hash, ConsistencyProof, InclusionProof, Tree};
use jit_log::{Checkpoint, Error};
use proptest::prelude::*;

const ROOT_B64: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

fn ct_root() -> [u8; 32] {
    hex::decode("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        .unwrap()
        .try_into()
        .unwrap()
}

fn sample() -> Checkpoint {
    Checkpoint {
        origin: "jit.example.com/log".into(),
        tree_size: 8,
        root_hash: ct_root(),
        timestamp: 1_800_000_000,
    }
}

#[test]
fn the_signed_text_has_the_documented_form() {
    let text = sample().signed_text();
    assert_eq!(
        text,
        format!("jit.example.com/log\n8\n{ROOT_B64}\n1800000000\n")
    );
    assert_eq!(Checkpoint::parse(&text).unwrap(), sample());
}

#[test]
fn edge_values_round_trip() {
    for (tree_size, timestamp) in [(0, 0), (u64::MAX, u64::MAX), (1, 10)] {
        let checkpoint = Checkpoint {
            tree_size,
            timestamp,
            ..sample()
        };
        assert_eq!(
            Checkpoint::parse(&checkpoint.signed_text()).unwrap(),
            checkpoint
        );
    }
}

#[test]
fn every_other_form_is_refused() {
    let good = sample().signed_text();
    let cases: Vec<(&str, String)> = vec![
        ("no final newline", good.trim_end_matches('\n').into()),
        ("extra blank line", format!("{good}\n")),
        ("extra line", format!("{good}extension\n")),
        ("three lines", "jit\n8\n".to_owned() + ROOT_B64 + "\n"),
        ("empty", String::new()),
        ("crlf", good.replace('\n', "\r\n")),
        ("empty origin", good.replacen("jit.example.com/log", "", 1)),
        (
            "space in origin",
            good.replacen("jit.example.com/log", "jit log", 1),
        ),
        (
            "plus in origin",
            good.replacen("jit.example.com/log", "jit+log", 1),
        ),
        (
            "tab in origin",
            good.replacen("jit.example.com/log", "jit\tlog", 1),
        ),
        ("leading zero size", good.replacen("\n8\n", "\n08\n", 1)),
        ("signed size", good.replacen("\n8\n", "\n+8\n", 1)),
        ("negative size", good.replacen("\n8\n", "\n-8\n", 1)),
        ("spaced size", good.replacen("\n8\n", "\n 8\n", 1)),
        ("empty size", good.replacen("\n8\n", "\n\n", 1)),
        ("hex size", good.replacen("\n8\n", "\n0x8\n", 1)),
        (
            "size overflow",
            good.replacen("\n8\n", "\n18446744073709551616\n", 1),
        ),
        (
            "leading zero time",
            good.replacen("1800000000", "01800000000", 1),
        ),
        (
            "time overflow",
            good.replacen("1800000000", "99999999999999999999", 1),
        ),
        (
            "root unpadded",
            good.replacen(ROOT_B64, ROOT_B64.trim_end_matches('='), 1),
        ),
        (
            "root url-safe",
            good.replacen(ROOT_B64, &ROOT_B64.replace('+', "-").replace('/', "_"), 1),
        ),
        (
            "root hex",
            good.replacen(ROOT_B64, &hex::encode(ct_root()), 1),
        ),
        (
            "root 31 bytes",
            good.replacen(ROOT_B64, "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==", 1),
        ),
        (
            "root 33 bytes",
            good.replacen(ROOT_B64, "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQygA", 1),
        ),
        // Same bytes, but non-zero padding bits: not the canonical text.
        (
            "root non-canonical",
            good.replacen(ROOT_B64, "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=", 1),
        ),
        (
            "root spaced",
            good.replacen(ROOT_B64, &format!(" {ROOT_B64}"), 1),
        ),
    ];
    for (what, text) in cases {
        assert_ne!(text, good, "{what}: the case does not change the text");
        match Checkpoint::parse(&text) {
            Err(Error::BadCheckpoint { .. }) => {}
            other => panic!("{what}: {text:?} gave {other:?}"),
        }
    }
}

#[test]
fn checkpoints_bind_proofs_to_their_size_and_log() {
    let leaves: Vec<[u8; 32]> = (0u8..7).map(|i| leaf_hash(&[i])).collect();
    let tree: Tree = leaves.iter().copied().collect();
    let older = Checkpoint::of(
        "jit.example.com/log",
        &Tree::from_iter(leaves[..2].iter().copied()),
        10,
    );
    let newer = Checkpoint::of("jit.example.com/log", &tree, 20);
    assert_eq!(older.tree_size, 2);
    let proof = tree.inclusion_proof(0).unwrap();
    newer.verify_inclusion(&leaves[0], &proof).unwrap();
    assert!(older.verify_inclusion(&leaves[0], &proof).is_err());

    // Why the size matters: leaf 1 of a 2-leaf tree hashes up exactly like leaf 2 of a
    // 3-leaf tree, so the bare RFC check accepts the proof relabelled as "record 3"
    // against the 2-leaf head. Against the checkpoint it is refused.
    let genuine = tree.inclusion_proof_at(1, 2).unwrap();
    older.verify_inclusion(&leaves[1], &genuine).unwrap();
    let relabelled = InclusionProof {
        index: 2,
        tree_size: 3,
        ..genuine
    };
    merkle::verify_inclusion(&leaves[1], &relabelled, &older.root_hash).unwrap();
    assert!(older.verify_inclusion(&leaves[1], &relabelled).is_err());

    let proof = tree.consistency_proof(2).unwrap();
    older.verify_consistency(&newer, &proof).unwrap();
    assert!(newer.verify_consistency(&older, &proof).is_err());
    let elsewhere = Checkpoint {
        origin: "other.example/log".into(),
        ..newer.clone()
    };
    assert!(older.verify_consistency(&elsewhere, &proof).is_err());
    let stretched = ConsistencyProof {
        new_size: 8,
        ..proof
    };
    assert!(older.verify_consistency(&newer, &stretched).is_err());
}

proptest! {
    #[test]
    fn valid_checkpoints_round_trip(
        origin in "[a-z0-9./:_-]{1,40}",
        tree_size in any::<u64>(),
        root_hash in any::<[u8; 32]>(),
        timestamp in any::<u64>(),
    ) {
        let checkpoint = Checkpoint { origin, tree_size, root_hash, timestamp };
        let text = checkpoint.signed_text();
        prop_assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint.clone());
        // JSON round-trips too.
        let json = serde_json::to_string(&checkpoint).unwrap();
        prop_assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), checkpoint);
    }

    #[test]
    fn parsing_never_panics_and_accepts_only_its_own_output(text in "(?s).{0,120}") {
        if let Ok(checkpoint) = Checkpoint::parse(&text) {
            prop_assert_eq!(checkpoint.signed_text(), text);
        }
    }

    #[test]
    fn one_character_changes_are_refused_or_change_the_checkpoint(
        at in any::<usize>(), with in any::<char>(),
    ) {
        let good = sample().signed_text();
        let chars: Vec<char> = good.chars().collect();
        let at = at % chars.len();
        let mut changed = chars.clone();
        changed[at] = with;
        let text: String = changed.into_iter().collect();
        if text != good {
            match Checkpoint::parse(&text) {
                Err(_) => {}
                Ok(parsed) => {
                    prop_assert_ne!(&parsed, &sample());
                    prop_assert_eq!(parsed.signed_text(), text);
                }
            }
        }
    }
}
