//! TOTP checks on the server: the code is verified in memory, then one atomic store
//! operation applies the attempt limit and uses up the time step, so a code works once per
//! user across every replica and no more than the limit of codes ever count.

use jit_mfa::{AttemptDecision, TotpSecret, Verification};
use jit_proto::ErrorCode;
use jit_store::{Device, TotpCheck, TotpOutcome};

use crate::auth::UnseenNonce;
use crate::error::AppError;
use crate::state::AppState;

/// Check `otp` for `user` with the secret of `device`. Wrong, malformed and replayed codes
/// count as failures; past the limit every attempt gets 429 until the window cools down.
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
    let now = state.clock.now();
    let limit = state.settings.attempt_limit;
    // The code is checked in memory; the store then counts the attempt atomically (across
    // replicas) against the limit, so whether a code was right is only ever revealed for
    // at most `max_failures` attempts per window, however many arrive at once.
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
    let counted = state
        .store
        .check_totp(TotpCheck {
            user,
            now,
            since: limit.window_start(now),
            max_failures: limit.max_failures,
            step,
            nonce: nonce.as_ref().map(UnseenNonce::for_store),
        })
        .await?;
    let failed = |code: ErrorCode| {
        let message = match code {
            ErrorCode::MalformedOtp => "a TOTP code is 6 digits",
            ErrorCode::ReplayedOtp => "this TOTP code was already used; wait for the next one",
            _ => "wrong TOTP code",
        };
        AppError::new(code, message)
            .hint("enter the current 6-digit code from your authenticator app")
    };
    let (outcome, earlier_failures) = match counted {
        TotpOutcome::ReplayedRequest => return Err(crate::auth::replayed_request()),
        TotpOutcome::Accepted => (Ok(()), 0),
        TotpOutcome::Refused {
            earlier_failures,
            replayed,
        } => {
            let code = match replayed {
                true => ErrorCode::ReplayedOtp,
                false => wrong.unwrap_or(ErrorCode::InvalidOtp),
            };
            (Err(failed(code)), earlier_failures)
        }
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
    match &outcome {
        Ok(()) => {}
        Err(_) => {
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
        }
    }
    outcome
}
