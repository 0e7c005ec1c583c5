//! The enrollment token: server URL, TLS certificate fingerprint and a one-time secret.
//!
//! Text form: `jit1_` followed by base64url (no padding) of a small JSON object, so that
//! `jit enroll TOKEN` needs nothing else to find and trust exactly one server.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "jit1_";

/// Errors decoding an enrollment token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The text does not start with `jit1_` or is not valid base64url JSON.
    #[error("this is not a jit enrollment token (it should start with `jit1_`); copy the whole token `jitd user add` printed")]
    Malformed,
}

/// A decoded enrollment token.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Server base URL, e.g. `https://127.0.0.1:8443`.
    pub url: String,
    /// SHA-256 of the server's TLS certificate (DER), lowercase hex.
    pub tls_sha256: String,
    /// The one-time secret.
    pub secret: String,
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("url", &self.url)
            .field("tls_sha256", &self.tls_sha256)
            .finish_non_exhaustive()
    }
}

impl EnrollmentToken {
    /// The text form handed to the engineer.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parse the text form (surrounding whitespace is ignored).
    pub fn decode(text: &str) -> Result<Self, TokenError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(TokenError::Malformed)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let token = EnrollmentToken {
            url: "https://127.0.0.1:8443".into(),
            tls_sha256: "ab".repeat(32),
            secret: "s3cret".into(),
        };
        let text = token.encode();
        assert!(text.starts_with("jit1_"));
        assert_eq!(
            EnrollmentToken::decode(&format!(" {text}\n")),
            Ok(token.clone())
        );
        assert_eq!(
            EnrollmentToken::decode("jit1_!!"),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            EnrollmentToken::decode(&text[1..]),
            Err(TokenError::Malformed)
        );
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
