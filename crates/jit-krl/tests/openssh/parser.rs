//! The parser and the revocation check against real OpenSSH: KRLs made by `ssh-keygen -k`
//! (and by the encoder) are parsed, and for every certificate and key made by
//! `ssh-keygen`, [`Krl::check_certificate`] / [`Krl::check_key`] must answer what
//! `ssh-keygen -Q` answers.

use std::collections::BTreeSet;

use jit_krl::{CertificateRevocations, Krl, PublicKey, Reason};

use super::lab::{Lab, Rng};

/// Serials where an off-by-one shows: both ends of the serial space, range and bitmap
/// edges (0: a certificate without a serial).
const SERIALS: [u64; 27] = [
    0,
    1,
    2,
    3,
    4,
    99,
    100,
    101,
    199,
    200,
    201,
    1000,
    1001,
    1007,
    1008,
    1009,
    1015,
    1016,
    1017,
    17_383,
    17_384,
    17_385,
    1 << 63,
    u64::MAX - 2,
    u64::MAX - 1,
    u64::MAX,
    0x1234_5678_9abc_def0,
];
const KEY_IDS: [&str; 3] = ["alice@jit", "carol with spaces", "dave"];

/// Two CAs, two users, and a certificate for every combination of CA, user and probe
/// serial (key IDs taken in turn). Returns the lab and every certificate and key file.
fn population() -> (Lab, Vec<String>) {
    let lab = Lab::new();
    for name in ["ca-a", "ca-b", "u1", "u2"] {
        lab.key(name);
    }
    let mut files: Vec<String> = ["ca-a.pub", "ca-b.pub", "u1.pub", "u2.pub"]
        .map(String::from)
        .to_vec();
    for ca in ["ca-a", "ca-b"] {
        for user in ["u1", "u2"] {
            for (i, &serial) in SERIALS.iter().enumerate() {
                files.push(lab.cert(ca, user, KEY_IDS[i % KEY_IDS.len()], serial));
            }
        }
    }
    (lab, files)
}

/// Parse `krl_name` and check every file against it, asserting agreement with
/// `ssh-keygen -Q`; returns the parsed KRL and how many files it revokes.
fn agree(lab: &Lab, krl_name: &str, files: &[String]) -> (Krl, usize) {
    let krl = Krl::parse(&lab.read(krl_name)).unwrap_or_else(|e| panic!("{krl_name}: {e}"));
    let answers = lab.revoked_all(krl_name, files);
    for file in files {
        let ours = if file.ends_with("-cert.pub") {
            krl.check_certificate(&lab.certificate(file))
        } else {
            let text = String::from_utf8(lab.read(file)).unwrap();
            krl.check_key(PublicKey::from_openssh(&text).unwrap().key_data())
        };
        assert_eq!(
            ours.is_some(),
            answers[file],
            "{krl_name}: {file}: ours {ours:?}, ssh-keygen -Q says revoked={}",
            answers[file]
        );
    }
    let revoked = answers.values().filter(|&&r| r).count();
    (krl, revoked)
}

#[test]
fn serials_ranges_bitmaps_and_key_ids_from_ssh_keygen() {
    let (lab, files) = population();
    // Sparse serials make ssh-keygen write bitmaps; 1000-1016 every other one.
    let mut spec =
        String::from("serial: 1\nserial: 100-200\nserial: 18446744073709551615\nid: alice@jit\n");
    for serial in (1000..=1016).step_by(2).chain([1009, 17_384]) {
        spec.push_str(&format!("serial: {serial}\n"));
    }
    lab.reference("a.krl", Some("ca-a"), &spec);
    let (krl, revoked) = agree(&lab, "a.krl", &files);
    assert_eq!(krl.certificates.len(), 1);
    let ca_a = lab.key_of("ca-a");
    let entry = &krl.certificates[0];
    assert_eq!(
        entry.ca_key.as_ref().map(PublicKey::key_data),
        Some(ca_a.key_data())
    );
    assert_eq!(entry.key_ids, vec!["alice@jit"]);
    for serial in [1, 100, 150, 200, 1000, 1009, 1016, 17_384, u64::MAX] {
        assert!(entry.revokes_serial(serial), "{serial}");
    }
    for serial in [0, 2, 99, 201, 1001, 1017, u64::MAX - 1] {
        assert!(!entry.revokes_serial(serial), "{serial}");
    }
    assert!(revoked > 20, "{revoked}");
}

#[test]
fn any_ca_entries_from_ssh_keygen() {
    let (lab, files) = population();
    // `-s none`: serials and key IDs under every CA; -u adds to a KRL with a CA.
    lab.reference(
        "any.krl",
        Some("none"),
        "id: carol with spaces\nserial: 1000-1008\n",
    );
    let (krl, revoked) = agree(&lab, "any.krl", &files);
    assert_eq!(krl.certificates.len(), 1);
    assert_eq!(krl.certificates[0].ca_key, None);
    assert!(revoked > 10);

    lab.reference("mixed.krl", Some("ca-b"), "serial: 2-4\nid: dave\n");
    lab.update_reference("mixed.krl", Some("none"), "id: alice@jit\nserial: 17384\n");
    let (krl, _) = agree(&lab, "mixed.krl", &files);
    assert_eq!(krl.certificates.len(), 2);

    // OpenSSH drops one NUL at the end of a key ID (or the comment): "dave\0" is "dave".
    let trailing_nul = handmade(b"jit\0", &[any_ca(0x23, b"\0\0\0\x05dave\0")]);
    std::fs::write(lab.path("nul.krl"), trailing_nul).unwrap();
    let (krl, revoked) = agree(&lab, "nul.krl", &files);
    assert_eq!((krl.comment.as_str(), revoked), ("jit", 4 * 9));
}

