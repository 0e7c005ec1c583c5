//! RFC 6238 codes: generation at a given time and verification with skew and replay
//! protection.
//!
//! The HMAC-SHA-1 computation itself is `totp-rs`'s; this module decides which time
//! steps to try, compares in constant time and applies RFC 6238 §5.2's "accept a code
//! once" rule using the last accepted step the caller stored.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::secret::TotpSecret;

/// Number of digits in a code.
pub const DIGITS: usize = 6;

/// Length of a time step, in seconds (RFC 6238's recommended X).
pub const STEP_SECONDS: u64 = 30;

/// How many steps before and after the current one are also accepted, to absorb clock
/// drift and typing time (RFC 6238 §5.2 recommends at most one).
pub const SKEW_STEPS: u64 = 1;

/// The RFC 6238 time step (counter) of a unix time: `unix_seconds / 30`.
pub fn time_step(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The 6-digit code, zero padded, that an authenticator app shows at `unix_seconds`.
///
/// Meant for tests, load generators and the like; servers call [`verify`].
pub fn code_at(secret: &TotpSecret, unix_seconds: u64) -> String {
    secret.totp().generate(unix_seconds).to_string()
}

/// Outcome of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The code is right for time step `step` and newer than the last accepted one.
    /// The caller must store `step` as the new last accepted step.
    Accepted {
        /// The time step the code belongs to.
        step: u64,
    },
    /// The code is right, but for a step at or before the last accepted one: it was
    /// already used, or a newer code was (RFC 6238 §5.2).
    Replayed,
    /// The code is wrong (or is not 6 digits).
    Invalid,
}

/// Checks a code (already passed through [`normalise_code`](crate::normalise_code))
/// against `secret` at `unix_seconds`.
///
/// The codes of steps `t-1`, `t` and `t+1` (`t = time_step(unix_seconds)`, steps below
/// zero skipped) are all computed and all compared in constant time; when several
/// match, the highest step wins. A matching step `S` is [`Verification::Accepted`] when
/// `last_accepted_step` is `None` or below `S`, else [`Verification::Replayed`].
/// Anything else is [`Verification::Invalid`].
pub fn verify(
    secret: &TotpSecret,
    normalised_code: &str,
    unix_seconds: u64,
    last_accepted_step: Option<u64>,
) -> Verification {
    let (matched, step) = matching_step(secret, normalised_code.as_bytes(), unix_seconds);
    if !bool::from(matched) {
        return Verification::Invalid;
    }
    match last_accepted_step {
        Some(last) if step <= last => Verification::Replayed,
        _ => Verification::Accepted { step },
    }
}

