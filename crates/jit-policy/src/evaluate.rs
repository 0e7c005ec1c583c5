//! Deciding one request: a [`Grant`] with the reasons it was allowed, or a [`Denial`] that says why not.

use std::fmt;
use std::time::Duration;

use crate::approval::ApprovalRule;
use crate::duration::format_duration;
use crate::error::shown;
use crate::policy::Policy;
use crate::reason::{check_reason, check_ticket};
use crate::role::{is_rsa_key_type, MIN_RSA_BITS};

/// The phrase a break-glass grant carries in its reasons.
pub(crate) const BREAK_GLASS_REASON: &str =
    "break-glass: issues at once, alerts everyone, flagged for review";

/// Who is asking: a jit user and the groups the store says they are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The jit user name.
    pub user: &'a str,
    /// The user's groups.
    pub groups: &'a [String],
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// The role asked for.
    pub role: &'a str,
    /// The certificate lifetime asked for; `None` means the role's default.
    pub ttl: Option<Duration>,
    /// The algorithm of the client's (ephemeral) public key, e.g. `ssh-ed25519`.
    pub key_type: &'a str,
    /// For RSA keys, the modulus size in bits.
    pub rsa_bits: Option<u32>,
    /// Why access is needed; required by some roles, at most
    /// [`MAX_REASON_CHARS`](crate::MAX_REASON_CHARS) characters of one line.
    pub reason: Option<&'a str>,
    /// A ticket reference such as `INC-123`; required by roles with a `ticket_pattern`.
    pub ticket: Option<&'a str>,
    /// The time of the request, Unix seconds (for business hours).
    pub now: u64,
}

/// What the policy allows for a request: everything the certificate needs from policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role granted.
    pub role: String,
    /// Principals for the certificate.
    pub principals: Vec<String>,
    /// Certificate lifetime from now.
    pub ttl: Duration,
    /// How far before now `valid_after` goes, for clock skew.
    pub backdate: Duration,
    /// Certificate extensions.
    pub extensions: Vec<String>,
    /// The `source-address` critical option: the role's entries joined with commas.
    pub source_address: Option<String>,
    /// The `force-command` critical option.
    pub force_command: Option<String>,
    /// Why the request was allowed, one short phrase per check, for logs and `policy explain`.
    pub reasons: Vec<String>,
    /// The role's approval rule: when set, the caller must obtain that many approvals
    /// (each checked with [`Policy::may_approve`]) before issuing.
    pub approval: Option<ApprovalRule>,
    /// The role is break-glass: issue at once, alert everyone, flag the issuance for review.
    pub break_glass: bool,
    /// `[business_hours]` is set and the request's `now` is outside them (alert on issuance).
    pub out_of_hours: bool,
    /// The certificate must carry a signed log receipt.
    pub log_receipt: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// A stable code for programs.
    pub code: DenialCode,
    /// A full sentence for a person, saying what is wrong and what would be allowed.
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Denial {}

/// The kinds of refusal, with stable string codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenialCode {
    /// No role of that name.
    UnknownRole,
    /// The user is in none of the role's groups.
    GroupNotAllowed,
    /// The TTL asked for is longer than the role's `max_ttl`.
    TtlTooLong,
    /// The TTL asked for is zero or not a whole number of seconds.
    TtlInvalid,
    /// The client key's algorithm is not one the role allows.
    KeyTypeNotAllowed,
    /// The RSA client key is smaller than [`MIN_RSA_BITS`], or its size is unknown.
    RsaKeyTooSmall,
    /// The role requires a reason and none (or only blanks) was given.
    ReasonRequired,
    /// The reason is too long or holds control characters.
    ReasonInvalid,
    /// The role's `ticket_pattern` is not met (no ticket, or no match), or the ticket is too
    /// long or holds control characters.
    TicketInvalid,
    /// An approver tried to approve their own request.
    SelfApproval,
    /// The user is not one of the role's approvers.
    NotAnApprover,
    /// The role needs no approval, so there is nothing to approve.
    ApprovalNotRequired,
}

impl DenialCode {
    /// The stable code: `unknown_role`, `role_not_allowed`, `ttl_too_long`, `ttl_invalid`,
    /// `key_type_not_allowed`, `rsa_key_too_small`, `reason_required`, `reason_invalid`,
    /// `ticket_invalid`, `self_approval`, `not_an_approver` or `approval_not_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialCode::UnknownRole => "unknown_role",
            DenialCode::GroupNotAllowed => "role_not_allowed",
            DenialCode::TtlTooLong => "ttl_too_long",
            DenialCode::TtlInvalid => "ttl_invalid",
            DenialCode::KeyTypeNotAllowed => "key_type_not_allowed",
            DenialCode::RsaKeyTooSmall => "rsa_key_too_small",
            DenialCode::ReasonRequired => "reason_required",
            DenialCode::ReasonInvalid => "reason_invalid",
            DenialCode::TicketInvalid => "ticket_invalid",
            DenialCode::SelfApproval => "self_approval",
            DenialCode::NotAnApprover => "not_an_approver",
            DenialCode::ApprovalNotRequired => "approval_not_required",
        }
    }
}

impl fmt::Display for DenialCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn deny(code: DenialCode, reason: String) -> Denial {
    Denial { code, reason }
}

