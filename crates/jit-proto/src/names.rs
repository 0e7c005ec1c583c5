//! Names that end up in certificates and sshd's files: principals, user and group names.
//!
//! One safe character set for all of them: ASCII letters, digits, `.`, `_`, `-` and `@`
//! (principals only), 1 to 64 characters, not starting with `-`. That excludes every
//! character OpenSSH treats specially in principal lists and patterns (`,*?!"`),
//! whitespace, control characters, quotes, slashes and non-ASCII look-alikes.

/// Why a name was refused (never echoes the name itself beyond its length).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("a {kind} cannot be empty")]
    Empty {
        /// What kind of name.
        kind: &'static str,
    },
    /// Longer than 64 characters.
    #[error("a {kind} is at most 64 characters (this one has {len})")]
    TooLong {
        /// What kind of name.
        kind: &'static str,
        /// Its length.
        len: usize,
    },
    /// Starts with `-` (could be read as an option).
    #[error("a {kind} cannot start with '-'")]
    LeadingDash {
        /// What kind of name.
        kind: &'static str,
    },
    /// Has a character outside the safe set.
    #[error("a {kind} may only use letters, digits and {allowed} (found a character outside that set at position {position})")]
    BadCharacter {
        /// What kind of name.
        kind: &'static str,
        /// The allowed punctuation.
        allowed: &'static str,
        /// 1-based character position.
        position: usize,
    },
}

fn validate(name: &str, kind: &'static str, punctuation: &'static str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    let len = name.chars().count();
    if len > 64 {
        return Err(NameError::TooLong { kind, len });
    }
    if name.starts_with('-') {
        return Err(NameError::LeadingDash { kind });
    }
    match name
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || punctuation.contains(c)))
    {
        Some(index) => Err(NameError::BadCharacter {
            kind,
            allowed: punctuation,
            position: index + 1,
        }),
        None => Ok(()),
    }
}

/// A certificate principal (an account name or a label sshd maps to accounts).
pub fn validate_principal(name: &str) -> Result<(), NameError> {
    validate(name, "principal", "._-@")
}

/// A jit user name (no `@` or `#`, which key IDs use as separators).
pub fn validate_user_name(name: &str) -> Result<(), NameError> {
    validate(name, "user name", "._-")
}

/// A group name.
pub fn validate_group_name(name: &str) -> Result<(), NameError> {
    validate(name, "group name", "._-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_principals_are_refused() {
        for bad in [
            "",
            "root,admin",
            "*",
            "ro?t",
            "!root",
            "ro\"ot",
            "a b",
            "a\tb",
            "a\nb",
            "\u{0}",
            "-oProxyCommand",
            "ro/ot",
            "rооt",
            "a'b",
            "a\\b",
            "x\u{7f}",
        ] {
            assert!(validate_principal(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_principal(&"a".repeat(65)).is_err());
        for good in [
            "root",
            "deploy",
            "alice.smith",
            "web-1.prod",
            "svc_x",
            "a@b",
            &"a".repeat(64),
        ] {
            assert!(
                validate_principal(good).is_ok(),
                "{good:?} must be accepted"
            );
        }
    }

    #[test]
    fn user_names_cannot_carry_key_id_separators() {
        assert!(validate_user_name("alice").is_ok());
        assert!(validate_user_name("alice@x").is_err());
        assert!(validate_user_name("alice#1").is_err());
        assert!(validate_group_name("sre-leads").is_ok());
    }
}
