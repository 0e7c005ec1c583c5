//! Rows the store hands out and takes in.

/// A jit user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Name (unique).
    pub name: String,
    /// Groups, which policy roles refer to.
    pub groups: Vec<String>,
    /// A disabled user gets nothing.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
}

/// A device to register.
#[derive(Clone)]
pub struct NewDevice {
    /// `SHA256:` fingerprint of the device public key.
    pub fingerprint: String,
    /// Owner.
    pub user: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Label from the client.
    pub name: String,
    /// TOTP secret, base32.
    pub totp_secret: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A registered device.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    /// `SHA256:` fingerprint of the device public key.
    pub fingerprint: String,
    /// Owner.
    pub user: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Label from the client.
    pub name: String,
    /// TOTP secret, base32.
    pub totp_secret: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds, once the owner proved the TOTP secret.
    pub confirmed_at: Option<u64>,
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice")
            .field("fingerprint", &self.fingerprint)
            .field("user", &self.user)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("fingerprint", &self.fingerprint)
            .field("user", &self.user)
            .field("name", &self.name)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// An issued certificate, as indexed next to its log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// Serial (unique).
    pub serial: u64,
    /// User it was issued to.
    pub user: String,
    /// Role.
    pub role: String,
    /// Key ID.
    pub key_id: String,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
    /// `SHA256:` fingerprint of the CA key that signed it.
    pub ca_fingerprint: String,
    /// `SHA256:` fingerprint of the key it certifies: unique among certificates, so no key is
    /// certified twice. `None` only for certificates issued before the store kept it.
    pub client_key_fingerprint: Option<String>,
}

/// A revocation, as `jitd revoke` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// What is revoked.
    pub target: Revoked,
    /// Why.
    pub reason: String,
    /// Who.
    pub revoked_by: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// What a revocation names: the KRL sections it becomes. Read back from the database
/// strictly: a row that is not one of these is an error, never skipped (the KRL fails
/// closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// One certificate by serial, under the CA that signed it.
    Serial {
        /// The serial.
        serial: u64,
        /// `SHA256:` fingerprint of the signing CA key.
        ca_fingerprint: String,
        /// After this the certificate has expired anyway and leaves the KRL.
        valid_before: u64,
    },
    /// Certificates by key ID, under one CA.
    KeyId {
        /// The key ID.
        key_id: String,
        /// `SHA256:` fingerprint of the signing CA key.
        ca_fingerprint: String,
        /// After this every certificate with the key ID has expired (`None`: never leaves).
        valid_before: Option<u64>,
    },
    /// A public key, and every certificate for it.
    Key {
        /// OpenSSH public key line.
        public_key: String,
    },
}

impl Revoked {
    /// The kind's name as stored (`serial`, `key_id`, `key`).
    pub fn kind(&self) -> &'static str {
        match self {
            Revoked::Serial { .. } => "serial",
            Revoked::KeyId { .. } => "key_id",
            Revoked::Key { .. } => "key",
        }
    }

    /// The CA whose certificates it names (none for a key).
    pub fn ca_fingerprint(&self) -> Option<&str> {
        match self {
            Revoked::Serial { ca_fingerprint, .. } | Revoked::KeyId { ca_fingerprint, .. } => {
                Some(ca_fingerprint)
            }
            Revoked::Key { .. } => None,
        }
    }

    /// The stored columns: kind, value, CA fingerprint (empty for a key), valid_before.
    pub(crate) fn columns(&self) -> (&'static str, String, &str, Option<u64>) {
        match self {
            Revoked::Serial {
                serial,
                ca_fingerprint,
                valid_before,
            } => (
                "serial",
                serial.to_string(),
                ca_fingerprint,
                Some(*valid_before),
            ),
            Revoked::KeyId {
                key_id,
                ca_fingerprint,
                valid_before,
            } => ("key_id", key_id.clone(), ca_fingerprint, *valid_before),
            Revoked::Key { public_key } => ("key", public_key.clone(), "", None),
        }
    }
}

/// A host known to jitd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Host name.
    pub name: String,
    /// Principals its host certificate carries (names clients connect to).
    pub principals: Vec<String>,
    /// The host public key certified, once enrolled.
    pub public_key: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A request for a role that needs approval, as `jit request` creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessRequest {
    /// Request ID (random, short, shown to people).
    pub id: String,
    /// Who asks.
    pub requester: String,
    /// For which role.
    pub role: String,
    /// Why (required).
    pub reason: String,
    /// Ticket reference, when given.
    pub ticket: Option<String>,
    /// Longest certificate lifetime the approval covers; the role default when absent.
    pub ttl_seconds: Option<u64>,
    /// Distinct approvals needed.
    pub approvals_needed: u32,
    /// How long an approved request stays usable.
    pub window_seconds: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds: a request still pending then lapses.
    pub expires_at: u64,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for decisions.
    Pending,
    /// Approved and usable until `usable_until`.
    Approved,
    /// Denied by an approver.
    Denied,
    /// A certificate was issued under it.
    Used,
    /// Lapsed: pending past `expires_at`, or approved past `usable_until`.
    Expired,
}

impl RequestState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Used => "used",
            RequestState::Expired => "expired",
        }
    }
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Who decided.
    pub approver: String,
    /// Approve (true) or deny.
    pub approve: bool,
    /// Why (required for a denial).
    pub reason: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

