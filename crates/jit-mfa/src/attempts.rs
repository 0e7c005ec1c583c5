//! Lockout after repeated wrong codes: the decision only; the caller's store keeps the
//! failure times.
//!
//! With the default limit (5 failures per 300 s), five wrong codes are each reported as
//! wrong, and the sixth attempt, right or wrong, is refused until the oldest of those
//! failures is 300 s old. The caller checks [`AttemptLimit::decide`] *before* verifying
//! a code and records a failure when [`verify`](crate::verify) says it was wrong.

/// How many wrong codes a user may enter within a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    /// Failures within the window that lock the user out. `0` locks out every attempt.
    pub max_failures: u32,
    /// Length of the sliding window, in seconds.
    pub window_seconds: u64,
}

impl Default for AttemptLimit {
    /// 5 failures per 300 s.
    fn default() -> Self {
        AttemptLimit {
            max_failures: 5,
            window_seconds: 300,
        }
    }
}

/// Whether a user may try a code now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDecision {
    /// Go ahead and verify the code.
    Allowed,
    /// Too many recent failures: refuse without checking the code.
    LockedOut {
        /// Seconds until an attempt would be allowed again (at least 1).
        retry_after_seconds: u64,
    },
}

impl AttemptLimit {
    /// Decides whether an attempt at unix time `now` is allowed.
    ///
    /// `failure_times`: unix times of this user's recent failed codes (any order, may
    /// include old ones). Failures at times after `now - window_seconds` count; when
    /// there are `max_failures` or more, the user is locked out until enough of them
    /// age out that fewer than `max_failures` remain. With exactly `max_failures`
    /// counted that is `oldest counted failure + window_seconds`; with more, it is
    /// correspondingly later.
    pub fn decide(&self, failure_times: &[u64], now: u64) -> AttemptDecision {
        let window = self.window_seconds;
        // `time > now - window`, without underflow near the epoch.
        let mut counted: Vec<u64> = failure_times
            .iter()
            .copied()
            .filter(|&time| time.saturating_add(window) > now)
            .collect();
        let max = usize::try_from(self.max_failures).unwrap_or(usize::MAX);
        if counted.len() < max {
            return AttemptDecision::Allowed;
        }
        // The lock lifts once only `max - 1` failures remain, i.e. when the failure
        // that has exactly `max - 1` newer ones leaves the window.
        let unlocks_at = match max.checked_sub(1) {
            Some(keep) => {
                counted.sort_unstable();
                let index = counted.len() - keep - 1;
                counted[index].saturating_add(window)
            }
            // `max_failures == 0`: nothing ever unlocks; ask again after a window.
            None => now.saturating_add(window),
        };
        AttemptDecision::LockedOut {
            retry_after_seconds: unlocks_at.saturating_sub(now).max(1),
        }
    }

