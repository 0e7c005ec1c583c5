//! OpenSSH key revocation lists (KRLs, OpenSSH's `PROTOCOL.krl`): the one owner of the
//! wire format, for the CA side (jitd builds the KRL it serves) and the host side (`jit
//! host sync` checks a download before sshd reads it; the host daemon asks "is this
//! certificate revoked?").
//!
//! A [`Krl`] lists, per CA key (or for any CA), revoked certificate serials and key IDs,
//! plus revoked plain keys and key fingerprints. [`Krl::encode`] writes it the way
//! `ssh-keygen -k` would; [`Krl::parse`] reads one strictly, refusing whatever sshd 9.2
//! would refuse; [`Krl::check_certificate`] and [`Krl::check_key`] answer as OpenSSH's
//! `ssh_krl_check_key` does.
//!
//! # Layout
//! - [`encode`](Krl::encode): the encoder; `encode/serials.rs` picks the smallest mix of
//!   serial list, range and bitmap subsections.
//! - [`parse`](Krl::parse): the strict parser (PROTOCOL.krl, as OpenSSH 9.2's `krl.c`
//!   reads it).
//! - [`check`]: the revocation check and its [`Reason`].
//! - `wire.rs`: SSH wire encoding helpers (writer and bounds-checked reader).
//!
//! # Where this parser is stricter than OpenSSH
//! jitd never writes these, and each would need crypto or types this crate does not have:
//! - signature sections (type 4) are refused: jitd serves unsigned KRLs over pinned TLS,
//!   and OpenSSH would verify them;
//! - key IDs and the comment must be UTF-8 (ssh-key certificates carry UTF-8 key IDs);
//! - revoked keys (section 2) and CA keys must be readable by `ssh-key`.
#![forbid(unsafe_code)]

pub mod check;
mod encode;
mod parse;
mod wire;

use std::ops::RangeInclusive;

pub use check::Reason;
pub use ssh_key::{Certificate, PublicKey};

/// `KRL_MAGIC`: "SSHKRL\n\0".
pub const MAGIC: &[u8; 8] = b"SSHKRL\n\0";
/// `KRL_FORMAT_VERSION`, the only one OpenSSH reads.
pub const FORMAT_VERSION: u32 = 1;
/// Section type: revoked certificates of one CA (or of any CA).
pub const SECTION_CERTIFICATES: u8 = 1;
/// Section type: revoked plain keys, as key blobs.
pub const SECTION_EXPLICIT_KEY: u8 = 2;
/// Section type: revoked plain keys, as SHA-1 hashes of their blobs.
pub const SECTION_FINGERPRINT_SHA1: u8 = 3;
/// Section type: a signature over the KRL so far (refused by [`Krl::parse`]).
pub const SECTION_SIGNATURE: u8 = 4;
/// Section type: revoked plain keys, as SHA-256 hashes of their blobs.
pub const SECTION_FINGERPRINT_SHA256: u8 = 5;
/// Certificate subsection type: a list of revoked serials.
pub const CERT_SERIAL_LIST: u8 = 0x20;
/// Certificate subsection type: an inclusive range of revoked serials.
pub const CERT_SERIAL_RANGE: u8 = 0x21;
/// Certificate subsection type: an offset and a bitmap of revoked serials.
pub const CERT_SERIAL_BITMAP: u8 = 0x22;
/// Certificate subsection type: revoked key IDs.
pub const CERT_KEY_ID: u8 = 0x23;
/// Largest KRL OpenSSH will load (`SSHBUF_SIZE_MAX`, 128 MiB).
pub const MAX_KRL_BYTES: usize = 0x0800_0000;
/// Widest serial bitmap OpenSSH reads: 2048 bytes of mpint magnitude (`SSHBUF_MAX_BIGNUM`).
pub const MAX_BITMAP_BITS: u64 = 2048 * 8;

/// What is revoked under one CA key, or under every CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRevocations {
    /// The CA key that signed the revoked certificates; `None` revokes them whatever CA
    /// signed them (an empty CA key in the file, `ssh-keygen -k` without `-s`).
    pub ca_key: Option<PublicKey>,
    /// Revoked serials, in any order, duplicates allowed; never 0.
    pub serials: Vec<u64>,
    /// Revoked inclusive serial ranges (`ssh-keygen -k` `serial: A-B`); never from 0, never
    /// empty.
    pub serial_ranges: Vec<RangeInclusive<u64>>,
    /// Revoked key IDs (every certificate of this CA with such an ID); no NUL bytes.
    pub key_ids: Vec<String>,
}

impl CertificateRevocations {
    /// Nothing revoked yet under `ca_key`.
    pub fn new(ca_key: PublicKey) -> Self {
        Self::scoped(Some(ca_key))
    }

    /// Nothing revoked yet, for certificates of any CA.
    pub fn any_ca() -> Self {
        Self::scoped(None)
    }

    fn scoped(ca_key: Option<PublicKey>) -> Self {
        Self {
            ca_key,
            serials: Vec::new(),
            serial_ranges: Vec::new(),
            key_ids: Vec::new(),
        }
    }

    /// Whether `serial` is listed here (serial 0, "no serial", never is).
    pub fn revokes_serial(&self, serial: u64) -> bool {
        serial != 0
            && (self.serials.contains(&serial)
                || self.serial_ranges.iter().any(|r| r.contains(&serial)))
    }

    /// Whether `key_id` is listed here.
    pub fn revokes_key_id(&self, key_id: &str) -> bool {
        self.key_ids.iter().any(|k| k == key_id)
    }
}

/// A whole KRL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Krl {
    /// Increases each time the KRL changes (`krl_version`).
    pub version: u64,
    /// When it was generated, Unix seconds.
    pub generated_at: u64,
    /// Free text shown by `ssh-keygen -Ql`; no NUL bytes.
    pub comment: String,
    /// Revoked certificates, per CA key. Entries for the same CA key are merged when
    /// encoded; [`Krl::parse`] returns one entry per CA key.
    pub certificates: Vec<CertificateRevocations>,
    /// Revoked plain keys (and with them every certificate for them, and every
    /// certificate signed by them). Encoded as SHA-256 fingerprints; parsed from
    /// explicit key sections.
    pub explicit_keys: Vec<PublicKey>,
    /// Revoked keys by the SHA-1 hash of their blob.
    pub sha1_fingerprints: Vec<[u8; 20]>,
    /// Revoked keys by the SHA-256 hash of their blob.
    pub sha256_fingerprints: Vec<[u8; 32]>,
}

/// A KRL that revokes nothing.
pub fn empty(version: u64, generated_at: u64) -> Krl {
    Krl {
        version,
        generated_at,
        ..Krl::default()
    }
}

/// Errors of the KRL crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A KRL could not be encoded (serial 0, a NUL byte, too large...).
    #[error("cannot build the KRL: {0}")]
    Encode(String),
    /// Bytes are not a KRL OpenSSH would load (or one this parser refuses, see the crate
    /// documentation).
    #[error("not a usable KRL: {reason} (at byte {offset})")]
    Malformed {
        /// Where in the input the problem was found.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias of the KRL crate.
pub type Result<T> = std::result::Result<T, Error>;
