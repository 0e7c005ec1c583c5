//! A role's gates: `approval`, `require_reason`, `ticket_pattern` and `break_glass`, each checked
//! at its line, and how they fit together.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::check::Checker;
use super::{deserialize, SpannedList};
use crate::approval::{ApprovalRule, Approver, MAX_APPROVAL_WINDOW, MIN_APPROVAL_WINDOW};
use crate::duration::{format_duration, DurationText};
use crate::error::shown;
use crate::principal::{validate_group_name, validate_user_name};
use crate::reason::TicketPattern;

const APPROVAL_KEYS: &[&str] = &["approvers", "count", "window"];

/// `approval = { ... }` or `[roles.NAME.approval]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    approvers: Option<SpannedList>,
    count: Option<Spanned<Count>>,
    window: Option<Spanned<DurationText>>,
}

/// `count` as written, so a quoted number gets a message that says what to write.
#[derive(Debug)]
struct Count(i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct CountVisitor;

        impl Visitor<'_> for CountVisitor {
            type Value = Count;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of approvals without quotes, such as 2")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Count, E> {
                Ok(Count(v))
            }
        }

        deserializer.deserialize_i64(CountVisitor)
    }
}

/// What a role writes about its gates; `approval` with the span of its key.
pub(super) struct RawGates<'de> {
    pub(super) approval: Option<(Range<usize>, Spanned<DeValue<'de>>)>,
    pub(super) require_reason: Option<Spanned<bool>>,
    pub(super) ticket_pattern: Option<Spanned<String>>,
    pub(super) break_glass: Option<Spanned<bool>>,
}

/// A role's checked gates.
pub(super) struct Gates {
    pub(super) approval: Option<ApprovalRule>,
    pub(super) require_reason: bool,
    pub(super) ticket_pattern: Option<TicketPattern>,
    pub(super) break_glass: bool,
}

/// Check the gates of role `name`; `None` when anything is wrong (reported).
pub(super) fn check(c: &mut Checker<'_>, name: &str, raw: RawGates<'_>) -> Option<Gates> {
    let before = c.count();
    let scope = format!("role {name}");
    let approval_line = raw.approval.as_ref().map(|(span, _)| c.line(span.start));
    let approval = raw
        .approval
        .and_then(|(span, value)| approval(c, name, &scope, span, value));

    let break_glass = raw.break_glass.as_ref().is_some_and(|b| *b.get_ref());
    if let (Some(b), Some(line)) = (&raw.break_glass, approval_line) {
        if *b.get_ref() {
            c.error(
                b.span(),
                format!("{scope}: a break-glass role issues at once, so it cannot also need approval (approval on line {line}); remove break_glass or approval"),
            );
        }
    }

    let needs_reason = approval_line.is_some() || break_glass;
    let require_reason = match &raw.require_reason {
        None => needs_reason,
        Some(written) if !*written.get_ref() && needs_reason => {
            let why = if break_glass {
                "break_glass"
            } else {
                "approval"
            };
            c.error(
                written.span(),
                format!("{scope}: require_reason = false does not fit a role with {why}: approvers and reviewers must be told why; remove the line"),
            );
            true
        }
        Some(written) => *written.get_ref(),
    };

    let ticket_pattern = raw
        .ticket_pattern
        .and_then(|p| ticket_pattern(c, &scope, &p));

    (c.count() == before).then_some(Gates {
        approval,
        require_reason,
        ticket_pattern,
        break_glass,
    })
}

fn ticket_pattern(
    c: &mut Checker<'_>,
    scope: &str,
    text: &Spanned<String>,
) -> Option<TicketPattern> {
    let source = text.get_ref();
    let problem = if source.trim().is_empty() {
        "ticket_pattern is empty; write a regular expression such as \"^(INC|CHG)-[0-9]+$\", or remove the key".to_owned()
    } else {
        match TicketPattern::new(source) {
            Ok(pattern) => return Some(pattern),
            Err(e) => format!(
                "ticket_pattern {} is not a valid regular expression: {e}",
                shown(source)
            ),
        }
    };
    c.error(text.span(), format!("{scope}: {problem}"));
    None
}

