//! Host certificates: `jitd host add` hands a host a one-time token; the host trades it
//! (with its public host key) for a host certificate signed by the host CA, and later renews
//! it with a request signed by its own host key. Engineers' `jit` trusts the host CA through
//! an `@cert-authority` line, so a certified host needs no trust-on-first-use prompt.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use jit_ca::user_cert::{sign_host_certificate, HostCertificateRequest};
use jit_proto::api::{HostCertificateResponse, HostEnrollRequest, HostRenewRequest};
use jit_proto::signing::{HEADER_DEVICE, HEADER_SIGNATURE};
use jit_proto::ErrorCode;
use jit_store::Host;

use crate::clock::Rng;
use crate::error::AppError;
use crate::state::AppState;

/// How long a host certificate lasts (hosts renew it daily, well before).
pub const HOST_CERTIFICATE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

fn bad_key() -> AppError {
    AppError::new(
        ErrorCode::InvalidPublicKey,
        "the host public key is not an OpenSSH public key",
    )
}

/// Sign a host certificate for `host`'s key and remember the key.
async fn certify(
    state: &AppState,
    host: &Host,
    public_key: &jit_ca::PublicKey,
) -> Result<HostCertificateResponse, AppError> {
    let now = state.clock.now();
    let mut rng = Rng(state.randomness.as_ref());
    let serial = jit_ca::serial::random_serial(&mut rng);
    let issued = sign_host_certificate(
        state.host_ca.as_ref(),
        &mut rng,
        &HostCertificateRequest {
            public_key,
            host: &host.name,
            principals: &host.principals,
            serial,
            now,
            ttl: HOST_CERTIFICATE_TTL,
        },
    )
    .map_err(|e| AppError::internal("host certificate signing failed", e))?;
    let line = public_key.to_openssh().map_err(|_| bad_key())?;
    state.store.set_host_key(&host.name, &line).await?;
    tracing::info!(host = %host.name, serial, key = %jit_ca::device::fingerprint(public_key), "host certificate issued");
    Ok(HostCertificateResponse {
        host: host.name.clone(),
        certificate: issued.openssh,
        principals: host.principals.clone(),
        valid_after: issued.valid_after,
        valid_before: issued.valid_before,
    })
}

/// `POST /v1/hosts/enroll`.
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<HostCertificateResponse>, AppError> {
    let request: HostEnrollRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::BadRequest,
            format!("the request body is not valid: {e}"),
        )
    })?;
    let public_key =
        jit_ca::device::parse_public_key(&request.public_key).map_err(|_| bad_key())?;
    crate::keys::refuse_own(&state, &public_key, crate::keys::Use::Host)?;
    let now = state.clock.now();
    let host = state
        .store
        .redeem_host_token(&crate::enroll::token_hash(&request.token_secret), now)
        .await?
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::InvalidToken,
                "the host token is unknown, already used or expired",
            )
            .hint("ask your jit operator for a new one (`jitd host add NAME --principals ...`)")
        })?;
    Ok(Json(certify(&state, &host, &public_key).await?))
}

/// `POST /v1/hosts/renew`: signed by the host key the current certificate was issued for.
pub async fn renew(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<HostCertificateResponse>, AppError> {
    let request: HostRenewRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::BadRequest,
            format!("the request body is not valid: {e}"),
        )
    })?;
    let public_key =
        jit_ca::device::parse_public_key(&request.public_key).map_err(|_| bad_key())?;
    crate::keys::refuse_own(&state, &public_key, crate::keys::Use::Host)?;
    let line = public_key.to_openssh().map_err(|_| bad_key())?;
    let unknown = || {
        AppError::new(ErrorCode::UnknownDevice, "no enrolled host has this key")
            .hint("enroll the host with `jit host enroll TOKEN`")
    };
    let host = state.store.host_by_key(&line).await?.ok_or_else(unknown)?;
    let named = headers.get(HEADER_DEVICE).and_then(|v| v.to_str().ok());
    let signature = headers.get(HEADER_SIGNATURE).and_then(|v| v.to_str().ok());
    let (Some(named), Some(signature)) = (named, signature) else {
        return Err(AppError::new(
            ErrorCode::BadSignature,
            "the renewal is not signed by the host key",
        ));
    };
    if named != jit_ca::device::fingerprint(&public_key) {
        return Err(unknown());
    }
    jit_ca::device::verify_request_signature(
        &public_key,
        signature,
        "POST",
        "/v1/hosts/renew",
        &body,
    )
    .map_err(|_| {
        AppError::new(
            ErrorCode::BadSignature,
            "the renewal signature does not verify",
        )
    })?;
    crate::auth::check_freshness(&state, &request.freshness).await?;
    Ok(Json(certify(&state, &host, &public_key).await?))
}
