//! Stable error codes and the JSON error body every failed request returns.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Scripts match on these; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request body or a header is malformed.
    BadRequest,
    /// The device signature header is missing or does not verify.
    BadSignature,
    /// No enrolled device has this key.
    UnknownDevice,
    /// The request timestamp is outside the accepted window.
    StaleRequest,
    /// The nonce was used before: a replayed request.
    ReplayedRequest,
    /// The user is disabled.
    UserDisabled,
    /// The device has not finished enrollment.
    DeviceNotConfirmed,
    /// The enrollment token is unknown, used or expired.
    InvalidToken,
    /// The TOTP code is not well formed.
    MalformedOtp,
    /// The TOTP code is wrong.
    InvalidOtp,
    /// The TOTP code was already used.
    ReplayedOtp,
    /// Too many wrong codes: wait before trying again.
    TooManyAttempts,
    /// The role does not exist.
    UnknownRole,
    /// No role matches the host.
    NoRoleForHost,
    /// The user's groups do not allow the role.
    RoleNotAllowed,
    /// The requested TTL is above the role's maximum.
    TtlTooLong,
    /// The requested TTL is zero or out of range.
    TtlInvalid,
    /// The client key type is not allowed by the role.
    KeyTypeNotAllowed,
    /// The client RSA key is shorter than 3072 bits.
    RsaKeyTooSmall,
    /// The client public key cannot be parsed.
    InvalidPublicKey,
    /// A principal has unsafe characters.
    InvalidPrincipal,
    /// The issuance log could not be written: nothing was issued.
    LogUnavailable,
    /// The store is unreachable or cannot take writes: retry after `Retry-After` seconds.
    StoreUnavailable,
    /// The KRL cannot be built (a revocation cannot be read): none is served in its place.
    KrlUnavailable,
    /// The server is at its limit of requests in flight, or its database had no free
    /// connection in time: nothing was done; retry after `Retry-After` seconds.
    Overloaded,
    /// The thing to create exists already, or the change conflicts with the current state.
    Conflict,
    /// Anything else on the server side.
    Internal,
    /// The route, or the thing the request names, does not exist.
    NotFound,
    /// The role needs a reason.
    ReasonRequired,
    /// The reason is too long or has control characters.
    ReasonInvalid,
    /// The ticket is missing or does not match the role's pattern.
    TicketInvalid,
    /// The role needs an approved request first.
    ApprovalRequired,
    /// The role does not need approval.
    ApprovalNotRequired,
    /// Nobody may decide their own request.
    SelfApproval,
    /// The caller is not an approver for the role.
    NotAnApprover,
    /// No such request.
    RequestNotFound,
    /// The request is not pending (already decided, used or lapsed).
    RequestNotPending,
    /// The key was certified before: every certificate needs a fresh key.
    KeyReused,
    /// The key is one jitd must never certify or enroll: one of its own (CA, host CA, log
    /// key) or an enrolled device key.
    KeyNotAllowed,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::StaleRequest => "stale_request",
            ErrorCode::ReplayedRequest => "replayed_request",
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::DeviceNotConfirmed => "device_not_confirmed",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::MalformedOtp => "malformed_otp",
            ErrorCode::InvalidOtp => "invalid_otp",
            ErrorCode::ReplayedOtp => "replayed_otp",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::UnknownRole => "unknown_role",
            ErrorCode::NoRoleForHost => "no_role_for_host",
            ErrorCode::RoleNotAllowed => "role_not_allowed",
            ErrorCode::TtlTooLong => "ttl_too_long",
            ErrorCode::TtlInvalid => "ttl_invalid",
            ErrorCode::KeyTypeNotAllowed => "key_type_not_allowed",
            ErrorCode::RsaKeyTooSmall => "rsa_key_too_small",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::InvalidPrincipal => "invalid_principal",
            ErrorCode::LogUnavailable => "log_unavailable",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::KrlUnavailable => "krl_unavailable",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::ReasonInvalid => "reason_invalid",
            ErrorCode::TicketInvalid => "ticket_invalid",
            ErrorCode::ApprovalRequired => "approval_required",
            ErrorCode::ApprovalNotRequired => "approval_not_required",
            ErrorCode::SelfApproval => "self_approval",
            ErrorCode::NotAnApprover => "not_an_approver",
            ErrorCode::RequestNotFound => "request_not_found",
            ErrorCode::RequestNotPending => "request_not_pending",
            ErrorCode::KeyReused => "key_reused",
            ErrorCode::KeyNotAllowed => "key_not_allowed",
        }
    }

    /// The HTTP status this code is sent with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::MalformedOtp
            | ErrorCode::InvalidPublicKey
            | ErrorCode::InvalidPrincipal
            | ErrorCode::TtlInvalid
            | ErrorCode::ReasonRequired
            | ErrorCode::ReasonInvalid
            | ErrorCode::TicketInvalid
            | ErrorCode::ApprovalNotRequired => 400,
            ErrorCode::BadSignature
            | ErrorCode::UnknownDevice
            | ErrorCode::StaleRequest
            | ErrorCode::ReplayedRequest
            | ErrorCode::InvalidToken
            | ErrorCode::InvalidOtp
            | ErrorCode::ReplayedOtp => 401,
            ErrorCode::UserDisabled
            | ErrorCode::DeviceNotConfirmed
            | ErrorCode::UnknownRole
            | ErrorCode::NoRoleForHost
            | ErrorCode::RoleNotAllowed
            | ErrorCode::TtlTooLong
            | ErrorCode::KeyTypeNotAllowed
            | ErrorCode::RsaKeyTooSmall
            | ErrorCode::ApprovalRequired
            | ErrorCode::SelfApproval
            | ErrorCode::NotAnApprover
            | ErrorCode::KeyNotAllowed => 403,
            ErrorCode::NotFound | ErrorCode::RequestNotFound => 404,
            ErrorCode::RequestNotPending | ErrorCode::KeyReused | ErrorCode::Conflict => 409,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::Internal | ErrorCode::KrlUnavailable => 500,
            ErrorCode::LogUnavailable | ErrorCode::StoreUnavailable | ErrorCode::Overloaded => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// One error: a stable code, a sentence for a person, and what to do next.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
    /// What to do next, when there is something to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Seconds to wait before retrying (with `too_many_attempts` and the 503 codes; the
    /// response carries the same number in its `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_wire_names() {
        for code in [
            ErrorCode::TooManyAttempts,
            ErrorCode::ReplayedOtp,
            ErrorCode::LogUnavailable,
            ErrorCode::KeyReused,
            ErrorCode::KeyNotAllowed,
            ErrorCode::Overloaded,
            ErrorCode::Conflict,
        ] {
            let json = serde_json::to_string(&code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn statuses_follow_the_documented_table() {
        assert_eq!(ErrorCode::TooManyAttempts.http_status(), 429);
        assert_eq!(ErrorCode::UnknownDevice.http_status(), 401);
        assert_eq!(ErrorCode::RoleNotAllowed.http_status(), 403);
        assert_eq!(ErrorCode::LogUnavailable.http_status(), 503);
        assert_eq!(ErrorCode::KeyReused.http_status(), 409);
        assert_eq!(ErrorCode::KeyNotAllowed.http_status(), 403);
        assert_eq!(ErrorCode::Overloaded.http_status(), 503);
        assert_eq!(ErrorCode::Conflict.http_status(), 409);
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
    }
}
