//! The reason and ticket a request gives: their limits, and a role's `ticket_pattern`.
//!
//! Both end up in the issuance log and in front of approvers, so they are one line of
//! printable text: no control characters, no line separators, no bidirectional overrides.

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::error::shown;
use crate::evaluate::{deny, Denial, DenialCode};
use crate::role::Role;

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The longest ticket accepted, in characters.
pub const MAX_TICKET_CHARS: usize = 100;

/// Compiled size limit for a ticket pattern; real ticket patterns are tiny.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A role's `ticket_pattern`: a regular expression the whole ticket must match.
///
/// It is anchored at both ends whether or not it is written with `^` and `$`, so
/// `"INC-[0-9]+"` does not accept `"INC-1; anything"`. Compiled once, when the policy is parsed.
#[derive(Debug, Clone)]
pub struct TicketPattern {
    source: String,
    whole: Regex,
}

impl TicketPattern {
    /// Compile `source`; the error is one line saying what is wrong.
    pub(crate) fn new(source: &str) -> std::result::Result<Self, String> {
        let compile = |pattern: &str| {
            RegexBuilder::new(pattern)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
        };
        // Check the pattern as written first: wrapping it could hide an unbalanced `)`.
        if let Err(e) = compile(source) {
            return Err(one_line(&e));
        }
        let whole = compile(&format!("^(?:{source})$")).map_err(|e| one_line(&e))?;
        Ok(TicketPattern {
            source: source.to_owned(),
            whole,
        })
    }

    /// The pattern as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole `ticket` matches.
    pub fn is_match(&self, ticket: &str) -> bool {
        self.whole.is_match(ticket)
    }
}

impl PartialEq for TicketPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TicketPattern {}

impl fmt::Display for TicketPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The `error: ...` line of the regex crate's multi-line message.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.lines().map(str::trim).collect::<Vec<_>>().join(" "))
}

/// A character that has no place in one line of log text.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Check the request's reason against the role; a phrase for the grant when the role needs one.
pub(crate) fn check_reason(
    role: &Role,
    reason: Option<&str>,
) -> std::result::Result<Option<String>, Denial> {
    if let Some(text) = reason {
        let chars = text.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(deny(
                DenialCode::ReasonInvalid,
                format!(
                    "the reason is {chars} characters long; keep it to at most {MAX_REASON_CHARS}"
                ),
            ));
        }
        if let Some(c) = text.chars().find(|c| unprintable(*c)) {
            return Err(deny(
                DenialCode::ReasonInvalid,
                format!(
                    "the reason contains a control or layout character ({}); write it as one line of plain text",
                    c.escape_unicode()
                ),
            ));
        }
    }
    let given = reason.is_some_and(|r| !r.trim().is_empty());
    if role.require_reason && !given {
        return Err(deny(
            DenialCode::ReasonRequired,
            format!(
                "role {} requires a reason; say why you need access, in one line of at most {MAX_REASON_CHARS} characters",
                role.name
            ),
        ));
    }
    Ok(role
        .require_reason
        .then(|| "reason given, as the role requires".to_owned()))
}

/// Check the request's ticket against the role's `ticket_pattern`; a phrase when it matched.
pub(crate) fn check_ticket(
    role: &Role,
    ticket: Option<&str>,
) -> std::result::Result<Option<String>, Denial> {
    let ticket = ticket.filter(|t| !t.trim().is_empty());
    if let Some(text) = ticket {
        let chars = text.chars().count();
        if chars > MAX_TICKET_CHARS || text.chars().any(unprintable) {
            return Err(deny(
                DenialCode::TicketInvalid,
                format!(
                    "ticket {} is not valid; a ticket is one line of at most {MAX_TICKET_CHARS} characters",
                    shown(text)
                ),
            ));
        }
    }
    match (&role.ticket_pattern, ticket) {
        (None, _) => Ok(None),
        (Some(pattern), None) => Err(deny(
            DenialCode::TicketInvalid,
            format!(
                "role {} requires a ticket matching {pattern}; none was given",
                role.name
            ),
        )),
        (Some(pattern), Some(text)) if !pattern.is_match(text) => Err(deny(
            DenialCode::TicketInvalid,
            format!(
                "ticket {} does not match {pattern}, the ticket_pattern of role {}",
                shown(text),
                role.name
            ),
        )),
        (Some(pattern), Some(text)) => Ok(Some(format!("ticket {text} matches {pattern}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_tickets() {
        let p = TicketPattern::new("(INC|CHG)-[0-9]+").expect("valid");
        assert!(p.is_match("INC-1"));
        assert!(p.is_match("CHG-20"));
        assert!(!p.is_match("INC-1; rm"));
        assert!(!p.is_match("xINC-1"));
        assert!(!p.is_match("INC-"));
        assert_eq!(p.as_str(), "(INC|CHG)-[0-9]+");
        assert_eq!(p, TicketPattern::new("(INC|CHG)-[0-9]+").expect("valid"));
    }

    #[test]
    fn broken_patterns_are_one_line() {
        assert_eq!(
            TicketPattern::new("(INC").expect_err("unclosed"),
            "unclosed group"
        );
        // Valid only once wrapped: must still be refused.
        assert!(TicketPattern::new("a)|(b").is_err());
        assert!(TicketPattern::new("[z-a]")
            .expect_err("range")
            .contains("range"));
    }
}
