//! Errors a person can act on: what went wrong, and a hint of what to do next.
//!
//! Code anywhere in the crate returns `anyhow::Error`; where the next step is known it
//! puts a [`Failure`] in the chain (see [`fail`]). [`report`] turns any error into the
//! two lines the binary prints: `error: WHAT` and `hint: WHAT TO DO`.

use jit_proto::ErrorCode;

/// Shown when no part of the error chain knows a better next step.
const DEFAULT_HINT: &str = "run again with JIT_LOG=debug for details";

/// An error with a next step for the person at the keyboard.
///
/// Messages and hints never carry secrets (TOTP codes, private keys, tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    code: Option<ErrorCode>,
}

impl Failure {
    /// A failure with a message and a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: Some(hint.into()),
            code: None,
        }
    }

    /// A failure the server reported, with its stable code and optional hint.
    pub fn from_server(code: ErrorCode, message: impl Into<String>, hint: Option<String>) -> Self {
        Failure {
            message: message.into(),
            hint,
            code: Some(code),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to do next, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        self.code
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand for `anyhow::Error::new(Failure::new(message, hint))`.
pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure::new(message, hint))
}

/// The first [`Failure`] in an error chain, if any.
pub fn failure_of(err: &anyhow::Error) -> Option<&Failure> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
}

/// The server error code carried by an error chain, if the server refused a request.
pub fn server_code(err: &anyhow::Error) -> Option<ErrorCode> {
    failure_of(err).and_then(Failure::code)
}

/// The text printed for an error: `error: WHAT` then `hint: WHAT TO DO`.
pub fn report(err: &anyhow::Error) -> String {
    let hint = failure_of(err)
        .and_then(Failure::hint)
        .unwrap_or(DEFAULT_HINT);
    format!("error: {err:#}\nhint: {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn report_keeps_context_and_finds_the_hint_deep_in_the_chain() {
        let err = Err::<(), _>(fail("no ssh-agent is running", "start one"))
            .context("cannot list certificates")
            .unwrap_err();
        assert_eq!(
            report(&err),
            "error: cannot list certificates: no ssh-agent is running\nhint: start one"
        );
    }

    #[test]
    fn report_has_a_default_hint() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(report(&err), format!("error: boom\nhint: {DEFAULT_HINT}"));
    }

    #[test]
    fn server_codes_are_found() {
        let err = anyhow::Error::new(Failure::from_server(
            ErrorCode::InvalidOtp,
            "wrong code",
            None,
        ));
        assert_eq!(server_code(&err), Some(ErrorCode::InvalidOtp));
        assert_eq!(server_code(&anyhow::anyhow!("x")), None);
    }
}
