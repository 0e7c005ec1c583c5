//! An authenticator app for the tests: real TOTP codes (RFC 6238, computed by jit-mfa) from
//! the secret `jit enroll` printed, each for a time step jitd has not yet seen from the user.
//!
//! jitd accepts a code once per user (its step must be newer than the last one accepted)
//! and within one step of its own clock. So each code is for the oldest step in
//! `[now - 1, now + 1]` that is newer than the user's last one and is still accepted for
//! [`MARGIN`]; when none is left the authenticator waits for the next step, as a person
//! with a phone would.

use std::time::Duration;

use jit_mfa::{code_at, time_step, TotpSecret, STEP_SECONDS};

/// How long a code handed out must stay acceptable (a `jit` started in the background
/// may use it several seconds later).
const MARGIN: u64 = 15;

/// One user's authenticator.
pub struct Authenticator {
    secret: TotpSecret,
    last_step: Option<u64>,
}

impl Authenticator {
    /// An authenticator holding `secret` (base32, as `jit enroll` prints it).
    pub fn new(secret: &str) -> Authenticator {
        Authenticator {
            secret: TotpSecret::from_base32(secret).unwrap(),
            last_step: None,
        }
    }

    /// Hold the secret of a new device of the same user (jitd counts steps per user).
    pub fn replace_secret(&mut self, secret: &str) {
        self.secret = TotpSecret::from_base32(secret).unwrap();
    }

    /// The secret, base32.
    pub fn secret(&self) -> String {
        self.secret.to_base32()
    }

    /// A fresh code jitd will accept once.
    pub fn code(&mut self) -> String {
        loop {
            let now = jit::clock::now();
            let current = time_step(now);
            let oldest = match self.last_step {
                Some(last) => (last + 1).max(current.saturating_sub(1)),
                None => current.saturating_sub(1),
            };
            // A code for `step` is accepted while the server's step is at most `step + 1`.
            let usable =
                (oldest..=current + 1).find(|step| (step + 2) * STEP_SECONDS >= now + MARGIN);
            if let Some(step) = usable {
                self.last_step = Some(step);
                return code_at(&self.secret, step * STEP_SECONDS);
            }
            let next = (current + 1) * STEP_SECONDS;
            std::thread::sleep(
                Duration::from_secs(next.saturating_sub(now)) + Duration::from_millis(100),
            );
        }
    }
}

/// `code` as a person might type it: `123 456`.
pub fn spaced(code: &str) -> String {
    format!("{} {}", &code[..3], &code[3..])
}
