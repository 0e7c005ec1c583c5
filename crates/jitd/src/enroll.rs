//! Enrollment: a one-time token becomes a registered device key and a TOTP secret; the
//! first valid code confirms the device.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use jit_log::{Enrollment, Event, Record};
use jit_mfa::TotpSecret;
use jit_proto::api::{EnrollConfirmRequest, EnrollRequest, EnrollResponse, Whoami};
use jit_proto::ErrorCode;
use jit_store::{Applied, Change, Committed, NewDevice};
use sha2::{Digest as _, Sha256};

use crate::api::{whoami_for, PeerIp};
use crate::auth::{authenticate, Confirmation};
use crate::error::AppError;
use crate::state::AppState;

/// SHA-256 (hex) of an enrollment token secret: what the store keeps instead of the secret.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `POST /v1/enroll`.
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
    body: Bytes,
) -> Result<Json<EnrollResponse>, AppError> {
    let request: EnrollRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::BadRequest,
            format!("the request body is not valid: {e}"),
        )
    })?;
    let device_key =
        jit_ca::device::parse_public_key(&request.device_public_key).map_err(|_| {
            AppError::new(
                ErrorCode::InvalidPublicKey,
                "the device public key is not an OpenSSH public key",
            )
        })?;
    if !jit_ca::device::is_device_key_type(&device_key) {
        return Err(AppError::new(
            ErrorCode::InvalidPublicKey,
            "device keys must be Ed25519",
        ));
    }
    crate::keys::check_device_key(&state, &device_key).await?;
    let device_name: String = request
        .device_name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let now = state.clock.now();
    let fingerprint = jit_ca::device::fingerprint(&device_key);
    let mut random = [0u8; jit_mfa::SECRET_LEN];
    state.randomness.fill(&mut random);
    let secret = TotpSecret::from_random(&random);
    random.fill(0);
    let device = NewDevice {
        fingerprint: fingerprint.clone(),
        user: String::new(),
        public_key: device_key
            .to_openssh()
            .map_err(|e| AppError::internal("encode device key", e))?,
        name: device_name.clone(),
        totp_secret: secret.to_base32(),
        created_at: now,
    };
    let (policy_hash, device_fingerprint) = (state.policy.hash().to_string(), fingerprint.clone());
    let record: jit_store::RecordFor = Box::new(move |applied| {
        let Applied::Device { user } = applied else {
            return Err(jit_store::Error::Corrupt(format!(
                "a device registration came to {applied:?}"
            )));
        };
        Ok(Record {
            time: now,
            policy_hash,
            event: Event::Registered(Enrollment {
                user: user.clone(),
                device: device_fingerprint,
                device_name,
                source_ip,
            }),
        })
    });
    let change = Change::RegisterDevice {
        token_hash: token_hash(&request.token_secret),
        device,
    };
    let user_name = match state.store.commit(change, record).await {
        Ok(Committed {
            applied: Applied::Device { user },
            ..
        }) => user,
        Ok(other) => {
            return Err(AppError::internal(
                "device registration",
                format!("{other:?}"),
            ))
        }
        Err(jit_store::Error::NotFound(_)) => {
            return Err(AppError::new(
                ErrorCode::InvalidToken,
                "the enrollment token is unknown, already used or expired",
            )
            .hint("ask your jit operator for a new token (`jitd user token NAME`)"))
        }
        Err(jit_store::Error::Conflict(message)) => {
            return Err(AppError::new(ErrorCode::UserDisabled, message))
        }
        Err(jit_store::Error::AlreadyExists(_)) => {
            return Err(
                AppError::new(ErrorCode::Conflict, "this device key is already enrolled")
                    .hint("make a new device key (`jit enroll --force TOKEN`)"),
            )
        }
        Err(other) => return Err(other.into()),
    };
    let user = state
        .store
        .user(&user_name)
        .await?
        .ok_or_else(|| AppError::internal("token for a missing user", &user_name))?;
    tracing::info!(user = %user.name, device = %fingerprint, "device registered, waiting for its first code");
    Ok(Json(EnrollResponse {
        user: user.name.clone(),
        device: fingerprint,
        totp_secret: secret.to_base32(),
        otpauth_uri: secret.otpauth_uri(&state.settings.issuer, &user.name),
    }))
}

/// `POST /v1/enroll/confirm` (device-signed).
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Whoami>, AppError> {
    let auth = authenticate::<EnrollConfirmRequest>(
        &state,
        "/v1/enroll/confirm",
        &headers,
        &body,
        Confirmation::NotRequired,
    )
    .await?;
    if auth.device.confirmed_at.is_some() {
        return Ok(Json(whoami_for(&state, &auth.user)));
    }
    crate::otp::check(&state, &auth.user.name, &auth.device, &auth.body.otp, None).await?;
    let now = state.clock.now();
    let record = Record {
        time: now,
        policy_hash: state.policy.hash().to_string(),
        event: Event::Enrolled(Enrollment {
            user: auth.user.name.clone(),
            device: auth.device.fingerprint.clone(),
            device_name: auth.device.name.clone(),
            source_ip,
        }),
    };
    let change = Change::ConfirmDevice {
        fingerprint: auth.device.fingerprint.clone(),
        at: now,
    };
    state
        .store
        .commit(change, jit_store::ledger::record(record))
        .await?;
    let text = format!(
        "{} enrolled a new device ({})",
        auth.user.name, auth.device.name
    );
    let details = crate::alerts::fields([
        ("user", serde_json::json!(auth.user.name)),
        ("device", serde_json::json!(auth.device.fingerprint)),
        ("device_name", serde_json::json!(auth.device.name)),
    ]);
    state
        .alerter
        .raise(crate::alerts::AlertKind::Enrolled, text, details)
        .await;
    Ok(Json(whoami_for(&state, &auth.user)))
}
