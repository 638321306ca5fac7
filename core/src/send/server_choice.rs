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
        let untried = |i: usize| tried >> i & 1 == 0;
        match self {
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
}
