//! Device-signed requests: freshness fields and the two signature headers.
//!
//! The exact body bytes sent are the bytes signed (see [`jit_proto::signing`]).

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jit_proto::api::Freshness;
use jit_proto::signing::{signed_bytes, SIGNATURE_NAMESPACE};
use rand::RngCore as _;
use ssh_encoding::Encode as _;
use ssh_key::{HashAlg, PrivateKey};

/// The values of the `jit-device` and `jit-signature` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `SHA256:...` fingerprint of the device public key.
    pub device: String,
    /// Standard base64 of the binary SSHSIG.
    pub signature: String,
}

/// Freshness fields for a request made at `now`: the timestamp and a 128-bit random nonce.
pub fn freshness(now: u64) -> Freshness {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    Freshness {
        timestamp: now,
        nonce: hex::encode(nonce),
    }
}

/// `SHA256:...` fingerprint of a key, as the server names devices.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

/// Sign `method path body` with the device key.
pub fn sign(
    device: &PrivateKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<SignatureHeaders> {
    let sig = device
        .sign(
            SIGNATURE_NAMESPACE,
            HashAlg::Sha512,
            &signed_bytes(method, path, body),
        )
        .context("cannot sign the request with the device key")?;
    let mut encoded = Vec::new();
    sig.encode(&mut encoded)
        .context("cannot encode the request signature")?;
    Ok(SignatureHeaders {
        device: fingerprint(device),
        signature: STANDARD.encode(encoded),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_encoding::Decode as _;
    use ssh_key::{rand_core::OsRng, Algorithm, SshSig};

    #[test]
    fn signatures_verify_over_method_path_and_body() {
        let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let body = br#"{"timestamp":1,"nonce":"00"}"#;
        let headers = sign(&key, "POST", "/v1/whoami", body).unwrap();
        assert_eq!(headers.device, fingerprint(&key));
        assert!(headers.device.starts_with("SHA256:"));

        let raw = STANDARD.decode(&headers.signature).unwrap();
        let sig = SshSig::decode(&mut raw.as_slice()).unwrap();
        let public = key.public_key();
        let good = signed_bytes("POST", "/v1/whoami", body);
        assert!(public.verify(SIGNATURE_NAMESPACE, &good, &sig).is_ok());
        let other_path = signed_bytes("POST", "/v1/certificates", body);
        assert!(public
            .verify(SIGNATURE_NAMESPACE, &other_path, &sig)
            .is_err());
    }

    #[test]
    fn nonces_are_32_hex_digits_and_fresh() {
        let a = freshness(5);
        let b = freshness(5);
        assert_eq!(a.timestamp, 5);
        assert_eq!(a.nonce.len(), 32);
        assert!(a.nonce.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.nonce, b.nonce);
    }
}