/// `[a, b]`, or `[]` for none.
pub(crate) fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// No role of that name; the sentence names the roles the user may use.
pub(crate) fn unknown_role(policy: &Policy, identity: &Identity<'_>, role: &str) -> Denial {
    let usable: Vec<String> = policy
        .roles_for(identity)
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let usable = if usable.is_empty() {
        format!("{} may use no roles", identity.user)
    } else {
        format!("roles {} may use: {}", identity.user, usable.join(", "))
    };
    deny(
        DenialCode::UnknownRole,
        format!("there is no role {} in the policy; {usable}", shown(role)),
    )
}

/// `role db-admin needs one of the groups [dba]; bob is in no groups`.
pub(crate) fn group_sentence(role: &crate::Role, identity: &Identity<'_>) -> String {
    format!(
        "role {} needs one of the groups {}; {} is {}",
        role.name,
        list(&role.groups),
        identity.user,
        groups_of(identity)
    )
}

/// `in [sre, web]`, or `in no groups`.
pub(crate) fn groups_of(identity: &Identity<'_>) -> String {
    if identity.groups.is_empty() {
        "in no groups".to_owned()
    } else {
        format!("in {}", list(identity.groups))
    }
}

impl Policy {
    /// Decide a request. Checks, in order: the role exists; the user is in one of its groups;
    /// the TTL is positive and within `max_ttl` (none means the role default); the key type is
    /// allowed; an RSA key has at least [`MIN_RSA_BITS`] bits; a reason given is one line of
    /// at most [`MAX_REASON_CHARS`](crate::MAX_REASON_CHARS) characters, and is given when the
    /// role requires one; a ticket given is valid, and matches the role's `ticket_pattern`.
    ///
    /// A grant is not always a licence to issue at once: when [`Grant::approval`] is set the
    /// caller must first collect the approvals; [`Grant::break_glass`] and
    /// [`Grant::out_of_hours`] call for alerts.
    pub fn evaluate(
        &self,
        identity: &Identity<'_>,
        request: &AccessRequest<'_>,
    ) -> std::result::Result<Grant, Denial> {
        let Some(role) = self.role(request.role) else {
            return Err(unknown_role(self, identity, request.role));
        };
        let mut reasons = Vec::new();

        let Some(group) = role.matching_group(identity.groups) else {
            return Err(deny(
                DenialCode::GroupNotAllowed,
                group_sentence(role, identity),
            ));
        };
        reasons.push(format!("group {group} matches role {}", role.name));

        let ttl = match request.ttl {
            None => {
                reasons.push(format!(
                    "ttl {} (role default)",
                    format_duration(role.default_ttl)
                ));
                role.default_ttl
            }
            Some(ttl) if ttl.is_zero() || ttl.subsec_nanos() != 0 => {
                return Err(deny(
                    DenialCode::TtlInvalid,
                    format!(
                        "a ttl of {} is not valid; ask for a whole number of seconds, at least 1s and at most {}, or leave it out for the role default of {}",
                        format_duration(ttl),
                        format_duration(role.max_ttl),
                        format_duration(role.default_ttl)
                    ),
                ));
            }
            Some(ttl) if ttl > role.max_ttl => {
                return Err(deny(
                    DenialCode::TtlTooLong,
                    format!(
                        "a ttl of {} is longer than role {} allows; ask for at most {} (the role's max_ttl)",
                        format_duration(ttl),
                        role.name,
                        format_duration(role.max_ttl)
                    ),
                ));
            }
            Some(ttl) => {
                reasons.push(format!(
                    "ttl {} (requested; role max {})",
                    format_duration(ttl),
                    format_duration(role.max_ttl)
                ));
                ttl
            }
        };

        let Some(allowed_by) = role.allowed_key_type(request.key_type) else {
            return Err(deny(
                DenialCode::KeyTypeNotAllowed,
                format!(
                    "role {} does not allow {} keys; use one of {}",
                    role.name,
                    shown(request.key_type),
                    list(&role.key_types)
                ),
            ));
        };
        if is_rsa_key_type(request.key_type) {
            match request.rsa_bits {
                Some(bits) if bits >= MIN_RSA_BITS => reasons.push(format!(
                    "key type {} ({bits} bits) allowed by role ({allowed_by})",
                    request.key_type
                )),
                Some(bits) => {
                    return Err(deny(
                        DenialCode::RsaKeyTooSmall,
                        format!(
                            "the RSA key has {bits} bits; RSA keys need at least {MIN_RSA_BITS} bits (or use an ssh-ed25519 key)"
                        ),
                    ))
                }
                None => {
                    return Err(deny(
                        DenialCode::RsaKeyTooSmall,
                        format!(
                            "the RSA key's size was not given; RSA keys need at least {MIN_RSA_BITS} bits"
                        ),
                    ))
                }
            }
        } else {
            reasons.push(format!("key type {} allowed by role", request.key_type));
        }

        reasons.extend(check_reason(role, request.reason)?);
        reasons.extend(check_ticket(role, request.ticket)?);
        if let Some(rule) = &role.approval {
            reasons.push(format!("needs {}", rule.describe()));
        }
        if role.break_glass {
            reasons.push(BREAK_GLASS_REASON.to_owned());
        }
        let mut out_of_hours = false;
        if let Some(hours) = self.business_hours() {
            out_of_hours = !hours.contains(request.now);
            reasons.push(hours.sentence(request.now));
        }

        Ok(Grant {
            role: role.name.clone(),
            principals: role.principals.clone(),
            ttl,
            backdate: role.backdate,
            extensions: role.extensions.clone(),
            source_address: role.source_address.as_ref().map(|a| a.join(",")),
            force_command: role.force_command.clone(),
            reasons,
            approval: role.approval.clone(),
            break_glass: role.break_glass,
            out_of_hours,
            log_receipt: role.log_receipt,
        })
    }
}