#[test]
fn revoked_keys_in_every_form_ssh_keygen_writes() {
    let (lab, files) = population();
    let u2 = lab.pub_line("u2");
    let ca_b = lab.pub_line("ca-b");

    // An explicit key (section 2): the key, its certificates.
    lab.reference("key.krl", None, &format!("key: {u2}\n"));
    let (krl, revoked) = agree(&lab, "key.krl", &files);
    assert_eq!(krl.explicit_keys.len(), 1);
    assert_eq!(revoked, 1 + 2 * SERIALS.len());

    // A revoked CA key: every certificate it signed.
    lab.reference("ca.krl", None, &format!("key: {ca_b}\n"));
    let (_, revoked) = agree(&lab, "ca.krl", &files);
    assert_eq!(revoked, 1 + 2 * SERIALS.len());

    // SHA-1 (section 3) and SHA-256 (section 5) fingerprints.
    lab.reference("sha1.krl", None, &format!("sha1: {u2}\n"));
    let (krl, revoked) = agree(&lab, "sha1.krl", &files);
    assert_eq!(krl.sha1_fingerprints.len(), 1);
    assert_eq!(revoked, 1 + 2 * SERIALS.len());
    lab.reference("sha256.krl", None, &format!("sha256: {ca_b}\n"));
    let (krl, revoked) = agree(&lab, "sha256.krl", &files);
    assert_eq!(krl.sha256_fingerprints.len(), 1);
    assert_eq!(revoked, 1 + 2 * SERIALS.len());
    let fingerprint = lab.key_of("u2").fingerprint(ssh_key::HashAlg::Sha256);
    lab.reference("hash.krl", None, &format!("hash: {fingerprint}\n"));
    agree(&lab, "hash.krl", &files);
}

#[test]
fn reasons_follow_openssh_order() {
    let (lab, _) = population();
    let mut krl = jit_krl::empty(1, 1);
    let mut any = CertificateRevocations::any_ca();
    any.key_ids.push("dave".into());
    krl.certificates.push(any);
    let mut a = CertificateRevocations::new(lab.key_of("ca-a"));
    a.serial_ranges.push(3..=4);
    krl.certificates.push(a);
    krl.explicit_keys.push(lab.key_of("ca-b"));
    let krl = Krl::parse(&krl.encode().unwrap()).unwrap();

    let check = |file: &str| krl.check_certificate(&lab.certificate(file));
    assert_eq!(check(&lab.cert("ca-a", "u1", "x", 3)), Some(Reason::Serial));
    assert_eq!(
        check(&lab.cert("ca-a", "u1", "dave", 9)),
        Some(Reason::KeyId)
    );
    assert_eq!(check(&lab.cert("ca-b", "u1", "x", 9)), Some(Reason::CaKey));
    assert_eq!(check(&lab.cert("ca-a", "u1", "x", 9)), None);
    assert_eq!(Reason::CaKey.to_string(), "its CA key is revoked");
}

#[test]
fn random_krls_agree_with_ssh_keygen() {
    let (lab, files) = population();
    let cas = [lab.key_of("ca-a"), lab.key_of("ca-b")];
    let mut rng = Rng(0x6a69_742d_6b72_6c21);
    let pick = |rng: &mut Rng| SERIALS[rng.below(SERIALS.len() as u64) as usize];
    for round in 0..12 {
        let mut krl = jit_krl::empty(round, 1_700_000_000);
        for ca in [Some(&cas[0]), Some(&cas[1]), None] {
            let mut entry = match ca {
                Some(ca) => CertificateRevocations::new(ca.clone()),
                None => CertificateRevocations::any_ca(),
            };
            for _ in 0..rng.below(6) {
                let serial = pick(&mut rng);
                let nudged = match rng.below(3) {
                    0 => serial.saturating_sub(1),
                    1 => serial.saturating_add(1),
                    _ => serial,
                };
                entry
                    .serials
                    .extend([serial, nudged].into_iter().filter(|&s| s != 0));
            }
            for _ in 0..rng.below(3) {
                let lo = pick(&mut rng).max(1);
                let width = if rng.below(2) == 0 { 3 } else { 200 };
                let hi = lo.saturating_add(rng.below(width));
                entry.serial_ranges.push(lo..=hi);
            }
            if rng.below(3) == 0 {
                entry.key_ids.push(KEY_IDS[rng.below(3) as usize].into());
            }
            krl.certificates.push(entry);
        }
        if rng.below(4) == 0 {
            krl.explicit_keys
                .push(lab.key_of(["u1", "u2", "ca-a", "ca-b"][rng.below(4) as usize]));
        }
        lab.write("round.krl", &krl);
        let (parsed, _) = agree(&lab, "round.krl", &files);
        // The parsed KRL encodes to a KRL that OpenSSH reads the same way.
        std::fs::write(lab.path("again.krl"), parsed.encode().unwrap()).unwrap();
        assert_eq!(
            lab.listing("again.krl"),
            lab.listing("round.krl"),
            "round {round}"
        );
    }
}

