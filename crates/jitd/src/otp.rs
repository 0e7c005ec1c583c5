//! TOTP checks on the server: attempt limit first, then verify and consume the time step
//! atomically in the store so a code works once per user across every replica.

use jit_mfa::{AttemptDecision, TotpSecret, Verification};
use jit_proto::ErrorCode;
use jit_store::Device;

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
    let failures = state
        .store
        .totp_failures_since(user, limit.window_start(now))
        .await?;
    if let AttemptDecision::LockedOut {
        retry_after_seconds,
    } = limit.decide(&failures, now)
    {
        let mut error = AppError::new(
            ErrorCode::TooManyAttempts,
            format!(
                "too many wrong codes for {user}; wait {retry_after_seconds}s before trying again"
            ),
        )
        .hint("check that your authenticator app shows the jit entry and your clock is right");
        error.0.retry_after_seconds = Some(retry_after_seconds);
        return Err(error);
    }
    let failed = |code: ErrorCode, message: &str| {
        AppError::new(code, message)
            .hint("enter the current 6-digit code from your authenticator app")
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
                        false => Err(failed(
                            ErrorCode::ReplayedOtp,
                            "this TOTP code was already used; wait for the next one",
                        )),
                    }
                }
                Verification::Replayed => Err(failed(
                    ErrorCode::ReplayedOtp,
                    "this TOTP code was already used; wait for the next one",
                )),
                Verification::Invalid => Err(failed(ErrorCode::InvalidOtp, "wrong TOTP code")),
            }
        }
    };
    if outcome.is_err() {
        state.store.record_totp_failure(user, now).await?;
        state.metrics.totp_failed();
        tracing::warn!(user, "TOTP code refused");
        if failures.len() + 1 >= limit.max_failures as usize {
            let text = format!(
                "{user} is locked out after {} wrong TOTP codes in {}s",
                failures.len() + 1,
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
    outcome
}
