//! Signers: the trait every CA key custody implements, and the in-memory Ed25519 one.

use ed25519_dalek::Signer as _;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{Algorithm, HashAlg, PublicKey, Signature};

use crate::{Error, Result};

/// A CA key that can sign. Implementations keep the private key to themselves; callers
/// only see the public key and signatures. (An HSM or PKCS#11 signer implements this too.)
pub trait CaSigner: Send + Sync {
    /// The CA public key.
    fn public_key(&self) -> &PublicKey;
    /// Sign `message` (the to-be-signed bytes of a certificate).
    fn sign(&self, message: &[u8]) -> Result<Signature>;
    /// `SHA256:...` fingerprint of the CA public key.
    fn fingerprint(&self) -> String {
        self.public_key().fingerprint(HashAlg::Sha256).to_string()
    }
}

/// An Ed25519 CA key held in memory, ready to sign (no re-derivation per signature).
/// The key is zeroized on drop by `ed25519_dalek`.
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("public", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Ed25519Signer {
    /// Wrap a signing key; `comment` goes into the public key (e.g. `jit user CA`).
    pub fn new(key: ed25519_dalek::SigningKey, comment: &str) -> Self {
        let public_data = KeyData::Ed25519(Ed25519PublicKey::from(key.verifying_key()));
        let public = PublicKey::new(public_data, comment);
        Self { key, public }
    }
}

impl CaSigner for Ed25519Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Signature> {
        let signature = self.key.sign(message);
        Signature::new(Algorithm::Ed25519, signature.to_bytes().to_vec())
            .map_err(|e| Error::Certificate(e.to_string()))
    }
}

/// Adapter from any [`CaSigner`] to what `ssh_key::certificate::Builder::sign` wants.
pub(crate) struct BuilderSigner<'a>(pub(crate) &'a dyn CaSigner);

impl signature::Signer<Signature> for BuilderSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Signature, signature::Error> {
        self.0.sign(msg).map_err(|_| signature::Error::new())
    }
}

impl From<&BuilderSigner<'_>> for KeyData {
    fn from(signer: &BuilderSigner<'_>) -> KeyData {
        signer.0.public_key().key_data().clone()
    }
}
