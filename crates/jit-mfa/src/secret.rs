//! [`TotpSecret`]: the shared HMAC key, its base32 text and its `otpauth://` URI.

use core::fmt;

use totp_rs::{Algorithm, Builder, Totp};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::base32;
use crate::error::{Error, Result};
use crate::totp::{DIGITS, SKEW_STEPS, STEP_SECONDS};

/// Length of a newly issued secret, in bytes: 160 bits, as RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// Shortest secret accepted, in bytes: 128 bits, as RFC 4226 §4 requires.
pub const MIN_SECRET_LEN: usize = 16;

/// The secret shared between the server and the user's authenticator app.
///
/// A new secret is [`SECRET_LEN`] (20) random bytes, passed in by the caller
/// ([`TotpSecret::from_random`]). The bytes are wiped from memory when the value is
/// dropped, the type is deliberately not `Clone`, and `Debug` prints
/// `TotpSecret(..redacted..)`.
#[derive(ZeroizeOnDrop)]
pub struct TotpSecret {
    /// Holds the only copy of the key; `totp-rs`'s `zeroize` feature wipes it on drop,
    /// and deriving `ZeroizeOnDrop` here stops compiling if that feature goes away.
    totp: Totp,
}

impl TotpSecret {
    /// Makes a new secret from [`SECRET_LEN`] bytes the caller drew from a CSPRNG.
    ///
    /// The caller should wipe its own buffer afterwards.
    pub fn from_random(random: &[u8; SECRET_LEN]) -> TotpSecret {
        Self::build(random)
    }

    /// Uses `bytes` as the secret.
    ///
    /// # Errors
    ///
    /// [`Error::SecretTooShort`] when `bytes` is shorter than [`MIN_SECRET_LEN`]
    /// (128 bits, RFC 4226 §4).
    pub fn from_bytes(bytes: &[u8]) -> Result<TotpSecret> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(Error::SecretTooShort {
                bytes: bytes.len(),
                min: MIN_SECRET_LEN,
            });
        }
        Ok(Self::build(bytes))
    }

    /// Parses the base32 text of a secret (RFC 4648, as shown by authenticator apps).
    ///
    /// Case-insensitive; spaces (any ASCII whitespace) are ignored and trailing `=`
    /// padding is tolerated, so `"gezd gnbv gy3t qojq"` reads like `"GEZDGNBVGY3TQOJQ"`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBase32`] for characters outside `A-Z2-7`, impossible lengths or
    /// non-canonical endings; [`Error::SecretTooShort`] when it decodes to fewer than
    /// [`MIN_SECRET_LEN`] bytes. The messages never contain the text.
    pub fn from_base32(text: &str) -> Result<TotpSecret> {
        let bytes = base32::decode(text)?;
        Self::from_bytes(&bytes)
    }

    /// The secret as uppercase base32 without padding, for manual entry in an app.
    pub fn to_base32(&self) -> String {
        base32::encode(self.as_bytes())
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code:
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
    ///
    /// `issuer` and `account` are percent-encoded (RFC 3986: everything but
    /// `A-Z a-z 0-9 - . _ ~`), so a `:` or space inside them cannot break the label.
    /// An empty `issuer` leaves out both the label prefix and the `issuer` parameter.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let account = percent_encode(account);
        let secret = self.to_base32();
        let params = format!("algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}");
        if issuer.is_empty() {
            format!("otpauth://totp/{account}?secret={secret}&{params}")
        } else {
            let issuer = percent_encode(issuer);
            format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&{params}")
        }
    }

    /// The raw key bytes, e.g. for the store to encrypt at rest. Handle with care:
    /// copies made from this slice are not wiped automatically.
    pub fn as_bytes(&self) -> &[u8] {
        self.totp.secret().as_bytes()
    }

    /// The RFC 6238 generator (SHA-1, [`DIGITS`], [`STEP_SECONDS`]) for this secret.
    pub(crate) fn totp(&self) -> &Totp {
        &self.totp
    }

    /// Builds the generator. Only called with at least [`MIN_SECRET_LEN`] bytes.
    fn build(bytes: &[u8]) -> TotpSecret {
        // `build_noncompliant` cannot fail; every parameter below is RFC compliant
        // (the length is checked by the callers), which a test confirms with `build`.
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(SKEW_STEPS as u16)
            .with_step_duration(STEP_SECONDS)
            .with_secret(bytes)
            .build_noncompliant();
        TotpSecret { totp }
    }
}

