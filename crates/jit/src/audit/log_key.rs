//! The log public key and checkpoint signatures: Ed25519 over `"jit-checkpoint-v1\n"`
//! followed by the checkpoint text, the signature in base64 (what `jitd` makes with its log
//! key). Checked here through ssh-key's Ed25519 verifier (as `jit host principals` checks
//! log receipts), so the CLI needs no CA code.

use std::path::Path;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jit_log::SignedCheckpoint;
use signature::Verifier as _;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{Algorithm, HashAlg, PublicKey, Signature};

use crate::error::fail;

/// The domain that separates checkpoint signatures from anything else the key could sign.
const DOMAIN: &[u8] = b"jit-checkpoint-v1\n";

/// A log public key.
#[derive(Debug, Clone)]
pub struct LogKey {
    key: Ed25519PublicKey,
    fingerprint: String,
}

impl LogKey {
    /// Parse an OpenSSH `ssh-ed25519 ...` line; `origin` names where it came from.
    pub fn parse(line: &str, origin: &str) -> anyhow::Result<LogKey> {
        let public = PublicKey::from_openssh(line.trim()).map_err(|e| {
            fail(
                format!("{origin} is not an OpenSSH public key ({e})"),
                "give the log key line `jitd ca show --log` prints (ssh-ed25519 ...)",
            )
        })?;
        let KeyData::Ed25519(bytes) = public.key_data() else {
            return Err(fail(
                format!("{origin} is not an Ed25519 key; the log key always is"),
                "give the log key line `jitd ca show --log` prints (ssh-ed25519 ...)",
            ));
        };
        Ok(LogKey {
            key: *bytes,
            fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
        })
    }

    /// Read the key from a file holding its OpenSSH line.
    pub fn read(path: &Path) -> anyhow::Result<LogKey> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the log key {}", path.display()))?;
        LogKey::parse(&text, &path.display().to_string())
    }

    /// `SHA256:...` fingerprint, as checkpoints name their key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Check a raw Ed25519 `signature` by this key over `message` (checkpoints and log
    /// receipts both come down to this).
    pub fn check(&self, message: &[u8], signature: &[u8]) -> Result<(), signature::Error> {
        let signature = Signature::new(Algorithm::Ed25519, signature.to_vec())
            .map_err(|_| signature::Error::new())?;
        self.key.verify(message, &signature)
    }

    /// Check that this key signed `signed`.
    pub fn verify(&self, signed: &SignedCheckpoint) -> anyhow::Result<()> {
        let hint = "check that you trust this log key (`jitd ca show --log` on the jitd host), \
                    then tell your security team: the checkpoint is not the log's";
        if signed.key_id != self.fingerprint {
            return Err(fail(
                format!(
                    "the checkpoint names log key {}, not {}",
                    signed.key_id, self.fingerprint
                ),
                hint,
            ));
        }
        let signature = STANDARD
            .decode(signed.signature.trim())
            .ok()
            .filter(|raw| raw.len() == 64)
            .ok_or_else(|| fail("the checkpoint's signature is not 64 bytes of base64", hint))?;
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(signed.checkpoint.signed_text().as_bytes());
        self.check(&message, &signature).map_err(|_| {
            fail(
                format!(
                    "the checkpoint's signature ({} records) does not verify with log key {}",
                    signed.checkpoint.tree_size, self.fingerprint
                ),
                hint,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jit_log::Checkpoint;
    use signature::Signer as _;
    use ssh_key::private::Ed25519Keypair;

    fn signed_by(key: &Ed25519Keypair, fingerprint: &str) -> SignedCheckpoint {
        let checkpoint = Checkpoint {
            origin: "https://127.0.0.1:8443".into(),
            tree_size: 3,
            root_hash: [7; 32],
            timestamp: 1_800_000_000,
        };
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(checkpoint.signed_text().as_bytes());
        SignedCheckpoint {
            checkpoint,
            key_id: fingerprint.into(),
            signature: STANDARD.encode(key.sign(&message).as_bytes()),
        }
    }

    fn log_key(key: &Ed25519Keypair) -> LogKey {
        let public = PublicKey::from(key.public);
        LogKey::parse(&public.to_openssh().unwrap(), "test").unwrap()
    }

    #[test]
    fn checkpoints_verify_only_with_their_key_and_text() {
        let signing = Ed25519Keypair::from_seed(&[1; 32]);
        let key = log_key(&signing);
        let signed = signed_by(&signing, key.fingerprint());
        key.verify(&signed).unwrap();

        let mut edited = signed.clone();
        edited.checkpoint.tree_size = 4;
        assert!(key.verify(&edited).is_err());

        let other = Ed25519Keypair::from_seed(&[2; 32]);
        let forged = signed_by(&other, key.fingerprint());
        let error = key.verify(&forged).unwrap_err();
        assert!(
            format!("{error:#}").contains("does not verify"),
            "{error:#}"
        );

        let named = signed_by(&other, log_key(&other).fingerprint());
        let error = key.verify(&named).unwrap_err();
        assert!(format!("{error:#}").contains("names log key"), "{error:#}");
    }

    #[test]
    fn only_ed25519_openssh_lines_are_log_keys() {
        assert!(LogKey::parse("not a key", "x").is_err());
        let rsa_like = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=";
        assert!(LogKey::parse(rsa_like, "x").is_err());
    }
}
