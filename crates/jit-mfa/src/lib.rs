//! TOTP (RFC 6238) second factor for jit: secrets, code normalisation, verification with
//! replay protection, and lockout decisions.
//!
//! The crate is pure: it reads no clock, no random source and does no I/O. The caller
//! passes in the current unix time, the random bytes of a new secret, the last accepted
//! time step and the recent failure times, and stores whatever must persist.
//!
//! ```
//! use jit_mfa::{code_at, normalise_code, verify, TotpSecret, Verification};
//!
//! # fn main() -> jit_mfa::Result<()> {
//! let secret = TotpSecret::from_bytes(b"12345678901234567890")?;
//! let now = 1_111_111_111;
//! let typed = normalise_code("050 471")?;
//! assert_eq!(code_at(&secret, now), "050471");
//! assert_eq!(
//!     verify(&secret, &typed, now, None),
//!     Verification::Accepted { step: 37_037_037 }
//! );
//! // The same code cannot be used twice.
//! assert_eq!(verify(&secret, &typed, now, Some(37_037_037)), Verification::Replayed);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`error`]: the crate's [`Error`] and [`Result`].
//! - [`secret`]: [`TotpSecret`], its base32 form and `otpauth://` URI.
//! - `base32`: the RFC 4648 base32 codec behind the secret's text form (private).
//! - [`code`]: [`normalise_code`], turning what a user typed into 6 digits.
//! - [`totp`]: [`code_at`] and [`verify`] (RFC 6238, SHA-1, 6 digits, 30 s, skew ±1).
//! - [`attempts`]: [`AttemptLimit`], the lockout decision after repeated wrong codes.

#![forbid(unsafe_code)]

pub mod attempts;
mod base32;
pub mod code;
pub mod error;
pub mod secret;
pub mod totp;

pub use attempts::{AttemptDecision, AttemptLimit};
pub use code::normalise_code;
pub use error::{Error, Result};
pub use secret::{TotpSecret, MIN_SECRET_LEN, SECRET_LEN};
pub use totp::{code_at, time_step, verify, Verification, DIGITS, SKEW_STEPS, STEP_SECONDS};
