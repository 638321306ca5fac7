//! A ring shared between interrupt handlers and the main loop.

use alooma_core::{EncodeError, Out, Pushed, ReportError, Ring, RingAccess};
use core::cell::RefCell;
use critical_section::Mutex;

/// A `static` ring that interrupt handlers report into. Guarded by a
/// critical section (provide one: `cortex-m`'s `critical-section-single-core`
/// on single-core MCUs). Full-buffer policy: drop newest, the only one an
/// interrupt may use (dropping the oldest could pull records from under a
/// write in progress).
pub struct IrqRing<const N: usize> {
    ring: Mutex<RefCell<Ring<[u8; N]>>>,
}

impl<const N: usize> Default for IrqRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> IrqRing<N> {
    /// An empty ring of `N` bytes, for a `static`.
    pub const fn new() -> Self {
        IrqRing {
            ring: Mutex::new(RefCell::new(Ring::new())),
        }
    }

    /// Encodes and stores one record (see [`Ring::push_with`]); callable
    /// from interrupt handlers. Drop-newest when full.
    pub fn push_with<F>(&self, max: usize, encode: F) -> Result<Pushed, ReportError>
    where
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        critical_section::with(|cs| match self.ring.borrow(cs).try_borrow_mut() {
            Ok(mut r) => r.push_with(false, max, encode),
            // Only reachable by reporting from inside `with`: refuse.
            Err(_) => Err(ReportError::BufferFull { size: 0 }),
        })
    }

    /// Runs `f` on the ring inside a critical section.
    pub fn with<R>(&self, f: impl FnOnce(&mut Ring<[u8; N]>) -> R) -> Option<R> {
        critical_section::with(|cs| {
            self.ring
                .borrow(cs)
                .try_borrow_mut()
                .ok()
                .map(|mut r| f(&mut r))
        })
    }
}

impl<const N: usize> RingAccess for &IrqRing<N> {
    type S = [u8; N];
    fn with<R>(&mut self, f: impl FnOnce(&mut Ring<[u8; N]>) -> R) -> Option<R> {
        IrqRing::with(self, f)
    }
}
