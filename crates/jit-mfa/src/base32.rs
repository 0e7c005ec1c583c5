//! RFC 4648 §6 base32 (alphabet `A-Z2-7`), as authenticator apps show secrets.
//!
//! Written here rather than borrowed so that the decoded bytes land directly in a
//! zeroizing buffer, and so that decoding is strict: one text for one secret.

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encodes `bytes` as uppercase base32 without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(buffer >> bits));
        }
        // Keep only the bits not yet written, so the shift above cannot overflow.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(symbol(buffer << (5 - bits)));
    }
    buffer.zeroize();
    out
}

/// Decodes base32 text: case-insensitive, ASCII whitespace ignored anywhere, trailing
/// `=` padding tolerated. Rejects any other character, impossible lengths, and
/// non-zero leftover bits (so every secret has exactly one accepted spelling, up to
/// case, spacing and padding).
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let unpadded = text
        .trim_end_matches(|c: char| c == '=' || c.is_ascii_whitespace())
        .as_bytes();
    let symbols = unpadded.iter().filter(|b| !b.is_ascii_whitespace()).count();
    // 1, 3 or 6 trailing symbols cannot come from whole bytes.
    if matches!(symbols % 8, 1 | 3 | 6) {
        return Err(Error::InvalidBase32);
    }

    let mut out = Zeroizing::new(Vec::with_capacity(symbols * 5 / 8));
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in unpadded {
        if byte.is_ascii_whitespace() {
            continue;
        }
        let value = match value(byte) {
            Some(value) => value,
            None => {
                buffer.zeroize();
                return Err(Error::InvalidBase32);
            }
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    let leftover_is_zero = buffer == 0;
    buffer.zeroize();
    if !leftover_is_zero {
        return Err(Error::InvalidBase32);
    }
    Ok(out)
}

fn symbol(five_bits: u16) -> char {
    char::from(ALPHABET[usize::from(five_bits & 0x1f)])
}

fn value(symbol: u8) -> Option<u8> {
    match symbol.to_ascii_uppercase() {
        c @ b'A'..=b'Z' => Some(c - b'A'),
        c @ b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors, without their padding.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn rfc4648_vectors_encode() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *encoded, "{plain:?}");
        }
    }

    #[test]
    fn rfc4648_vectors_decode() {
        for (plain, encoded) in VECTORS {
            assert_eq!(decode(encoded).unwrap().as_slice(), plain.as_bytes());
        }
    }

    #[test]
    fn decode_tolerates_case_spaces_and_padding() {
        assert_eq!(decode("mzxw 6ytb oi").unwrap().as_slice(), b"foobar");
        assert_eq!(decode("MZXW6YTBOI======").unwrap().as_slice(), b"foobar");
        assert_eq!(decode("\tMZXW\n6YTBOI ").unwrap().as_slice(), b"foobar");
    }

    #[test]
    fn decode_rejects_bad_input() {
        for bad in [
            "M",          // 1 symbol: 5 bits, no whole byte
            "MZX",        // 3 symbols
            "MZXW6Y",     // 6 symbols
            "MZ=XW6",     // padding in the middle
            "MZXW1",      // '1' is not in the alphabet
            "MZXW8",      // nor is '8'
            "MZXW-6YTBO", // dashes are not ignored
            "MZXWÉ",      // non-ASCII
            "MZ",         // 'Z' leaves non-zero bits: not canonical ("MY" is)
        ] {
            assert_eq!(
                decode(bad).map(|_| ()),
                Err(Error::InvalidBase32),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn round_trip_all_lengths() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        for len in 0..40 {
            let slice = &bytes[len..len * 2];
            assert_eq!(decode(&encode(slice)).unwrap().as_slice(), slice);
        }
    }
}
