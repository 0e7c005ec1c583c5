//! Device-signed requests: signature, freshness, single use, and the caller's standing.

use axum::http::HeaderMap;
use jit_proto::api::{
    CertificateRequest, DecisionRequest, EnrollConfirmRequest, Freshness, NewRequest, RevokeOwn,
    Signed, WhoamiRequest,
};
use jit_proto::signing::{HEADER_DEVICE, HEADER_SIGNATURE};
use jit_proto::ErrorCode;
use jit_store::{Device, User};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::state::AppState;

/// Request bodies that carry a timestamp and nonce.
pub trait Fresh {
    /// The freshness fields.
    fn freshness(&self) -> &Freshness;
}

macro_rules! fresh {
    ($($t:ty),*) => {$(
        impl Fresh for $t {
            fn freshness(&self) -> &Freshness {
                &self.freshness
            }
        }
    )*};
}
fresh!(
    CertificateRequest,
    EnrollConfirmRequest,
    WhoamiRequest,
    NewRequest,
    Signed,
    DecisionRequest,
    RevokeOwn
);

/// A request whose device signature, freshness and caller all checked out.
pub struct Authenticated<T> {
    /// The device that signed.
    pub device: Device,
    /// Its owner.
    pub user: User,
    /// The parsed body.
    pub body: T,
}

/// Whether the device must have finished enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Only confirmed devices (everything but enrollment confirmation).
    Required,
    /// Unconfirmed devices too (enrollment confirmation).
    NotRequired,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Check a device-signed request: known device, valid signature over method, path and
/// body, timestamp within the window, nonce never seen, user enabled, device confirmed.
pub async fn authenticate<T: DeserializeOwned + Fresh>(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    confirmation: Confirmation,
) -> Result<Authenticated<T>, AppError> {
    let (authenticated, nonce) =
        authenticate_nonce_unseen(state, path, headers, body, confirmation).await?;
    remember(state, nonce).await?;
    Ok(authenticated)
}

/// Like [`authenticate`], except that the nonce is checked but not yet remembered: the
/// caller hands it to the store with its first write, in the same transaction (the
/// certificate endpoint passes it to `Store::check_totp`), before acting on the request.
pub async fn authenticate_nonce_unseen<T: DeserializeOwned + Fresh>(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    confirmation: Confirmation,
) -> Result<(Authenticated<T>, UnseenNonce), AppError> {
    let (device, user) = signing_device(state, "POST", path, headers, body).await?;
    let parsed: T = serde_json::from_slice(body).map_err(|e| {
        AppError::new(
            ErrorCode::BadRequest,
            format!("the request body is not valid: {e}"),
        )
    })?;
    let nonce = unseen_nonce(state, parsed.freshness())?;
    standing(&user, &device, confirmation)?;
    let authenticated = Authenticated {
        device,
        user,
        body: parsed,
    };
    Ok((authenticated, nonce))
}

/// Check a device-signed GET: the signature covers the path with its query string, and the
/// query carries `timestamp` and `nonce` (so they are signed too).
pub async fn authenticate_get(
    state: &AppState,
    path_and_query: &str,
    headers: &HeaderMap,
) -> Result<Authenticated<Freshness>, AppError> {
    let (device, user) = signing_device(state, "GET", path_and_query, headers, b"").await?;
    let query = path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    let freshness = Freshness {
        timestamp: param("timestamp")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::BadRequest,
                    "a signed GET carries timestamp= and nonce= in its query",
                )
            })?,
        nonce: param("nonce").unwrap_or_default(),
    };
    check_freshness(state, &freshness).await?;
    standing(&user, &device, Confirmation::Required)?;
    Ok(Authenticated {
        device,
        user,
        body: freshness,
    })
}

