//! The offline audit: a clean export passes, and every kind of tampering is caught and
//! located, including 1,000 random mutations of a ~200-record log.
#![allow(clippy::unwrap_used)]

use jit_log::chain::chain_hash;
use jit_log::merkle::{self, Tree, EMPTY_ROOT};
use jit_log::{
    audit, AuditPoint, Checkpoint, Denial, Entry, Error, Event, Hash, Issuance, Record, UserChange,
    GENESIS,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ORIGIN: &str = "jit.test/log";
const ENTRIES: u64 = 210;
/// Checkpoint sizes: strictly growing, so each mutation has one expected answer. The last
/// ten records are not covered by any checkpoint yet.
const SIZES: [u64; 10] = [1, 17, 32, 64, 65, 100, 128, 150, 199, 200];

fn record(n: u64, flavour: &str) -> Record {
    let event = match n % 3 {
        0 => Event::User(UserChange {
            operator: None,
            revoked_serials: vec![],
            user: format!("{flavour}user{n}"),
            action: "added".into(),
            groups: vec!["sre".into()],
        }),
        1 => Event::Denied(Denial {
            user: Some(format!("{flavour}user{n}")),
            device: None,
            role: Some("prod".into()),
            code: "mfa_failed".into(),
            reason: "wrong code".into(),
            source_ip: "192.0.2.7".into(),
        }),
        _ => Event::Issued(Box::new(Issuance {
            user: format!("{flavour}user{n}"),
            device: "SHA256:dev".into(),
            role: "prod".into(),
            principals: vec!["deploy".into()],
            serial: n,
            key_id: format!("{flavour}user{n}-{n}"),
            client_key_fingerprint: "SHA256:key".into(),
            valid_after: 1_700_000_000 + n,
            valid_before: 1_700_000_600 + n,
            extensions: vec!["permit-pty".into()],
            critical_options: vec![],
            source_ip: "192.0.2.7".into(),
            ca_fingerprint: "SHA256:ca".into(),
            certificate_sha256: "00".repeat(32),
            request_id: None,
            approvers: vec![],
            reason: None,
            ticket: None,
            break_glass: false,
            out_of_hours: false,
        })),
    };
    Record {
        time: 1_700_000_000 + n,
        policy_hash: "sha256:00".into(),
        event,
    }
}

/// Append records `first..first + count` (of `flavour`) to `entries`, sealed properly.
fn append(entries: &mut Vec<Entry>, first: u64, count: u64, flavour: &str) {
    let mut previous = last_hash(entries);
    for n in first..first + count {
        let (entry, hash) = jit_log::seal(&previous, entries.len() as u64 + 1, &record(n, flavour));
        entries.push(entry);
        previous = hash;
    }
}

fn last_hash(entries: &[Entry]) -> Hash {
    entries.last().map_or(GENESIS, |entry| {
        hex::decode(&entry.hash).unwrap().try_into().unwrap()
    })
}

/// What a forger does after changing history: renumber and rehash from `from` on, so the
/// chain verifies again.
fn reseal_from(entries: &mut [Entry], from: usize) {
    let mut previous = last_hash(&entries[..from]);
    for (pos, entry) in entries.iter_mut().enumerate().skip(from) {
        entry.seq = pos as u64 + 1;
        previous = chain_hash(&previous, entry.seq, entry.body.as_bytes());
        entry.hash = hex::encode(previous);
    }
}

fn log() -> (Vec<Entry>, Vec<Checkpoint>) {
    let mut entries = Vec::new();
    append(&mut entries, 1, ENTRIES, "");
    let checkpoints = SIZES
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let tree = Tree::from_entries(&entries[..size as usize]);
            Checkpoint::of(ORIGIN, &tree, 1_800_000_000 + 60 * i as u64)
        })
        .collect();
    (entries, checkpoints)
}

fn failure(result: jit_log::Result<jit_log::AuditSummary>) -> AuditPoint {
    match result {
        Err(Error::Audit { at, .. }) => at,
        other => panic!("expected an audit failure, got {other:?}"),
    }
}

