//! The random numbers the core needs: backoff jitter, random server choice,
//! and (for SDKs) the bytes of `@uuid`s. Seeded by the caller.

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

    /// A number in `0..n` (`n > 0`; an `n` above 2^32 - 1 is taken as
    /// 2^32 - 1:
    /// the core asks for jitter percentages and server indexes). The top
    /// 32 bits scaled by `n`: a 32-bit multiply, no 128-bit arithmetic on a
    /// device.
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let n = n.min(u32::MAX as u64) as u32;
        ((self.next_u64() >> 32) * n as u64) >> 32
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn below_stays_below_and_covers() {
        let mut r = Rng::new(5);
        for n in [1u64, 2, 3, 7, 64, 101, 1 << 20, u32::MAX as u64, u64::MAX] {
            let mut seen_top = false;
            for _ in 0..2000 {
                let v = r.below(n);
                assert!(v < n.max(1));
                seen_top |= n <= 101 && v == n - 1;
            }
            // Small ranges are covered to their last value.
            assert!(seen_top || n > 101, "n = {n}");
        }
    }
}
