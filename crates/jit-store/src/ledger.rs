//! The ledger: every state change jitd makes commits in ONE transaction with its log
//! record, on both backends, through [`crate::Store::commit`]. No state without its record,
//! no record without its state.
//!
//! A [`Change`] names the state change (a closed set: adding a user, deciding a request,
//! revoking...). The store applies it, hands what it came to ([`Applied`]) to the caller's
//! [`RecordFor`] to build the log record (a decision's record names the request's state
//! after it; a host enrollment's the host its token belonged to), appends that record to
//! the chain, and commits. If the change is refused (a used token, a request decided
//! before), if the record cannot be built, or if the append fails, nothing is written.
//!
//! Certificate issuance keeps its own entry point ([`crate::Store::record_issuance_at`]),
//! which holds to the same rule: the certificate row, its links and its record commit
//! together.

use jit_log::Record;

use crate::model::{AccessRequest, CaKey, Host, NewAccessRequest, NewDevice, Review, Revocation};
use crate::Result;

/// A state change that commits with its log record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Change {
    /// No state besides the record itself (a refused request, a policy load).
    Note,
    /// Create a user. [`crate::Error::AlreadyExists`] if the name is taken.
    AddUser {
        /// Name.
        name: String,
        /// Groups.
        groups: Vec<String>,
        /// Unix seconds.
        at: u64,
    },
    /// Enable or disable a user. Disabling also revokes, in the same transaction, every
    /// certificate of the user still valid at `at` ([`Applied::Revoked`] lists their serials),
    /// so none issued a moment before escapes. [`crate::Error::NotFound`] for an unknown user.
    SetUserDisabled {
        /// Name.
        name: String,
        /// Disable (true) or enable.
        disabled: bool,
        /// Unix seconds.
        at: u64,
        /// Why the certificates are revoked (kept with each revocation).
        reason: String,
        /// Who revokes.
        revoked_by: String,
    },
    /// Remember a one-time enrollment token by the hash of its secret.
    /// [`crate::Error::NotFound`] for an unknown user.
    AddEnrollmentToken {
        /// SHA-256 (hex) of the token secret.
        token_hash: String,
        /// Whose token.
        user: String,
        /// Unix seconds.
        at: u64,
        /// Unix seconds.
        expires_at: u64,
    },
    /// Use an enrollment token once and register a device for its (enabled) user.
    /// [`Applied::Device`] names the user. [`crate::Error::NotFound`] for an unknown, used or
    /// expired token, [`crate::Error::Conflict`] for a disabled user,
    /// [`crate::Error::AlreadyExists`] for a known device key. The device's `user` field is
    /// ignored: the token decides.
    RegisterDevice {
        /// SHA-256 (hex) of the token secret.
        token_hash: String,
        /// The device.
        device: NewDevice,
    },
    /// Mark a device confirmed (its owner proved the TOTP secret).
    /// [`crate::Error::NotFound`] if it is unknown or confirmed already.
    ConfirmDevice {
        /// `SHA256:` fingerprint of the device key.
        fingerprint: String,
        /// Unix seconds.
        at: u64,
    },
    /// Store a new pending access request.
    CreateRequest(NewAccessRequest),
    /// One approver's decision (see [`crate::Store::access_request`] for the rules):
    /// [`Applied::Request`] is the request after it. [`crate::Error::NotFound`] for an
    /// unknown request, [`crate::Error::Conflict`] when it is not pending, the approver
    /// decided before, or the approver is the requester.
    DecideRequest {
        /// Request ID.
        id: String,
        /// Who decides.
        approver: String,
        /// Approve (true) or deny.
        approve: bool,
        /// Why.
        reason: Option<String>,
        /// Unix seconds.
        at: u64,
    },
    /// Record revocations; [`Applied::Revoked`] counts those that were new.
    Revoke(Vec<Revocation>),
    /// Add a host (or re-add it: new principals, new token).
    AddHost {
        /// Host name.
        name: String,
        /// Principals of its host certificate.
        principals: Vec<String>,
        /// SHA-256 (hex) of the token secret.
        token_hash: String,
        /// Unix seconds.
        expires_at: u64,
        /// Unix seconds.
        at: u64,
    },
    /// Use a host token once and remember the host key certified for it:
    /// [`Applied::Host`] is the host. [`crate::Error::NotFound`] for an unknown, used or
    /// expired token.
    EnrollHost {
        /// SHA-256 (hex) of the token secret.
        token_hash: String,
        /// OpenSSH public key line of the host key.
        public_key: String,
        /// Unix seconds.
        at: u64,
    },
    /// Remember a renewed host key for a known host. [`crate::Error::NotFound`] if absent.
    SetHostKey {
        /// Host name.
        name: String,
        /// OpenSSH public key line.
        public_key: String,
    },
    /// Close the review of a break-glass issuance: [`Applied::Review`].
    /// [`crate::Error::NotFound`] for an unknown serial, [`crate::Error::Conflict`] if done.
    AckReview {
        /// Certificate serial.
        serial: u64,
        /// Reviewer.
        by: String,
        /// Reviewer's note.
        note: String,
        /// Unix seconds.
        at: u64,
    },
    /// Add a CA key: as the active key of its kind (the key active before steps back to
    /// `previous`: a rotation), or as a `previous` one (adopting a data directory's
    /// earlier keys). [`crate::Error::AlreadyExists`] for a known fingerprint.
    AddCaKey {
        /// The key (its `state` says active or previous).
        key: CaKey,
    },
    /// Retire an earlier CA key. [`crate::Error::NotFound`] for an unknown key,
    /// [`crate::Error::Conflict`] for the active key or one retired before.
    RetireCaKey {
        /// `SHA256:` fingerprint.
        fingerprint: String,
        /// Unix seconds.
        at: u64,
    },
}

