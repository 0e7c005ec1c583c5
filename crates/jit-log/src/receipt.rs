//! Log receipts inside certificates (opt-in per role): the log key signs a statement that
//! binds a certificate's content to its position in the issuance log, and the certificate
//! carries that signature in the non-critical extension [`EXTENSION`] (sshd ignores unknown
//! extensions). A host that opts in (`jit host principals` as sshd's
//! `AuthorizedPrincipalsCommand`) refuses certificates without a valid receipt, so a
//! certificate made with a stolen CA key outside the log is refused there.
//!
//! This module defines the statement's bytes and the extension's text; signing and
//! verification are done by the callers with the log key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::{Error, Result};

/// The certificate extension that carries the receipt.
pub const EXTENSION: &str = "log-receipt@jit";

/// What a receipt states: this certificate is log entry `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptStatement {
    /// Sequence number of the issuance record.
    pub seq: u64,
    /// Certificate serial.
    pub serial: u64,
    /// Certificate key ID.
    pub key_id: String,
    /// `SHA256:` fingerprint of the certified public key.
    pub public_key_fingerprint: String,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
    /// `SHA256:` fingerprint of the CA key that signs the certificate.
    pub ca_fingerprint: String,
    /// Certificate principals, in order.
    pub principals: Vec<String>,
}

impl ReceiptStatement {
    /// The exact bytes the log key signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "jit-receipt-v1\nseq {}\nserial {}\nkey-id {}\nkey {}\nvalid {} {}\nca {}\nprincipals {}\n",
            self.seq,
            self.serial,
            self.key_id,
            self.public_key_fingerprint,
            self.valid_after,
            self.valid_before,
            self.ca_fingerprint,
            self.principals.join(",")
        )
        .into_bytes()
    }
}

/// The extension's value: `v1 SEQ BASE64-SIGNATURE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Sequence number of the issuance record.
    pub seq: u64,
    /// The log key's 64-byte Ed25519 signature over [`ReceiptStatement::signed_bytes`].
    pub signature: Vec<u8>,
}

impl Receipt {
    /// The extension value.
    pub fn encode(&self) -> String {
        format!("v1 {} {}", self.seq, STANDARD.encode(&self.signature))
    }

    /// Parse an extension value.
    pub fn parse(text: &str) -> Result<Receipt> {
        let bad = || Error::BadReceipt;
        let mut parts = text.split(' ');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let seq = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let signature = parts
            .next()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(bad)?;
        if parts.next().is_some() || signature.len() != 64 {
            return Err(bad());
        }
        Ok(Receipt { seq, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> ReceiptStatement {
        ReceiptStatement {
            seq: 7,
            serial: 42,
            key_id: "alice@web#42".into(),
            public_key_fingerprint: "SHA256:key".into(),
            valid_after: 100,
            valid_before: 200,
            ca_fingerprint: "SHA256:ca".into(),
            principals: vec!["deploy".into(), "web".into()],
        }
    }

    #[test]
    fn every_field_is_bound() {
        let base = statement().signed_bytes();
        let mut changed = statement();
        changed.seq = 8;
        assert_ne!(changed.signed_bytes(), base);
        let mut changed = statement();
        changed.principals.push("root".into());
        assert_ne!(changed.signed_bytes(), base);
        let mut changed = statement();
        changed.valid_before = 201;
        assert_ne!(changed.signed_bytes(), base);
    }

    #[test]
    fn the_extension_value_round_trips_strictly() {
        let receipt = Receipt {
            seq: 9,
            signature: vec![3; 64],
        };
        assert_eq!(Receipt::parse(&receipt.encode()).expect("parses"), receipt);
        for bad in [
            "",
            "v2 9 AA==",
            "v1 x AA==",
            "v1 9",
            "v1 9 AAAA",
            &format!("{} extra", receipt.encode()),
        ] {
            assert!(Receipt::parse(bad).is_err(), "{bad:?}");
        }
    }
}
