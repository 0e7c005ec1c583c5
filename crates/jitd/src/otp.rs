//! TOTP checks on the server: attempt limit first, then verify and consume the time step
//! atomically in the store so a code works once per user across every replica.

use jit_mfa::{AttemptDecision, TotpSecret, Verification};
use jit_proto::ErrorCode;
use jit_store::{Device, TotpAttempt};

use crate::error::AppError;
use crate::state::AppState;

/// Check `otp` for `user` with the secret of `device`. Wrong, malformed and replayed codes
/// count as failures; past the limit every attempt gets 429 until the window cools down.
pub async fn check(
    state: &AppState,
    user: &str,
    device: &Device,
    otp: &str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let limit = state.settings.attempt_limit;
    // Reserve the attempt first (atomically, across replicas): concurrent attempts each take
    // a slot, so at most `max_failures` codes are ever checked per window.
    let attempt = state
        .store
        .begin_totp_attempt(user, now, limit.window_start(now), limit.max_failures)
        .await?;
    let (handle, earlier_failures) = match attempt {
        TotpAttempt::Granted {
            attempt,
            earlier_failures,
        } => (attempt, earlier_failures),
        TotpAttempt::LockedOut(failures) => {
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
    let failed = |code: ErrorCode, message: &str| {
        AppError::new(code, message)
            .hint("enter the current 6-digit code from your authenticator app")
    };
    let replayed = || {
        failed(
            ErrorCode::ReplayedOtp,
            "this TOTP code was already used; wait for the next one",
        )
    };
    let outcome = match jit_mfa::normalise_code(otp) {
        Err(_) => Err(failed(ErrorCode::MalformedOtp, "a TOTP code is 6 digits")),
        Ok(code) => {
            let secret = TotpSecret::from_base32(&device.totp_secret)
                .map_err(|e| AppError::internal("stored TOTP secret does not decode", e))?;
            match jit_mfa::verify(&secret, &code, now, None) {
                Verification::Accepted { step } => {
                    match state.store.consume_totp_step(user, step).await? {
                        true => Ok(()),
                        false => Err(replayed()),
                    }
                }
                Verification::Replayed => Err(replayed()),
                Verification::Invalid => Err(failed(ErrorCode::InvalidOtp, "wrong TOTP code")),
            }
        }
    };
    match &outcome {
        // A right code is not a failure: give the slot back.
        Ok(()) => state.store.totp_attempt_succeeded(handle).await?,
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
