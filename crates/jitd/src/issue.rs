//! Issuance, the hot path: device signature -> TOTP (single use) -> policy -> serial ->
//! sign -> commit the log record durably -> respond. If the record cannot be committed the
//! certificate is dropped and the client gets 503: no certificate exists without a record.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use jit_ca::user_cert::{sign_user_certificate, UserCertificateRequest};
use jit_log::{Denial, Event, Issuance, Record};
use jit_policy::{AccessRequest, DenialCode, Identity};
use jit_proto::api::{CertificateRequest, CertificateResponse};
use jit_proto::ErrorCode;
use jit_store::CertificateRow;

use crate::api::PeerIp;
use crate::auth::{authenticate, Authenticated, Confirmation};
use crate::clock::Rng;
use crate::error::AppError;
use crate::state::AppState;

/// How often a serial collision (a 2^-64 event) is retried with a new serial.
const SERIAL_ATTEMPTS: usize = 3;

/// `POST /v1/certificates`.
pub async fn issue(
    State(state): State<Arc<AppState>>,
    PeerIp(source_ip): PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CertificateResponse>, AppError> {
    let auth = authenticate::<CertificateRequest>(
        &state,
        "/v1/certificates",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await?;
    match issue_for(&state, &auth, &source_ip).await {
        Ok(response) => Ok(Json(response)),
        Err(error) => {
            record_denial(&state, &auth, &source_ip, &error).await;
            Err(error)
        }
    }
}

fn denial_code(code: DenialCode) -> ErrorCode {
    match code {
        DenialCode::UnknownRole => ErrorCode::UnknownRole,
        DenialCode::GroupNotAllowed => ErrorCode::RoleNotAllowed,
        DenialCode::TtlTooLong => ErrorCode::TtlTooLong,
        DenialCode::TtlInvalid => ErrorCode::TtlInvalid,
        DenialCode::KeyTypeNotAllowed => ErrorCode::KeyTypeNotAllowed,
        DenialCode::RsaKeyTooSmall => ErrorCode::RsaKeyTooSmall,
    }
}

async fn issue_for(
    state: &AppState,
    auth: &Authenticated<CertificateRequest>,
    source_ip: &str,
) -> Result<CertificateResponse, AppError> {
    let request = &auth.body;
    let user = &auth.user;
    crate::otp::check(state, &user.name, &auth.device, &request.otp).await?;

    let identity = Identity {
        user: &user.name,
        groups: &user.groups,
    };
    let role_name = match (&request.role, &request.host) {
        (Some(role), _) => role.clone(),
        (None, Some(host)) => state
            .policy
            .role_for_host(&identity, host)
            .map(|role| role.name.clone())
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::NoRoleForHost,
                    "none of your roles matches this host",
                )
                .hint("name one with --role; `jit status` lists your roles")
            })?,
        (None, None) => {
            return Err(AppError::new(
                ErrorCode::BadRequest,
                "a certificate request names a role or a host",
            ));
        }
    };
    let client_key = jit_ca::device::parse_public_key(&request.public_key).map_err(|_| {
        AppError::new(
            ErrorCode::InvalidPublicKey,
            "the public key to certify is not an OpenSSH public key",
        )
    })?;
    let (key_type, rsa_bits) = jit_ca::device::key_type(&client_key);
    let grant = state
        .policy
        .evaluate(
            &identity,
            &AccessRequest {
                role: &role_name,
                ttl: request.ttl_seconds.map(Duration::from_secs),
                key_type: &key_type,
                rsa_bits,
            },
        )
        .map_err(|denial| AppError::new(denial_code(denial.code), denial.reason))?;

    let mut critical_options = Vec::new();
    if let Some(command) = &grant.force_command {
        critical_options.push(("force-command".to_string(), command.clone()));
    }
    if let Some(addresses) = &grant.source_address {
        critical_options.push(("source-address".to_string(), addresses.clone()));
    }
    let now = state.clock.now();
    for _ in 0..SERIAL_ATTEMPTS {
        let mut rng = Rng(state.randomness.as_ref());
        let serial = jit_ca::serial::random_serial(&mut rng);
        let issued = sign_user_certificate(
            state.user_ca.as_ref(),
            &mut rng,
            &UserCertificateRequest {
                public_key: &client_key,
                user: &user.name,
                role: &grant.role,
                principals: &grant.principals,
                serial,
                now,
                backdate: grant.backdate,
                ttl: grant.ttl,
                extensions: &grant.extensions,
                critical_options: &critical_options,
            },
        )
        .map_err(|e| match e {
            jit_ca::Error::Certificate(reason) if reason.contains("principal") => {
                AppError::new(ErrorCode::InvalidPrincipal, reason)
            }
            other => AppError::internal("certificate signing failed", other),
        })?;
        let record = Record {
            time: now,
            policy_hash: state.policy.hash().to_string(),
            event: Event::Issued(Issuance {
                user: user.name.clone(),
                device: auth.device.fingerprint.clone(),
                role: grant.role.clone(),
                principals: grant.principals.clone(),
                serial,
                key_id: issued.key_id.clone(),
                client_key_fingerprint: jit_ca::device::fingerprint(&client_key),
                valid_after: issued.valid_after,
                valid_before: issued.valid_before,
                extensions: grant.extensions.clone(),
                critical_options: critical_options
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                source_ip: source_ip.to_string(),
                ca_fingerprint: state.user_ca.fingerprint(),
                certificate_sha256: issued.sha256.clone(),
            }),
        };
        let row = CertificateRow {
            serial,
            user: user.name.clone(),
            role: grant.role.clone(),
            key_id: issued.key_id.clone(),
            valid_after: issued.valid_after,
            valid_before: issued.valid_before,
        };
        match state.store.record_issuance(&record, &row, jit_store::IssuanceLinks::default()).await {
            Ok(log_index) => {
                tracing::info!(user = %user.name, role = %grant.role, serial, key_id = %issued.key_id, log_index, "certificate issued");
                return Ok(CertificateResponse {
                    certificate: issued.openssh,
                    role: grant.role.clone(),
                    serial,
                    key_id: issued.key_id,
                    principals: grant.principals.clone(),
                    valid_after: issued.valid_after,
                    valid_before: issued.valid_before,
                    log_index,
                    break_glass: false,
                    request_id: None,
                });
            }
            Err(jit_store::Error::SerialTaken) => continue,
            Err(error) => {
                tracing::error!(%error, user = %user.name, "issuance log write failed; certificate discarded");
                return Err(AppError::new(
                    ErrorCode::LogUnavailable,
                    "the issuance log could not be written, so no certificate was issued",
                )
                .hint("try again in a moment; if it persists, tell your jit operator"));
            }
        }
    }
    Err(AppError::internal(
        "serial allocation",
        "collided repeatedly",
    ))
}

/// Record a refused request in the log (best effort: the refusal stands either way).
async fn record_denial(
    state: &AppState,
    auth: &Authenticated<CertificateRequest>,
    source_ip: &str,
    error: &AppError,
) {
    if matches!(
        error.code(),
        ErrorCode::StoreUnavailable | ErrorCode::LogUnavailable | ErrorCode::Internal
    ) {
        return;
    }
    let record = Record {
        time: state.clock.now(),
        policy_hash: state.policy.hash().to_string(),
        event: Event::Denied(Denial {
            user: Some(auth.user.name.clone()),
            device: Some(auth.device.fingerprint.clone()),
            role: auth.body.role.clone(),
            code: error.code().as_str().to_string(),
            reason: error.message().to_string(),
            source_ip: source_ip.to_string(),
        }),
    };
    tracing::warn!(user = %auth.user.name, code = %error.code(), reason = %error.message(), "request denied");
    if let Err(e) = state.store.append_log(&record).await {
        tracing::error!(error = %e, "could not record a denial in the log");
    }
}
