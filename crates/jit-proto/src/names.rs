//! Names that end up in certificates, key IDs and sshd's files: principals, user names and
//! group names. One allow-list for all of them, checked by the CA before it signs, by the
//! policy when it loads, and by `jitd user add`.
//!
//! A comma would split one principal into two, `*`, `?` and `!` are patterns to sshd, a
//! leading `-` reads as an option, and quotes, whitespace or control characters break logs
//! and config files. So a name is 1 to 64 characters from `A-Z a-z 0-9 . _ -` (plus `@` for
//! principals and groups), not starting with `-`.

use std::fmt;

/// Longest principal, user or group name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Which kind of name a check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameKind {
    /// A certificate principal.
    Principal,
    /// A jit user name.
    UserName,
    /// A group name.
    GroupName,
}

impl NameKind {
    /// The kind as words for a message, e.g. `"user name"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Principal => "principal",
            NameKind::UserName => "user name",
            NameKind::GroupName => "group name",
        }
    }

    fn allows_at(self) -> bool {
        !matches!(self, NameKind::UserName)
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused name: which kind, and what is wrong in words a person can act on. The name
/// itself is not repeated, so hostile input never reaches a terminal or log unescaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this {kind} is refused: {problem}")]
pub struct NameError {
    /// Which kind of name.
    pub kind: NameKind,
    /// What is wrong with it.
    pub problem: String,
}

/// Check a certificate principal.
pub fn validate_principal(name: &str) -> Result<(), NameError> {
    check(NameKind::Principal, name)
}

/// Check a jit user name: no `@` (and no `#`), because key IDs are `user@role#serial`.
pub fn validate_user_name(name: &str) -> Result<(), NameError> {
    check(NameKind::UserName, name)
}

/// Check a host certificate principal: a host name or an IP address (IPv6 colons allowed),
/// never a pattern.
pub fn validate_host_principal(name: &str) -> Result<(), NameError> {
    if name.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(());
    }
    check(NameKind::Principal, name)
}

/// Check a group name (same rules as principals).
pub fn validate_group_name(name: &str) -> Result<(), NameError> {
    check(NameKind::GroupName, name)
}

/// True for the characters a name of `kind` may use.
fn is_safe_char(c: char, kind: NameKind) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || (kind.allows_at() && c == '@')
}

fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    let refuse = |problem: String| Err(NameError { kind, problem });
    if name.is_empty() {
        return refuse("it is empty".to_owned());
    }
    if let Some(c) = name.chars().find(|&c| !is_safe_char(c, kind)) {
        let allowed = if kind.allows_at() {
            "letters A-Z a-z, digits, '.', '_', '@' and '-'"
        } else {
            "letters A-Z a-z, digits, '.', '_' and '-'"
        };
        return refuse(format!("it contains {}; use only {allowed}", describe(c)));
    }
    if name.starts_with('-') {
        return refuse("it starts with '-', which programs could read as an option".to_owned());
    }
    // Only ASCII is left at this point, so bytes are characters.
    if name.len() > MAX_NAME_LEN {
        return refuse(format!(
            "it is {} characters long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// Name a rejected character in words a person can act on.
pub fn describe(c: char) -> String {
    if c.is_whitespace() {
        format!("whitespace ({c:?})")
    } else if c.is_control() {
        format!("a control character ({})", c.escape_unicode())
    } else if !c.is_ascii() {
        format!("the non-ASCII character {c:?}")
    } else {
        format!("{c:?}")
    }
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

    #[test]
    fn messages_say_what_is_wrong_without_echoing_control_characters() {
        let err = validate_principal("root,admin").unwrap_err().to_string();
        assert!(err.contains("','"), "{err}");
        let err = validate_user_name("a\u{7}b").unwrap_err().to_string();
        assert!(
            err.contains("control character") && !err.contains('\u{7}'),
            "{err}"
        );
        let err = validate_principal(&"a".repeat(65)).unwrap_err().to_string();
        assert!(err.contains("65 characters long"), "{err}");
    }
}
