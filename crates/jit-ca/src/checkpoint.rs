//! Log checkpoint signatures: the log signing key (an Ed25519 key of its own, never a CA
//! key) signs the checkpoint text, and anyone holding its public key verifies offline.
//!
//! The signed bytes are `"jit-checkpoint-v1\n"` followed by the checkpoint text, so a
//! checkpoint signature can never be mistaken for any other signature of the same key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Verifier as _;
use ssh_key::public::KeyData;
use ssh_key::PublicKey;

use crate::signer::CaSigner;
use crate::{Error, Result};

const DOMAIN: &str = "jit-checkpoint-v1\n";

fn message(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + text.len());
    out.extend_from_slice(DOMAIN.as_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// Sign checkpoint `text` with the log key; returns base64 of the 64-byte Ed25519 signature.
pub fn sign(log_key: &dyn CaSigner, text: &str) -> Result<String> {
    let signature = log_key.sign(&message(text))?;
    Ok(STANDARD.encode(signature.as_bytes()))
}

/// Verify a checkpoint signature made by [`sign`] with `log_key`'s private half.
pub fn verify(log_key: &PublicKey, text: &str, signature_b64: &str) -> Result<()> {
    let KeyData::Ed25519(public) = log_key.key_data() else {
        return Err(Error::BadSignature);
    };
    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(&public.0).map_err(|_| Error::BadSignature)?;
    let raw = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| Error::BadSignature)?;
    let bytes: [u8; 64] = raw.try_into().map_err(|_| Error::BadSignature)?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    verifying
        .verify(&message(text), &signature)
        .map_err(|_| Error::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::Ed25519Signer;

    #[test]
    fn signatures_verify_only_for_their_text_and_key() {
        let key = Ed25519Signer::new(
            ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
            "log",
        );
        let other = Ed25519Signer::new(
            ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
            "x",
        );
        let text = "jit\n5\nAAAA\n1800000000\n";
        let signature = sign(&key, text).expect("sign");
        verify(key.public_key(), text, &signature).expect("verifies");
        assert!(verify(key.public_key(), "jit\n6\nAAAA\n1800000000\n", &signature).is_err());
        assert!(verify(other.public_key(), text, &signature).is_err());
        assert!(verify(key.public_key(), text, "!!").is_err());
        // A plain signature of the text (no domain) is not a checkpoint signature.
        let plain = STANDARD.encode(key.sign(text.as_bytes()).expect("sign").as_bytes());
        assert!(verify(key.public_key(), text, &plain).is_err());
    }
}
