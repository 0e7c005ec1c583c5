//! Revocation: record what is revoked (in the store and the issuance log), and build the
//! KRL that hosts fetch from `GET /v1/krl`. Certificates leave the KRL once they have expired.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jit_ca::PublicKey;
use jit_krl::{CertificateRevocations, Krl};
use jit_log::{Event, Operator, Record, RevocationRecord};
use jit_proto::api::{RevokeOwn, RevokeOwnResponse};
use jit_proto::ErrorCode;
use jit_store::{CertificateRow, Change, Revocation, Revoked, Store};
use sha2::{Digest as _, Sha256};

use crate::auth::{authenticate, Confirmation};
use crate::error::AppError;
use crate::state::AppState;

/// What to revoke.
#[derive(Debug, Clone)]
pub enum Target {
    /// One certificate by serial.
    Serial(u64),
    /// One certificate by key ID.
    KeyId(String),
    /// Every unexpired certificate of a user.
    User(String),
    /// A public key (and every certificate for it), OpenSSH format.
    Key(String),
}

/// Errors revoking (for admin commands and the API alike).
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// Nothing matches.
    #[error("{0}")]
    NotFound(String),
    /// The key does not parse.
    #[error("not an OpenSSH public key")]
    BadKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] jit_store::Error),
}

fn certificate_revocation(cert: &CertificateRow, reason: &str, by: &str, now: u64) -> Revocation {
    Revocation {
        target: Revoked::Serial {
            serial: cert.serial,
            ca_fingerprint: cert.ca_fingerprint.clone(),
            valid_before: cert.valid_before,
        },
        reason: reason.to_string(),
        revoked_by: by.to_string(),
        created_at: now,
    }
}

/// What revoking `target` writes: its revocation rows, and the record's kind, target name
/// and serials. [`RevokeError::NotFound`] when it names nothing this CA knows.
pub async fn revocations_for(
    store: &dyn Store,
    target: &Target,
    reason: &str,
    by: &str,
    now: u64,
) -> Result<(Vec<Revocation>, RevocationRecord), RevokeError> {
    let (kind, name, certificates, mut rows) = match target {
        Target::Serial(serial) => {
            let cert = store.certificate(*serial).await?.ok_or_else(|| {
                RevokeError::NotFound(format!(
                    "this CA never issued a certificate with serial {serial}"
                ))
            })?;
            ("serial", serial.to_string(), vec![cert], Vec::new())
        }
        Target::KeyId(key_id) => {
            let cert = store.certificate_by_key_id(key_id).await?.ok_or_else(|| {
                RevokeError::NotFound(format!(
                    "this CA never issued a certificate with key ID {key_id:?}"
                ))
            })?;
            ("key_id", key_id.clone(), vec![cert], Vec::new())
        }
        Target::User(user) => {
            store
                .user(user)
                .await?
                .ok_or_else(|| RevokeError::NotFound(format!("no user {user}")))?;
            let certificates = store.unexpired_certificates(user, now).await?;
            ("user", user.clone(), certificates, Vec::new())
        }
        Target::Key(line) => {
            let key = jit_ca::device::parse_public_key(line).map_err(|_| RevokeError::BadKey)?;
            let public_key = key.to_openssh().map_err(|_| RevokeError::BadKey)?;
            let row = Revocation {
                target: Revoked::Key { public_key },
                reason: reason.to_string(),
                revoked_by: by.to_string(),
                created_at: now,
            };
            (
                "key",
                jit_ca::device::fingerprint(&key),
                Vec::new(),
                vec![row],
            )
        }
    };
    rows.extend(
        certificates
            .iter()
            .map(|cert| certificate_revocation(cert, reason, by, now)),
    );
    let record = RevocationRecord {
        kind: kind.to_string(),
        target: name,
        serials: certificates.iter().map(|c| c.serial).collect(),
        reason: reason.to_string(),
        revoked_by: by.to_string(),
        operator: None,
    };
    Ok((rows, record))
}

/// Revoke `target` and record it in the log, in one transaction; returns the serials
/// revoked (empty for a key). `operator` names who ran an operator command.
pub async fn revoke(
    store: &Arc<dyn Store>,
    policy_hash: &str,
    target: &Target,
    reason: &str,
    by: &str,
    operator: Option<Operator>,
    now: u64,
) -> Result<Vec<u64>, RevokeError> {
    let (rows, mut revoked) = revocations_for(store.as_ref(), target, reason, by, now).await?;
    revoked.operator = operator;
    let serials = revoked.serials.clone();
    let record = Record {
        time: now,
        policy_hash: policy_hash.to_string(),
        event: Event::Revoked(revoked),
    };
    store
        .commit(Change::Revoke(rows), jit_store::ledger::record(record))
        .await?;
    tracing::warn!(?target, by, reason, serials = ?serials, "revoked");
    Ok(serials)
}