/// The expected answer when only a checkpoint can tell: the first one covering `seq`.
fn first_covering(seq: u64) -> AuditPoint {
    let index = SIZES.iter().position(|&size| size >= seq).unwrap();
    AuditPoint::Checkpoint {
        index,
        tree_size: SIZES[index],
    }
}

fn entry(seq: u64) -> AuditPoint {
    AuditPoint::Entry { seq }
}

/// A changed body that is still a valid record (what a forger writes), or with
/// `garbage`, possibly not.
fn edit(body: &str, how: u32, garbage: bool) -> String {
    match how % 4 {
        0 => body.replacen("\"user\":\"", "\"user\":\"mallory-", 1),
        1 => body.replacen("\"time\":", "\"time\": ", 1),
        2 => body.replacen("\"time\":17", "\"time\":16", 1),
        _ if garbage => body[..body.len() / 2].to_owned(),
        _ => format!("{body} "),
    }
}

#[test]
fn an_untouched_log_passes() {
    let (entries, checkpoints) = log();
    let summary = audit(&entries, &checkpoints).unwrap();
    assert_eq!(summary.entries, ENTRIES);
    assert_eq!(summary.checkpoints, SIZES.len());
    assert_eq!(summary.covered, 200);
    assert_eq!(summary.uncovered(), 10);
    assert_eq!(summary.root, Tree::from_entries(&entries).root());
    assert_eq!(
        summary.head,
        jit_log::verify_chain(entries.clone()).unwrap().head
    );
    // Without checkpoints only the chain is checked.
    assert_eq!(audit(&entries, &[]).unwrap().covered, 0);
    // Empty logs, with or without the empty checkpoint.
    let empty = Checkpoint::of(ORIGIN, &Tree::new(), 1);
    assert_eq!(empty.root_hash, EMPTY_ROOT);
    assert_eq!(audit(&[], std::slice::from_ref(&empty)).unwrap().entries, 0);
    assert_eq!(audit(&[], &[]).unwrap().root, EMPTY_ROOT);
    // Repeated checkpoints of one size are fine.
    let mut repeated = checkpoints.clone();
    repeated.insert(3, checkpoints[3].clone());
    audit(&entries, &repeated).unwrap();
}

#[test]
fn a_rewrite_after_the_newest_checkpoint_is_only_reported_as_uncovered() {
    // The limit of what an export can show: nothing signed covers record 205 yet, and the
    // chain is recomputable, so a full rewrite there passes. The summary says how much of
    // the log is in that state.
    let (mut entries, checkpoints) = log();
    entries[204].body = edit(&entries[204].body, 0, false);
    reseal_from(&mut entries, 204);
    let summary = audit(&entries, &checkpoints).unwrap();
    assert_eq!(summary.uncovered(), 10);
}

