//! Issuance, the hot path: device signature -> TOTP (single use) -> fresh key (see
//! [`crate::keys`]) -> policy -> approval or break-glass -> serial -> sign -> commit the log
//! record durably (the store refuses a key certified before) -> respond. If the record
//! cannot be committed the certificate is dropped and the client gets 503 (`log_unavailable`,
//! or `overloaded` when no database connection came free in time): no certificate exists
//! without a record.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use jit_ca::user_cert::{sign_user_certificate, IssuedCertificate, UserCertificateRequest};
use jit_log::receipt::{Receipt, ReceiptStatement};
use jit_log::{Denial, Event, Issuance, Record};
use jit_policy::{AccessRequest, DenialCode, Grant, Identity};
use jit_proto::api::{CertificateRequest, CertificateResponse};
use jit_proto::ErrorCode;
use jit_store::{CertificateRow, IssuanceLinks};
use serde_json::json;

use crate::alerts::{fields, AlertKind};
use crate::api::PeerIp;
use crate::auth::{authenticate_nonce_unseen, Authenticated, Confirmation, UnseenNonce};
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
    let started = Instant::now();
    // The nonce is remembered together with the TOTP attempt (one durable write, not two).
    let (auth, nonce) = authenticate_nonce_unseen::<CertificateRequest>(
        &state,
        "/v1/certificates",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await
    .inspect_err(|e| state.metrics.denied(e.code().as_str()))?;
    match issue_for(&state, &auth, nonce, &source_ip).await {
        Ok(response) => {
            state
                .metrics
                .issued(&response.role, started.elapsed().as_secs_f64());
            Ok(Json(response))
        }
        Err(error) => {
            record_denial(&state, &auth, &source_ip, &error).await;
            Err(error)
        }
    }
}

/// The error a policy denial becomes.
pub fn denial_error(denial: jit_policy::Denial) -> AppError {
    let code = match denial.code {
        DenialCode::UnknownRole => ErrorCode::UnknownRole,
        DenialCode::GroupNotAllowed => ErrorCode::RoleNotAllowed,
        DenialCode::TtlTooLong => ErrorCode::TtlTooLong,
        DenialCode::TtlInvalid => ErrorCode::TtlInvalid,
        DenialCode::KeyTypeNotAllowed => ErrorCode::KeyTypeNotAllowed,
        DenialCode::RsaKeyTooSmall => ErrorCode::RsaKeyTooSmall,
        DenialCode::ReasonRequired => ErrorCode::ReasonRequired,
        DenialCode::ReasonInvalid => ErrorCode::ReasonInvalid,
        DenialCode::TicketInvalid => ErrorCode::TicketInvalid,
        DenialCode::SelfApproval => ErrorCode::SelfApproval,
        DenialCode::NotAnApprover => ErrorCode::NotAnApprover,
        DenialCode::ApprovalNotRequired => ErrorCode::ApprovalNotRequired,
    };
    let error = AppError::new(code, denial.reason);
    match code {
        ErrorCode::ReasonRequired => error.hint("give one with --reason \"INC-123: what and why\""),
        ErrorCode::TicketInvalid => error.hint("give the ticket with --ticket"),
        _ => error,
    }
}

/// What approvals or break-glass add to an issuance.
#[derive(Debug, Clone, Default)]
struct Sanction {
    request_id: Option<String>,
    approvers: Vec<String>,
    reason: Option<String>,
    ticket: Option<String>,
}

/// 403 `approval_required`, with how to ask.
fn approval_required(role: &str) -> AppError {
    AppError::new(
        ErrorCode::ApprovalRequired,
        format!("role {role} needs an approved request first"),
    )
    .hint(format!(
        "ask with `jit request --role {role} --reason \"...\" --wait`; approvers decide with `jit approve ID`"
    ))
}

/// For a role that needs approval: the caller's approved, unused request, and the TTL it
/// allows. Without one: 403 `approval_required`.
fn approved_request(
    approved: Option<jit_store::AccessRequest>,
    request: &CertificateRequest,
    grant: &mut Grant,
) -> Result<Sanction, AppError> {
    let approved = approved.ok_or_else(|| approval_required(&grant.role))?;
    let approved_ttl = approved
        .request
        .ttl_seconds
        .map(Duration::from_secs)
        .unwrap_or(grant.ttl);
    if request.ttl_seconds.is_some() && grant.ttl > approved_ttl {
        return Err(AppError::new(
            ErrorCode::TtlTooLong,
            format!(
                "request {} was approved for at most {}",
                approved.request.id,
                jit_policy::format_duration(approved_ttl)
            ),
        ));
    }
    grant.ttl = grant.ttl.min(approved_ttl);
    Ok(Sanction {
        request_id: Some(approved.request.id.clone()),
        approvers: approved.approvers(),
        reason: Some(approved.request.reason.clone()),
        ticket: approved.request.ticket.clone(),
    })
}

