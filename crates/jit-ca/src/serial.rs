//! Certificate serials: random 64-bit values, never 0 and never 2^64-1.
//!
//! Uniqueness is enforced by the store (a unique index); a collision is retried there.

use rand_core::CryptoRngCore;

/// A random serial in `1..=u64::MAX - 1`.
pub fn random_serial(rng: &mut impl CryptoRngCore) -> u64 {
    loop {
        let serial = rng.next_u64();
        if is_valid_serial(serial) {
            return serial;
        }
    }
}

/// Whether a serial may appear in a certificate (0 means "no serial" to OpenSSH,
/// 2^64-1 is reserved for "all serials" in KRL ranges).
pub fn is_valid_serial(serial: u64) -> bool {
    serial != 0 && serial != u64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{CryptoRng, RngCore};

    /// Yields the given values in turn: lets the test force the forbidden values.
    struct Scripted(Vec<u64>);
    impl RngCore for Scripted {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0.remove(0)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(7)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Scripted {}

    #[test]
    fn zero_and_max_are_never_returned() {
        let mut rng = Scripted(vec![0, u64::MAX, 0, 42]);
        assert_eq!(random_serial(&mut rng), 42);
        let mut rng = Scripted(vec![1]);
        assert_eq!(random_serial(&mut rng), 1);
        let mut rng = Scripted(vec![u64::MAX - 1]);
        assert_eq!(random_serial(&mut rng), u64::MAX - 1);
    }
}
