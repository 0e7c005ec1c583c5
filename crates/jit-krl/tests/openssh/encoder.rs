//! The encoder checked against real OpenSSH: certificates made by `ssh-keygen -s`,
//! KRLs written by [`Krl::encode`], answers from `ssh-keygen -Q`, and reference KRLs made
//! by `ssh-keygen -k` from the same revocation spec.

use std::collections::{BTreeMap, BTreeSet};

use jit_krl as krl;

use super::lab::{revocations, Lab, Rng, ED25519_CA_SECTION_HEADER, HEADER_BYTES};

#[test]
fn revokes_exactly_the_listed_certificates() {
    let lab = Lab::new();
    let ca = lab.key("ca");
    lab.key("user");
    let sparse = [10u64, 12, 13, 17, 21, 22, 23, 30, 38, 40];
    let mut revoked_serials = vec![1u64, 2, 3, 1000, u64::MAX - 1];
    revoked_serials.extend(sparse);

    let mut certs: Vec<(String, bool)> = Vec::new();
    let mut serials: Vec<u64> = vec![1, 2, 3, 4, 999, 1000, 1001, u64::MAX - 2, u64::MAX - 1];
    serials.extend(9..=41);
    for serial in serials {
        let cert = lab.cert("ca", "user", "plain", serial);
        certs.push((cert, revoked_serials.contains(&serial)));
    }
    certs.push((lab.cert("ca", "user", "alice@jit", 5000), true));
    certs.push((lab.cert("ca", "user", "alice@jit", 5001), true));
    certs.push((lab.cert("ca", "user", "bob@jit", 5002), false));

    let mut krl = krl::empty(3, 1_700_000_000);
    krl.comment = "jit test".into();
    krl.certificates
        .push(revocations(&ca, &revoked_serials, &["alice@jit"]));
    let ours = lab.write("ours.krl", &krl);

    let mut spec = String::from("serial: 1-3\nserial: 1000\nserial: 18446744073709551614\n");
    for serial in sparse {
        spec.push_str(&format!("serial: {serial}\n"));
    }
    spec.push_str("id: alice@jit\n");
    let reference = lab.reference("ref.krl", Some("ca"), &spec);

    for (cert, expected) in &certs {
        assert_eq!(lab.revoked("ours.krl", cert), *expected, "{cert}");
        assert_eq!(
            lab.revoked("ref.krl", cert),
            *expected,
            "{cert} (ssh-keygen -k)"
        );
    }
    assert_eq!(lab.listing("ours.krl"), lab.listing("ref.krl"));
    // ssh-keygen -k writes no comment.
    let ours_without_comment = ours.len() - krl.comment.len();
    assert!(
        ours_without_comment <= reference.len(),
        "{ours_without_comment} > {}",
        reference.len()
    );
    assert!(
        !lab.revoked("ours.krl", "user.pub"),
        "the plain key is not revoked"
    );
}

#[test]
fn empty_krl_revokes_nothing() {
    let lab = Lab::new();
    lab.key("ca");
    lab.key("user");
    lab.write("empty.krl", &krl::empty(1, 1_700_000_000));
    for serial in [1, 2, 1000, u64::MAX - 1] {
        let cert = lab.cert("ca", "user", "someone", serial);
        assert!(!lab.revoked("empty.krl", &cert));
    }
    assert!(!lab.revoked("empty.krl", "user.pub"));
    assert!(!lab.revoked("empty.krl", "ca.pub"));
}

#[test]
fn explicit_keys_revoke_the_key_and_its_certificates() {
    let lab = Lab::new();
    lab.key("ca");
    let stolen = lab.key("stolen");
    lab.key("fine");
    let stolen_cert = lab.cert("ca", "stolen", "x", 7);
    let fine_cert = lab.cert("ca", "fine", "x", 8);

    let mut krl = krl::empty(1, 1);
    krl.explicit_keys.push(stolen.clone());
    lab.write("keys.krl", &krl);
    let key_line = std::fs::read_to_string(lab.path("stolen.pub")).unwrap();
    lab.reference("keys-ref.krl", None, &format!("key: {key_line}"));

    for krl in ["keys.krl", "keys-ref.krl"] {
        assert!(lab.revoked(krl, "stolen.pub"));
        assert!(lab.revoked(krl, &stolen_cert));
        assert!(!lab.revoked(krl, "fine.pub"));
        assert!(!lab.revoked(krl, &fine_cert));
    }
}

