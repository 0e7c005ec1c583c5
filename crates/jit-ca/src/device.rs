//! Public keys sent by clients: device keys (which sign requests) and ephemeral keys
//! (which get certified). Parsing, fingerprints, allowed types, request signatures.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ssh_key::{Algorithm, HashAlg, PublicKey, SshSig};

use crate::{Error, Result};

/// Parse ONE OpenSSH public key line (`ssh-ed25519 AAAA... comment`); surrounding
/// whitespace is ignored. Anything with a control character in it is refused: OpenSSH
/// parsing would otherwise take a second line (a second key) or other bytes after the key
/// as part of the comment, and a caller would act on a key it never saw whole.
pub fn parse_public_key(text: &str) -> Result<PublicKey> {
    let line = text.trim();
    if line.chars().any(char::is_control) {
        return Err(Error::BadPublicKey);
    }
    PublicKey::from_openssh(line).map_err(|_| Error::BadPublicKey)
}

/// `SHA256:...` fingerprint of a public key.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The algorithm name of a client key as policy files spell it (`ssh-ed25519`,
/// `ecdsa-sha2-nistp256`, `ssh-rsa`...), and the RSA modulus size in bits when RSA.
pub fn key_type(key: &PublicKey) -> (String, Option<u32>) {
    let name = key.algorithm().as_str().to_string();
    let rsa_bits = match key.key_data() {
        ssh_key::public::KeyData::Rsa(rsa) => {
            let n = rsa.n.as_positive_bytes().unwrap_or_default();
            let bits = (n.len() as u32) * 8 - n.first().map_or(8, |b| b.leading_zeros());
            Some(bits)
        }
        _ => None,
    };
    (name, rsa_bits)
}

/// Whether the key may be a device key (Ed25519 only).
pub fn is_device_key_type(key: &PublicKey) -> bool {
    key.algorithm() == Algorithm::Ed25519
}

/// Verify a device's request signature: `signature_b64` is base64 of a binary SSHSIG made
/// by `device` over `jit_proto::signing::signed_bytes(method, path, body)`.
pub fn verify_request_signature(
    device: &PublicKey,
    signature_b64: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<()> {
    use ssh_encoding::Decode as _;
    let raw = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| Error::BadSignature)?;
    let signature = SshSig::decode(&mut raw.as_slice()).map_err(|_| Error::BadSignature)?;
    if signature.public_key() != device.key_data() {
        return Err(Error::BadSignature);
    }
    let message = jit_proto::signing::signed_bytes(method, path, body);
    device
        .verify(
            jit_proto::signing::SIGNATURE_NAMESPACE,
            &message,
            &signature,
        )
        .map_err(|_| Error::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_encoding::Encode as _;
    use ssh_key::PrivateKey;

    fn sign(key: &PrivateKey, namespace: &str, msg: &[u8]) -> String {
        let sig = key.sign(namespace, HashAlg::Sha512, msg).expect("sign");
        let mut bytes = Vec::new();
        sig.encode(&mut bytes).expect("encode");
        STANDARD.encode(bytes)
    }

    #[test]
    fn signatures_bind_key_namespace_and_message() {
        let device = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let other = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let ns = jit_proto::signing::SIGNATURE_NAMESPACE;
        let msg = jit_proto::signing::signed_bytes("POST", "/v1/certificates", b"{}");
        let good = sign(&device, ns, &msg);
        let public = device.public_key();
        verify_request_signature(public, &good, "POST", "/v1/certificates", b"{}").expect("valid");
        for (sig, path, body) in [
            (good.clone(), "/v1/whoami", &b"{}"[..]),
            (good.clone(), "/v1/certificates", &b"{\"x\":1}"[..]),
            (sign(&other, ns, &msg), "/v1/certificates", &b"{}"[..]),
            (sign(&device, "file", &msg), "/v1/certificates", &b"{}"[..]),
            ("not base64!".to_string(), "/v1/certificates", &b"{}"[..]),
        ] {
            assert!(verify_request_signature(public, &sig, "POST", path, body).is_err());
        }
    }

    #[test]
    fn key_types_are_reported() {
        let key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        assert_eq!(
            key_type(key.public_key()),
            ("ssh-ed25519".to_string(), None)
        );
        assert!(is_device_key_type(key.public_key()));
        assert!(parse_public_key("ssh-ed25519 !!!").is_err());
    }

    #[test]
    fn exactly_one_key_line_is_a_public_key() {
        let line = |key: &PrivateKey| key.public_key().to_openssh().expect("encode");
        let one = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let two = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let (first, second) = (line(&one), line(&two));
        for good in [
            first.clone(),
            format!("{first} alice@laptop"),
            format!("  {first}\n"),
            format!("{first}\r\n"),
        ] {
            let key = parse_public_key(&good).expect(&good);
            assert_eq!(key.key_data(), one.public_key().key_data());
        }
        for bad in [
            format!("{first}\n{second}"),
            format!("{first} comment\n{second}"),
            format!("{first} comment\r{second}"),
            format!("{first} comment\0garbage"),
            format!("{first} comment\u{1b}[2J"),
            format!("{first}\tcomment"),
            format!("{first}garbage"),
            format!("{first}AAAA"),
            String::new(),
        ] {
            assert!(parse_public_key(&bad).is_err(), "{bad:?} was accepted");
        }
    }
}