impl Change {
    /// The name of every kind of change (what [`Change::name`] gives), so a test can check
    /// it covers each.
    pub const NAMES: &'static [&'static str] = &[
        "note",
        "add_user",
        "set_user_disabled",
        "add_enrollment_token",
        "register_device",
        "confirm_device",
        "create_request",
        "decide_request",
        "revoke",
        "add_host",
        "enroll_host",
        "set_host_key",
        "ack_review",
        "add_ca_key",
        "retire_ca_key",
    ];

    /// A short name of the change, for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Note => "note",
            Change::AddUser { .. } => "add_user",
            Change::SetUserDisabled { .. } => "set_user_disabled",
            Change::AddEnrollmentToken { .. } => "add_enrollment_token",
            Change::RegisterDevice { .. } => "register_device",
            Change::ConfirmDevice { .. } => "confirm_device",
            Change::CreateRequest(_) => "create_request",
            Change::DecideRequest { .. } => "decide_request",
            Change::Revoke(_) => "revoke",
            Change::AddHost { .. } => "add_host",
            Change::EnrollHost { .. } => "enroll_host",
            Change::SetHostKey { .. } => "set_host_key",
            Change::AckReview { .. } => "ack_review",
            Change::AddCaKey { .. } => "add_ca_key",
            Change::RetireCaKey { .. } => "retire_ca_key",
        }
    }
}

/// What a change came to, for the record that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// Done; nothing to report.
    Done,
    /// A device was registered for this user.
    Device {
        /// The user the token belonged to.
        user: String,
    },
    /// The request after the change.
    Request(AccessRequest),
    /// How many of the revocations were new.
    Revoked(usize),
    /// The serials of the certificates revoked with the change.
    RevokedSerials(Vec<u64>),
    /// The host.
    Host(Host),
    /// The closed review.
    Review(Review),
}

/// Builds the log record of a change from what it came to; runs inside the transaction.
pub type RecordFor = Box<dyn FnOnce(&Applied) -> Result<Record> + Send + 'static>;

/// A record that does not depend on what the change came to.
pub fn record(record: Record) -> RecordFor {
    Box::new(move |_| Ok(record))
}

/// A committed change: what it came to and its record's log sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// What the change came to.
    pub applied: Applied,
    /// Sequence number of its log record.
    pub seq: u64,
}

/// A test-only fault: armed, the next [`crate::Store::commit`] applies its change and then
/// fails before its record is appended, as a crash or a failed write between the two would.
/// The transaction must then leave neither.
#[derive(Debug, Default)]
pub struct Failpoint(std::sync::atomic::AtomicBool);

impl Failpoint {
    /// Make the next commit fail between its state change and its record.
    pub fn arm(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Called between the change and the record: fails once after [`Failpoint::arm`].
    pub(crate) fn hit(&self) -> Result<()> {
        if self.0.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::Error::Unavailable(
                "injected failure between a state change and its log record".into(),
            ));
        }
        Ok(())
    }
}