#[test]
fn revocations_are_scoped_to_their_ca() {
    let lab = Lab::new();
    let ca_a = lab.key("ca-a");
    lab.key("ca-b");
    lab.key("user");
    let a_serial = lab.cert("ca-a", "user", "shared", 77);
    let b_serial = lab.cert("ca-b", "user", "shared", 77);
    let a_id = lab.cert("ca-a", "user", "carol", 90);
    let b_id = lab.cert("ca-b", "user", "carol", 91);

    let mut krl = krl::empty(1, 1);
    krl.certificates.push(revocations(&ca_a, &[77], &["carol"]));
    lab.write("a.krl", &krl);
    assert!(lab.revoked("a.krl", &a_serial));
    assert!(!lab.revoked("a.krl", &b_serial));
    assert!(lab.revoked("a.krl", &a_id));
    assert!(!lab.revoked("a.krl", &b_id));
}

#[test]
fn bitmaps_up_to_the_width_openssh_reads() {
    let lab = Lab::new();
    let ca = lab.key("ca");
    lab.key("user");
    let o = 100_000u64;
    let probes = [o, o + 1, o + 8, o + 16_382, o + 16_383, o + 16_384];
    let certs: Vec<String> = probes
        .iter()
        .map(|&s| lab.cert("ca", "user", "wide", s))
        .collect();

    // One bit every 8 serials, the last at bit 16383: one bitmap, 2048 bytes of mpint
    // magnitude whose top bit is set, so 2049 with the zero byte.
    let mut widest: Vec<u64> = (0..2048).map(|k| o + 8 * k).collect();
    widest.push(o + 16_383);
    let mut krl = krl::empty(1, 1);
    krl.certificates.push(revocations(&ca, &widest, &[]));
    let bytes = lab.write("widest.krl", &krl);
    assert_eq!(
        bytes.len(),
        HEADER_BYTES + ED25519_CA_SECTION_HEADER + 1 + 4 + 8 + 4 + 2049
    );
    let expected = [true, false, true, false, true, false];
    for (cert, want) in certs.iter().zip(expected) {
        assert_eq!(lab.revoked("widest.krl", cert), want, "{cert}");
    }

    // One more bit (16384) does not fit: the encoder splits.
    let wider: Vec<u64> = (0..=2048).map(|k| o + 8 * k).collect();
    krl.certificates = vec![revocations(&ca, &wider, &[])];
    lab.write("wider.krl", &krl);
    let expected = [true, false, true, false, false, true];
    for (cert, want) in certs.iter().zip(expected) {
        assert_eq!(lab.revoked("wider.krl", cert), want, "{cert}");
    }
}