/// The enrolled device whose key signed `method path body`, with its owner.
async fn signing_device(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Device, User), AppError> {
    let unsigned = || {
        AppError::new(
            ErrorCode::BadSignature,
            "the request is not signed by a device key",
        )
        .hint("use the `jit` CLI, which signs requests with your enrolled device key")
    };
    let fingerprint = header(headers, HEADER_DEVICE).ok_or_else(unsigned)?;
    let signature = header(headers, HEADER_SIGNATURE).ok_or_else(unsigned)?;
    let (device, owner) = state
        .store
        .device_with_owner(fingerprint)
        .await?
        .ok_or_else(|| {
            AppError::new(ErrorCode::UnknownDevice, "no enrolled device has this key")
                .hint("enroll this device with `jit enroll TOKEN` (ask your operator for a token)")
        })?;
    let public_key = jit_ca::device::parse_public_key(&device.public_key)
        .map_err(|e| AppError::internal("stored device key does not parse", e))?;
    jit_ca::device::verify_request_signature(&public_key, signature, method, path, body).map_err(
        |_| {
            AppError::new(
                ErrorCode::BadSignature,
                "the request signature does not verify",
            )
        },
    )?;
    let user = owner.ok_or_else(|| AppError::internal("device without user", &device.user))?;
    Ok((device, user))
}

/// The device's owner must be enabled, and the device enrolled as far as required.
fn standing(user: &User, device: &Device, confirmation: Confirmation) -> Result<(), AppError> {
    if user.disabled {
        return Err(AppError::new(
            ErrorCode::UserDisabled,
            format!("user {} is disabled", user.name),
        )
        .hint("ask your jit operator"));
    }
    if confirmation == Confirmation::Required && device.confirmed_at.is_none() {
        return Err(AppError::new(
            ErrorCode::DeviceNotConfirmed,
            "this device has not finished enrollment",
        )
        .hint("finish it with `jit enroll --confirm`"));
    }
    Ok(())
}

/// A signed request's nonce that passed the timestamp and format checks but is not
/// remembered yet: [`remember`] it, or hand it to the store with the request's first write.
#[must_use = "a nonce that is never remembered lets the request be replayed"]
#[derive(Debug)]
pub struct UnseenNonce {
    /// The nonce as the request carried it.
    pub value: String,
    /// Remember it until then: past it the request's timestamp is stale anyway.
    pub remember_until: u64,
}

impl UnseenNonce {
    /// The nonce as the store takes it.
    pub fn for_store(&self) -> jit_store::RequestNonce<'_> {
        jit_store::RequestNonce {
            value: &self.value,
            expires_at: self.remember_until,
        }
    }
}

/// The error for a request whose nonce was seen before.
pub fn replayed_request() -> AppError {
    AppError::new(
        ErrorCode::ReplayedRequest,
        "this exact request was received before (replay)",
    )
    .hint("each request is single use; run the command again")
}

/// A signed request's timestamp is within the window and its nonce was never seen: a
/// captured request can be neither replayed nor delayed.
pub async fn check_freshness(state: &AppState, freshness: &Freshness) -> Result<(), AppError> {
    let nonce = unseen_nonce(state, freshness)?;
    remember(state, nonce).await
}

/// Remember `nonce`; a nonce seen before is a replay.
pub async fn remember(state: &AppState, nonce: UnseenNonce) -> Result<(), AppError> {
    match state
        .store
        .remember_nonce(&nonce.value, nonce.remember_until)
        .await?
    {
        true => Ok(()),
        false => Err(replayed_request()),
    }
}

/// Check the timestamp window and the nonce's form (not yet whether it was seen).
fn unseen_nonce(state: &AppState, freshness: &Freshness) -> Result<UnseenNonce, AppError> {
    let now = state.clock.now();
    let max_age = state.settings.request_max_age;
    if freshness.timestamp.abs_diff(now) > max_age {
        return Err(AppError::new(
            ErrorCode::StaleRequest,
            format!(
                "the request was made {}s away from the server's time (at most {max_age}s allowed)",
                freshness.timestamp.abs_diff(now)
            ),
        )
        .hint("check this computer's clock (NTP), then try again"));
    }
    let nonce = &freshness.nonce;
    if nonce.len() < 16 || nonce.len() > 128 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "the request nonce must be 16 to 128 hex characters",
        ));
    }
    Ok(UnseenNonce {
        value: nonce.clone(),
        remember_until: freshness
            .timestamp
            .saturating_add(max_age)
            .saturating_add(1),
    })
}