/// What a granted request turns into, before a serial is drawn.
struct Plan {
    client_key: jit_ca::PublicKey,
    grant: Grant,
    sanction: Sanction,
    critical_options: Vec<(String, String)>,
    critical_text: Vec<String>,
}

/// Role, key, approval and policy for `auth`'s request at `now` (no side effects).
async fn plan(
    state: &AppState,
    auth: &Authenticated<CertificateRequest>,
    now: u64,
) -> Result<Plan, AppError> {
    let request = &auth.body;
    let user = &auth.user;
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
            "the public key to certify is not one OpenSSH public key",
        )
        .hint("send exactly one key line, `ssh-ed25519 AAAA... [comment]`, with no control characters")
    })?;
    crate::keys::check_certifiable(state, &client_key).await?;
    let (key_type, rsa_bits) = jit_ca::device::key_type(&client_key);
    // A role that needs approval takes its reason and ticket from the approved request.
    let gated_role = state
        .policy
        .role(&role_name)
        .filter(|role| role.approval.is_some());
    let approved = match gated_role {
        Some(_) => {
            state
                .store
                .usable_request(&user.name, &role_name, now)
                .await?
        }
        None => None,
    };
    if let Some(role) =
        gated_role.filter(|role| approved.is_none() && role.allows_groups(&user.groups))
    {
        return Err(approval_required(&role.name));
    }
    let reason = approved
        .as_ref()
        .map(|a| a.request.reason.clone())
        .or_else(|| request.reason.clone());
    let ticket = approved
        .as_ref()
        .map_or_else(|| request.ticket.clone(), |a| a.request.ticket.clone());
    let mut grant = state
        .policy
        .evaluate(
            &identity,
            &AccessRequest {
                role: &role_name,
                ttl: request.ttl_seconds.map(Duration::from_secs),
                key_type: &key_type,
                rsa_bits,
                reason: reason.as_deref(),
                ticket: ticket.as_deref(),
                now,
            },
        )
        .map_err(denial_error)?;
    let sanction = match &grant.approval {
        Some(_) => approved_request(approved, request, &mut grant)?,
        None => Sanction {
            reason,
            ticket,
            ..Sanction::default()
        },
    };

    let mut critical_options = Vec::new();
    if let Some(command) = &grant.force_command {
        critical_options.push(("force-command".to_string(), command.clone()));
    }
    if let Some(addresses) = &grant.source_address {
        critical_options.push(("source-address".to_string(), addresses.clone()));
    }
    let critical_text: Vec<String> = critical_options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Ok(Plan {
        client_key,
        grant,
        sanction,
        critical_options,
        critical_text,
    })
}

