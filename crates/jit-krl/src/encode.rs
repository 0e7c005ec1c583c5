//! The KRL encoder: [`Krl::encode`] writes a KRL the way `ssh-keygen -k` would, without a
//! signature section (hosts fetch the KRL over pinned TLS):
//! - one `KRL_SECTION_CERTIFICATES` (1) per distinct CA key (the "any CA" entry with an
//!   empty key), holding long serial ranges as range subsections, the other serials as
//!   the smallest mix of list, range and bitmap subsections (chosen by an exact size
//!   minimisation in [`serials`], never larger than a plain list; bitmaps kept within the
//!   2048-byte mpints OpenSSH reads) and then one key ID subsection;
//! - plain keys and SHA-256 fingerprints as one `KRL_SECTION_FINGERPRINT_SHA256` (5)
//!   section of sorted hashes, SHA-1 fingerprints as one `KRL_SECTION_FINGERPRINT_SHA1`
//!   (3). OpenSSH hashes the plain key of a certificate too, so a revoked key also
//!   revokes every certificate of it, and every certificate signed by it.
//!
//! Serial 0 means "no serial" to OpenSSH and cannot be revoked; key IDs and the comment
//! cannot hold NUL bytes (OpenSSH would reject the whole file, and sshd then refuses every
//! key login).

mod serials;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use sha2::{Digest, Sha256};
use ssh_key::PublicKey;

use crate::wire::{put_string, put_u32, put_u64};
use crate::{
    Error, Krl, Result, CERT_KEY_ID, CERT_SERIAL_BITMAP, CERT_SERIAL_LIST, CERT_SERIAL_RANGE,
    FORMAT_VERSION, MAGIC, MAX_KRL_BYTES, SECTION_CERTIFICATES, SECTION_FINGERPRINT_SHA1,
    SECTION_FINGERPRINT_SHA256,
};
use serials::Kind;

/// Ranges of at most this many serials are handed to the planner serial by serial (it may
/// fold them into a bitmap with their neighbours); longer ones become range subsections.
const RANGE_AS_SERIALS_MAX: u64 = 64;

/// One CA's revocations, merged, sorted and deduplicated. `blob` is empty for "any CA".
struct CaSection {
    blob: Vec<u8>,
    serials: BTreeSet<u64>,
    /// Disjoint, sorted ranges longer than [`RANGE_AS_SERIALS_MAX`]: lo -> hi.
    ranges: BTreeMap<u64, u64>,
    key_ids: BTreeSet<String>,
}

impl Krl {
    /// Encode as OpenSSH binary KRL: magic "SSHKRL\n\0", u32 format version 1, u64
    /// krl_version, u64 generated_date, u64 flags (0), string reserved (empty), string
    /// comment, then the sections.
    ///
    /// Fails on serial 0, an empty range, a NUL byte in a key ID or the comment, a key
    /// that cannot be encoded, and on a result too large for OpenSSH to load.
    pub fn encode(&self) -> Result<Vec<u8>> {
        check_no_nul("the KRL comment", &self.comment)?;
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u64(&mut out, self.version);
        put_u64(&mut out, self.generated_at);
        put_u64(&mut out, 0);
        put_string(&mut out, b"")?;
        put_string(&mut out, self.comment.as_bytes())?;

        for ca in self.ca_sections()? {
            let body = certificates_section(&ca)?;
            out.push(SECTION_CERTIFICATES);
            put_string(&mut out, &body)?;
        }

        let sha1: BTreeSet<[u8; 20]> = self.sha1_fingerprints.iter().copied().collect();
        hash_section(&mut out, SECTION_FINGERPRINT_SHA1, &sha1)?;
        let mut sha256: BTreeSet<[u8; 32]> = self.sha256_fingerprints.iter().copied().collect();
        for key in &self.explicit_keys {
            sha256.insert(Sha256::digest(key_blob(key)?).into());
        }
        hash_section(&mut out, SECTION_FINGERPRINT_SHA256, &sha256)?;

        if out.len() > MAX_KRL_BYTES {
            return Err(Error::Encode(format!(
                "the KRL would be {} bytes, more than the {MAX_KRL_BYTES} OpenSSH loads",
                out.len()
            )));
        }
        Ok(out)
    }

