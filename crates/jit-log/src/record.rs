//! Log records: one per state change (issuance, request, decision, revocation, enrollment,
//! user or host change) and per refused request.
//!
//! Records never carry a TOTP code, a private key or an enrollment token: only names,
//! fingerprints, hashes and the decision.

use serde::{Deserialize, Serialize};

/// One log record: when it happened and what happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// Unix seconds (server clock).
    pub time: u64,
    /// Hash of the policy file in force when the record was made (`sha256:...`).
    pub policy_hash: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What a record is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A certificate was issued.
    Issued(Box<Issuance>),
    /// A request was refused.
    Denied(Denial),
    /// A device finished enrollment.
    Enrolled(Enrollment),
    /// An operator changed a user.
    User(UserChange),
    /// Someone asked for a role that needs approval.
    Requested(RequestRecord),
    /// An approver approved or denied a request.
    Decided(DecisionRecord),
    /// A reviewer closed the review of a break-glass issuance.
    Reviewed(ReviewRecord),
    /// Certificates or keys were revoked.
    Revoked(RevocationRecord),
    /// A device key was registered with an enrollment token (confirmed later by
    /// [`Event::Enrolled`]).
    Registered(Enrollment),
    /// A host was added, enrolled, or had its host certificate renewed.
    Host(HostChange),
    /// A CA key was adopted, rotated in or retired.
    Ca(CaChange),
    /// jitd loaded a policy (at start, or reloaded).
    Policy(PolicyLoad),
}

/// A change to the CA keys in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaChange {
    /// `user` or `host`.
    pub ca: String,
    /// `adopted` (a data directory's existing key, recorded once), `rotated` (a new
    /// signing key; the one before stays trusted) or `retired`.
    pub action: String,
    /// `SHA256:` fingerprint of the key.
    pub fingerprint: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// The operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
}

/// A policy jitd loaded; the record's `policy_hash` is the policy's own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyLoad {
    /// `started` (jitd serve began with it) or `reloaded`.
    pub action: String,
    /// Role names, in the file's order.
    pub roles: Vec<String>,
    /// The hash of the policy in force before (reloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
}

/// Who ran an operator command: the name given with `--by` (or the login name) and the
/// operating-system account the command actually ran as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Operator {
    /// The name typed with `--by`, else the login name.
    pub name: String,
    /// The operating-system account that ran the command (`SUDO_USER` when run via sudo).
    pub os_user: String,
}

/// A change to a host: `added` (with a one-time token), `enrolled` or `renewed` (a host
/// certificate was issued for its key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostChange {
    /// Host name.
    pub host: String,
    /// `added`, `enrolled` or `renewed`.
    pub action: String,
    /// Principals of its host certificate.
    pub principals: Vec<String>,
    /// Fingerprint of the certified host key (enrolled, renewed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// Serial of the host certificate issued (enrolled, renewed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// Unix seconds: end of the host certificate's validity (enrolled, renewed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_before: Option<u64>,
    /// Peer address of the request (enrolled, renewed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The operator (added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
}

/// An issued certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Issuance {
    /// User name.
    pub user: String,
    /// Device key fingerprint that signed the request.
    pub device: String,
    /// Role used.
    pub role: String,
    /// Certificate principals.
    pub principals: Vec<String>,
    /// Certificate serial.
    pub serial: u64,
    /// Certificate key ID.
    pub key_id: String,
    /// Fingerprint of the certified (ephemeral) public key.
    pub client_key_fingerprint: String,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
    /// Extensions granted.
    pub extensions: Vec<String>,
    /// Critical options granted, as `name=value`.
    pub critical_options: Vec<String>,
    /// Peer address of the request.
    pub source_ip: String,
    /// Fingerprint of the CA key that signed.
    pub ca_fingerprint: String,
    /// SHA-256 (hex) of the certificate as sent to the client (OpenSSH binary encoding).
    pub certificate_sha256: String,
    /// The approved request this certificate used, if the role needs approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Who approved (distinct people), if the role needs approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// The requester's reason, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The ticket reference, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Issued under break-glass (flagged for review).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
    /// Issued outside the policy's business hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_hours: bool,
}

/// A refused request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Denial {
    /// User, when the device was recognised.
    pub user: Option<String>,
    /// Device key fingerprint, when known.
    pub device: Option<String>,
    /// Role asked for, when known.
    pub role: Option<String>,
    /// The stable error code.
    pub code: String,
    /// Why, in words.
    pub reason: String,
    /// Peer address of the request.
    pub source_ip: String,
}

/// A device finished enrollment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Enrollment {
    /// User name.
    pub user: String,
    /// Device key fingerprint.
    pub device: String,
    /// Device label given by the client.
    pub device_name: String,
    /// Peer address of the request.
    pub source_ip: String,
}

/// An operator changed a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserChange {
    /// User name.
    pub user: String,
    /// `added`, `disabled`, `enabled` or `token_created`.
    pub action: String,
    /// Groups after the change.
    pub groups: Vec<String>,
    /// The operator who made the change (records from before operators were named have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Certificates revoked with the change (disabling a user revokes theirs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_serials: Vec<u64>,
}

/// A request for a role that needs approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// Request ID.
    pub request_id: String,
    /// Who asked.
    pub requester: String,
    /// Role.
    pub role: String,
    /// Why.
    pub reason: String,
    /// Ticket reference.
    pub ticket: Option<String>,
    /// Longest certificate lifetime asked for, in seconds.
    pub ttl_seconds: u64,
    /// Distinct approvals needed.
    pub approvals_needed: u32,
    /// Peer address of the request.
    pub source_ip: String,
}

/// One approver's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecisionRecord {
    /// Request ID.
    pub request_id: String,
    /// Who asked.
    pub requester: String,
    /// Role.
    pub role: String,
    /// Who decided.
    pub approver: String,
    /// Approved (true) or denied.
    pub approve: bool,
    /// Why (required for a denial).
    pub reason: Option<String>,
    /// The request's state after this decision.
    pub state: String,
    /// Peer address of the request.
    pub source_ip: String,
}

/// The review of a break-glass issuance was closed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReviewRecord {
    /// Serial of the break-glass certificate.
    pub serial: u64,
    /// Who reviewed.
    pub reviewer: String,
    /// The reviewer's note.
    pub note: String,
    /// The operator account that ran the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
}

/// A revocation: what, why, by whom.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevocationRecord {
    /// `serial`, `key_id`, `user` or `key`.
    pub kind: String,
    /// What was named (serial, key ID, user name or key fingerprint).
    pub target: String,
    /// Serials of the certificates this revoked.
    pub serials: Vec<u64>,
    /// Why.
    pub reason: String,
    /// Who (an operator, or the certificate's own user).
    pub revoked_by: String,
    /// For an operator command: who ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
}

impl Record {
    /// The canonical JSON of this record: the exact bytes that are hashed and stored.
    pub fn canonical_json(&self) -> String {
        // Struct fields serialize in declaration order and no map types are used, so the
        // output is deterministic.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The user this record concerns, if any.
    pub fn user(&self) -> Option<&str> {
        match &self.event {
            Event::Issued(i) => Some(&i.user),
            Event::Denied(d) => d.user.as_deref(),
            Event::Enrolled(e) | Event::Registered(e) => Some(&e.user),
            Event::User(u) => Some(&u.user),
            Event::Requested(r) => Some(&r.requester),
            Event::Decided(d) => Some(&d.requester),
            _ => None,
        }
    }
}
