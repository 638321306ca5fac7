//! Reconnection delays: exponential, capped, with jitter.

use crate::send::rng::Rng;
use crate::send::time::{from_micros, micros};
use crate::wire::num::div_rem;
use core::time::Duration;

/// Reconnection delays: exponential, with jitter, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed round of connection attempts.
    pub initial: Duration,
    /// The delay never exceeds this.
    pub max: Duration,
    /// Each delay is lengthened by a random 0..=jitter percent (at the cap,
    /// shortened by as much instead: never above `max`). Lengthened, not
    /// shortened: a collector that restarts within `initial` is reached by
    /// the first retry, not after a second, doubled step.
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
    /// (`rounds >= 1`): `initial * 2^(rounds-1)` plus jitter drawn from
    /// `rng`, or, past `max`, `max` minus jitter.
    pub fn delay(&self, rounds: u32, rng: &mut Rng) -> Duration {
        let init = micros(self.initial);
        let max = micros(self.max);
        // `init << (rounds - 1)`, capped: doubled step by step (no 64-bit
        // shift on a 32-bit device), stopping once above the cap.
        let mut base = init;
        for _ in 1..rounds.min(64) {
            if base > max {
                break;
            }
            base = base.saturating_add(base);
        }
        let base = base.min(max);
        // (Divisions by 16-bit numbers: a device has no 64-bit divide.)
        let jitter = div_rem(base, 100).0 * (rng.below(self.jitter_percent.min(100) as u64 + 1));
        from_micros(match base.checked_add(jitter) {
            Some(d) if d <= max => d,
            _ => base - jitter,
        })
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
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

    proptest::proptest! {
        /// The base delay doubled step by step is `initial << (rounds - 1)`
        /// capped, as a 64-bit shift computes it.
        #[test]
        fn doubling_is_the_shift(init in 0u64..1 << 40, max in 0u64..1 << 45, rounds in 0u32..200) {
            let b = Backoff {
                initial: Duration::from_micros(init),
                max: Duration::from_micros(max),
                jitter_percent: 0,
            };
            let shift = rounds.saturating_sub(1).min(63);
            let want = init
                .checked_shl(shift)
                .filter(|v| v >> shift == init)
                .unwrap_or(u64::MAX)
                .min(max);
            proptest::prop_assert_eq!(b.delay(rounds, &mut Rng::new(1)), Duration::from_micros(want));
        }
    }
}
