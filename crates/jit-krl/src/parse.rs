//! The strict KRL parser: [`Krl::parse`] reads PROTOCOL.krl as OpenSSH 9.2's
//! `ssh_krl_from_blob` does, and refuses whatever it would refuse (sshd then refuses
//! every key login, so a host must never install such a file), plus the few things the
//! crate documentation lists.
//!
//! Rules taken from `krl.c`: a serial of 0 or a range that starts at 0 or runs backwards
//! is an error; a bitmap is a non-negative mpint of at most 2048 bytes (plus a leading
//! zero) whose bit `k` revokes `offset + k`, and must not wrap past 2^64 - 1; key IDs and
//! the comment hold no NUL byte but one at the very end (which is dropped); fingerprints are exactly 20 (SHA-1) or 32 (SHA-256)
//! bytes; every section and subsection is consumed exactly; an unknown section or
//! subsection type is an error. Certificate sections for the same CA key are merged.

use ssh_key::PublicKey;

use crate::wire::Reader;
use crate::{
    CertificateRevocations, Krl, Result, CERT_KEY_ID, CERT_SERIAL_BITMAP, CERT_SERIAL_LIST,
    CERT_SERIAL_RANGE, FORMAT_VERSION, MAGIC, MAX_BITMAP_BITS, MAX_KRL_BYTES, SECTION_CERTIFICATES,
    SECTION_EXPLICIT_KEY, SECTION_FINGERPRINT_SHA1, SECTION_FINGERPRINT_SHA256, SECTION_SIGNATURE,
};

impl Krl {
    /// Parse a binary KRL strictly (see the module documentation). Never panics; every
    /// error says what is wrong and where.
    pub fn parse(bytes: &[u8]) -> Result<Krl> {
        let mut r = Reader::new(bytes);
        if bytes.len() > MAX_KRL_BYTES {
            return Err(r.error(format!(
                "it is {} bytes, more than the {MAX_KRL_BYTES} OpenSSH loads",
                bytes.len()
            )));
        }
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(r.error(format!(
                "it does not start with the KRL magic SSHKRL\\n\\0 ({} bytes, starting {:?})",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
            )));
        }
        r.take(MAGIC.len(), "the magic")?;
        let at = r.offset();
        let format = r.u32("the format version")?;
        if format != FORMAT_VERSION {
            return Err(r.error_at(at, format!("unknown KRL format version {format}")));
        }
        let mut krl = Krl {
            version: r.u64("the KRL version")?,
            generated_at: r.u64("the generation date")?,
            ..Krl::default()
        };
        let _flags = r.u64("the flags")?;
        let _reserved = r.string("the reserved field")?;
        krl.comment = r.text("the comment")?;

        while !r.is_empty() {
            let at = r.offset();
            let kind = r.u8("a section type")?;
            let mut section = r.string("a section")?;
            match kind {
                SECTION_CERTIFICATES => certificates(&mut section, &mut krl)?,
                SECTION_EXPLICIT_KEY => {
                    while !section.is_empty() {
                        let mut blob = section.string("a revoked key")?;
                        let start = blob.offset();
                        let key = PublicKey::from_bytes(blob.remaining()).map_err(|e| {
                            blob.error_at(start, format!("a revoked key cannot be read ({e})"))
                        })?;
                        krl.explicit_keys.push(key);
                    }
                }
                SECTION_FINGERPRINT_SHA1 => {
                    hashes(&mut section, "SHA-1", &mut krl.sha1_fingerprints)?
                }
                SECTION_FINGERPRINT_SHA256 => {
                    hashes(&mut section, "SHA-256", &mut krl.sha256_fingerprints)?
                }
                SECTION_SIGNATURE => {
                    return Err(r.error_at(
                        at,
                        "the KRL is signed (section 4); jit hosts take unsigned KRLs from \
                         jitd over pinned TLS and do not check KRL signatures",
                    ))
                }
                other => {
                    return Err(r.error_at(
                        at,
                        format!("unknown section type {other} (sshd 9.2 refuses the whole file)"),
                    ))
                }
            }
        }
        Ok(krl)
    }
}

/// A section of fixed-size hashes (`string` each, of exactly `N` bytes).
fn hashes<const N: usize>(
    section: &mut Reader<'_>,
    name: &str,
    out: &mut Vec<[u8; N]>,
) -> Result<()> {
    while !section.is_empty() {
        let at = section.offset();
        let mut field = section.string("a fingerprint")?;
        let bytes = field.remaining();
        let hash: [u8; N] = bytes.try_into().map_err(|_| {
            section.error_at(
                at,
                format!("a {name} fingerprint is {} bytes, not {N}", bytes.len()),
            )
        })?;
        out.push(hash);
    }
    Ok(())
}

