//! The crate's error type, and the list of problems found in a policy file.

use std::fmt;

use crate::principal::NameKind;

/// Shorthand for results whose error is this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in this crate.
///
/// Access decisions are not errors: [`Policy::evaluate`](crate::Policy::evaluate) returns a
/// [`Denial`](crate::Denial) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A principal, user, group or role name is outside the safe character set.
    #[error("{kind} {} is not allowed: {problem}", shown(value))]
    UnsafeName {
        /// What kind of name was checked.
        kind: NameKind,
        /// The name as given (shown escaped and shortened in the message).
        value: String,
        /// What is wrong with it and what to do instead.
        problem: String,
    },
    /// A duration such as `"15m"` or `"1h 30m"` could not be read.
    #[error("duration {} is not valid: {problem}", shown(value))]
    InvalidDuration {
        /// The text as given (shown escaped and shortened in the message).
        value: String,
        /// What is wrong with it and what to write instead.
        problem: String,
    },
    /// The policy file has one or more problems.
    #[error("the policy file has {count} problem(s):\n{0}", count = .0.len())]
    Policy(#[from] PolicyErrors),
}

/// Longest part of a rejected value repeated back in a message.
const SHOWN_CHARS: usize = 70;

/// Quote and escape a value for a message; long values are cut short.
pub(crate) fn shown(value: &str) -> String {
    if value.chars().count() > SHOWN_CHARS {
        let head: String = value.chars().take(SHOWN_CHARS).collect();
        format!("{head:?}... ({} characters)", value.chars().count())
    } else {
        format!("{value:?}")
    }
}

/// One problem in a policy file, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line of the policy file the problem is on.
    pub line: usize,
    /// What is wrong and what to change.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every problem found in a policy file, ordered by line.
///
/// Displayed as one `line N: message` per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// The problems, ordered by line.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems as a slice.
    pub fn as_slice(&self) -> &[PolicyError] {
        &self.0
    }

    pub(crate) fn push(&mut self, line: usize, message: impl Into<String>) {
        self.0.push(PolicyError {
            line,
            message: message.into(),
        });
    }

    /// Sort by line (stable, so problems on one line keep their order) and drop repeats.
    pub(crate) fn finish(mut self) -> Self {
        self.0.sort_by_key(|e| e.line);
        self.0.dedup();
        self
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for PolicyErrors {
    type Item = PolicyError;
    type IntoIter = std::vec::IntoIter<PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