/// Check `approval`; `None` when anything in it is wrong (reported).
fn approval(
    c: &mut Checker<'_>,
    name: &str,
    scope: &str,
    key_span: Range<usize>,
    value: Spanned<DeValue<'_>>,
) -> Option<ApprovalRule> {
    let raw: RawApproval =
        deserialize(c, &format!("[roles.{name}.approval]"), APPROVAL_KEYS, value)?;
    let before = c.count();

    let approvers = match raw.approvers {
        None => {
            c.error(
                key_span.clone(),
                format!("{scope}: approval has no `approvers`; add approvers = [\"group:NAME\", \"user:NAME\", ...] naming who may approve"),
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            c.error(
                list.span(),
                format!("{scope}: approval.approvers is empty, so nobody could approve; list at least one \"group:NAME\" or \"user:NAME\""),
            );
            None
        }
        Some(list) => c
            .list(scope, "approver", list, |s| parse_approver(s).map(drop))
            .map(|written| {
                written
                    .iter()
                    .filter_map(|s| parse_approver(s).ok())
                    .collect::<Vec<_>>()
            }),
    };

    let count_span = raw.count.as_ref().map_or(key_span.clone(), Spanned::span);
    let count = match raw.count {
        None => Some(1),
        Some(n) => {
            let value = n.get_ref().0;
            let count = u32::try_from(value).ok().filter(|v| *v >= 1);
            if count.is_none() {
                c.error(
                    n.span(),
                    format!("{scope}: approval count {value} must be a whole number from 1 up; it is how many different approvers must approve"),
                );
            }
            count
        }
    };
    if let (Some(approvers), Some(count)) = (&approvers, count) {
        let only_users = approvers.iter().all(|a| matches!(a, Approver::User(_)));
        let users = approvers.len();
        if only_users && usize::try_from(count).map_or(true, |n| n > users) {
            c.error(
                count_span,
                format!("{scope}: approval count {count} can never be met: approvers lists only {users} user(s) and each approves once; lower count, or add users or a group"),
            );
        }
    }

    let window = match raw.window {
        None => {
            c.error(
                key_span,
                format!("{scope}: approval has no `window`; add window = \"1h\": how long an approved request stays usable ({} to {})",
                    format_duration(MIN_APPROVAL_WINDOW),
                    format_duration(MAX_APPROVAL_WINDOW)),
            );
            None
        }
        Some(text) => {
            let window = c.duration(scope, "approval window", &text);
            match window {
                Some(w) if !(MIN_APPROVAL_WINDOW..=MAX_APPROVAL_WINDOW).contains(&w) => {
                    c.error(
                        text.span(),
                        format!(
                            "{scope}: approval window {} is outside {} to {}; an approved request is meant to be used soon, for example within \"1h\"",
                            format_duration(w),
                            format_duration(MIN_APPROVAL_WINDOW),
                            format_duration(MAX_APPROVAL_WINDOW)
                        ),
                    );
                    None
                }
                other => other,
            }
        }
    };

    if c.count() != before {
        return None;
    }
    Some(ApprovalRule {
        approvers: approvers?,
        count: count?,
        window: window?,
    })
}

/// `group:NAME` or `user:NAME`, each name a safe name.
fn parse_approver(s: &str) -> std::result::Result<Approver, String> {
    match s.split_once(':') {
        Some(("group", group)) => validate_group_name(group)
            .map(|()| Approver::Group(group.to_owned()))
            .map_err(|e| format!("approver {}: {e}", shown(s))),
        Some(("user", user)) => validate_user_name(user)
            .map(|()| Approver::User(user.to_owned()))
            .map_err(|e| format!("approver {}: {e}", shown(s))),
        _ => Err(format!(
            "approver {} must be written \"group:NAME\" or \"user:NAME\"",
            shown(s)
        )),
    }
}
