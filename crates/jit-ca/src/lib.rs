//! The only crate that touches CA private keys: key custody, certificate signing,
//! serials and key IDs, and verification of device-signed requests.
//!
//! # Layout
//! - [`checkpoint`]: log checkpoint signatures (the log key is not a CA key).
//! - [`custody`]: generating CA keys, writing them (encrypted unless the operator says
//!   otherwise, mode 0600, never overwriting), loading them back.
//! - [`signer`]: the [`signer::CaSigner`] trait and the in-memory Ed25519 signer that keeps
//!   its key ready and zeroizes it on drop.
//! - [`user_cert`]: building and signing OpenSSH user certificates, validity arithmetic.
//! - [`serial`]: random, non-zero serials.
//! - [`device`]: client and device public keys, fingerprints, request signatures.
//!
//! The KRL wire format lives in `jit-krl`, shared with the host side.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod custody;
pub mod device;
pub mod serial;
pub mod signer;
pub mod user_cert;

pub use ssh_key::{Certificate, PublicKey};

/// Errors of the CA crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CA key file already exists: refusing to overwrite it.
    #[error("{path} already exists; refusing to overwrite a CA key (move it away first if you really mean to replace it)")]
    KeyExists {
        /// The existing file.
        path: String,
    },
    /// Reading or writing a key file failed.
    #[error("cannot access CA key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file is not an OpenSSH private key.
    #[error("{path} is not an OpenSSH private key")]
    BadKeyFile {
        /// The file.
        path: String,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("the CA key {path} is encrypted; give its passphrase with --passphrase-file or JITD_CA_PASSPHRASE")]
    PassphraseNeeded {
        /// The file.
        path: String,
    },
    /// The passphrase does not decrypt the key.
    #[error("the passphrase does not decrypt the CA key {path}")]
    WrongPassphrase {
        /// The file.
        path: String,
    },
    /// The CA key is not Ed25519.
    #[error("the CA key {path} is not an Ed25519 key; jit CA keys are Ed25519")]
    UnsupportedCaKey {
        /// The file.
        path: String,
    },
    /// A public key could not be parsed.
    #[error("not an OpenSSH public key")]
    BadPublicKey,
    /// A request signature is missing, malformed or does not verify.
    #[error("the request signature does not verify")]
    BadSignature,
    /// The validity window cannot be represented.
    #[error("certificate validity out of range")]
    ValidityOutOfRange,
    /// A certificate field was rejected (empty principals, bad key ID...).
    #[error("cannot build the certificate: {0}")]
    Certificate(String),
}

/// Result alias of the CA crate.
pub type Result<T> = std::result::Result<T, Error>;