/// One KRL_SECTION_CERTIFICATES: CA key (empty: any CA), reserved, subsections. Merged
/// into the entry for the same CA key if there is one.
fn certificates(section: &mut Reader<'_>, krl: &mut Krl) -> Result<()> {
    let mut blob = section.string("the CA key")?;
    let start = blob.offset();
    let blob = blob.remaining();
    let ca_key = if blob.is_empty() {
        None
    } else {
        let key = PublicKey::from_bytes(blob)
            .map_err(|e| section.error_at(start, format!("the CA key cannot be read ({e})")))?;
        Some(key)
    };
    let _reserved = section.string("the reserved field")?;

    let index = match krl.certificates.iter().position(|c| {
        c.ca_key.as_ref().map(PublicKey::key_data) == ca_key.as_ref().map(PublicKey::key_data)
    }) {
        Some(index) => index,
        None => {
            krl.certificates.push(CertificateRevocations {
                ca_key,
                serials: Vec::new(),
                serial_ranges: Vec::new(),
                key_ids: Vec::new(),
            });
            krl.certificates.len() - 1
        }
    };
    let entry = &mut krl.certificates[index];

    while !section.is_empty() {
        let at = section.offset();
        let kind = section.u8("a certificate subsection type")?;
        let mut sub = section.string("a certificate subsection")?;
        match kind {
            CERT_SERIAL_LIST => {
                while !sub.is_empty() {
                    let at = sub.offset();
                    let serial = sub.u64("a serial")?;
                    if serial == 0 {
                        return Err(sub.error_at(at, "serial 0 is listed (OpenSSH refuses it)"));
                    }
                    entry.serials.push(serial);
                }
            }
            CERT_SERIAL_RANGE => {
                let lo = sub.u64("the start of a serial range")?;
                let hi = sub.u64("the end of a serial range")?;
                if lo == 0 || lo > hi {
                    return Err(sub.error_at(
                        at,
                        format!("the serial range {lo}-{hi} is empty or starts at 0"),
                    ));
                }
                entry.serial_ranges.push(lo..=hi);
            }
            CERT_SERIAL_BITMAP => bitmap(&mut sub, at, &mut entry.serials)?,
            CERT_KEY_ID => {
                while !sub.is_empty() {
                    entry.key_ids.push(sub.text("a key ID")?);
                }
            }
            other => {
                return Err(section.error_at(
                    at,
                    format!("unknown certificate subsection type {other:#04x}"),
                ))
            }
        }
        if !sub.is_empty() {
            return Err(sub.error("a certificate subsection has bytes left over"));
        }
    }
    Ok(())
}

