//! Fresh keys only: which public keys jitd may certify or enroll. Every certificate
//! certifies a key never certified before, never one of jitd's own keys (user CA, earlier
//! user CAs, host CA, earlier host CAs, log key) and never an enrolled device key; a device
//! or host key is never one of jitd's own keys, and a device key never a certified one.
//!
//! The checks here answer early and clearly (before any TOTP code is counted on issuance);
//! "never certified before" is also enforced by the store, whose unique index on the client
//! key fingerprint refuses a second certificate for a key inside the issuance transaction
//! (`jit_store::Error::KeyReused`), so two concurrent requests cannot both win.

use jit_ca::PublicKey;
use jit_proto::ErrorCode;

use crate::error::AppError;
use crate::state::AppState;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// To be certified by the user CA (`POST /v1/certificates`).
    Certificate,
    /// To be enrolled as a device key (`POST /v1/enroll`).
    Device,
    /// To be certified by the host CA as a host key (`POST /v1/hosts/enroll`).
    Host,
}

impl Use {
    fn noun(self) -> &'static str {
        match self {
            Use::Certificate => "the key to certify",
            Use::Device => "the device key",
            Use::Host => "the host key",
        }
    }
}

/// Which of jitd's own keys `key` is, if any (in memory, no I/O).
pub fn own_key(state: &AppState, key: &PublicKey) -> Option<&'static str> {
    let data = key.key_data();
    let is = |own: &PublicKey| own.key_data() == data;
    if is(state.user_ca.public_key()) || state.user_ca_previous.iter().any(is) {
        Some("a user CA key")
    } else if is(state.host_ca.public_key()) || state.host_ca_previous.iter().any(is) {
        Some("a host CA key")
    } else if is(state.log_key.public_key()) {
        Some("the log key")
    } else {
        None
    }
}

/// 403 `key_not_allowed`: `key` is `what`.
fn not_allowed(usage: Use, what: &str) -> AppError {
    AppError::new(
        ErrorCode::KeyNotAllowed,
        format!(
            "{} is {what}; jit never certifies or enrolls it",
            usage.noun()
        ),
    )
    .hint(match usage {
        Use::Certificate => {
            "send a freshly generated key (`jit ssh` makes one for every certificate)"
        }
        Use::Device => "enroll with a key of its own (`jit enroll` makes one)",
        Use::Host => "enroll the host with its own host key (/etc/ssh/ssh_host_ed25519_key.pub)",
    })
}

/// 409 `key_reused`: the key was certified before (which certificate is not said: it may
/// be another user's).
pub fn reused(usage: Use) -> AppError {
    AppError::new(
        ErrorCode::KeyReused,
        format!("{} was certified before", usage.noun()),
    )
    .hint(match usage {
        Use::Device => "enroll with a key that was never certified (`jit enroll` makes one)",
        _ => {
            "every certificate needs a fresh key: generate a new one and ask again (`jit ssh` does)"
        }
    })
}

/// Refuse one of jitd's own keys for `usage` (in memory).
pub fn refuse_own(state: &AppState, key: &PublicKey, usage: Use) -> Result<(), AppError> {
    match own_key(state, key) {
        Some(what) => Err(not_allowed(usage, what)),
        None => Ok(()),
    }
}

/// Refuse a key to certify for a user: one of jitd's own, any user's device key, or a key
/// certified before (the store's insert checks the last one again, atomically).
pub async fn check_certifiable(state: &AppState, key: &PublicKey) -> Result<(), AppError> {
    refuse_own(state, key, Use::Certificate)?;
    let fingerprint = jit_ca::device::fingerprint(key);
    let (device, certified) = tokio::try_join!(
        state.store.device(&fingerprint),
        state.store.certificate_by_client_key(&fingerprint),
    )?;
    if device.is_some() {
        return Err(not_allowed(Use::Certificate, "an enrolled device key"));
    }
    match certified {
        Some(_) => Err(reused(Use::Certificate)),
        None => Ok(()),
    }
}

/// Refuse a device key that is one of jitd's own or was certified before.
pub async fn check_device_key(state: &AppState, key: &PublicKey) -> Result<(), AppError> {
    refuse_own(state, key, Use::Device)?;
    let fingerprint = jit_ca::device::fingerprint(key);
    match state.store.certificate_by_client_key(&fingerprint).await? {
        Some(_) => Err(reused(Use::Device)),
        None => Ok(()),
    }
}
