//! `jitd policy explain`: everything the policy says about one user and one role at one time.
//!
//! Unlike [`Policy::evaluate`] this asks for no reason, ticket, TTL or key: it says what a
//! request would need, and still lists the role's details when the user may not use it.

use std::fmt;

use crate::duration::format_duration;
use crate::evaluate::{
    group_sentence, list, unknown_role, DenialCode, Identity, BREAK_GLASS_REASON,
};
use crate::policy::Policy;
use crate::reason::MAX_REASON_CHARS;
use crate::role::{is_rsa_key_type, MIN_RSA_BITS};

/// What a request for the role would get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExplainDecision {
    /// Issued at once (given what the role requires of the request: reason, ticket, TTL, key).
    Allowed,
    /// Issued once the role's approvals are given.
    AllowedWithApproval,
    /// Issued at once as break-glass: alerts everyone, flagged for review.
    BreakGlass,
    /// Refused, with the code [`Policy::evaluate`] would give.
    Denied(DenialCode),
}

impl fmt::Display for ExplainDecision {
    /// `allowed`, `allowed with approval`, `break-glass` or `denied (role_not_allowed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainDecision::Allowed => f.write_str("allowed"),
            ExplainDecision::AllowedWithApproval => f.write_str("allowed with approval"),
            ExplainDecision::BreakGlass => f.write_str("break-glass"),
            ExplainDecision::Denied(code) => write!(f, "denied ({code})"),
        }
    }
}

/// The decision and every reason behind it, one phrase per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// What a request would get.
    pub decision: ExplainDecision,
    /// Each reason: groups, principals, hosts, TTL, key types, extensions, critical options,
    /// reason and ticket requirements, approval, break-glass, business hours.
    pub lines: Vec<String>,
}

impl fmt::Display for Explanation {
    /// The decision on the first line, then each reason on its own line, indented by two spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.decision)?;
        for line in &self.lines {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl Policy {
    /// Explain what `identity` would get from `role` at `now` (Unix seconds), for operators
    /// (`jitd policy explain`). No reason or ticket is needed to ask.
    pub fn explain(&self, identity: &Identity<'_>, role: &str, now: u64) -> Explanation {
        let Some(role) = self.role(role) else {
            return Explanation {
                decision: ExplainDecision::Denied(DenialCode::UnknownRole),
                lines: vec![unknown_role(self, identity, role).reason],
            };
        };
        let mut lines = Vec::new();
        let group = role.matching_group(identity.groups);
        match group {
            Some(group) => lines.push(format!(
                "group {group} matches role {} ({} is in {}; the role needs one of {})",
                role.name,
                identity.user,
                list(identity.groups),
                list(&role.groups)
            )),
            None => lines.push(group_sentence(role, identity)),
        }
        lines.push(format!("principals: {}", role.principals.join(", ")));
        lines.push(if role.hosts.is_empty() {
            "hosts: none; the role is used only when asked for by name".to_owned()
        } else {
            format!("hosts: {}", role.hosts.join(", "))
        });
        lines.push(format!(
            "ttl: {} by default, at most {}; valid from {} before issue",
            format_duration(role.default_ttl),
            format_duration(role.max_ttl),
            format_duration(role.backdate)
        ));
        let rsa = if role.key_types.iter().any(|k| is_rsa_key_type(k)) {
            format!(" (RSA keys need at least {MIN_RSA_BITS} bits)")
        } else {
            String::new()
        };
        lines.push(format!("key types: {}{rsa}", role.key_types.join(", ")));
        lines.push(if role.extensions.is_empty() {
            "extensions: none".to_owned()
        } else {
            format!("extensions: {}", role.extensions.join(", "))
        });
        if let Some(addresses) = &role.source_address {
            lines.push(format!("source addresses: {}", addresses.join(", ")));
        }
        if let Some(command) = &role.force_command {
            lines.push(format!("forced command: {command}"));
        }
        lines.push(if role.require_reason {
            format!("a reason is required (one line, at most {MAX_REASON_CHARS} characters)")
        } else {
            "no reason required".to_owned()
        });
        lines.push(match &role.ticket_pattern {
            Some(pattern) => format!("a ticket matching {pattern} is required"),
            None => "no ticket required".to_owned(),
        });
        lines.push(match &role.approval {
            Some(rule) => format!(
                "needs {} approval{} from {}, never the requester; an approved request is usable for {}",
                rule.count,
                if rule.count == 1 { "" } else { "s" },
                rule.approvers_text(),
                format_duration(rule.window)
            ),
            None => "no approval needed".to_owned(),
        });
        if role.break_glass {
            lines.push(BREAK_GLASS_REASON.to_owned());
        }
        lines.push(match self.business_hours() {
            Some(hours) => hours.sentence(now),
            None => "no business hours set".to_owned(),
        });

        let decision = if group.is_none() {
            ExplainDecision::Denied(DenialCode::GroupNotAllowed)
        } else if role.break_glass {
            ExplainDecision::BreakGlass
        } else if role.approval.is_some() {
            ExplainDecision::AllowedWithApproval
        } else {
            ExplainDecision::Allowed
        };
        Explanation { decision, lines }
    }
}
