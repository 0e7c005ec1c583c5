//! Errors a person can act on: what went wrong, and a hint of what to do next.
//!
//! Code anywhere in the crate returns `anyhow::Error`; where the next step is known it
//! puts a [`Failure`] in the chain (see [`fail`]). [`report`] turns any error into the
//! two lines the binary prints: `error: WHAT` and `hint: WHAT TO DO`.

use jit_proto::ErrorCode;

/// Shown when no part of the error chain knows a better next step.
const DEFAULT_HINT: &str = "run again with JIT_LOG=debug for details";

/// The exit status of a failed command unless its [`Failure`] asks for another.
pub const EXIT_FAILURE: u8 = 1;

/// An error with a next step for the person at the keyboard.
///
/// Messages and hints never carry secrets (TOTP codes, private keys, tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    code: Option<ErrorCode>,
    exit_status: u8,
}

impl Failure {
    /// A failure with a message and a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: Some(hint.into()),
            code: None,
            exit_status: EXIT_FAILURE,
        }
    }

    /// A failure the server reported, with its stable code and optional hint.
    pub fn from_server(code: ErrorCode, message: impl Into<String>, hint: Option<String>) -> Self {
        Failure {
            message: message.into(),
            hint,
            code: Some(code),
            exit_status: EXIT_FAILURE,
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

    /// The same failure, ending the process with `status` instead of 1 (e.g. 2 for
    /// `jit host sync` when the KRL is stale).
    pub fn with_exit_status(mut self, status: u8) -> Self {
        self.exit_status = status.max(EXIT_FAILURE);
        self
    }

    /// The process exit status this failure asks for (1 unless set otherwise).
    pub fn exit_status(&self) -> u8 {
        self.exit_status
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

/// Replace the hint of a server refusal with `code` by `hint` (for a command whose next
/// step differs from an engineer's, e.g. on a host); other errors pass unchanged.
pub fn rehint(err: anyhow::Error, code: ErrorCode, hint: &str) -> anyhow::Error {
    match failure_of(&err).filter(|f| f.code == Some(code)) {
        Some(failure) => {
            let mut replaced = failure.clone();
            replaced.hint = Some(hint.to_string());
            anyhow::Error::new(replaced)
        }
        None => err,
    }
}

/// The process exit status for an error: the first [`Failure`]'s, else [`EXIT_FAILURE`].
pub fn exit_status(err: &anyhow::Error) -> u8 {
    failure_of(err).map_or(EXIT_FAILURE, Failure::exit_status)
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

    #[test]
    fn rehint_replaces_only_the_named_refusal() {
        let refusal = || {
            anyhow::Error::new(Failure::from_server(
                ErrorCode::InvalidToken,
                "the server refused: unknown token (invalid_token)",
                Some("enroll again".into()),
            ))
        };
        let err = rehint(refusal(), ErrorCode::InvalidToken, "ask for a host token");
        assert!(report(&err).ends_with("hint: ask for a host token"));
        assert_eq!(server_code(&err), Some(ErrorCode::InvalidToken));
        let err = rehint(refusal(), ErrorCode::UnknownDevice, "other");
        assert!(report(&err).ends_with("hint: enroll again"));
    }

    #[test]
    fn exit_statuses_default_to_one() {
        assert_eq!(exit_status(&anyhow::anyhow!("x")), 1);
        let stale = Failure::new("stale", "look").with_exit_status(2);
        let err = anyhow::Error::new(stale).context("host sync failed");
        assert_eq!(exit_status(&err), 2);
        assert_eq!(Failure::new("a", "b").with_exit_status(0).exit_status(), 1);
    }
}