impl Zeroize for TotpSecret {
    fn zeroize(&mut self) {
        self.totp.zeroize();
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..redacted..)")
    }
}

/// RFC 3986 percent-encoding of everything except the unreserved characters.
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 key.
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn from_bytes_enforces_128_bits() {
        assert_eq!(
            TotpSecret::from_bytes(&[7; 15]).map(|_| ()),
            Err(Error::SecretTooShort { bytes: 15, min: 16 })
        );
        assert_eq!(
            TotpSecret::from_bytes(&[]).map(|_| ()),
            Err(Error::SecretTooShort { bytes: 0, min: 16 })
        );
        assert_eq!(
            TotpSecret::from_bytes(&[7; 16]).unwrap().as_bytes(),
            &[7; 16]
        );
        assert_eq!(
            TotpSecret::from_bytes(&[7; 64]).unwrap().as_bytes(),
            &[7; 64]
        );
    }

    #[test]
    fn from_random_keeps_the_bytes() {
        let random = [0xa5; SECRET_LEN];
        assert_eq!(TotpSecret::from_random(&random).as_bytes(), &random);
    }

    #[test]
    fn parameters_are_rfc_compliant() {
        // `build` (unlike `build_noncompliant`) checks digits, step and key length.
        let checked = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(SKEW_STEPS as u16)
            .with_step_duration(STEP_SECONDS)
            .with_secret(&[1u8; MIN_SECRET_LEN][..])
            .build();
        assert!(checked.is_ok());
    }

    #[test]
    fn base32_of_rfc_key() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn base32_round_trip() {
        let secret = TotpSecret::from_random(&core::array::from_fn(|i| (i * 37 + 11) as u8));
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert!(!text.contains('='));
        assert_eq!(text, text.to_ascii_uppercase());
        let again = TotpSecret::from_base32(&text).unwrap();
        assert_eq!(again.as_bytes(), secret.as_bytes());
    }

    #[test]
    fn base32_input_is_forgiving_about_case_and_spaces() {
        let secret = TotpSecret::from_base32("gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ").unwrap();
        assert_eq!(secret.as_bytes(), RFC_KEY);
    }

    #[test]
    fn base32_errors() {
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBV1").map(|_| ()),
            Err(Error::InvalidBase32)
        );
        // 10 bytes: valid base32, too short a key.
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQ").map(|_| ()),
            Err(Error::SecretTooShort { bytes: 10, min: 16 })
        );
        assert_eq!(
            TotpSecret::from_base32("   ").map(|_| ()),
            Err(Error::SecretTooShort { bytes: 0, min: 16 })
        );
    }

    #[test]
    fn otpauth_uri_shape() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(
            secret.otpauth_uri("jit", "alice@example.com"),
            "otpauth://totp/jit:alice%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=jit&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_encodes_reserved_characters() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let uri = secret.otpauth_uri("ACME Corp: prod", "bob:x&y=z?é");
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Corp%3A%20prod:bob%3Ax%26y%3Dz%3F%C3%A9\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Corp%3A%20prod&algorithm=SHA1&digits=6&period=30"
        );
        // Exactly one label separator and one query.
        assert_eq!(uri.matches(':').count(), 2); // "otpauth:" and the label's
        assert_eq!(uri.matches('?').count(), 1);
    }

    #[test]
    fn otpauth_uri_without_issuer() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(
            secret.otpauth_uri("", "alice"),
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_does_not_leak() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let shown = format!("{secret:?} {secret:#?}");
        assert_eq!(format!("{secret:?}"), "TotpSecret(..redacted..)");
        assert!(!shown.contains("1234567890"), "{shown}");
        assert!(!shown.contains("GEZDGNBV"), "{shown}");
        assert!(!shown.contains("49, 50"), "{shown}"); // the bytes of "12"
    }

    #[test]
    fn zeroize_wipes_the_key() {
        let mut secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        secret.zeroize();
        assert!(secret.as_bytes().iter().all(|&b| b == 0));
    }
}
