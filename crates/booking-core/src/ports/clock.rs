//! Time and randomness, as ports so that tests can hold them still.

use jiff::Timestamp;

/// The time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Randomness from a CSPRNG.
pub trait Random: Send + Sync {
    fn fill(&self, bytes: &mut [u8]);

    fn bytes16(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b
    }
    /// A uniformly random integer in `0..n` (`n > 0`), without modulo bias.
    fn below(&self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let mut b = [0u8; 8];
            self.fill(&mut b);
            let v = u64::from_le_bytes(b);
            if v < zone {
                return v % n;
            }
        }
    }
}