async fn issue_for(
    state: &Arc<AppState>,
    auth: &Authenticated<CertificateRequest>,
    nonce: UnseenNonce,
    source_ip: &str,
) -> Result<CertificateResponse, AppError> {
    let request = &auth.body;
    let user = &auth.user;
    // The code is checked in memory now and counted by the store later: together with the
    // issuance (one durable commit) when the request is granted, alone when it is refused.
    // Either way a wrong code is the answer before anything else, and the code is spent.
    let claim = crate::otp::claim(state, &user.name, &auth.device, &request.otp, Some(&nonce))?;
    let now = state.clock.now();
    let Plan {
        client_key,
        grant,
        sanction,
        critical_options,
        critical_text,
    } = match plan(state, auth, now).await {
        Ok(plan) => plan,
        Err(refusal) => {
            let counted = state.store.check_totp(claim.check).await?;
            crate::otp::judge(state, &claim, &auth.device, counted).await?;
            return Err(refusal);
        }
    };
    for _ in 0..SERIAL_ATTEMPTS {
        let serial = jit_ca::serial::random_serial(&mut Rng(state.randomness.as_ref()));
        let pending = Arc::new(Pending {
            state: state.clone(),
            key_id: jit_ca::user_cert::key_id(&user.name, &grant.role, serial),
            client_fingerprint: jit_ca::device::fingerprint(&client_key),
            ca_fingerprint: state.user_ca.fingerprint(),
            client_key: client_key.clone(),
            user: user.name.clone(),
            device: auth.device.fingerprint.clone(),
            grant: grant.clone(),
            sanction: sanction.clone(),
            serial,
            now,
            critical_options: critical_options.clone(),
            critical_text: critical_text.clone(),
            source_ip: source_ip.to_string(),
        });
        let slot: Arc<Mutex<Option<IssuedCertificate>>> = Arc::new(Mutex::new(None));
        // Without a receipt the certificate does not depend on its log position: sign it
        // before the log writer takes the chain head.
        let presigned = match grant.log_receipt {
            false => Some(
                pending
                    .sign(None)
                    .map_err(|e| AppError::internal("certificate signing", e))?,
            ),
            true => None,
        };
        // Runs once the record's log position is known (the chain head is locked), so an
        // opted-in certificate can carry a receipt naming that position.
        let (builder, output) = (pending.clone(), slot.clone());
        let build = move |seq: u64| -> jit_store::Result<(Record, CertificateRow)> {
            let failed = |e: jit_ca::Error| {
                jit_store::Error::Corrupt(format!("certificate signing failed: {e}"))
            };
            let issued = match presigned {
                Some(issued) => issued,
                None => {
                    let receipt = builder.receipt(seq).map_err(failed)?;
                    builder.sign(Some(&receipt)).map_err(failed)?
                }
            };
            let written = builder.record(&issued);
            if let Ok(mut slot) = output.lock() {
                *slot = Some(issued);
            }
            Ok(written)
        };
        let links = IssuanceLinks {
            request_id: sanction.request_id.as_deref(),
            break_glass_reason: grant
                .break_glass
                .then_some(sanction.reason.as_deref().unwrap_or_default()),
            totp: Some(claim.check),
        };
        let outcome = state.store.record_issuance_at(Box::new(build), links).await;
        let issued = slot.lock().ok().and_then(|mut slot| slot.take());
        match (outcome, issued) {
            (Ok(log_index), Some(issued)) => {
                tracing::info!(user = %user.name, role = %grant.role, serial, key_id = %issued.key_id, log_index, "certificate issued");
                announce(state, &grant, &sanction, &user.name, serial, &issued.key_id).await;
                return Ok(CertificateResponse {
                    certificate: issued.openssh,
                    role: grant.role.clone(),
                    serial,
                    key_id: issued.key_id,
                    principals: grant.principals.clone(),
                    valid_after: issued.valid_after,
                    valid_before: issued.valid_before,
                    log_index,
                    break_glass: grant.break_glass,
                    request_id: sanction.request_id,
                });
            }
            (Ok(_), None) => {
                return Err(AppError::internal("issuance", "no certificate was built"))
            }
            (Err(jit_store::Error::SerialTaken), _) => continue,
            // A concurrent issuance of the same key won: never retried.
            (Err(jit_store::Error::KeyReused), _) => {
                return Err(crate::keys::reused(crate::keys::Use::Certificate))
            }
            (Err(jit_store::Error::TotpRefused(counted)), _) => {
                crate::otp::judge(state, &claim, &auth.device, counted).await?;
                return Err(AppError::internal(
                    "issuance",
                    "an accepted code was refused",
                ));
            }
            // Disabled after this request was authenticated: refused in the issuance's own
            // transaction.
            (Err(jit_store::Error::UserDisabled(user)), _) => {
                return Err(AppError::new(
                    ErrorCode::UserDisabled,
                    format!("user {user} is disabled"),
                ));
            }
            (Err(jit_store::Error::Conflict(reason)), _) => {
                return Err(AppError::new(ErrorCode::ApprovalRequired, reason)
                    .hint("the approved request was used or lapsed meanwhile; ask again with `jit request`"));
            }
            (Err(error), _) => return Err(AppError::log_write(error)),
        }
    }
    Err(AppError::internal(
        "serial allocation",
        "collided repeatedly",
    ))
}

/// Everything needed to sign a certificate and write its record, owned, so the log writer
/// can finish it inside its (grouped) transaction.
struct Pending {
    state: Arc<AppState>,
    client_key: jit_ca::PublicKey,
    client_fingerprint: String,
    ca_fingerprint: String,
    user: String,
    device: String,
    grant: Grant,
    sanction: Sanction,
    serial: u64,
    key_id: String,
    now: u64,
    critical_options: Vec<(String, String)>,
    critical_text: Vec<String>,
    source_ip: String,
}

impl Pending {
    /// Sign the certificate, carrying `receipt` when the role opts in.
    fn sign(&self, receipt: Option<&str>) -> Result<IssuedCertificate, jit_ca::Error> {
        sign_user_certificate(
            self.state.user_ca.as_ref(),
            &mut Rng(self.state.randomness.as_ref()),
            &UserCertificateRequest {
                public_key: &self.client_key,
                user: &self.user,
                role: &self.grant.role,
                principals: &self.grant.principals,
                serial: self.serial,
                now: self.now,
                backdate: self.grant.backdate,
                ttl: self.grant.ttl,
                extensions: &self.grant.extensions,
                critical_options: &self.critical_options,
                receipt,
            },
        )
    }