/// A KRL as served: its version (`X-KRL-Version`) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedKrl {
    /// The KRL version written in it.
    pub version: u64,
    /// The binary KRL.
    pub bytes: Vec<u8>,
}

/// The KRL for `ca_keys` as of `now`.
pub async fn build_krl(
    store: &dyn Store,
    ca_keys: &[PublicKey],
    now: u64,
) -> Result<EncodedKrl, KrlError> {
    let revocations = store.revocations(now).await?;
    // Version and date come from the revocations themselves, so the bytes (and the ETag hosts
    // send back) only change when the content does.
    let latest = revocations.iter().map(|r| r.created_at).max().unwrap_or(0);
    let mut krl = Krl {
        version: latest,
        generated_at: latest,
        comment: "jit".into(),
        ..Krl::default()
    };
    for ca in ca_keys {
        let fingerprint = jit_ca::device::fingerprint(ca);
        let mut section = CertificateRevocations::new(ca.clone());
        for revocation in &revocations {
            match &revocation.target {
                Revoked::Serial {
                    serial,
                    ca_fingerprint,
                    ..
                } if *ca_fingerprint == fingerprint => section.serials.push(*serial),
                Revoked::KeyId {
                    key_id,
                    ca_fingerprint,
                    ..
                } if *ca_fingerprint == fingerprint => section.key_ids.push(key_id.clone()),
                _ => {}
            }
        }
        krl.certificates.push(section);
    }
    for revocation in &revocations {
        if let Revoked::Key { public_key } = &revocation.target {
            // Fail closed: a key that cannot be read makes the whole KRL an error, never a
            // KRL without it.
            let key = jit_ca::device::parse_public_key(public_key).map_err(|e| {
                KrlError(format!(
                    "a revoked key cannot be read ({e}): {}",
                    public_key.chars().take(60).collect::<String>()
                ))
            })?;
            krl.explicit_keys.push(key);
        }
    }
    let bytes = krl
        .encode()
        .map_err(|e| KrlError(format!("KRL encoding failed: {e}")))?;
    Ok(EncodedKrl {
        version: krl.version,
        bytes,
    })
}

/// Why the KRL could not be built: a revocation that cannot be read or encoded. Never
/// answered with a KRL that leaves it out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KrlError(pub String);

impl From<jit_store::Error> for KrlError {
    fn from(error: jit_store::Error) -> Self {
        KrlError(error.to_string())
    }
}

/// `GET /v1/krl`: the current KRL, with `ETag` (SHA-256 of the bytes) and `X-KRL-Version`.
pub async fn krl(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let krl = match build_krl(state.store.as_ref(), &state.user_ca_keys(), now).await {
        Ok(krl) => krl,
        Err(error) => {
            let text = format!("the KRL cannot be built, so hosts keep their last one: {error}");
            let details = crate::alerts::fields([("error", serde_json::json!(error.0))]);
            state
                .alerter
                .raise(crate::alerts::AlertKind::KrlFailed, text, details)
                .await;
            return Err(AppError::new(
                ErrorCode::KrlUnavailable,
                "the revocation list cannot be built; nothing was served in its place",
            )
            .hint("keep the KRL you have; the jit operator was alerted (see the server log)"));
        }
    };
    let EncodedKrl { version, bytes } = krl;
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(bytes))
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
        h.insert("x-krl-version", value);
    }
    Ok(response)
}

/// `POST /v1/certificates/revoke` (device-signed): an engineer revokes their own certificates.
pub async fn revoke_own(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RevokeOwnResponse>, AppError> {
    let auth = authenticate::<RevokeOwn>(
        &state,
        "/v1/certificates/revoke",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await?;
    let now = state.clock.now();
    let mut revoked = Vec::new();
    for serial in &auth.body.serials {
        let cert = state.store.certificate(*serial).await?;
        match cert {
            Some(cert) if cert.user == auth.user.name => {
                let by = format!("{} (self)", auth.user.name);
                revoke(
                    &state.store,
                    state.policy.hash(),
                    &Target::Serial(*serial),
                    "revoked by its owner at logout",
                    &by,
                    None,
                    now,
                )
                .await
                .map_err(|e| AppError::internal("self-revocation failed", e))?;
                revoked.push(*serial);
            }
            _ => {
                return Err(AppError::new(
                    ErrorCode::NotFound,
                    format!("certificate {serial} is not one of yours"),
                ))
            }
        }
    }
    Ok(Json(RevokeOwnResponse { revoked }))
}