/// A stored request with its decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// What was asked.
    pub request: NewAccessRequest,
    /// Where it stands (expiry already applied for the `now` it was read at).
    pub state: RequestState,
    /// Unix seconds of the deciding decision.
    pub decided_at: Option<u64>,
    /// Unix seconds until which an approved request can be used.
    pub usable_until: Option<u64>,
    /// Serial of the certificate issued under it.
    pub used_serial: Option<u64>,
    /// Every decision, oldest first.
    pub decisions: Vec<Decision>,
}

impl AccessRequest {
    /// Distinct approvers so far.
    pub fn approvers(&self) -> Vec<String> {
        self.decisions
            .iter()
            .filter(|d| d.approve)
            .map(|d| d.approver.clone())
            .collect()
    }
}

/// How an issuance relates to approvals and break-glass (both optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuanceLinks<'a> {
    /// The approved request this certificate uses up (atomically with the record).
    pub request_id: Option<&'a str>,
    /// For a break-glass issuance: its reason, queued for review.
    pub break_glass_reason: Option<&'a str>,
    /// A TOTP attempt to count first, in the same transaction (see
    /// [`crate::Store::check_totp`]). When it is not accepted, only the attempt is recorded
    /// and the issuance fails with [`crate::Error::TotpRefused`].
    pub totp: Option<crate::TotpCheck<'a>>,
}

/// [`IssuanceLinks`], owned: a grouped write runs after the caller's borrows end.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnedLinks {
    pub(crate) request_id: Option<String>,
    pub(crate) break_glass_reason: Option<String>,
    pub(crate) totp: Option<OwnedTotpCheck>,
}

impl From<IssuanceLinks<'_>> for OwnedLinks {
    fn from(links: IssuanceLinks<'_>) -> Self {
        OwnedLinks {
            request_id: links.request_id.map(str::to_string),
            break_glass_reason: links.break_glass_reason.map(str::to_string),
            totp: links.totp.map(OwnedTotpCheck::from),
        }
    }
}

/// [`crate::TotpCheck`], owned.
#[derive(Debug, Clone)]
pub(crate) struct OwnedTotpCheck {
    user: String,
    now: u64,
    since: u64,
    max_failures: u32,
    step: Option<u64>,
    nonce: Option<(String, u64)>,
}

impl From<crate::TotpCheck<'_>> for OwnedTotpCheck {
    fn from(check: crate::TotpCheck<'_>) -> Self {
        OwnedTotpCheck {
            user: check.user.to_owned(),
            now: check.now,
            since: check.since,
            max_failures: check.max_failures,
            step: check.step,
            nonce: check.nonce.map(|n| (n.value.to_owned(), n.expires_at)),
        }
    }
}

impl OwnedTotpCheck {
    /// The check, borrowed again.
    pub(crate) fn as_check(&self) -> crate::TotpCheck<'_> {
        crate::TotpCheck {
            user: &self.user,
            now: self.now,
            since: self.since,
            max_failures: self.max_failures,
            step: self.step,
            nonce: self
                .nonce
                .as_ref()
                .map(|(value, expires_at)| crate::RequestNonce {
                    value,
                    expires_at: *expires_at,
                }),
        }
    }
}

impl OwnedLinks {
    /// Neither an approved request nor break-glass.
    pub(crate) fn is_empty(&self) -> bool {
        self.request_id.is_none() && self.break_glass_reason.is_none()
    }
}

/// A queued alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Queue ID.
    pub id: i64,
    /// Alert kind (`break_glass`, `denied`...).
    pub kind: String,
    /// JSON body for the webhook.
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Unix seconds.
    pub created_at: u64,
}

/// A break-glass issuance and its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Certificate serial.
    pub serial: u64,
    /// Log record of the issuance.
    pub log_seq: u64,
    /// User.
    pub user: String,
    /// Role.
    pub role: String,
    /// The break-glass reason.
    pub reason: String,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds, once acknowledged.
    pub acked_at: Option<u64>,
    /// Who acknowledged.
    pub acked_by: Option<String>,
    /// Reviewer's note.
    pub note: Option<String>,
}

/// Which CA a key is: the user CA signs engineers' certificates, the host CA hosts'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    /// Signs user certificates.
    User,
    /// Signs host certificates.
    Host,
}

impl CaKind {
    /// The name as stored (`user`, `host`).
    pub fn as_str(self) -> &'static str {
        match self {
            CaKind::User => "user",
            CaKind::Host => "host",
        }
    }
}

/// Where a CA key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKeyState {
    /// Signs (one per kind).
    Active,
    /// Replaced by a newer key; still trusted (user CA) or published (host CA).
    Previous,
    /// No longer trusted or published.
    Retired,
}

impl CaKeyState {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CaKeyState::Active => "active",
            CaKeyState::Previous => "previous",
            CaKeyState::Retired => "retired",
        }
    }
}

/// A CA key jitd knows (the key material stays in its file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaKey {
    /// `SHA256:` fingerprint of the public key.
    pub fingerprint: String,
    /// User or host CA.
    pub kind: CaKind,
    /// The key file, relative to the data directory.
    pub file: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Where it stands.
    pub state: CaKeyState,
    /// Unix seconds.
    pub added_at: u64,
    /// Unix seconds, once retired.
    pub retired_at: Option<u64>,
}