#[test]
fn failures_name_the_place_in_words() {
    let (entries, mut checkpoints) = log();
    checkpoints[4].root_hash = [7; 32];
    let error = audit(&entries, &checkpoints).unwrap_err();
    assert!(
        matches!(error, Error::Audit { at, .. } if at == first_covering(65)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("checkpoint [4] (tree size 65)"),
        "{message}"
    );
}

#[test]
fn checkpoints_of_another_log_or_out_of_time_order_are_refused() {
    let (entries, mut checkpoints) = log();
    checkpoints[6].origin = "other.test/log".into();
    assert_eq!(
        failure(audit(&entries, &checkpoints)),
        AuditPoint::Checkpoint {
            index: 6,
            tree_size: 128
        }
    );
    // The list is judged before any record: a mixed list is refused as such even when an
    // earlier checkpoint would also fail against the records.
    checkpoints[2].root_hash = [9; 32];
    assert_eq!(
        failure(audit(&entries, &checkpoints)),
        AuditPoint::Checkpoint {
            index: 6,
            tree_size: 128
        }
    );
    let (entries, mut checkpoints) = log();
    checkpoints[2].timestamp = checkpoints[3].timestamp + 1;
    assert_eq!(
        failure(audit(&entries, &checkpoints)),
        AuditPoint::Checkpoint {
            index: 2,
            tree_size: 32
        }
    );
}

/// One tampering, and where the audit must say it starts.
#[derive(Debug)]
enum Mutation {
    /// Edit a body, leave the chain broken.
    EditBody { pos: usize, how: u32 },
    /// Overwrite a stored chain hash.
    EditHash { pos: usize },
    /// Edit a body (keeping it a valid record) and recompute the chain from there.
    ForgeEdit { pos: usize, how: u32 },
    /// Delete an entry (not the last), leave the gap.
    Delete { pos: usize },
    /// Delete an entry and renumber and rehash the rest.
    ForgeDelete { pos: usize },
    /// Insert a made-up record and renumber and rehash the rest.
    ForgeInsert { pos: usize },
    /// Swap two entries.
    Reorder { a: usize, b: usize },
    /// Swap two records and renumber and rehash the rest.
    ForgeReorder { a: usize, b: usize },
    /// Drop the tail, keeping `len` entries (fewer than the newest checkpoint covers).
    Truncate { len: usize },
    /// Replace everything after checkpoint `after` with another validly chained history.
    Fork { after: usize, extra: u64 },
    /// Swap two checkpoints in the list.
    SwapCheckpoints { i: usize, j: usize },
    /// Replace a checkpoint by the log's signed head of a forked history of the same size.
    Equivocate { i: usize },
}

fn random_mutation(rng: &mut StdRng) -> Mutation {
    let len = ENTRIES as usize;
    let covered = *SIZES.last().unwrap() as usize;
    let two = |rng: &mut StdRng, below: usize| loop {
        let (a, b) = (rng.gen_range(0..below), rng.gen_range(0..len));
        if a < b {
            return (a, b);
        }
    };
    match rng.gen_range(0..12) {
        0 => Mutation::EditBody {
            pos: rng.gen_range(0..len),
            how: rng.gen(),
        },
        1 => Mutation::EditHash {
            pos: rng.gen_range(0..len),
        },
        2 => Mutation::ForgeEdit {
            pos: rng.gen_range(0..covered),
            how: rng.gen(),
        },
        3 => Mutation::Delete {
            pos: rng.gen_range(0..len - 1),
        },
        4 => Mutation::ForgeDelete {
            pos: rng.gen_range(0..covered),
        },
        5 => Mutation::ForgeInsert {
            pos: rng.gen_range(0..covered),
        },
        6 => {
            let (a, b) = two(rng, len);
            Mutation::Reorder { a, b }
        }
        7 => {
            let (a, b) = two(rng, covered);
            Mutation::ForgeReorder { a, b }
        }
        8 => Mutation::Truncate {
            len: rng.gen_range(0..covered),
        },
        9 => Mutation::Fork {
            after: rng.gen_range(0..SIZES.len() - 1),
            extra: rng.gen_range(0..80),
        },
        10 => {
            let i = rng.gen_range(0..SIZES.len() - 1);
            Mutation::SwapCheckpoints {
                i,
                j: rng.gen_range(i + 1..SIZES.len()),
            }
        }
        _ => Mutation::Equivocate {
            i: rng.gen_range(0..SIZES.len()),
        },
    }
}

/// Apply `mutation` and return the expected failure point.
fn apply(
    mutation: &Mutation,
    entries: &mut Vec<Entry>,
    checkpoints: &mut [Checkpoint],
) -> AuditPoint {
    let seq = |pos: usize| pos as u64 + 1;
    match *mutation {
        Mutation::EditBody { pos, how } => {
            entries[pos].body = edit(&entries[pos].body, how, true);
            entry(seq(pos))
        }
        Mutation::EditHash { pos } => {
            entries[pos].hash = hex::encode([0x5a; 32]);
            entry(seq(pos))
        }
        Mutation::ForgeEdit { pos, how } => {
            entries[pos].body = edit(&entries[pos].body, how, false);
            reseal_from(entries, pos);
            first_covering(seq(pos))
        }
        Mutation::Delete { pos } => {
            entries.remove(pos);
            entry(seq(pos))
        }
        Mutation::ForgeDelete { pos } => {
            entries.remove(pos);
            reseal_from(entries, pos);
            first_covering(seq(pos))
        }
        Mutation::ForgeInsert { pos } => {
            let forged = jit_log::seal(&GENESIS, 1, &record(pos as u64, "forged-")).0;
            entries.insert(pos, forged);
            reseal_from(entries, pos);
            first_covering(seq(pos))
        }
        Mutation::Reorder { a, b } => {
            entries.swap(a, b);
            entry(seq(a))
        }
        Mutation::ForgeReorder { a, b } => {
            entries.swap(a, b);
            reseal_from(entries, a);
            first_covering(seq(a))
        }
        Mutation::Truncate { len } => {
            entries.truncate(len);
            first_covering(seq(len))
        }
        Mutation::Fork { after, extra } => {
            let size = SIZES[after] as usize;
            entries.truncate(size);
            let count = ENTRIES - size as u64 + extra;
            append(entries, size as u64 + 1, count.saturating_sub(40), "fork-");
            first_covering(seq(size))
        }
        Mutation::SwapCheckpoints { i, j } => {
            checkpoints.swap(i, j);
            AuditPoint::Checkpoint {
                index: i,
                tree_size: SIZES[j],
            }
        }
        Mutation::Equivocate { i } => {
            let size = SIZES[i] as usize;
            let mut forked = entries[..size - 1].to_vec();
            append(&mut forked, 1, 1, "equivocation-");
            checkpoints[i].root_hash = Tree::from_entries(&forked).root();
            AuditPoint::Checkpoint {
                index: i,
                tree_size: SIZES[i],
            }
        }
    }
}

#[test]
fn a_thousand_random_mutations_are_all_caught_where_they_start() {
    let (original_entries, original_checkpoints) = log();
    audit(&original_entries, &original_checkpoints).unwrap();
    let mut rng = StdRng::seed_from_u64(0x006a_6974_5f6c_6f67);
    let mut kinds = std::collections::BTreeMap::new();
    for round in 0..1_000 {
        let mutation = random_mutation(&mut rng);
        let (mut entries, mut checkpoints) =
            (original_entries.clone(), original_checkpoints.clone());
        let expected = apply(&mutation, &mut entries, &mut checkpoints);
        assert!(
            entries != original_entries || checkpoints != original_checkpoints,
            "round {round}: {mutation:?} changed nothing"
        );
        // Cross-check the oracle: what it blames on an entry, the chain alone sees there;
        // what it blames on a checkpoint, the chain alone does not see at all.
        let chain = jit_log::verify_chain(entries.clone());
        match expected {
            AuditPoint::Entry { seq } => assert_eq!(chain.unwrap_err().seq, seq, "round {round}"),
            AuditPoint::Checkpoint { .. } => assert!(chain.is_ok(), "round {round}: {mutation:?}"),
        }
        match audit(&entries, &checkpoints) {
            Err(Error::Audit { at, reason }) => assert_eq!(
                at, expected,
                "round {round}: {mutation:?} was located at {at} ({reason}), expected {expected}"
            ),
            other => panic!("round {round}: {mutation:?} was not caught: {other:?}"),
        }
        let name = format!("{mutation:?}");
        let kind = name.split([' ', '{']).next().unwrap().to_owned();
        *kinds.entry(kind).or_insert(0) += 1;
    }
    // Every kind of mutation was drawn a fair number of times.
    assert_eq!(kinds.len(), 12, "{kinds:?}");
    assert!(kinds.values().all(|&n| n >= 40), "{kinds:?}");
}

#[test]
fn a_consistent_history_with_a_wrong_leaf_definition_would_fail() {
    // Guard for the oracle above: the checkpoint heads really are over the entry bodies
    // (leaf i = entry seq i + 1), not over something the mutations leave alone.
    let (entries, checkpoints) = log();
    let leaves: Vec<Hash> = entries
        .iter()
        .map(|e| merkle::leaf_hash(e.body.as_bytes()))
        .collect();
    for checkpoint in &checkpoints {
        let size = checkpoint.tree_size as usize;
        assert_eq!(
            checkpoint.root_hash,
            merkle::root_from_leaf_hashes(&leaves[..size])
        );
    }
}
