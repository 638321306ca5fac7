//! Random seeds: one per SDK (backoff jitter, server choice) and one per
//! reporting thread's `@uuid` generator (the core's `Front`).

use std::time::SystemTime;

pub(crate) fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
