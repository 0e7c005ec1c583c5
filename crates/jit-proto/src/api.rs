//! Request and response bodies of the `/v1` endpoints.

use serde::{Deserialize, Serialize};

/// `GET /v1/healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// `"ok"` when the server can reach its store.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// `GET /v1/ca`: the CA public keys, one OpenSSH public key line each.
///
/// `user_ca` is what sshd's `TrustedUserCAKeys` file holds; `host_ca` goes into an
/// `@cert-authority` line of a client's known_hosts file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaKeys {
    /// User CA public keys (the first one signs new certificates).
    pub user_ca: Vec<String>,
    /// Host CA public keys.
    pub host_ca: Vec<String>,
}

/// `POST /v1/enroll`: trade a one-time enrollment token for a registered device key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The secret part of the enrollment token.
    pub token_secret: String,
    /// The new device public key, OpenSSH format (`ssh-ed25519 AAAA... comment`).
    pub device_public_key: String,
    /// A label for the device (e.g. the laptop's host name).
    pub device_name: String,
}

/// Answer to [`EnrollRequest`]: the TOTP secret the engineer adds to an authenticator app.
#[derive(Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The user the token was made for.
    pub user: String,
    /// Fingerprint of the registered device key (`SHA256:...`).
    pub device: String,
    /// TOTP secret, RFC 4648 base32 without padding.
    pub totp_secret: String,
    /// The same secret as an `otpauth://` URI (what the QR code holds).
    pub otpauth_uri: String,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("user", &self.user)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// Freshness fields every device-signed request body carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Freshness {
    /// Unix seconds when the client made the request.
    pub timestamp: u64,
    /// Random hex string, never reused: the server refuses a nonce it has seen.
    pub nonce: String,
}

/// `POST /v1/enroll/confirm` (device-signed): prove the authenticator app holds the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct EnrollConfirmRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// The current TOTP code.
    pub otp: String,
}

impl std::fmt::Debug for EnrollConfirmRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollConfirmRequest")
            .field("freshness", &self.freshness)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/whoami` (device-signed): who the device belongs to and what it may use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WhoamiRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// A role as the engineer sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleInfo {
    /// Role name.
    pub name: String,
    /// Principals its certificates carry.
    pub principals: Vec<String>,
    /// Host patterns that select this role when `--role` is absent.
    pub hosts: Vec<String>,
    /// TTL when none is asked for, in seconds.
    pub default_ttl_seconds: u64,
    /// Longest TTL the role allows, in seconds.
    pub max_ttl_seconds: u64,
}

/// Answer to [`WhoamiRequest`] and to a confirmed enrollment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Whoami {
    /// User name.
    pub user: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Roles the user's groups allow.
    pub roles: Vec<RoleInfo>,
}

/// `POST /v1/certificates` (device-signed): ask for a user certificate.
#[derive(Clone, Serialize, Deserialize)]
pub struct CertificateRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// Role to use; the server picks one by `host` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Host the engineer is going to, for picking a role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Requested lifetime in seconds; the role default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// The ephemeral public key to certify, OpenSSH format.
    pub public_key: String,
    /// The current TOTP code.
    pub otp: String,
    /// Why (required by break-glass roles and roles with `require_reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ticket reference (checked against the role's `ticket_pattern`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl std::fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("freshness", &self.freshness)
            .field("role", &self.role)
            .field("host", &self.host)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("public_key", &self.public_key)
            .field("reason", &self.reason)
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// Answer to [`CertificateRequest`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateResponse {
    /// The certificate, OpenSSH format (`ssh-ed25519-cert-v01@openssh.com AAAA...`).
    pub certificate: String,
    /// Role the certificate was issued for.
    pub role: String,
    /// Certificate serial.
    pub serial: u64,
    /// Key ID (what sshd logs): `user@role#serial`.
    pub key_id: String,
    /// Principals in the certificate.
    pub principals: Vec<String>,
    /// Unix seconds from which the certificate is valid.
    pub valid_after: u64,
    /// Unix seconds at which the certificate stops being valid.
    pub valid_before: u64,
    /// Sequence number of the issuance record in the log.
    pub log_index: u64,
    /// Issued under break-glass: everyone was alerted and the issuance awaits review.
    #[serde(default)]
    pub break_glass: bool,
    /// The approved request this certificate used up, if the role needs approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `POST /v1/requests` (device-signed): ask for a role that needs approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// Role asked for.
    pub role: String,
    /// Why (shown to approvers, kept in the log).
    pub reason: String,
    /// Ticket reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Longest certificate lifetime wanted, in seconds (the role default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

/// A device-signed request that carries nothing but freshness (`/v1/requests/list`,
/// `/v1/requests/{id}/status`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signed {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// `POST /v1/requests/{id}/approve` and `/deny` (device-signed, with the approver's own code).
#[derive(Clone, Serialize, Deserialize)]
pub struct DecisionRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// The approver's current TOTP code.
    pub otp: String,
    /// Why (required to deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Debug for DecisionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionRequest")
            .field("freshness", &self.freshness)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// One decision on a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecisionInfo {
    /// Approver.
    pub approver: String,
    /// Approved (true) or denied.
    pub approve: bool,
    /// Why, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

/// A request as requesters and approvers see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestInfo {
    /// Request ID.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// Role.
    pub role: String,
    /// Why.
    pub reason: String,
    /// Ticket reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Longest certificate lifetime the approval covers, in seconds.
    pub ttl_seconds: u64,
    /// `pending`, `approved`, `denied`, `used` or `expired`.
    pub state: String,
    /// Distinct approvals needed.
    pub approvals_needed: u32,
    /// Decisions so far.
    pub decisions: Vec<DecisionInfo>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds: a pending request lapses here.
    pub expires_at: u64,
    /// Unix seconds: an approved request can be used until here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_until: Option<u64>,
}

/// `POST /v1/requests/list`: the caller's own requests and those the caller may decide.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestList {
    /// Requests the caller made.
    pub mine: Vec<RequestInfo>,
    /// Pending requests the caller may approve or deny.
    pub to_decide: Vec<RequestInfo>,
}

/// `POST /v1/certificates/revoke` (device-signed): revoke some of the caller's own
/// certificates (`jit logout --revoke`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokeOwn {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// Serials of the caller's certificates to revoke.
    pub serials: Vec<u64>,
}

/// Answer to [`RevokeOwn`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokeOwnResponse {
    /// Serials now revoked.
    pub revoked: Vec<u64>,
}

/// `POST /v1/hosts/enroll` (not signed): a host trades its one-time token for a host
/// certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostEnrollRequest {
    /// The secret part of the host enrollment token.
    pub token_secret: String,
    /// The host public key, OpenSSH line (e.g. `/etc/ssh/ssh_host_ed25519_key.pub`).
    pub public_key: String,
}

/// `POST /v1/hosts/renew`: signed with the host's private key, like device requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostRenewRequest {
    /// Timestamp and nonce.
    #[serde(flatten)]
    pub freshness: Freshness,
    /// The host public key that signed, OpenSSH line.
    pub public_key: String,
}

/// Answer to [`HostEnrollRequest`] and [`HostRenewRequest`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostCertificateResponse {
    /// Host name in jitd.
    pub host: String,
    /// The host certificate, OpenSSH line.
    pub certificate: String,
    /// Names it is valid for.
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds: renew before this.
    pub valid_before: u64,
}