#[test]
fn key_ids_with_spaces_and_unicode() {
    let lab = Lab::new();
    lab.key("ca");
    let ids: BTreeSet<&str> = ["a", "b b", "ünïcode"].into();
    let spec: String = ids.iter().map(|id| format!("id: {id}\n")).collect();
    lab.reference("ids.krl", Some("ca"), &spec);
    let krl = Krl::parse(&lab.read("ids.krl")).unwrap();
    let got: BTreeSet<&str> = krl.certificates[0]
        .key_ids
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(got, ids);
}

/// A KRL header (version 1, no comment unless given) followed by `sections`.
fn handmade(comment: &[u8], sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"SSHKRL\n\0\0\0\0\x01".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(&[0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(comment.len() as u32).to_be_bytes());
    out.extend_from_slice(comment);
    for (kind, body) in sections {
        out.push(*kind);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

/// A certificates section body for any CA with one subsection.
fn any_ca(kind: u8, sub: &[u8]) -> (u8, Vec<u8>) {
    let mut body = vec![0; 8];
    body.push(kind);
    body.extend_from_slice(&(sub.len() as u32).to_be_bytes());
    body.extend_from_slice(sub);
    (1, body)
}

fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

#[test]
fn what_the_parser_refuses_openssh_refuses() {
    let lab = Lab::new();
    lab.key("u1");
    let bitmap = |offset: u64, mpint: &[u8]| {
        let mut sub = u64s(&[offset]);
        sub.extend_from_slice(&(mpint.len() as u32).to_be_bytes());
        sub.extend_from_slice(mpint);
        any_ca(0x22, &sub)
    };
    let good = handmade(b"", &[any_ca(0x20, &u64s(&[5]))]);
    let mut v2 = good.clone();
    v2[11] = 2;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong magic", [&b"SSHKRL\n\x01"[..], &good[8..]].concat()),
        ("format version 2", v2),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("trailing byte", [&good[..], &[1]].concat()),
        ("unknown section", handmade(b"", &[(6, vec![])])),
        ("extension section", handmade(b"", &[(255, vec![])])),
        ("NUL in comment", handmade(b"a\0b", &[])),
        ("serial 0", handmade(b"", &[any_ca(0x20, &u64s(&[0]))])),
        ("ragged list", handmade(b"", &[any_ca(0x20, &[0, 0, 1])])),
        (
            "range from 0",
            handmade(b"", &[any_ca(0x21, &u64s(&[0, 5]))]),
        ),
        (
            "backwards range",
            handmade(b"", &[any_ca(0x21, &u64s(&[6, 5]))]),
        ),
        (
            "long range",
            handmade(b"", &[any_ca(0x21, &u64s(&[1, 5, 9]))]),
        ),
        ("negative bitmap", handmade(b"", &[bitmap(10, &[0x80])])),
        ("bitmap at 0", handmade(b"", &[bitmap(0, &[0x01])])),
        (
            "wrapping bitmap",
            handmade(b"", &[bitmap(u64::MAX, &[0x02])]),
        ),
        ("wide bitmap", handmade(b"", &[bitmap(1, &[0x01; 2049])])),
        (
            "NUL in key ID",
            handmade(b"", &[any_ca(0x23, b"\0\0\0\x03a\0b")]),
        ),
        ("unknown subsection", handmade(b"", &[any_ca(0x24, b"")])),
        (
            "short SHA-256",
            handmade(b"", &[(5, [&[0, 0, 0, 31][..], &[7; 31]].concat())]),
        ),
        (
            "long SHA-1",
            handmade(b"", &[(3, [&[0, 0, 0, 21][..], &[7; 21]].concat())]),
        ),
        (
            "garbage CA key",
            handmade(b"", &[(1, b"\0\0\0\x03abc\0\0\0\0".to_vec())]),
        ),
        (
            "garbage signature",
            handmade(b"", &[(4, b"\0\0\0\x03abc".to_vec())]),
        ),
    ];
    std::fs::write(lab.path("good.krl"), &good).unwrap();
    assert!(!lab.revoked("good.krl", "u1.pub"));
    Krl::parse(&good).unwrap();
    for (what, bytes) in cases {
        std::fs::write(lab.path("bad.krl"), &bytes).unwrap();
        let output = lab.keygen_cmd(&["-Q", "-f", "bad.krl", "u1.pub"]);
        assert!(
            !matches!(output.status.code(), Some(0 | 1)),
            "{what}: ssh-keygen accepted it: {output:?}"
        );
        assert!(
            Krl::parse(&bytes).is_err(),
            "{what}: the parser accepted it"
        );
    }
}
