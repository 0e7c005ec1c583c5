//! Approval gates (DESIGN §4): who may approve a role's requests, how many must, and for how long
//! an approved request stays usable; [`Policy::may_approve`] decides one approver.

use std::fmt;
use std::time::Duration;

use crate::duration::format_duration;
use crate::evaluate::{deny, groups_of, unknown_role, Denial, DenialCode, Identity};
use crate::policy::Policy;

/// The shortest approval window a role may set: 1 minute.
pub const MIN_APPROVAL_WINDOW: Duration = Duration::from_secs(60);
/// The longest approval window a role may set: 7 days.
pub const MAX_APPROVAL_WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// One entry of a role's `approval.approvers`: a group whose members may approve, or one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Approver {
    /// `group:NAME`: any member of the group may approve.
    Group(String),
    /// `user:NAME`: this user may approve.
    User(String),
}

impl Approver {
    /// True when `identity` is this approver: in the group, or the user.
    pub fn matches(&self, identity: &Identity<'_>) -> bool {
        match self {
            Approver::Group(group) => identity.groups.contains(group),
            Approver::User(user) => identity.user == user,
        }
    }
}

impl fmt::Display for Approver {
    /// As written in the policy: `group:sre-leads` or `user:carol`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approver::Group(group) => write!(f, "group:{group}"),
            Approver::User(user) => write!(f, "user:{user}"),
        }
    }
}

/// A role's `approval = { approvers = [...], count = N, window = "1h" }`.
///
/// Before a certificate is issued for such a role, `count` different approvers, none of them the
/// requester, must approve the request (each checked with [`Policy::may_approve`]); the approved
/// request may then be used for `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    /// Who may approve (at least one entry, each listed once).
    pub approvers: Vec<Approver>,
    /// How many different approvers must approve (at least 1).
    pub count: u32,
    /// How long an approved request stays usable, from [`MIN_APPROVAL_WINDOW`] to
    /// [`MAX_APPROVAL_WINDOW`].
    pub window: Duration,
}

impl ApprovalRule {
    /// True when `identity` matches one of the approvers (ignoring who asked).
    pub fn allows(&self, identity: &Identity<'_>) -> bool {
        self.approvers.iter().any(|a| a.matches(identity))
    }

    /// The approvers joined for a sentence: `group:sre-leads or user:carol`.
    pub fn approvers_text(&self) -> String {
        let names: Vec<String> = self.approvers.iter().map(Approver::to_string).collect();
        names.join(" or ")
    }

    /// `2 approvals from group:sre-leads within 1h`.
    pub fn describe(&self) -> String {
        format!(
            "{} approval{} from {} within {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.approvers_text(),
            format_duration(self.window)
        )
    }
}

impl Policy {
    /// May `approver` approve `requester`'s request for `role`? Checks, in order: the role
    /// exists; it needs approval; the approver is not the requester (even when they are in an
    /// approver group); the approver is in a listed group or is a listed user.
    pub fn may_approve(
        &self,
        role: &str,
        approver: &Identity<'_>,
        requester: &str,
    ) -> std::result::Result<(), Denial> {
        let Some(found) = self.role(role) else {
            return Err(unknown_role(self, approver, role));
        };
        let Some(rule) = &found.approval else {
            return Err(deny(
                DenialCode::ApprovalNotRequired,
                format!(
                    "role {} does not need approval, so there is nothing to approve",
                    found.name
                ),
            ));
        };
        if approver.user == requester {
            return Err(deny(
                DenialCode::SelfApproval,
                format!(
                    "{} asked for role {} and cannot approve their own request; it needs {} other than the requester",
                    approver.user,
                    found.name,
                    rule.describe()
                ),
            ));
        }
        if !rule.allows(approver) {
            return Err(deny(
                DenialCode::NotAnApprover,
                format!(
                    "{} may not approve requests for role {}; its approvers are {}, and {} is {}",
                    approver.user,
                    found.name,
                    rule.approvers_text(),
                    approver.user,
                    groups_of(approver)
                ),
            ));
        }
        Ok(())
    }
}
