//! Is a key or a certificate revoked? [`Krl::check_certificate`] and [`Krl::check_key`]
//! answer as OpenSSH's `ssh_krl_check_key` does (sshd `RevokedKeys`, `ssh-keygen -Q`):
//!
//! - a plain key is revoked when its blob is listed as an explicit key or its SHA-1 or
//!   SHA-256 hash is listed;
//! - a certificate is revoked when its certified key is revoked as a plain key, when its
//!   key ID or its serial (unless 0, "no serial") is listed under its CA key or under the
//!   "any CA" entry, or when its CA key is revoked as a plain key.
//!
//! The certificate's signature and validity are not looked at (sshd checks them
//! elsewhere).

use sha1::{Digest as _, Sha1};
use sha2::{Digest as _, Sha256};
use ssh_encoding::Encode as _;
use ssh_key::public::KeyData;
use ssh_key::Certificate;

use crate::Krl;

/// Why a key or certificate is revoked (the first match, in OpenSSH's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The key (for a certificate: the certified key) is listed, as a key or a fingerprint.
    Key,
    /// The certificate's key ID is listed under its CA or any CA.
    KeyId,
    /// The certificate's serial is listed under its CA or any CA.
    Serial,
    /// The certificate's CA key is listed, as a key or a fingerprint.
    CaKey,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Key => "its key is revoked",
            Reason::KeyId => "its key ID is revoked",
            Reason::Serial => "its serial is revoked",
            Reason::CaKey => "its CA key is revoked",
        })
    }
}

impl Krl {
    /// Why `key`, a plain key, is revoked; `None` when it is not.
    pub fn check_key(&self, key: &KeyData) -> Option<Reason> {
        self.lists_key(key).then_some(Reason::Key)
    }

    /// Whether `key`, a plain key, is revoked.
    pub fn is_revoked_key(&self, key: &KeyData) -> bool {
        self.check_key(key).is_some()
    }

    /// Why `cert` is revoked; `None` when it is not.
    pub fn check_certificate(&self, cert: &Certificate) -> Option<Reason> {
        if self.lists_key(cert.public_key()) {
            return Some(Reason::Key);
        }
        let ca = cert.signature_key();
        let for_its_ca = self
            .certificates
            .iter()
            .filter(|c| c.ca_key.as_ref().is_some_and(|k| k.key_data() == ca));
        let for_any_ca = self.certificates.iter().filter(|c| c.ca_key.is_none());
        for entry in for_its_ca.chain(for_any_ca) {
            if entry.revokes_key_id(cert.key_id()) {
                return Some(Reason::KeyId);
            }
            if entry.revokes_serial(cert.serial()) {
                return Some(Reason::Serial);
            }
        }
        self.lists_key(ca).then_some(Reason::CaKey)
    }

    /// Whether `cert` is revoked.
    pub fn is_revoked_certificate(&self, cert: &Certificate) -> bool {
        self.check_certificate(cert).is_some()
    }

    /// Whether the plain key `key` is listed. A key that cannot be encoded counts as
    /// listed: OpenSSH treats a failed check as revoked too.
    fn lists_key(&self, key: &KeyData) -> bool {
        let mut blob = Vec::new();
        if key.encode(&mut blob).is_err() {
            return true;
        }
        let sha1: [u8; 20] = Sha1::digest(&blob).into();
        let sha256: [u8; 32] = Sha256::digest(&blob).into();
        self.sha1_fingerprints.contains(&sha1)
            || self.sha256_fingerprints.contains(&sha256)
            || self.explicit_keys.iter().any(|k| k.key_data() == key)
    }
}
