//! Reconnection delays (exponential, capped, with jitter) and the small
//! random generator the sender uses for jitter and server choice.

use core::time::Duration;

/// Reconnection delays: exponential, with jitter, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed round of connection attempts.
    pub initial: Duration,
    /// The delay never exceeds this.
    pub max: Duration,
    /// Each delay is shortened by a random 0..=jitter percent.
    pub jitter_percent: u8,
}

impl Backoff {
    /// 100 ms doubling up to 30 s, 20% jitter.
    pub const DEFAULT: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(30),
        jitter_percent: 20,
    };

    /// The delay before the next attempt after `rounds` failed rounds
    /// (`rounds >= 1`): `initial * 2^(rounds-1)`, capped at `max`, minus
    /// jitter drawn from `rng`.
    pub fn delay(&self, rounds: u32, rng: &mut Rng) -> Duration {
        let init = self.initial.as_micros().min(u64::MAX as u128) as u64;
        let max = self.max.as_micros().min(u64::MAX as u128) as u64;
        let shift = rounds.saturating_sub(1).min(63);
        let base = init
            .checked_shl(shift)
            .filter(|v| v >> shift == init)
            .unwrap_or(u64::MAX)
            .min(max);
        let jitter = base / 100 * (rng.below(self.jitter_percent.min(100) as u64 + 1));
        Duration::from_micros(base - jitter)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// A small, fast, seeded generator (xorshift64*). Not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value; zero is remapped).
    pub const fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 16 random bytes (for a [`Stamp`](crate::Stamp)'s `@uuid`).
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        u[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        u
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter_percent: 0,
        };
        let mut r = Rng::new(1);
        assert_eq!(b.delay(1, &mut r), Duration::from_millis(100));
        assert_eq!(b.delay(2, &mut r), Duration::from_millis(200));
        assert_eq!(b.delay(4, &mut r), Duration::from_millis(800));
        assert_eq!(b.delay(5, &mut r), Duration::from_secs(1));
        assert_eq!(b.delay(500, &mut r), Duration::from_secs(1));
    }
}