/// KRL_SECTION_CERT_SERIAL_BITMAP: u64 offset, mpint bitmap.
fn bitmap(sub: &mut Reader<'_>, at: usize, serials: &mut Vec<u64>) -> Result<()> {
    let offset = sub.u64("a bitmap offset")?;
    let mut field = sub.string("a bitmap")?;
    let start = field.offset();
    let mpint = field.remaining();
    if mpint.first().is_some_and(|top| top & 0x80 != 0) {
        return Err(sub.error_at(start, "a serial bitmap is a negative mpint"));
    }
    let max_bytes = (MAX_BITMAP_BITS / 8) as usize;
    if mpint.len() > max_bytes + 1 || (mpint.len() == max_bytes + 1 && mpint[0] != 0) {
        return Err(sub.error_at(
            start,
            format!(
                "a serial bitmap of {} bytes is wider than the {max_bytes} OpenSSH reads",
                mpint.len()
            ),
        ));
    }
    let first_nonzero = mpint.iter().position(|&b| b != 0).unwrap_or(mpint.len());
    let magnitude = &mpint[first_nonzero..];
    // Bit k (from the least significant end) revokes offset + k; the highest set bit
    // sets the width, which must not run past 2^64 - 1.
    let Some(&top) = magnitude.first() else {
        return Ok(());
    };
    let top_bit = (magnitude.len() as u64 - 1) * 8 + u64::from(7 - top.leading_zeros());
    if offset.checked_add(top_bit).is_none() {
        return Err(sub.error_at(at, "a serial bitmap wraps past 2^64 - 1"));
    }
    for (i, byte) in magnitude.iter().rev().enumerate() {
        for bit in 0..8u64 {
            if byte & (1 << bit) != 0 {
                let serial = offset + 8 * i as u64 + bit;
                if serial == 0 {
                    return Err(sub.error_at(at, "a serial bitmap revokes serial 0"));
                }
                serials.push(serial);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::{put_string, put_u32, put_u64};
    use crate::Error;

    fn header(comment: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_u32(&mut out, 1);
        put_u64(&mut out, 7);
        put_u64(&mut out, 1_700_000_000);
        put_u64(&mut out, 0);
        put_string(&mut out, b"").unwrap();
        put_string(&mut out, comment).unwrap();
        out
    }

    fn section(mut krl: Vec<u8>, kind: u8, body: &[u8]) -> Vec<u8> {
        krl.push(kind);
        put_string(&mut krl, body).unwrap();
        krl
    }

    /// A certificates section for any CA with one subsection.
    fn any_ca(kind: u8, sub: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        put_string(&mut body, b"").unwrap();
        put_string(&mut body, b"").unwrap();
        body.push(kind);
        put_string(&mut body, sub).unwrap();
        section(header(b""), SECTION_CERTIFICATES, &body)
    }

    fn bitmap_sub(offset: u64, mpint: &[u8]) -> Vec<u8> {
        let mut sub = Vec::new();
        put_u64(&mut sub, offset);
        put_string(&mut sub, mpint).unwrap();
        sub
    }

    fn reason(bytes: &[u8]) -> String {
        match Krl::parse(bytes) {
            Err(Error::Malformed { reason, .. }) => reason,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn header_fields() {
        let krl = Krl::parse(&header(b"hello")).unwrap();
        assert_eq!((krl.version, krl.generated_at), (7, 1_700_000_000));
        assert_eq!(krl.comment, "hello");
        assert!(krl.certificates.is_empty());
    }

    #[test]
    fn bad_headers() {
        assert!(reason(b"").contains("KRL magic"));
        assert!(reason(b"<html>502</html>").contains("KRL magic"));
        let mut v2 = header(b"");
        v2[11] = 2;
        assert_eq!(reason(&v2), "unknown KRL format version 2");
        let good = header(b"x");
        for cut in 8..good.len() {
            assert!(reason(&good[..cut]).contains("truncated"), "cut at {cut}");
        }
        assert!(reason(&header(b"a\0b")).contains("NUL"));
        assert!(reason(&header(b"\xff")).contains("UTF-8"));
    }

    #[test]
    fn sections_must_add_up_and_be_known() {
        let good = section(header(b""), SECTION_FINGERPRINT_SHA256, &{
            let mut b = Vec::new();
            put_string(&mut b, &[7; 32]).unwrap();
            b
        });
        assert_eq!(
            Krl::parse(&good).unwrap().sha256_fingerprints,
            vec![[7; 32]]
        );
        assert!(reason(&good[..good.len() - 1]).contains("truncated"));
        let mut trailing = good.clone();
        trailing.push(SECTION_CERTIFICATES);
        assert!(reason(&trailing).contains("truncated"));
        assert!(reason(&section(header(b""), 6, b"")).contains("unknown section type 6"));
        assert!(reason(&section(header(b""), 255, b"")).contains("unknown section type 255"));
        assert!(reason(&section(header(b""), SECTION_SIGNATURE, b"")).contains("signed"));
        // A fingerprint of the wrong size.
        let mut body = Vec::new();
        put_string(&mut body, &[1; 31]).unwrap();
        let short = section(header(b""), SECTION_FINGERPRINT_SHA256, &body);
        assert!(reason(&short).contains("31 bytes, not 32"));
        let sha1 = section(header(b""), SECTION_FINGERPRINT_SHA1, &body);
        assert!(reason(&sha1).contains("31 bytes, not 20"));
        // A huge length with nothing behind it: refused, nothing allocated.
        let mut huge = header(b"");
        huge.push(SECTION_CERTIFICATES);
        put_u32(&mut huge, u32::MAX);
        assert!(reason(&huge).contains("truncated"));
    }

    #[test]
    fn serial_rules_from_krl_c() {
        let list = |serials: &[u64]| {
            let mut sub = Vec::new();
            for &s in serials {
                put_u64(&mut sub, s);
            }
            any_ca(CERT_SERIAL_LIST, &sub)
        };
        let krl = Krl::parse(&list(&[1, u64::MAX])).unwrap();
        assert_eq!(krl.certificates[0].ca_key, None);
        assert_eq!(krl.certificates[0].serials, vec![1, u64::MAX]);
        assert!(reason(&list(&[5, 0])).contains("serial 0"));
        let mut ragged = Vec::new();
        put_u64(&mut ragged, 5);
        ragged.push(1);
        assert!(reason(&any_ca(CERT_SERIAL_LIST, &ragged)).contains("truncated"));

        let range = |lo: u64, hi: u64| {
            let mut sub = Vec::new();
            put_u64(&mut sub, lo);
            put_u64(&mut sub, hi);
            sub
        };
        let krl = Krl::parse(&any_ca(CERT_SERIAL_RANGE, &range(1, u64::MAX))).unwrap();
        assert_eq!(krl.certificates[0].serial_ranges, vec![1..=u64::MAX]);
        assert!(reason(&any_ca(CERT_SERIAL_RANGE, &range(0, 5))).contains("starts at 0"));
        assert!(reason(&any_ca(CERT_SERIAL_RANGE, &range(6, 5))).contains("empty"));
        let mut long = range(1, 2);
        long.push(0);
        assert!(reason(&any_ca(CERT_SERIAL_RANGE, &long)).contains("left over"));

        assert!(reason(&any_ca(0x24, b"")).contains("unknown certificate subsection type 0x24"));
    }

    #[test]
    fn bitmap_rules_from_krl_c() {
        let serials = |offset, mpint: &[u8]| {
            let krl = Krl::parse(&any_ca(CERT_SERIAL_BITMAP, &bitmap_sub(offset, mpint)))?;
            Ok::<_, Error>(krl.certificates[0].serials.clone())
        };
        assert_eq!(serials(10, &[0x05]).unwrap(), vec![10, 12]);
        assert_eq!(serials(10, &[0x00, 0x81]).unwrap(), vec![10, 17]);
        assert_eq!(serials(10, &[0x01, 0x00]).unwrap(), vec![18]);
        assert_eq!(serials(10, &[]).unwrap(), Vec::<u64>::new());
        assert_eq!(serials(0, &[0x02]).unwrap(), vec![1]);
        assert!(
            serials(0, &[0x01]).is_err(),
            "bit 0 at offset 0 is serial 0"
        );
        assert!(serials(10, &[0x80]).is_err(), "negative");
        assert_eq!(
            serials(u64::MAX - 1, &[0x03]).unwrap(),
            vec![u64::MAX - 1, u64::MAX]
        );
        assert!(serials(u64::MAX - 1, &[0x04]).is_err(), "wraps");
        let widest = [&[0u8][..], &[0xff; 2048][..]].concat();
        assert_eq!(serials(1, &widest).unwrap().len(), 16_384);
        assert!(
            serials(1, &[0x01; 2049]).is_err(),
            "wider than OpenSSH reads"
        );
        assert!(
            serials(1, &[0x00; 2050]).is_err(),
            "wider than OpenSSH reads"
        );
    }

    #[test]
    fn key_ids_and_merged_cas() {
        let mut sub = Vec::new();
        put_string(&mut sub, b"alice").unwrap();
        put_string(&mut sub, b"").unwrap();
        let one = any_ca(CERT_KEY_ID, &sub);
        let krl = Krl::parse(&one).unwrap();
        assert_eq!(krl.certificates[0].key_ids, vec!["alice", ""]);
        // Two sections for the same (any) CA: one entry.
        let twice = [&one[..], &one[header(b"").len()..]].concat();
        let krl = Krl::parse(&twice).unwrap();
        assert_eq!(krl.certificates.len(), 1);
        assert_eq!(krl.certificates[0].key_ids.len(), 4);

        let mut nul = Vec::new();
        put_string(&mut nul, b"a\0b").unwrap();
        assert!(reason(&any_ca(CERT_KEY_ID, &nul)).contains("NUL"));
        let mut ragged = sub.clone();
        ragged.extend_from_slice(&[0, 0, 0, 9, b'x']);
        assert!(reason(&any_ca(CERT_KEY_ID, &ragged)).contains("truncated"));
    }

    #[test]
    fn keys_must_be_readable() {
        let mut body = Vec::new();
        put_string(&mut body, b"not a key").unwrap();
        let bad = section(header(b""), SECTION_EXPLICIT_KEY, &body);
        assert!(reason(&bad).contains("revoked key cannot be read"));
        let mut ca = Vec::new();
        put_string(&mut ca, b"\0\0\0\x0bssh-ed25519\0\0\0\x01x").unwrap();
        put_string(&mut ca, b"").unwrap();
        let bad = section(header(b""), SECTION_CERTIFICATES, &ca);
        assert!(reason(&bad).contains("CA key cannot be read"));
    }
}
