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
use jit_log::{Event, HostChange, Record};
use jit_proto::api::{HostCertificateResponse, HostEnrollRequest, HostRenewRequest};
use jit_proto::signing::{HEADER_DEVICE, HEADER_SIGNATURE};
use jit_proto::ErrorCode;
use jit_store::{Change, Host};

use crate::api::PeerIp;
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

/// How a host gets its certificate: with its one-time token, or by renewing.
enum Certify<'a> {
    /// `POST /v1/hosts/enroll` with the token (by the hash of its secret).
    Enroll(&'a str),
    /// `POST /v1/hosts/renew`, signed by the key certified before.
    Renew,
}

/// Sign a host certificate for `host`'s key, then remember the key with its log record
/// (one transaction); the certificate leaves only once both are committed.
async fn certify(
    state: &AppState,
    host: &Host,
    public_key: &jit_ca::PublicKey,
    how: Certify<'_>,
    source_ip: String,
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
    let key_fingerprint = jit_ca::device::fingerprint(public_key);
    let (change, action) = match how {
        Certify::Enroll(token_hash) => (
            Change::EnrollHost {
                token_hash: token_hash.to_string(),
                public_key: line,
                at: now,
            },
            "enrolled",
        ),
        Certify::Renew => (
            Change::SetHostKey {
                name: host.name.clone(),
                public_key: line,
            },
            "renewed",
        ),
    };
    let record = Record {
        time: now,
        policy_hash: state.policy.hash().to_string(),
        event: Event::Host(HostChange {
            host: host.name.clone(),
            action: action.into(),
            principals: host.principals.clone(),
            key_fingerprint: Some(key_fingerprint.clone()),
            serial: Some(serial),
            valid_before: Some(issued.valid_before),
            source_ip: Some(source_ip),
            operator: None,
        }),
    };
    state
        .store
        .commit(change, jit_store::ledger::record(record))
        .await
        .map_err(|e| match e {
            jit_store::Error::NotFound(_) => invalid_token(),
            other => other.into(),
        })?;
    tracing::info!(host = %host.name, serial, key = %key_fingerprint, action, "host certificate issued");
    Ok(HostCertificateResponse {
        host: host.name.clone(),
        certificate: issued.openssh,
        principals: host.principals.clone(),
        valid_after: issued.valid_after,
        valid_before: issued.valid_before,
    })
}

fn invalid_token() -> AppError {
    AppError::new(
        ErrorCode::InvalidToken,
        "the host token is unknown, already used or expired",
    )
    .hint("ask your jit operator for a new one (`jitd host add NAME --principals ...`)")
}

/// `POST /v1/hosts/enroll`.
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
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
    let token_hash = crate::enroll::token_hash(&request.token_secret);
    let host = state
        .store
        .host_by_token(&token_hash, now)
        .await?
        .ok_or_else(invalid_token)?;
    let how = Certify::Enroll(&token_hash);
    Ok(Json(
        certify(&state, &host, &public_key, how, source_ip).await?,
    ))
}

/// `POST /v1/hosts/renew`: signed by the host key the current certificate was issued for.
pub async fn renew(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
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
    Ok(Json(
        certify(&state, &host, &public_key, Certify::Renew, source_ip).await?,
    ))
}
