//! The one error type of this crate.
//!
//! Messages never contain the secret or the code the user typed.

/// Result alias using this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// Everything that can go wrong when handling TOTP secrets and codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The secret is shorter than the 128 bits RFC 4226 §4 requires.
    #[error("TOTP secret is too short: {bytes} bytes, at least {min} are required (RFC 4226 §4)")]
    SecretTooShort {
        /// Length of the rejected secret, in bytes.
        bytes: usize,
        /// Minimum length, in bytes.
        min: usize,
    },

    /// The text form of a secret is not RFC 4648 base32.
    #[error("TOTP secret is not valid base32 (letters A-Z and digits 2-7)")]
    InvalidBase32,

    /// What the user typed is not a 6-digit code.
    #[error("a TOTP code is 6 digits from your authenticator app")]
    MalformedCode,
}
