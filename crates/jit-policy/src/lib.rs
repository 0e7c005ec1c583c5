//! Access policy for jit: parse and validate the policy file, then decide requests.
//!
//! The policy file is TOML written by operators: `[defaults]`, optional `[business_hours]` and
//! one `[roles.NAME]` table per role (see `examples/policy.toml`, also available as
//! [`EXAMPLE_POLICY`]). [`Policy::parse`] reports every problem at once, each with its line and
//! what to fix. [`Policy::evaluate`] turns an [`Identity`] and an [`AccessRequest`] into a
//! [`Grant`] (with the reasons it was allowed, the approvals it still needs and whether it is
//! break-glass or out of hours) or a [`Denial`] (with a stable code and a sentence for a
//! person). [`Policy::may_approve`] decides an approver; [`Policy::explain`] says everything
//! the policy says about a user and a role.
//!
//! The crate is pure: no I/O, no clock, no randomness. The caller reads the file, passes `now`
//! (Unix seconds) in, and applies it to a grant's `ttl` and `backdate`. Time zones come from a
//! copy of the tz database compiled into the crate, never from the machine's files.
//!
//! ```
//! use jit_policy::{AccessRequest, Identity, Policy};
//!
//! let policy = Policy::parse(jit_policy::EXAMPLE_POLICY).expect("the example is valid");
//! let groups = vec!["sre".to_owned()];
//! let alice = Identity { user: "alice", groups: &groups };
//! let request = AccessRequest {
//!     role: "web-oncall",
//!     ttl: None,
//!     key_type: "ssh-ed25519",
//!     rsa_bits: None,
//!     reason: None,
//!     ticket: None,
//!     now: 1_774_000_000,
//! };
//! let grant = policy.evaluate(&alice, &request).expect("sre may use web-oncall");
//! assert_eq!(grant.principals, ["deploy", "web"]);
//! assert_eq!(grant.approval, None);
//! assert!(policy.hash().starts_with("sha256:"));
//! ```
//!
//! # Layout
//!
//! - `policy.rs`: [`Policy`], its hash and role lookups
//! - `parse.rs`: TOML to validated roles, problems by line; `parse/check.rs` checks single values,
//!   `parse/gates.rs` a role's approval, reason, ticket and break-glass, `parse/hours.rs`
//!   `[business_hours]`
//! - `role.rs`: [`Role`], host matching, the known extensions and key types
//! - `evaluate.rs`: [`Policy::evaluate`], [`Grant`], [`Denial`]
//! - `approval.rs`: [`ApprovalRule`], [`Approver`], [`Policy::may_approve`]
//! - `reason.rs`: the reason and ticket a request gives, [`TicketPattern`]
//! - `hours.rs`: [`BusinessHours`] in an IANA time zone
//! - `explain.rs`: [`Policy::explain`], [`Explanation`]
//! - `principal.rs`: safe principal, user, group and role names (DESIGN §5)
//! - `duration.rs`: durations as written (`"15m"`) and their limits
//! - `error.rs`: [`Error`], [`Result`], [`PolicyErrors`]

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod approval;
mod duration;
mod error;
mod evaluate;
mod explain;
mod hours;
mod parse;
mod policy;
mod principal;
mod reason;
mod role;

pub use approval::{ApprovalRule, Approver, MAX_APPROVAL_WINDOW, MIN_APPROVAL_WINDOW};
pub use duration::{format_duration, parse_duration, MAX_BACKDATE, MAX_TTL_LIMIT};
pub use error::{Error, PolicyError, PolicyErrors, Result};
pub use evaluate::{AccessRequest, Denial, DenialCode, Grant, Identity};
pub use explain::{ExplainDecision, Explanation};
pub use hours::{BusinessHours, DAY_NAMES};
pub use parse::{
    BUILTIN_BACKDATE, BUILTIN_DEFAULT_TTL, BUILTIN_EXTENSIONS, BUILTIN_KEY_TYPES, BUILTIN_MAX_TTL,
};
pub use policy::{hash_text, Policy};
pub use principal::{
    validate_group_name, validate_principal, validate_role_name, validate_user_name, NameKind,
    MAX_NAME_LEN, MAX_ROLE_NAME_LEN,
};
pub use reason::{TicketPattern, MAX_REASON_CHARS, MAX_TICKET_CHARS};
pub use role::{is_rsa_key_type, Role, KNOWN_EXTENSIONS, KNOWN_KEY_TYPES, MIN_RSA_BITS};

/// The commented example policy that `jitd init` writes (`examples/policy.toml`).
pub const EXAMPLE_POLICY: &str = include_str!("../examples/policy.toml");