    /// The certificate revocations grouped by CA key blob (first appearance first),
    /// validated; CAs with nothing revoked are left out.
    fn ca_sections(&self) -> Result<Vec<CaSection>> {
        let mut sections: Vec<CaSection> = Vec::new();
        for revocations in &self.certificates {
            let blob = match &revocations.ca_key {
                Some(key) => key_blob(key)?,
                None => Vec::new(),
            };
            if let Some(&serial) = revocations.serials.iter().find(|&&s| s == 0) {
                return Err(Error::Encode(format!(
                    "serial {serial} cannot be revoked: OpenSSH reads serial 0 as \"no serial\""
                )));
            }
            for key_id in &revocations.key_ids {
                check_no_nul("a revoked key ID", key_id)?;
            }
            let index = match sections.iter().position(|s| s.blob == blob) {
                Some(index) => index,
                None => {
                    sections.push(CaSection {
                        blob,
                        serials: BTreeSet::new(),
                        ranges: BTreeMap::new(),
                        key_ids: BTreeSet::new(),
                    });
                    sections.len() - 1
                }
            };
            let section = &mut sections[index];
            section.serials.extend(revocations.serials.iter().copied());
            for range in &revocations.serial_ranges {
                section.add_range(range)?;
            }
            section.key_ids.extend(revocations.key_ids.iter().cloned());
        }
        for section in &mut sections {
            // Keep the serials no long range covers.
            let ranges = &section.ranges;
            section
                .serials
                .retain(|s| ranges.range(..=s).next_back().is_none_or(|(_, hi)| s > hi));
        }
        sections.retain(|s| !s.serials.is_empty() || !s.ranges.is_empty() || !s.key_ids.is_empty());
        Ok(sections)
    }
}

impl CaSection {
    /// Add a revoked range: short ones serial by serial, long ones merged into `ranges`.
    fn add_range(&mut self, range: &RangeInclusive<u64>) -> Result<()> {
        let (mut lo, mut hi) = (*range.start(), *range.end());
        if lo == 0 || lo > hi {
            return Err(Error::Encode(format!(
                "the serial range {lo}-{hi} cannot be revoked: it is empty or starts at 0"
            )));
        }
        if hi - lo < RANGE_AS_SERIALS_MAX {
            self.serials.extend(lo..=hi);
            return Ok(());
        }
        // Absorb every range that overlaps or touches [lo, hi].
        while let Some((&l, &h)) = self.ranges.range(..=hi.saturating_add(1)).next_back() {
            if h.saturating_add(1) < lo {
                break;
            }
            self.ranges.remove(&l);
            lo = lo.min(l);
            hi = hi.max(h);
        }
        self.ranges.insert(lo, hi);
        Ok(())
    }
}

/// The body of one KRL_SECTION_CERTIFICATES: CA key, reserved, serial subsections, key IDs.
fn certificates_section(ca: &CaSection) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    put_string(&mut body, &ca.blob)?;
    put_string(&mut body, b"")?;

    for (&lo, &hi) in &ca.ranges {
        let mut sub = Vec::new();
        put_u64(&mut sub, lo);
        put_u64(&mut sub, hi);
        body.push(CERT_SERIAL_RANGE);
        put_string(&mut body, &sub)?;
    }

    let sorted: Vec<u64> = ca.serials.iter().copied().collect();
    for segment in serials::plan(&sorted) {
        let run = &sorted[segment.start..=segment.end];
        let mut sub = Vec::new();
        let kind = match segment.kind {
            Kind::List => {
                for &serial in run {
                    put_u64(&mut sub, serial);
                }
                CERT_SERIAL_LIST
            }
            Kind::Range => {
                put_u64(&mut sub, run[0]);
                put_u64(&mut sub, run[run.len() - 1]);
                CERT_SERIAL_RANGE
            }
            Kind::Bitmap => {
                put_u64(&mut sub, run[0]);
                put_string(&mut sub, &serials::bitmap_mpint(run[0], run))?;
                CERT_SERIAL_BITMAP
            }
        };
        body.push(kind);
        put_string(&mut body, &sub)?;
    }

    if !ca.key_ids.is_empty() {
        let mut sub = Vec::new();
        for key_id in &ca.key_ids {
            put_string(&mut sub, key_id.as_bytes())?;
        }
        body.push(CERT_KEY_ID);
        put_string(&mut body, &sub)?;
    }
    Ok(body)
}

/// A section of fixed-size hashes, left out when there are none.
fn hash_section<const N: usize>(
    out: &mut Vec<u8>,
    kind: u8,
    hashes: &BTreeSet<[u8; N]>,
) -> Result<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let mut body = Vec::with_capacity(hashes.len() * (4 + N));
    for hash in hashes {
        put_string(&mut body, hash)?;
    }
    out.push(kind);
    put_string(out, &body)
}

/// The SSH wire blob of a plain public key (no comment).
fn key_blob(key: &PublicKey) -> Result<Vec<u8>> {
    key.to_bytes()
        .map_err(|e| Error::Encode(format!("cannot encode a public key: {e}")))
}