    /// The log key's receipt for this certificate as log entry `seq`.
    fn receipt(&self, seq: u64) -> Result<String, jit_ca::Error> {
        let (valid_after, valid_before) =
            jit_ca::user_cert::validity(self.now, self.grant.backdate, self.grant.ttl)?;
        let statement = ReceiptStatement {
            seq,
            serial: self.serial,
            key_id: self.key_id.clone(),
            public_key_fingerprint: self.client_fingerprint.clone(),
            valid_after,
            valid_before,
            ca_fingerprint: self.ca_fingerprint.clone(),
            principals: self.grant.principals.clone(),
        };
        let signature = self.state.log_key.sign(&statement.signed_bytes())?;
        Ok(Receipt {
            seq,
            signature: signature.as_bytes().to_vec(),
        }
        .encode())
    }

    /// The issuance record and certificate row for `issued`.
    fn record(&self, issued: &IssuedCertificate) -> (Record, CertificateRow) {
        let (grant, sanction) = (&self.grant, &self.sanction);
        let record = Record {
            time: self.now,
            policy_hash: self.state.policy.hash().to_string(),
            event: Event::Issued(Box::new(Issuance {
                user: self.user.clone(),
                device: self.device.clone(),
                role: grant.role.clone(),
                principals: grant.principals.clone(),
                serial: self.serial,
                key_id: issued.key_id.clone(),
                client_key_fingerprint: self.client_fingerprint.clone(),
                valid_after: issued.valid_after,
                valid_before: issued.valid_before,
                extensions: grant.extensions.clone(),
                critical_options: self.critical_text.clone(),
                source_ip: self.source_ip.clone(),
                ca_fingerprint: self.ca_fingerprint.clone(),
                certificate_sha256: issued.sha256.clone(),
                request_id: sanction.request_id.clone(),
                approvers: sanction.approvers.clone(),
                reason: sanction.reason.clone(),
                ticket: sanction.ticket.clone(),
                break_glass: grant.break_glass,
                out_of_hours: grant.out_of_hours,
            })),
        };
        let row = CertificateRow {
            serial: self.serial,
            user: self.user.clone(),
            role: grant.role.clone(),
            key_id: issued.key_id.clone(),
            valid_after: issued.valid_after,
            valid_before: issued.valid_before,
            ca_fingerprint: self.ca_fingerprint.clone(),
            client_key_fingerprint: Some(self.client_fingerprint.clone()),
        };
        (record, row)
    }
}

/// Alerts an issuance fires: break-glass, and anything outside business hours.
async fn announce(
    state: &AppState,
    grant: &Grant,
    sanction: &Sanction,
    user: &str,
    serial: u64,
    key_id: &str,
) {
    let details = || {
        fields([
            ("user", json!(user)),
            ("role", json!(grant.role)),
            ("serial", json!(serial)),
            ("key_id", json!(key_id)),
            ("reason", json!(sanction.reason)),
            ("ticket", json!(sanction.ticket)),
            ("approvers", json!(sanction.approvers)),
        ])
    };
    if grant.break_glass {
        let text = format!(
            "BREAK-GLASS: {user} took role {} ({key_id}): {}",
            grant.role,
            sanction.reason.as_deref().unwrap_or("no reason")
        );
        state
            .alerter
            .raise(AlertKind::BreakGlass, text, details())
            .await;
    }
    if grant.out_of_hours {
        let text = format!(
            "{user} got role {} outside business hours ({key_id})",
            grant.role
        );
        state
            .alerter
            .raise(AlertKind::OutOfHours, text, details())
            .await;
    }
}

/// Record a refused request in the log and alert (best effort: the refusal stands either way).
async fn record_denial(
    state: &AppState,
    auth: &Authenticated<CertificateRequest>,
    source_ip: &str,
    error: &AppError,
) {
    state.metrics.denied(error.code().as_str());
    // Not decisions about the engineer: the store failed or jitd was overloaded (a record
    // would only add to the load), or the request was a replay (refused like a request
    // that failed authentication, and as unlogged).
    if matches!(
        error.code(),
        ErrorCode::StoreUnavailable
            | ErrorCode::LogUnavailable
            | ErrorCode::Overloaded
            | ErrorCode::Internal
            | ErrorCode::ReplayedRequest
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
    if let Err(e) = state.store.append_log(&record).await {
        tracing::error!(error = %e, "could not record a denial in the log");
    }
    let text = format!(
        "denied {}: {} ({})",
        auth.user.name,
        error.message(),
        error.code()
    );
    let details = fields([
        ("user", json!(auth.user.name)),
        ("role", json!(auth.body.role)),
        ("code", json!(error.code().as_str())),
        ("source_ip", json!(source_ip)),
    ]);
    state.alerter.raise(AlertKind::Denied, text, details).await;
}
