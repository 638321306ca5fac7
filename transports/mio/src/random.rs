//! Random numbers: a seed per SDK (backoff jitter, server choice) and the 16
//! random bytes of each `@uuid`, from a fast per-thread generator (not a
//! system call per event).

use std::cell::RefCell;
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

thread_local! {
    static RNG: RefCell<alooma_core::Rng> = RefCell::new(alooma_core::Rng::new(seed()));
}

pub(crate) fn uuid_bytes() -> [u8; 16] {
    RNG.with(|r| r.borrow_mut().bytes16())
}
