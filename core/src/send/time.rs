//! Time as the core sees it: instants given by the driver, never read.

use crate::wire::num::div_rem;
use core::time::Duration;

/// A point on the driver's monotonic clock, in microseconds from any origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Instant = Instant(0);

    /// From microseconds since the origin.
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    /// From milliseconds since the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms.saturating_mul(1000))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    #[cfg_attr(target_os = "none", inline(never))]
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(micros(d)))
    }
}

/// `d` in whole microseconds, saturating (without `u128` arithmetic, which
/// costs a device flash).
#[cfg_attr(target_os = "none", inline(never))]
pub(crate) fn micros(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(d.subsec_micros() as u64)
}

/// `us` microseconds as a `Duration` (dividing by 16-bit numbers only:
/// a device has no 64-bit divide; see `wire::num`).
pub(crate) fn from_micros(us: u64) -> Duration {
    // 1,000,000 = 15,625 << 6.
    let (secs, r) = div_rem(us >> 6, 15_625);
    Duration::from_secs(secs) + Duration::from_micros(((r << 6) | (us & 63) as u32) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn micros_convert_like_std(us in any::<u64>(), secs in any::<u64>(), ns in 0u32..1_000_000_000) {
            prop_assert_eq!(from_micros(us), Duration::from_micros(us));
            let d = Duration::new(secs, ns);
            prop_assert_eq!(micros(d), d.as_micros().min(u64::MAX as u128) as u64);
        }
    }
}
