//! TOTP attempts and request nonces in SQLite, run on the writer thread inside its `BEGIN
//! IMMEDIATE` batch: the write lock serialises attempts from every process, so the count,
//! the step and the failure are decided together.

use rusqlite::{params, Connection};

use super::query::{all, column, execute};
use crate::stored::to_i64;
use crate::{rules, Result, TotpCheck, TotpOutcome};

/// Remember a request nonce; `false` if it was seen before.
pub(super) fn remember_nonce_in(c: &Connection, nonce: &str, expires_at: u64) -> Result<bool> {
    let added = execute(
        c,
        "INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        params![nonce, to_i64(expires_at)],
    )?;
    Ok(added == 1)
}

/// See [`crate::Store::check_totp`]: nonce first, then the limit, then the step; a right
/// code for a used step is a replay (nothing recorded), only a wrong code is a failure.
pub(super) fn check_in(c: &Connection, check: TotpCheck<'_>) -> Result<TotpOutcome> {
    if let Some(nonce) = check.nonce {
        if !remember_nonce_in(c, nonce.value, nonce.expires_at)? {
            return Ok(TotpOutcome::ReplayedRequest);
        }
    }
    let times = all(
        c,
        "SELECT at FROM totp_failures WHERE user_name = ? AND at > ?",
        params![check.user, to_i64(check.since)],
        column::<i64>,
    )?;
    if let Some(locked) = rules::locked_out(&times, check.max_failures) {
        return Ok(locked);
    }
    if let Some(step) = check.step {
        let accepted = execute(
            c,
            "UPDATE users SET totp_last_step = ? WHERE name = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
            params![to_i64(step), check.user, to_i64(step)],
        )?;
        return Ok(match accepted {
            1 => TotpOutcome::Accepted,
            _ => rules::not_accepted(times.len(), check.step),
        });
    }
    execute(
        c,
        "INSERT INTO totp_failures (user_name, at) VALUES (?, ?)",
        params![check.user, to_i64(check.now)],
    )?;
    Ok(rules::not_accepted(times.len(), None))
}