/// Compares `code` with the code of every step in the window, without branching on
/// the comparisons. Returns whether any matched and the highest step that did.
fn matching_step(secret: &TotpSecret, code: &[u8], unix_seconds: u64) -> (Choice, u64) {
    let now = time_step(unix_seconds);
    let mut matched = Choice::from(0);
    let mut step = 0;
    // Ascending, so that a later match overrides an earlier one.
    for candidate in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        // A step whose start does not fit in a u64 cannot be checked (year 5e11).
        let Some(start) = candidate.checked_mul(STEP_SECONDS) else {
            continue;
        };
        let expected = code_at(secret, start);
        // Slices of different lengths compare unequal (length is not secret).
        let is_match = expected.as_bytes().ct_eq(code);
        step = u64::conditional_select(&step, &candidate, is_match);
        matched |= is_match;
    }
    (matched, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    /// RFC 6238 Appendix B, SHA-1 rows: (time, 8-digit TOTP).
    const RFC6238_SHA1: &[(u64, &str)] = &[
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_appendix_b_sha1() {
        let secret = rfc_secret();
        for &(time, eight) in RFC6238_SHA1 {
            // A 6-digit code is the 8-digit one modulo 10^6: its last six digits.
            assert_eq!(code_at(&secret, time), eight[2..], "t = {time}");
        }
    }

    #[test]
    fn rfc6238_vectors_verify() {
        let secret = rfc_secret();
        for &(time, eight) in RFC6238_SHA1 {
            assert_eq!(
                verify(&secret, &eight[2..], time, None),
                Verification::Accepted {
                    step: time_step(time)
                },
                "t = {time}"
            );
        }
    }

    #[test]
    fn codes_are_zero_padded() {
        // t = 1111111109 gives 081804: the leading zero must be kept.
        assert_eq!(code_at(&rfc_secret(), 1_111_111_109), "081804");
        assert_eq!(code_at(&rfc_secret(), 1_111_111_109).len(), DIGITS);
    }

    #[test]
    fn time_step_boundaries() {
        assert_eq!(time_step(0), 0);
        assert_eq!(time_step(29), 0);
        assert_eq!(time_step(30), 1);
        assert_eq!(time_step(59), 1);
        assert_eq!(time_step(60), 2);
        assert_eq!(time_step(1_111_111_111), 37_037_037);
    }

    #[test]
    fn skew_of_one_step_accepted_two_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let t = time_step(now);
        for (offset, expected) in [
            (-2, Verification::Invalid),
            (-1, Verification::Accepted { step: t - 1 }),
            (0, Verification::Accepted { step: t }),
            (1, Verification::Accepted { step: t + 1 }),
            (2, Verification::Invalid),
        ] {
            let step = t.checked_add_signed(offset).unwrap();
            let code = code_at(&secret, step * STEP_SECONDS);
            assert_eq!(
                verify(&secret, &code, now, None),
                expected,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn skew_window_edges_within_a_step() {
        let secret = rfc_secret();
        let step = 56_666_666;
        let code = code_at(&secret, step * STEP_SECONDS);
        // Accepted from the first second of the previous step to the last second of
        // the next one.
        let first = (step - 1) * STEP_SECONDS;
        let last = (step + 2) * STEP_SECONDS - 1;
        assert_eq!(
            verify(&secret, &code, first, None),
            Verification::Accepted { step }
        );
        assert_eq!(
            verify(&secret, &code, last, None),
            Verification::Accepted { step }
        );
        assert_eq!(
            verify(&secret, &code, first - 1, None),
            Verification::Invalid
        );
        assert_eq!(
            verify(&secret, &code, last + 1, None),
            Verification::Invalid
        );
    }

    #[test]
    fn no_negative_steps_at_the_epoch() {
        let secret = rfc_secret();
        let code = code_at(&secret, 0);
        assert_eq!(
            verify(&secret, &code, 0, None),
            Verification::Accepted { step: 0 }
        );
        assert_eq!(
            verify(&secret, &code, 59, None),
            Verification::Accepted { step: 0 }
        );
        assert_eq!(verify(&secret, &code, 60, None), Verification::Invalid);
    }

    #[test]
    fn far_future_does_not_overflow() {
        let secret = rfc_secret();
        let now = u64::MAX;
        let code = code_at(&secret, now);
        assert_eq!(
            verify(&secret, &code, now, None),
            Verification::Accepted {
                step: time_step(now)
            }
        );
    }

    #[test]
    fn replay_of_the_same_step_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        let Verification::Accepted { step } = verify(&secret, &code, now, None) else {
            panic!("first use must be accepted");
        };
        assert_eq!(
            verify(&secret, &code, now, Some(step)),
            Verification::Replayed
        );
        // Still refused later within the skew window.
        assert_eq!(
            verify(&secret, &code, now + STEP_SECONDS, Some(step)),
            Verification::Replayed
        );
    }

    #[test]
    fn older_code_after_newer_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let t = time_step(now);
        let newer = code_at(&secret, (t + 1) * STEP_SECONDS);
        let older = code_at(&secret, now);
        assert_eq!(
            verify(&secret, &newer, now, None),
            Verification::Accepted { step: t + 1 }
        );
        assert_eq!(
            verify(&secret, &older, now, Some(t + 1)),
            Verification::Replayed
        );
        // The next code after the last accepted one is fine.
        let next = code_at(&secret, (t + 2) * STEP_SECONDS);
        assert_eq!(
            verify(&secret, &next, now + STEP_SECONDS, Some(t + 1)),
            Verification::Accepted { step: t + 2 }
        );
    }

    #[test]
    fn newer_code_after_older_accepted() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let t = time_step(now);
        let code = code_at(&secret, now);
        assert_eq!(
            verify(&secret, &code, now, Some(t - 1)),
            Verification::Accepted { step: t }
        );
    }

    #[test]
    fn wrong_codes_invalid_even_with_history() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let right = code_at(&secret, now);
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert_eq!(verify(&secret, wrong, now, None), Verification::Invalid);
        assert_eq!(verify(&secret, wrong, now, Some(0)), Verification::Invalid);
        assert_eq!(
            verify(&secret, wrong, now, Some(u64::MAX)),
            Verification::Invalid
        );
    }

    #[test]
    fn unnormalised_input_is_invalid() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        for input in ["050 471", " 050471", "50471", "0504710", "", "05047l"] {
            assert_eq!(
                verify(&secret, input, now, None),
                Verification::Invalid,
                "{input:?}"
            );
        }
        // The 8-digit RFC code is not a 6-digit code.
        assert_eq!(
            verify(&secret, "14050471", now, None),
            Verification::Invalid
        );
    }

    #[test]
    fn another_secret_does_not_verify() {
        let secret = rfc_secret();
        let other = TotpSecret::from_bytes(b"12345678901234567891").unwrap();
        let now = 1_111_111_111;
        let code = code_at(&other, now);
        // Guard against a coincidental collision making the test meaningless.
        let window = [now - STEP_SECONDS, now, now + STEP_SECONDS];
        if window.iter().all(|&t| code_at(&secret, t) != code) {
            assert_eq!(verify(&secret, &code, now, None), Verification::Invalid);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_code_outside_window_is_invalid(
                code in "[0-9]{6}",
                now in 0u64..=100_000_000_000,
                last in proptest::option::of(any::<u64>()),
            ) {
                let secret = rfc_secret();
                let t = time_step(now);
                let in_window = (t.saturating_sub(SKEW_STEPS)..=t + SKEW_STEPS)
                    .any(|s| code_at(&secret, s * STEP_SECONDS) == code);
                prop_assume!(!in_window);
                prop_assert_eq!(verify(&secret, &code, now, last), Verification::Invalid);
            }

            #[test]
            fn current_code_is_accepted_once(now in 0u64..=100_000_000_000) {
                let secret = rfc_secret();
                let code = code_at(&secret, now);
                let accepted = verify(&secret, &code, now, None);
                // Normally the current step; a higher step only on a code collision.
                let Verification::Accepted { step } = accepted else {
                    return Err(TestCaseError::fail(format!("{accepted:?}")));
                };
                prop_assert!(step >= time_step(now) && step <= time_step(now) + SKEW_STEPS);
                prop_assert_eq!(verify(&secret, &code, now, Some(step)), Verification::Replayed);
            }
        }
    }
}
