//! Server choice: which configured collector the next connection attempt
//! goes to. Servers that failed are skipped until every one was tried in the
//! round.

use crate::send::rng::Rng;

/// Which server the next connection attempt goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// A random server not yet tried in this round (the seed SDK's way).
    #[default]
    Random,
    /// The next server in the list after the last one tried.
    RoundRobin,
    /// Always the first server that works, in list order.
    PreferFirst,
}

impl Strategy {
    /// The server (an index below `servers`, at most 64) for the next
    /// attempt: one whose bit in `tried` is clear (with none clear, the
    /// first); `last`: the server tried last.
    pub fn pick(&self, servers: usize, tried: u64, last: Option<usize>, rng: &mut Rng) -> usize {
        let n = servers.clamp(1, 64);
        // (32-bit halves: no 64-bit shifts on a 32-bit device.)
        let (lo, hi) = (tried as u32, (tried >> 32) as u32);
        let untried = |i: usize| (if i < 32 { lo } else { hi }) >> (i & 31) & 1 == 0;
        // One scan for every strategy: from `start` on (wrapping), the
        // untried server after skipping `skip` untried ones.
        let (start, mut skip) = match self {
            Strategy::PreferFirst => (0, 0),
            Strategy::RoundRobin => (last.map_or(0, |l| l + 1), 0),
            Strategy::Random => (0, rng.below((0..n).filter(|&i| untried(i)).count() as u64)),
        };
        // `last` is below `n`: the server after it, or the first.
        let start = if start < n { start } else { 0 };
        for k in 0..n {
            let i = if start + k < n {
                start + k
            } else {
                start + k - n
            };
            if untried(i) {
                if skip == 0 {
                    return i;
                }
                skip -= 1;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::{Rng, Strategy};
    use proptest::prelude::{any, prop_assert_eq, prop_oneof, proptest, Just};

    /// The choice as first written (64-bit masks, a count of ones, a
    /// modulo per step): the one scan must choose alike.
    fn reference(
        s: Strategy,
        servers: usize,
        tried: u64,
        last: Option<usize>,
        rng: &mut Rng,
    ) -> usize {
        let n = servers.clamp(1, 64);
        let untried = |i: usize| tried >> i & 1 == 0;
        match s {
            Strategy::PreferFirst => (0..n).find(|&i| untried(i)).unwrap_or(0),
            Strategy::RoundRobin => {
                let start = last.map_or(0, |l| l + 1);
                (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| untried(i))
                    .unwrap_or(0)
            }
            Strategy::Random => {
                let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                let left = n as u64 - (tried & all).count_ones() as u64;
                let mut k = rng.below(left);
                for i in 0..n {
                    if untried(i) {
                        if k == 0 {
                            return i;
                        }
                        k -= 1;
                    }
                }
                0
            }
        }
    }

    proptest! {
        #[test]
        fn one_scan_chooses_as_the_reference(
            servers in 1usize..=64,
            tried in any::<u64>(),
            last in proptest::option::of(0usize..64),
            seed in any::<u64>(),
            s in prop_oneof![
                Just(Strategy::Random),
                Just(Strategy::RoundRobin),
                Just(Strategy::PreferFirst),
            ],
        ) {
            let last = last.map(|l| l % servers);
            let (mut a, mut b) = (Rng::new(seed), Rng::new(seed));
            prop_assert_eq!(
                s.pick(servers, tried, last, &mut a),
                reference(s, servers, tried, last, &mut b)
            );
            // The same randomness used.
            prop_assert_eq!(a.next_u64(), b.next_u64());
        }
    }
}