    /// `now - window_seconds` (0 near the epoch): only failures strictly after this
    /// time count, so a store may forget failures at or before it.
    pub fn window_start(&self, now: u64) -> u64 {
        now.saturating_sub(self.window_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn locked(retry_after_seconds: u64) -> AttemptDecision {
        AttemptDecision::LockedOut {
            retry_after_seconds,
        }
    }

    #[test]
    fn default_is_five_per_five_minutes() {
        let limit = AttemptLimit::default();
        assert_eq!(limit.max_failures, 5);
        assert_eq!(limit.window_seconds, 300);
    }

    #[test]
    fn no_failures_allowed() {
        assert_eq!(
            AttemptLimit::default().decide(&[], NOW),
            AttemptDecision::Allowed
        );
    }

    #[test]
    fn four_failures_allowed_five_locked() {
        let limit = AttemptLimit::default();
        let failures = [NOW - 40, NOW - 30, NOW - 20, NOW - 10, NOW];
        assert_eq!(limit.decide(&failures[..4], NOW), AttemptDecision::Allowed);
        // Sixth attempt: locked until the oldest (NOW - 40) is 300 s old.
        assert_eq!(limit.decide(&failures, NOW), locked(260));
    }

    #[test]
    fn five_wrong_codes_then_sixth_attempt_locked() {
        let limit = AttemptLimit::default();
        let mut failures = Vec::new();
        for i in 0..5 {
            let now = NOW + i;
            assert_eq!(
                limit.decide(&failures, now),
                AttemptDecision::Allowed,
                "attempt {i}"
            );
            failures.push(now); // the code was wrong
        }
        assert_eq!(limit.decide(&failures, NOW + 5), locked(295));
    }

    #[test]
    fn window_boundary_is_exclusive() {
        let limit = AttemptLimit::default();
        // Oldest failure exactly `window` ago no longer counts.
        let failures = [NOW - 300, NOW - 4, NOW - 3, NOW - 2, NOW - 1];
        assert_eq!(limit.decide(&failures, NOW), AttemptDecision::Allowed);
        // One second earlier it still did, with one second left.
        assert_eq!(limit.decide(&failures, NOW - 1), locked(1));
    }

    #[test]
    fn lock_lifts_exactly_when_oldest_expires() {
        let limit = AttemptLimit::default();
        let failures = [NOW, NOW + 1, NOW + 2, NOW + 3, NOW + 4];
        assert_eq!(limit.decide(&failures, NOW + 4), locked(296));
        assert_eq!(limit.decide(&failures, NOW + 299), locked(1));
        assert_eq!(limit.decide(&failures, NOW + 300), AttemptDecision::Allowed);
    }

    #[test]
    fn order_and_old_failures_do_not_matter() {
        let limit = AttemptLimit::default();
        let failures = [
            NOW - 1,
            NOW - 10_000,
            NOW - 100,
            0,
            NOW - 50,
            NOW - 5,
            NOW - 301,
            NOW - 200,
        ];
        // Counted: -1, -100, -50, -5, -200 → oldest counted is NOW - 200.
        assert_eq!(limit.decide(&failures, NOW), locked(100));
    }

    #[test]
    fn more_failures_than_the_limit_lock_until_enough_expire() {
        let limit = AttemptLimit::default();
        // Seven failures; the lock lifts when only four remain, i.e. when the third
        // oldest (NOW - 200) expires.
        let failures = [
            NOW - 250,
            NOW - 220,
            NOW - 200,
            NOW - 30,
            NOW - 20,
            NOW - 10,
            NOW - 5,
        ];
        assert_eq!(limit.decide(&failures, NOW), locked(100));
        assert_eq!(limit.decide(&failures, NOW + 99), locked(1));
        assert_eq!(limit.decide(&failures, NOW + 100), AttemptDecision::Allowed);
    }

    #[test]
    fn near_the_epoch() {
        let limit = AttemptLimit::default();
        let failures = [0, 1, 2, 3, 4];
        assert_eq!(limit.decide(&failures, 10), locked(290));
        assert_eq!(limit.decide(&failures, 299), locked(1));
        assert_eq!(limit.decide(&failures, 300), AttemptDecision::Allowed);
        assert_eq!(limit.window_start(10), 0);
    }

    #[test]
    fn future_failures_count() {
        // Another server's clock may run slightly ahead.
        let limit = AttemptLimit::default();
        let failures = [NOW + 10; 5];
        assert_eq!(limit.decide(&failures, NOW), locked(310));
    }

    #[test]
    fn zero_max_failures_locks_everyone() {
        let limit = AttemptLimit {
            max_failures: 0,
            window_seconds: 60,
        };
        assert_eq!(limit.decide(&[], NOW), locked(60));
    }

    #[test]
    fn one_max_failure() {
        let limit = AttemptLimit {
            max_failures: 1,
            window_seconds: 60,
        };
        assert_eq!(limit.decide(&[], NOW), AttemptDecision::Allowed);
        assert_eq!(limit.decide(&[NOW - 10], NOW), locked(50));
        assert_eq!(limit.decide(&[NOW - 10, NOW - 20], NOW), locked(50));
    }

    #[test]
    fn zero_window_never_locks() {
        let limit = AttemptLimit {
            max_failures: 1,
            window_seconds: 0,
        };
        assert_eq!(limit.decide(&[NOW - 1], NOW), AttemptDecision::Allowed);
    }

    #[test]
    fn window_start() {
        let limit = AttemptLimit::default();
        assert_eq!(limit.window_start(NOW), NOW - 300);
        assert_eq!(limit.window_start(299), 0);
    }

    #[test]
    fn window_start_agrees_with_decide() {
        // A failure at window_start no longer counts; one second later it does.
        let limit = AttemptLimit {
            max_failures: 1,
            window_seconds: 300,
        };
        let start = limit.window_start(NOW);
        assert_eq!(limit.decide(&[start], NOW), AttemptDecision::Allowed);
        assert_eq!(limit.decide(&[start + 1], NOW), locked(1));
    }
}
