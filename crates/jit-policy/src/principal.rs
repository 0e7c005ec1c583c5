//! Safe names: principals, user names, group names and role names (DESIGN §5).
//!
//! Principals end up in certificates and in sshd's `AuthorizedPrincipalsFile`; user names end
//! up in key IDs (`user@role#serial`) and logs. A comma would split one principal into two, a
//! `*` or `?` is a pattern to some tools, a leading `-` reads as an option, and quotes,
//! whitespace or control characters break logs and config files. So every name is checked
//! against a small allow-list rather than a deny-list.

use std::fmt;

use crate::error::{Error, Result};

/// Longest principal, user or group name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Longest role name accepted.
pub const MAX_ROLE_NAME_LEN: usize = 63;

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
    /// A policy role name.
    RoleName,
}

impl NameKind {
    /// The kind as words for a message, e.g. `"user name"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Principal => "principal",
            NameKind::UserName => "user name",
            NameKind::GroupName => "group name",
            NameKind::RoleName => "role name",
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Check a certificate principal: 1 to 64 characters from `A-Z a-z 0-9 . _ @ -`, not
/// starting with `-`.
///
/// ```
/// assert!(jit_policy::validate_principal("deploy").is_ok());
/// assert!(jit_policy::validate_principal("root,admin").is_err());
/// ```
pub fn validate_principal(s: &str) -> Result<()> {
    check(NameKind::Principal, s, true)
}

/// Check a jit user name: like [`validate_principal`] but without `@` (and `#`), because key
/// IDs are `user@role#serial` and must split back unambiguously.
///
/// ```
/// assert!(jit_policy::validate_user_name("alice").is_ok());
/// assert!(jit_policy::validate_user_name("alice@corp").is_err());
/// ```
pub fn validate_user_name(s: &str) -> Result<()> {
    check(NameKind::UserName, s, false)
}

/// Check a group name: the same rules as [`validate_principal`].
pub fn validate_group_name(s: &str) -> Result<()> {
    check(NameKind::GroupName, s, true)
}

/// Check a role name: 1 to 63 characters matching `[a-z0-9][a-z0-9._-]*`.
pub fn validate_role_name(s: &str) -> Result<()> {
    let kind = NameKind::RoleName;
    let Some(first) = s.chars().next() else {
        return Err(unsafe_name(kind, s, "it is empty".to_owned()));
    };
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(unsafe_name(
            kind,
            s,
            format!(
                "it contains {}; use only lowercase letters a-z, digits, '.', '_' and '-'",
                describe(c)
            ),
        ));
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(unsafe_name(
            kind,
            s,
            "it must start with a lowercase letter or a digit".to_owned(),
        ));
    }
    if s.len() > MAX_ROLE_NAME_LEN {
        return Err(unsafe_name(
            kind,
            s,
            format!("it is longer than {MAX_ROLE_NAME_LEN} characters"),
        ));
    }
    Ok(())
}

/// True for the characters every principal, user and group name may use.
fn is_safe_char(c: char, allow_at: bool) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || (allow_at && c == '@')
}

fn check(kind: NameKind, s: &str, allow_at: bool) -> Result<()> {
    if s.is_empty() {
        return Err(unsafe_name(kind, s, "it is empty".to_owned()));
    }
    if let Some(c) = s.chars().find(|&c| !is_safe_char(c, allow_at)) {
        let allowed = if allow_at {
            "letters A-Z a-z, digits, '.', '_', '@' and '-'"
        } else {
            "letters A-Z a-z, digits, '.', '_' and '-'"
        };
        return Err(unsafe_name(
            kind,
            s,
            format!("it contains {}; use only {allowed}", describe(c)),
        ));
    }
    if s.starts_with('-') {
        return Err(unsafe_name(
            kind,
            s,
            "it starts with '-', which programs could read as an option".to_owned(),
        ));
    }
    // Only ASCII is left at this point, so bytes are characters.
    if s.len() > MAX_NAME_LEN {
        return Err(unsafe_name(
            kind,
            s,
            format!(
                "it is {} characters long; the limit is {MAX_NAME_LEN}",
                s.len()
            ),
        ));
    }
    Ok(())
}

/// Name a rejected character in words a person can act on.
fn describe(c: char) -> String {
    if c.is_whitespace() {
        format!("whitespace ({:?})", c)
    } else if c.is_control() {
        format!("a control character ({})", c.escape_unicode())
    } else if !c.is_ascii() {
        format!("the non-ASCII character {c:?}")
    } else {
        format!("{c:?}")
    }
}

fn unsafe_name(kind: NameKind, value: &str, problem: String) -> Error {
    Error::UnsafeName {
        kind,
        value: value.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_is_wrong() {
        let err = validate_principal("root,admin").unwrap_err().to_string();
        assert!(err.contains("','"), "{err}");
        assert!(err.starts_with("principal \"root,admin\""), "{err}");
        let err = validate_user_name("a\u{7}b").unwrap_err().to_string();
        assert!(err.contains("control character"), "{err}");
        assert!(
            !err.contains('\u{7}'),
            "control characters are escaped: {err}"
        );
        let err = validate_principal(&"a".repeat(65)).unwrap_err().to_string();
        assert!(err.contains("65 characters long"), "{err}");
    }

    #[test]
    fn user_names_refuse_key_id_separators() {
        assert!(validate_user_name("alice").is_ok());
        assert!(validate_user_name("alice@x").is_err());
        assert!(validate_user_name("alice#1").is_err());
        assert!(validate_principal("alice@x").is_ok());
        assert!(validate_group_name("sre@corp").is_ok());
    }

    #[test]
    fn role_names() {
        for ok in [
            "web-oncall",
            "db-admin",
            "a",
            "0",
            "x.y_z-1",
            &"a".repeat(63),
        ] {
            assert!(validate_role_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-web",
            ".web",
            "_web",
            "Web",
            "web oncall",
            "wéb",
            &"a".repeat(64),
        ] {
            assert!(validate_role_name(bad).is_err(), "{bad:?}");
        }
    }
}
