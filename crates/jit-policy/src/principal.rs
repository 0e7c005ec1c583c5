//! Safe names: principals, user names, group names and role names (DESIGN §5).
//!
//! Principals end up in certificates and in sshd's `AuthorizedPrincipalsFile`; user names end
//! up in key IDs (`user@role#serial`) and logs. A comma would split one principal into two, a
//! `*` or `?` is a pattern to some tools, a leading `-` reads as an option, and quotes,
//! whitespace or control characters break logs and config files. So every name is checked
//! against a small allow-list rather than a deny-list.

use std::fmt;

use crate::error::{Error, Result};

pub use jit_proto::names::MAX_NAME_LEN;

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

/// The shared rules live in `jit_proto::names` (the CA checks them too); this adds the
/// offending value, escaped, for policy error messages.
fn shared(
    kind: NameKind,
    s: &str,
    result: std::result::Result<(), jit_proto::names::NameError>,
) -> Result<()> {
    result.map_err(|e| unsafe_name(kind, s, e.problem))
}

/// Check a certificate principal: 1 to 64 characters from `A-Z a-z 0-9 . _ @ -`, not
/// starting with `-`.
///
/// ```
/// assert!(jit_policy::validate_principal("deploy").is_ok());
/// assert!(jit_policy::validate_principal("root,admin").is_err());
/// ```
pub fn validate_principal(s: &str) -> Result<()> {
    shared(
        NameKind::Principal,
        s,
        jit_proto::names::validate_principal(s),
    )
}

/// Check a jit user name: like [`validate_principal`] but without `@` (and `#`), because key
/// IDs are `user@role#serial` and must split back unambiguously.
///
/// ```
/// assert!(jit_policy::validate_user_name("alice").is_ok());
/// assert!(jit_policy::validate_user_name("alice@corp").is_err());
/// ```
pub fn validate_user_name(s: &str) -> Result<()> {
    shared(
        NameKind::UserName,
        s,
        jit_proto::names::validate_user_name(s),
    )
}

/// Check a group name: the same rules as [`validate_principal`].
pub fn validate_group_name(s: &str) -> Result<()> {
    shared(
        NameKind::GroupName,
        s,
        jit_proto::names::validate_group_name(s),
    )
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
                jit_proto::names::describe(c)
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
    fn policy_messages_name_the_escaped_value() {
        // The rules and their wording are tested in jit_proto::names; here, the value.
        let err = validate_principal("root,admin").unwrap_err().to_string();
        assert!(err.starts_with("principal \"root,admin\""), "{err}");
        let err = validate_user_name("a\u{7}b").unwrap_err().to_string();
        assert!(
            !err.contains('\u{7}'),
            "control characters are escaped: {err}"
        );
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
