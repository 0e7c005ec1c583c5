//! TOTP checks on the server: the code is verified in memory, then one atomic store
//! operation applies the attempt limit and uses up the time step, so a code works once per
//! user across every replica and no more than the limit of codes ever count.

use jit_mfa::{AttemptDecision, TotpSecret, Verification};
use jit_proto::ErrorCode;
use jit_store::{Device, TotpCheck, TotpOutcome};

use crate::auth::UnseenNonce;
use crate::error::AppError;
use crate::state::AppState;

/// Check `otp` for `user` with the secret of `device`. Wrong and malformed codes count as
/// failures; a right code used before is refused as `replayed_otp` without counting (it is
/// not a guess); past the limit every attempt gets 429 until the window cools down.
///
/// `nonce`, when given, is the request's nonce not yet remembered: it is remembered in the
/// same store transaction before anything is counted, and a replayed request is refused
/// with `replayed_request` without touching the user's attempts or steps.
pub async fn check(
    state: &AppState,
    user: &str,
    device: &Device,
    otp: &str,
    nonce: Option<UnseenNonce>,
) -> Result<(), AppError> {
    let claim = claim(state, user, device, otp, nonce.as_ref())?;
    let outcome = state.store.check_totp(claim.check).await?;
    judge(state, &claim, device, outcome).await
}

/// A TOTP code checked in memory, for the store to count (alone with
/// `Store::check_totp`, or with an issuance in `IssuanceLinks::totp`).
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// What the store counts.
    pub check: TotpCheck<'a>,
    /// Why the code is wrong, when it matched no step.
    wrong: Option<ErrorCode>,
}

/// Verify `otp` against the secret of `device` in memory. Whether it was right is only
/// revealed once the store has counted the attempt against the limit (atomically, across
/// replicas), so at most `max_failures` codes per window ever count, however many arrive.
pub fn claim<'a>(
    state: &AppState,
    user: &'a str,
    device: &Device,
    otp: &str,
    nonce: Option<&'a UnseenNonce>,
) -> Result<Claim<'a>, AppError> {
    let now = state.clock.now();
    let limit = state.settings.attempt_limit;
    let (step, wrong) = match jit_mfa::normalise_code(otp) {
        Err(_) => (None, Some(ErrorCode::MalformedOtp)),
        Ok(code) => {
            let secret = TotpSecret::from_base32(&device.totp_secret)
                .map_err(|e| AppError::internal("stored TOTP secret does not decode", e))?;
            match jit_mfa::verify(&secret, &code, now, None) {
                Verification::Accepted { step } => (Some(step), None),
                Verification::Replayed => (None, Some(ErrorCode::ReplayedOtp)),
                Verification::Invalid => (None, Some(ErrorCode::InvalidOtp)),
            }
        }
    };
    let check = TotpCheck {
        user,
        now,
        since: limit.window_start(now),
        max_failures: limit.max_failures,
        step,
        nonce: nonce.map(UnseenNonce::for_store),
    };
    Ok(Claim { check, wrong })
}

/// What the store's count of `claim` means for the request: `Ok` for an accepted code, else
/// the error to answer with (after the failure metric and, at the limit, the lockout alert).
pub async fn judge(
    state: &AppState,
    claim: &Claim<'_>,
    device: &Device,
    counted: TotpOutcome,
) -> Result<(), AppError> {
    let (user, now) = (claim.check.user, claim.check.now);
    let limit = state.settings.attempt_limit;
    let failed = |code: ErrorCode| {
        let message = match code {
            ErrorCode::MalformedOtp => "a TOTP code is 6 digits",
            ErrorCode::ReplayedOtp => "this TOTP code was already used; wait for the next one",
            _ => "wrong TOTP code",
        };
        AppError::new(code, message)
            .hint("enter the current 6-digit code from your authenticator app")
    };
    let (code, earlier_failures) = match counted {
        TotpOutcome::ReplayedRequest => return Err(crate::auth::replayed_request()),
        TotpOutcome::Accepted => return Ok(()),
        // A right code used before: not a guess, so no failure, no metric, no alert.
        TotpOutcome::Replayed => return Err(failed(ErrorCode::ReplayedOtp)),
        TotpOutcome::Refused { earlier_failures } => (
            claim.wrong.unwrap_or(ErrorCode::InvalidOtp),
            earlier_failures,
        ),
        TotpOutcome::LockedOut(failures) => {
            let retry_after_seconds = match limit.decide(&failures, now) {
                AttemptDecision::LockedOut {
                    retry_after_seconds,
                } => retry_after_seconds,
                _ => limit.window_seconds,
            };
            let mut error = AppError::new(
                ErrorCode::TooManyAttempts,
                format!("too many wrong codes for {user}; wait {retry_after_seconds}s before trying again"),
            )
            .hint("check that your authenticator app shows the jit entry and your clock is right");
            error.0.retry_after_seconds = Some(retry_after_seconds);
            return Err(error);
        }
    };
    state.metrics.totp_failed();
    tracing::warn!(user, "TOTP code refused");
    if earlier_failures + 1 >= limit.max_failures {
        let text = format!(
            "{user} is locked out after {} wrong TOTP codes in {}s",
            earlier_failures + 1,
            limit.window_seconds
        );
        let details = crate::alerts::fields([
            ("user", serde_json::json!(user)),
            ("device", serde_json::json!(device.fingerprint)),
        ]);
        state
            .alerter
            .raise(crate::alerts::AlertKind::TotpLockout, text, details)
            .await;
    }
    Err(failed(code))
}