fn check_no_nul(what: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::Encode(format!(
            "{what} contains a NUL byte: {text:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CertificateRevocations;
    use ssh_key::public::{Ed25519PublicKey, KeyData};
    use std::collections::BTreeMap;

    fn key(byte: u8) -> PublicKey {
        PublicKey::new(KeyData::Ed25519(Ed25519PublicKey([byte; 32])), "test key")
    }

    /// Reads the wire format back, following PROTOCOL.krl, into
    /// (CA blob -> (serials, key IDs), SHA-256 hashes).
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            head
        }
        fn u8(&mut self) -> u8 {
            self.take(1)[0]
        }
        fn u32(&mut self) -> u32 {
            u32::from_be_bytes(self.take(4).try_into().unwrap())
        }
        fn u64(&mut self) -> u64 {
            u64::from_be_bytes(self.take(8).try_into().unwrap())
        }
        fn string(&mut self) -> &'a [u8] {
            let len = self.u32() as usize;
            self.take(len)
        }
    }

    type CaMap = BTreeMap<Vec<u8>, (BTreeSet<u64>, Vec<String>, Vec<u8>)>;

    fn decode(bytes: &[u8]) -> (CaMap, Vec<[u8; 32]>) {
        let mut r = Reader(bytes);
        assert_eq!(r.take(8), MAGIC);
        assert_eq!(r.u32(), 1);
        let (_, _, flags) = (r.u64(), r.u64(), r.u64());
        assert_eq!(flags, 0);
        assert!(r.string().is_empty());
        r.string();
        let mut cas = CaMap::new();
        let mut hashes = Vec::new();
        while !r.0.is_empty() {
            let kind = r.u8();
            let mut section = Reader(r.string());
            match kind {
                SECTION_CERTIFICATES => {
                    let blob = section.string().to_vec();
                    assert!(section.string().is_empty());
                    assert!(!cas.contains_key(&blob), "one section per CA");
                    let entry = cas.entry(blob).or_default();
                    while !section.0.is_empty() {
                        let sub_kind = section.u8();
                        let mut sub = Reader(section.string());
                        entry.2.push(sub_kind);
                        match sub_kind {
                            CERT_SERIAL_LIST => {
                                while !sub.0.is_empty() {
                                    entry.0.insert(sub.u64());
                                }
                            }
                            CERT_SERIAL_RANGE => {
                                let (lo, hi) = (sub.u64(), sub.u64());
                                assert!(lo <= hi && hi - lo < 1 << 20);
                                entry.0.extend(lo..=hi);
                            }
                            CERT_SERIAL_BITMAP => {
                                let offset = sub.u64();
                                let mpint = sub.string();
                                assert!(mpint[0] & 0x80 == 0, "mpint must be positive");
                                assert!(mpint.len() <= 2049);
                                for (i, byte) in mpint.iter().rev().enumerate() {
                                    for bit in 0..8 {
                                        if byte & (1 << bit) != 0 {
                                            entry.0.insert(offset + 8 * i as u64 + bit);
                                        }
                                    }
                                }
                            }
                            CERT_KEY_ID => {
                                while !sub.0.is_empty() {
                                    let id = sub.string();
                                    entry.1.push(String::from_utf8(id.to_vec()).unwrap());
                                }
                            }
                            other => panic!("unexpected subsection {other:#x}"),
                        }
                        assert!(sub.0.is_empty());
                    }
                }
                SECTION_FINGERPRINT_SHA256 => {
                    while !section.0.is_empty() {
                        hashes.push(section.string().try_into().unwrap());
                    }
                }
                other => panic!("unexpected section {other}"),
            }
        }
        (cas, hashes)
    }

    #[test]
    fn empty_krl_is_just_the_header() {
        let mut krl = crate::empty(7, 1_700_000_000);
        krl.comment = "jit".into();
        let bytes = krl.encode().unwrap();
        let mut expected = b"SSHKRL\n\0\0\0\0\x01".to_vec();
        expected.extend_from_slice(&7u64.to_be_bytes());
        expected.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend_from_slice(b"jit");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn refuses_serial_zero_and_nul_bytes() {
        let mut krl = crate::empty(1, 1);
        let mut ca = CertificateRevocations::new(key(1));
        ca.serials = vec![5, 0];
        krl.certificates.push(ca.clone());
        assert!(matches!(krl.encode(), Err(Error::Encode(m)) if m.contains("serial 0")));

        ca.serials = vec![5];
        ca.key_ids = vec!["a\0b".into()];
        krl.certificates = vec![ca];
        assert!(matches!(krl.encode(), Err(Error::Encode(m)) if m.contains("NUL")));

        let mut krl = crate::empty(1, 1);
        krl.comment = "x\0".into();
        assert!(matches!(krl.encode(), Err(Error::Encode(_))));
    }

    #[test]
    fn long_ranges_stay_ranges_and_absorb_what_they_cover() {
        let mut krl = crate::empty(1, 1);
        let mut ca = CertificateRevocations::any_ca();
        ca.serial_ranges = vec![100..=1_000, 900..=5_000, 5_001..=9_000, 20..=22];
        ca.serials = vec![150, 9_001, 10, u64::MAX];
        krl.certificates.push(ca.clone());
        let bytes = krl.encode().unwrap();
        let (cas, _) = decode(&bytes);
        let (serials, _, kinds) = &cas[&Vec::new()];
        // One range 100-9000; 20-22 and 9001 go to the planner with 10 and 2^64 - 1.
        assert_eq!(kinds[0], CERT_SERIAL_RANGE);
        assert_eq!(kinds.iter().filter(|&&k| k == CERT_SERIAL_RANGE).count(), 1);
        assert_eq!(serials.len(), 9_000 - 100 + 1 + 3 + 3);
        assert!(serials.contains(&9_001) && serials.contains(&u64::MAX));

        // A range from 0, and a backwards one.
        for (lo, hi) in [(0, 5), (6, 5)] {
            ca.serial_ranges = vec![lo..=hi];
            krl.certificates = vec![ca.clone()];
            assert!(matches!(krl.encode(), Err(Error::Encode(m)) if m.contains("serial range")));
        }
    }

    #[test]
    fn merges_cas_sorts_and_deduplicates() {
        let mut krl = crate::empty(1, 1);
        let mut a = CertificateRevocations::new(key(1));
        a.serials = vec![9, 3, 3];
        a.key_ids = vec!["zed".into(), "amy".into()];
        let mut b = CertificateRevocations::new(key(2));
        b.serials = vec![u64::MAX - 1, u64::MAX];
        let mut a_again = CertificateRevocations::new(key(1).clone());
        a_again.serials = vec![4];
        a_again.key_ids = vec!["amy".into()];
        let idle = CertificateRevocations::new(key(3));
        krl.certificates = vec![a, b, a_again, idle];
        krl.explicit_keys = vec![key(9), key(8), key(9)];

        let (cas, hashes) = decode(&krl.encode().unwrap());
        assert_eq!(
            cas.len(),
            2,
            "same CA merged, CA with nothing revoked left out"
        );
        let a = &cas[&key(1).to_bytes().unwrap()];
        assert_eq!(a.0, BTreeSet::from([3, 4, 9]));
        assert_eq!(a.1, vec!["amy".to_string(), "zed".to_string()]);
        let b = &cas[&key(2).to_bytes().unwrap()];
        assert_eq!(b.0, BTreeSet::from([u64::MAX - 1, u64::MAX]));
        assert_eq!(hashes.len(), 2);
        assert!(hashes[0] < hashes[1]);
        let expected: [u8; 32] = Sha256::digest(key(8).to_bytes().unwrap()).into();
        assert!(hashes.contains(&expected));
    }

    #[test]
    fn serial_sets_round_trip() {
        let mut state = 0x5eed_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let mut serials = Vec::new();
            let mut base = 1 + next() % 1000;
            for _ in 0..next() % 300 {
                base = match next() % 10 {
                    0 => base.saturating_add(next() % 100_000),
                    1..=5 => base.saturating_add(1),
                    _ => base.saturating_add(next() % 12),
                };
                serials.push(base);
            }
            if round % 7 == 0 {
                serials.push(u64::MAX - next() % 20);
            }
            let mut krl = crate::empty(round, 0);
            let mut ca = CertificateRevocations::new(key(1));
            ca.serials = serials.clone();
            krl.certificates.push(ca);
            let bytes = krl.encode().unwrap();
            let (cas, _) = decode(&bytes);
            let want: BTreeSet<u64> = serials.iter().copied().collect();
            let got = cas.values().next().map(|e| e.0.clone()).unwrap_or_default();
            assert_eq!(got, want);
            // Never larger than one plain list subsection.
            let header = crate::empty(round, 0).encode().unwrap().len();
            if !want.is_empty() {
                let list_krl = header + 5 + (4 + 51) + 4 + 5 + 8 * want.len();
                assert!(bytes.len() <= list_krl, "{} > {list_krl}", bytes.len());
            }
        }
    }

    #[test]
    fn dense_runs_use_ranges_and_bitmaps() {
        let mut krl = crate::empty(1, 1);
        let mut ca = CertificateRevocations::new(key(1));
        ca.serials = (1000..2000).chain((5000..6000).step_by(2)).collect();
        krl.certificates.push(ca);
        let bytes = krl.encode().unwrap();
        let (cas, _) = decode(&bytes);
        let kinds = &cas.values().next().unwrap().2;
        assert_eq!(kinds, &vec![CERT_SERIAL_RANGE, CERT_SERIAL_BITMAP]);
        // Header 44, section header 64, range 21, bitmap of 999 bits 18 + 124.
        assert_eq!(bytes.len(), 44 + 64 + 21 + 18 + 999 / 8);
        assert!(
            bytes.len() * 20 < 8 * 1500,
            "a plain list would be 8 bytes a serial"
        );
    }
}
