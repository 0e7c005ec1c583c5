//! Properties of the wire format, without OpenSSH: whatever is encoded parses back to the
//! same revocations, and no input, however broken, makes the parser panic.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use jit_krl::{CertificateRevocations, Error, Krl, PublicKey};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use ssh_key::public::{Ed25519PublicKey, KeyData};

fn key(byte: u8) -> PublicKey {
    PublicKey::new(KeyData::Ed25519(Ed25519PublicKey([byte; 32])), "")
}

/// A CA key blob; `None` for any CA.
type CaBlob = Option<Vec<u8>>;
/// Revoked serials as disjoint sorted intervals, and key IDs.
type CaMeaning = (Vec<(u64, u64)>, BTreeSet<String>);

/// What a KRL revokes, in one canonical form: per CA, the serials and key IDs; all key
/// hashes; SHA-1 hashes.
#[derive(Debug, PartialEq, Eq)]
struct Meaning {
    cas: BTreeMap<CaBlob, CaMeaning>,
    sha256: BTreeSet<[u8; 32]>,
    sha1: BTreeSet<[u8; 20]>,
}

fn meaning(krl: &Krl) -> Meaning {
    let mut intervals: BTreeMap<CaBlob, Vec<(u64, u64)>> = BTreeMap::new();
    let mut ids: BTreeMap<CaBlob, BTreeSet<String>> = BTreeMap::new();
    for entry in &krl.certificates {
        let blob = entry.ca_key.as_ref().map(|k| k.to_bytes().unwrap());
        let list = intervals.entry(blob.clone()).or_default();
        list.extend(entry.serials.iter().map(|&s| (s, s)));
        list.extend(entry.serial_ranges.iter().map(|r| (*r.start(), *r.end())));
        ids.entry(blob)
            .or_default()
            .extend(entry.key_ids.iter().cloned());
    }
    let mut cas = BTreeMap::new();
    for (blob, mut list) in intervals {
        list.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (lo, hi) in list {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        let key_ids = ids.remove(&blob).unwrap_or_default();
        if !merged.is_empty() || !key_ids.is_empty() {
            cas.insert(blob, (merged, key_ids));
        }
    }
    let mut sha256: BTreeSet<[u8; 32]> = krl.sha256_fingerprints.iter().copied().collect();
    for k in &krl.explicit_keys {
        sha256.insert(Sha256::digest(k.to_bytes().unwrap()).into());
    }
    Meaning {
        cas,
        sha256,
        sha1: krl.sha1_fingerprints.iter().copied().collect(),
    }
}

/// Serials in clusters near a few bases (both ends of the space among them), so lists,
/// ranges and bitmaps all appear.
fn serial() -> impl Strategy<Value = u64> {
    (
        prop::sample::select(vec![1u64, 1_000, 70_000, 1 << 40, u64::MAX - 40_000]),
        0u64..40_000,
    )
        .prop_map(|(base, delta)| base + delta)
}

fn range() -> impl Strategy<Value = std::ops::RangeInclusive<u64>> {
    (serial(), prop_oneof![0u64..4, 0u64..200, 0u64..100_000])
        .prop_map(|(lo, len)| lo..=lo.saturating_add(len))
}

fn entry() -> impl Strategy<Value = CertificateRevocations> {
    (
        prop::option::of(0u8..4),
        prop::collection::vec(serial(), 0..200),
        prop::collection::vec(range(), 0..4),
        prop::collection::vec("[a-z@. ]{0,12}", 0..4),
    )
        .prop_map(
            |(ca, serials, serial_ranges, key_ids)| CertificateRevocations {
                ca_key: ca.map(key),
                serials,
                serial_ranges,
                key_ids,
            },
        )
}

fn krl() -> impl Strategy<Value = Krl> {
    (
        any::<u64>(),
        any::<u64>(),
        "[ -~]{0,20}",
        prop::collection::vec(entry(), 0..4),
        prop::collection::vec(10u8..20, 0..3),
        prop::collection::vec(any::<[u8; 20]>(), 0..3),
        prop::collection::vec(any::<[u8; 32]>(), 0..3),
    )
        .prop_map(
            |(version, generated_at, comment, certificates, keys, sha1, sha256)| Krl {
                version,
                generated_at,
                comment,
                certificates,
                explicit_keys: keys.into_iter().map(key).collect(),
                sha1_fingerprints: sha1,
                sha256_fingerprints: sha256,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn encode_then_parse_keeps_the_meaning(krl in krl()) {
        let bytes = krl.encode().unwrap();
        let parsed = Krl::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.version, krl.version);
        prop_assert_eq!(parsed.generated_at, krl.generated_at);
        prop_assert_eq!(&parsed.comment, &krl.comment);
        prop_assert_eq!(meaning(&parsed), meaning(&krl));
        // And again: a parsed KRL encodes to the same meaning.
        let again = Krl::parse(&parsed.encode().unwrap()).unwrap();
        prop_assert_eq!(meaning(&again), meaning(&krl));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Krl::parse(&bytes);
        let mut with_magic = b"SSHKRL\n\0\0\0\0\x01".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Krl::parse(&with_magic);
    }

    #[test]
    fn damaged_krls_are_refused_or_still_encodable(
        krl in krl(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = krl.encode().unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        match Krl::parse(&bytes) {
            // Whatever parses is a valid KRL again.
            Ok(parsed) => { parsed.encode().unwrap(); }
            Err(Error::Malformed { offset, reason }) => {
                prop_assert!(offset <= bytes.len(), "{} > {}", offset, bytes.len());
                prop_assert!(!reason.is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_and_huge_counts_are_refused() {
    let mut krl = jit_krl::empty(1, 2);
    let mut ca = CertificateRevocations::new(key(1));
    ca.serials = vec![5, 6, 9];
    ca.key_ids = vec!["x".into()];
    krl.certificates.push(ca);
    let bytes = krl.encode().unwrap();
    for extra in [&[0u8][..], &[1], &[1, 0, 0, 0]] {
        let long = [&bytes[..], extra].concat();
        assert!(Krl::parse(&long).is_err(), "{extra:?}");
    }
    // Cut anywhere but right after the header (an empty KRL): truncated.
    let header = jit_krl::empty(1, 2).encode().unwrap().len();
    for cut in (0..bytes.len()).filter(|&cut| cut != header) {
        assert!(Krl::parse(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Every length field in turn claims u32::MAX bytes.
    for at in [header - 8, header - 4, header + 1, header + 5] {
        let mut huge = bytes.clone();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = Krl::parse(&huge).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{at}: {err}");
    }
    let wrong_magic = [&b"SSHKRL\n\x01"[..], &bytes[8..]].concat();
    assert!(Krl::parse(&wrong_magic)
        .unwrap_err()
        .to_string()
        .contains("KRL magic"));
}