#[test]
fn dense_runs_are_smaller_than_a_list() {
    let lab = Lab::new();
    let ca = lab.key("ca");
    lab.key("user");
    let list_size = |n: usize| HEADER_BYTES + ED25519_CA_SECTION_HEADER + 5 + 8 * n;

    // A contiguous run: one range subsection.
    let run: Vec<u64> = (1..=500).collect();
    let mut krl = krl::empty(1, 1);
    krl.certificates.push(revocations(&ca, &run, &[]));
    let bytes = lab.write("run.krl", &krl);
    assert_eq!(bytes.len(), HEADER_BYTES + ED25519_CA_SECTION_HEADER + 21);
    assert!(bytes.len() < list_size(run.len()));
    let reference = lab.reference("run-ref.krl", Some("ca"), "serial: 1-500\n");
    assert!(bytes.len() <= reference.len());

    // Every third serial missing in 10..=400: one bitmap subsection of 391 bits.
    let sparse: Vec<u64> = (10..=400).filter(|s| s % 3 != 0).collect();
    krl.certificates = vec![revocations(&ca, &sparse, &[])];
    let bytes = lab.write("sparse.krl", &krl);
    assert_eq!(
        bytes.len(),
        HEADER_BYTES + ED25519_CA_SECTION_HEADER + 1 + 4 + 8 + 4 + 391_usize.div_ceil(8)
    );
    assert!(bytes.len() * 5 < list_size(sparse.len()));
    let spec: String = sparse.iter().map(|s| format!("serial: {s}\n")).collect();
    let reference = lab.reference("sparse-ref.krl", Some("ca"), &spec);
    assert!(bytes.len() <= reference.len());
    assert_eq!(lab.listing("sparse.krl"), lab.listing("sparse-ref.krl"));

    for (serial, want) in [(250, true), (501, false)] {
        let cert = lab.cert("ca", "user", "r", serial);
        assert_eq!(lab.revoked("run.krl", &cert), want);
    }
    for (serial, want) in [
        (10, true),
        (11, true),
        (12, false),
        (400, true),
        (401, false),
    ] {
        let cert = lab.cert("ca", "user", "s", serial);
        assert_eq!(lab.revoked("sparse.krl", &cert), want);
    }
}

#[test]
fn random_serial_sets_agree_with_ssh_keygen() {
    let lab = Lab::new();
    let ca = lab.key("ca");
    lab.key("user");
    let mut rng = Rng(0x4b52_4c5f_7465_7374);

    // Certificates in clusters of several densities, near both ends of the serial space.
    let mut pool: BTreeSet<u64> = BTreeSet::new();
    pool.extend(1..=8);
    pool.extend((20..=60).step_by(3));
    pool.extend([5_000, 5_001, 5_003, 5_008, 5_016, 20_000]);
    pool.extend([u64::MAX - 3, u64::MAX - 2, u64::MAX - 1]);
    for _ in 0..4 {
        pool.insert(1 + rng.below(u64::MAX - 1));
    }
    let certs: BTreeMap<u64, String> = pool
        .iter()
        .map(|&s| (s, lab.cert("ca", "user", "p", s)))
        .collect();
    let files: Vec<String> = certs.values().cloned().collect();

    for round in 0..30u64 {
        // A random subset of the certificates, plus revoked serials no certificate has,
        // close to the ones that must stay valid (where an off-by-one would show).
        let mut revoked: BTreeSet<u64> = pool
            .iter()
            .copied()
            .filter(|_| rng.below(100) < 45)
            .collect();
        for &serial in &pool {
            for delta in [1u64, 2, 5, 9] {
                for noise in [serial.wrapping_sub(delta), serial.wrapping_add(delta)] {
                    if noise != 0 && !pool.contains(&noise) && rng.below(100) < 40 {
                        revoked.insert(noise);
                    }
                }
            }
        }
        if round % 3 == 0 {
            let start = 9 + rng.below(10);
            revoked.extend((start..start + rng.below(40)).filter(|s| !pool.contains(s)));
        }

        let mut krl = krl::empty(round, 1_700_000_000);
        let mut serials: Vec<u64> = revoked.iter().copied().collect();
        serials.reverse();
        krl.certificates.push(revocations(&ca, &serials, &[]));
        let bytes = lab.write("round.krl", &krl);
        let answers = lab.revoked_all("round.krl", &files);
        for (serial, file) in &certs {
            assert_eq!(
                answers[file],
                revoked.contains(serial),
                "round {round}, serial {serial}"
            );
        }
        assert!(bytes.len() <= HEADER_BYTES + ED25519_CA_SECTION_HEADER + 5 + 8 * revoked.len());

        if round % 5 == 0 {
            let spec: String = revoked.iter().map(|s| format!("serial: {s}\n")).collect();
            let reference = lab.reference("round-ref.krl", Some("ca"), &spec);
            assert_eq!(lab.listing("round.krl"), lab.listing("round-ref.krl"));
            assert!(bytes.len() <= reference.len(), "round {round}");
        }
    }
}
